import Foundation

/// A Backprop model file or training checkpoint, read whole or refused: the one loader behind
/// `eval`, `predict`, `info`, `export`, `train --resume` and the library's `load` functions.
///
/// Safetensors promises a bounded header and offsets inside the file, and ``Safetensors``
/// checks the checksums Backprop writes; this checks what the metadata says against the tensors
/// (as PyTorch's `weights_only` loading refuses anything but tensors, and further): every
/// metadata entry Backprop reads is present where required and decodes, the description of the
/// network (architecture, ensemble or mixture of experts) yields exactly the file's tensors —
/// the same names, shapes and dtypes, none missing and none extra — every float is finite, the
/// normalization has one mean and one positive σ per input, and the task agrees with the
/// outputs. Anything off is a ``CheckpointError`` naming the file and the field or tensor;
/// nothing is defaulted, because a model that loads with a skipped standardization or a
/// different number of classes answers wrongly without a word.
///
/// Metadata keys Backprop does not know are kept (``Ensemble/save(to:architecture:metadata:)``
/// and its siblings take a caller's own) and ignored; the checksum covers them.
///
/// Files written before Backprop wrote checksums (or whose writer left them out) still load,
/// checked as above; ``warning`` then says that damage to their values cannot be detected.
public struct ModelFile {
    /// What the file describes.
    public enum Description: Equatable, Sendable {
        /// One network (`architecture` metadata).
        case network(MultilayerPerceptronArchitecture)
        /// An ensemble of networks (`ensemble` metadata).
        case ensemble(EnsembleArchitecture)
        /// A mixture of experts with its gate (`mixture-of-experts` metadata).
        case mixtureOfExperts(MixtureOfExpertsArchitecture)

        /// Features in.
        public var inputSize: Int {
            switch self {
            case .network(let n): return n.sizes.first ?? 0
            case .ensemble(let e): return e.members.first?.sizes.first ?? 0
            case .mixtureOfExperts(let m): return m.expert.sizes.first ?? 0
            }
        }

        /// Outputs out (classes, one logit, or regression targets).
        public var outputSize: Int {
            switch self {
            case .network(let n): return n.sizes.last ?? 0
            case .ensemble(let e): return e.members.first?.sizes.last ?? 0
            case .mixtureOfExperts(let m): return m.expert.sizes.last ?? 0
            }
        }

        /// Trainable parameters, counted from the sizes without building anything.
        var parameterCount: Int {
            switch self {
            case .network(let n): return n.parameterCount
            case .ensemble(let e): return e.members.reduce(0) { $0 + $1.parameterCount }
            case .mixtureOfExperts(let m): return m.expertCount * m.expert.parameterCount + m.gate.parameterCount
            }
        }
    }

    /// The metadata keys of a training checkpoint, all present or none.
    static let checkpointKeys = [Checkpoint.Key.optimizer, Checkpoint.Key.training, Checkpoint.Key.randomState]

    /// The file's path, as given.
    public let path: String
    /// The file as parsed (checksums already checked).
    public let file: Safetensors
    /// The model the metadata describes, checked against the tensors.
    public let description: Description
    /// The model, its weights and statistics restored from the file, in evaluation mode.
    public let model: any Module
    /// The input standardization the model was trained with.
    public let normalization: Normalization
    /// What the outputs are; classification for files without a task entry (as they always were).
    public let task: TrainingTask
    /// The training run's configuration, when the file records one (`import-weights` output does not).
    public let configuration: TrainingConfiguration?
    /// The metrics of the epoch the file was written at, when recorded.
    public let metrics: MetricsRecord?
    /// A checkpoint's optimizer state (its buffers' values are in the `optimizer.*` tensors).
    public let optimizer: OptimizerState?

    /// Features the model reads.
    public var inputSize: Int { description.inputSize }
    /// Outputs the model writes (classes, one logit, or regression targets).
    public var outputSize: Int { description.outputSize }
    /// Whether the file is a training checkpoint (optimizer state, counters, generators).
    public var isCheckpoint: Bool { optimizer != nil }

    /// The classes a label may name (`0..<classCount`); nil for regression.
    public var classCount: Int? {
        switch task.loss {
        case .crossEntropy: return outputSize
        case .binaryCrossEntropy: return 2
        case .meanSquaredError, .sumSquaredError: return nil
        }
    }

    /// A line to show the user when the file carries no checksums; nil when they were checked.
    public var warning: String? {
        file.checksumsVerified ? nil
            : "warning: \(path) has no checksums (written before Backprop recorded them, or by another tool): its description was checked against its tensors, but a changed value cannot be detected; writing it again adds them"
    }

    /// Reads and validates the file at `path`.
    public static func read(_ path: String) throws(CheckpointError) -> ModelFile {
        let file: Safetensors
        do { file = try Safetensors(contentsOf: path) } catch { throw .data(error) }
        return try ModelFile(validating: file, path: path)
    }

    /// Validates a file already parsed (e.g. received from another rank); `path` names it in errors.
    public init(validating file: Safetensors, path: String) throws(CheckpointError) {
        self.path = path
        self.file = file
        let metadata = file.metadata
        guard let format = metadata[Checkpoint.Key.format] else {
            throw .invalidMetadata(path: path, key: Checkpoint.Key.format,
                                   reason: "missing: not a Backprop model file (a PyTorch state dict goes through import-weights)")
        }
        guard format == Checkpoint.formatTag else {
            throw .invalidMetadata(path: path, key: Checkpoint.Key.format, reason: "'\(format)', expected '\(Checkpoint.formatTag)'")
        }
        description = try Self.description(of: file, path: path)

        // The sizes bound what building allocates: refuse a description that asks for more
        // parameters than the file has values before building it.
        let values = file.entries.reduce(0) { $0 + $1.entry.shape.reduce(1, *) }
        guard description.parameterCount <= values else {
            throw .invalidMetadata(path: path, key: Self.descriptionKey(description),
                                   reason: "describes \(description.parameterCount) parameters, but the file holds only \(values) values")
        }

        normalization = try Self.normalization(of: file, inputs: description.inputSize, path: path)
        task = try Self.task(of: file, outputs: description.outputSize, path: path)
        configuration = try Self.optional(TrainingConfiguration.self, file, key: Checkpoint.Key.configuration, path: path)
        metrics = try Self.optional(MetricsRecord.self, file, key: Checkpoint.Key.metrics, path: path)

        let present = Self.checkpointKeys.filter { metadata[$0] != nil }
        if present.isEmpty {
            optimizer = nil
        } else {
            if let absent = Self.checkpointKeys.first(where: { metadata[$0] == nil }) {
                throw .invalidMetadata(path: path, key: absent,
                                       reason: "missing, while \(present.joined(separator: ", ")) make the file a training checkpoint")
            }
            optimizer = try Checkpoint.decode(OptimizerState.self, file, key: Checkpoint.Key.optimizer, path: path)
            _ = try Checkpoint.decode(Trainer.State.self, file, key: Checkpoint.Key.training, path: path)
            _ = try Checkpoint.decode([String: [UInt64]].self, file, key: Checkpoint.Key.randomState, path: path)
        }

        model = try Self.load(description, from: file, optimizer: optimizer, path: path)
    }

    /// Builds the module, checks the file's tensors against it and copies them in.
    private static func load(_ description: Description, from file: Safetensors, optimizer: OptimizerState?,
                             path: String) throws(CheckpointError) -> any Module {
        let model: any Module
        switch description {
        case .network(let n):
            let network = n.build(seed: 0)
            try checkTensors(file, against: network, described: description, optimizer: optimizer, path: path)
            try Checkpoint.restoreModel(network, from: file, path: path)
            model = network
        case .ensemble(let e):
            let ensemble = e.build(seed: 0)
            try checkTensors(file, against: ensemble, described: description, optimizer: optimizer, path: path)
            try ensemble.restore(from: file, path: path)
            model = ensemble
        case .mixtureOfExperts(let m):
            let mixture = m.build(seed: 0)
            try checkTensors(file, against: mixture, described: description, optimizer: optimizer, path: path)
            try mixture.restore(from: file, path: path)
            model = mixture
        }
        model.eval()
        return model
    }

    // MARK: The description

    static func descriptionKey(_ description: Description) -> String {
        switch description {
        case .network: return Checkpoint.Key.architecture
        case .ensemble: return EnsembleArchitecture.metadataKey
        case .mixtureOfExperts: return MixtureOfExpertsArchitecture.metadataKey
        }
    }

    /// The one description the file holds, decoded and checked for consistency (the decoders
    /// of the ensemble and mixture descriptions do not run their initializers' checks).
    private static func description(of file: Safetensors, path: String) throws(CheckpointError) -> Description {
        let keys = [Checkpoint.Key.architecture, EnsembleArchitecture.metadataKey, MixtureOfExpertsArchitecture.metadataKey]
        let present = keys.filter { file.metadata[$0] != nil }
        guard present.count == 1, let key = present.first else {
            throw .invalidMetadata(path: path, key: Checkpoint.Key.architecture,
                                   reason: present.isEmpty ? "missing: the file does not describe its model (expected one of \(keys.joined(separator: ", ")))"
                                                           : "the file describes its model more than once (\(present.joined(separator: ", ")))")
        }
        switch key {
        case Checkpoint.Key.architecture:
            return .network(try Checkpoint.decode(MultilayerPerceptronArchitecture.self, file, key: key, path: path))
        case EnsembleArchitecture.metadataKey:
            let e = try Checkpoint.decode(EnsembleArchitecture.self, file, key: key, path: path)
            guard let first = e.members.first else { throw .invalidMetadata(path: path, key: key, reason: "an ensemble of no members") }
            if let odd = e.members.firstIndex(where: { $0.sizes.first != first.sizes.first || $0.sizes.last != first.sizes.last }) {
                throw .invalidMetadata(path: path, key: key,
                                       reason: "member \(odd + 1) has sizes \(e.members[odd].sizes); every member must take \(first.sizes.first ?? 0) inputs and give \(first.sizes.last ?? 0) outputs like member 1")
            }
            return .ensemble(e)
        default:
            let m = try Checkpoint.decode(MixtureOfExpertsArchitecture.self, file, key: key, path: path)
            guard m.expertCount >= 1 else { throw .invalidMetadata(path: path, key: key, reason: "expertCount \(m.expertCount), expected at least 1") }
            guard m.gate.sizes.first == m.expert.sizes.first, m.gate.sizes.last == m.expertCount else {
                throw .invalidMetadata(path: path, key: key,
                                       reason: "the gate's sizes \(m.gate.sizes) must start at the experts' input size \(m.expert.sizes.first ?? 0) and end at expertCount \(m.expertCount)")
            }
            if let k = m.topK, !(1...m.expertCount).contains(k) {
                throw .invalidMetadata(path: path, key: key, reason: "topK \(k), expected 1…\(m.expertCount)")
            }
            return .mixtureOfExperts(m)
        }
    }

    // MARK: Normalization, task and the rest

    /// The normalization: required (every writer records it, `none` included), one finite mean
    /// and one finite positive σ per input.
    private static func normalization(of file: Safetensors, inputs: Int, path: String) throws(CheckpointError) -> Normalization {
        let key = Checkpoint.Key.normalization
        guard file.metadata[key] != nil else {
            throw .invalidMetadata(path: path, key: key,
                                   reason: "missing: the file does not say how its inputs are standardized (Backprop records it, 'none' included)")
        }
        let normalization = try Checkpoint.decode(Normalization.self, file, key: key, path: path)
        guard case let .standardize(mean, deviation) = normalization else { return normalization }
        guard mean.count == inputs, deviation.count == inputs else {
            throw .invalidMetadata(path: path, key: key,
                                   reason: "\(mean.count) means and \(deviation.count) standard deviations for a model of \(inputs) inputs")
        }
        if let i = mean.firstIndex(where: { !$0.isFinite }) {
            throw .invalidMetadata(path: path, key: key, reason: "mean \(i) is \(mean[i]), expected a finite number")
        }
        if let i = deviation.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw .invalidMetadata(path: path, key: key, reason: "standard deviation \(i) is \(deviation[i]), expected a finite number > 0")
        }
        return normalization
    }

    /// The task (classification when absent) and its agreement with the outputs: K ≥ 2 softmax
    /// outputs, one sigmoid output, or one output per standardized regression target.
    private static func task(of file: Safetensors, outputs: Int, path: String) throws(CheckpointError) -> TrainingTask {
        let key = TrainingTask.metadataKey
        guard file.metadata[key] != nil else {
            guard outputs >= 2 else {
                throw .invalidMetadata(path: path, key: key,
                                       reason: "missing, so the model is a softmax classifier, but it has \(outputs) output (a classifier needs at least 2)")
            }
            return .classification
        }
        let task = try Checkpoint.decode(TrainingTask.self, file, key: key, path: path)
        switch task.loss {
        case .crossEntropy:
            guard outputs >= 2 else {
                throw .invalidMetadata(path: path, key: key, reason: "\(task.loss.rawValue) needs at least 2 outputs (classes); the model has \(outputs)")
            }
        case .binaryCrossEntropy:
            guard outputs == 1 else {
                throw .invalidMetadata(path: path, key: key, reason: "\(task.loss.rawValue) has one sigmoid output; the model has \(outputs)")
            }
        case .meanSquaredError, .sumSquaredError:
            guard let scaling = task.targetScaling else {
                throw .invalidMetadata(path: path, key: key, reason: "a regression without targetScaling (the targets' mean and σ)")
            }
            guard scaling.mean.count == outputs, scaling.standardDeviation.count == outputs else {
                throw .invalidMetadata(path: path, key: key,
                                       reason: "targetScaling has \(scaling.mean.count) means and \(scaling.standardDeviation.count) standard deviations; the model has \(outputs) outputs")
            }
            if let i = scaling.mean.firstIndex(where: { !$0.isFinite }) {
                throw .invalidMetadata(path: path, key: key, reason: "target mean \(i) is \(scaling.mean[i]), expected a finite number")
            }
            if let i = scaling.standardDeviation.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                throw .invalidMetadata(path: path, key: key,
                                       reason: "target standard deviation \(i) is \(scaling.standardDeviation[i]), expected a finite number > 0")
            }
            if let names = task.targetNames, names.count != outputs {
                throw .invalidMetadata(path: path, key: key, reason: "\(names.count) target names for \(outputs) outputs")
            }
        }
        return task
    }

    /// An entry that may be absent, but must decode when present (junk is an error, not nil).
    private static func optional<T: Decodable>(_ type: T.Type, _ file: Safetensors, key: String, path: String) throws(CheckpointError) -> T? {
        guard file.metadata[key] != nil else { return nil }
        return try Checkpoint.decode(type, file, key: key, path: path)
    }

    // MARK: Tensors

    /// The file's tensors are exactly those the writer stores for `model` (``Checkpoint/modelEntries(_:)``:
    /// F32 parameters and statistics, I64 counters), plus a checkpoint's optimizer buffers, each
    /// the shape of its parameter; every float finite, every variance and counter ≥ 0.
    private static func checkTensors(_ file: Safetensors, against model: any Module, described description: Description,
                                     optimizer: OptimizerState?, path: String) throws(CheckpointError) {
        let expected = Checkpoint.modelEntries(model)
        var shapes: [String: (dtype: Safetensors.DType, shape: [Int])] = [:]
        for (name, entry) in expected { shapes[name] = (entry.dtype, entry.shape) }
        let parameterShapes = Dictionary(model.namedParameters().map { ($0.name, $0.parameter.shape) }, uniquingKeysWith: { a, _ in a })
        for (name, _) in expected where file[name] == nil {
            throw .missingTensor(path: path, name: name)
        }
        for (name, entry) in file.entries {
            if let want = shapes[name] {
                guard entry.dtype == want.dtype else {
                    throw .invalidTensor(path: path, name: name, reason: "dtype \(entry.dtype.rawValue), expected \(want.dtype.rawValue)")
                }
                guard entry.shape == want.shape else {
                    throw .shapeMismatch(path: path, name: name, expected: want.shape, actual: entry.shape)
                }
            } else if let optimizer, name.hasPrefix("optimizer.") {
                try checkOptimizerTensor(name, entry, optimizer: optimizer, parameterShapes: parameterShapes, path: path)
            } else {
                throw .invalidTensor(path: path, name: name,
                                     reason: "not a tensor of the model that metadata \(descriptionKey(description)) describes (\(expected.count) tensors: \(expected.map(\.name).joined(separator: ", ")))")
            }
            try checkValues(name, entry, path: path)
        }
        if let optimizer {
            for (name, p) in optimizer.parameters {
                guard let shape = parameterShapes[name] else {
                    throw .invalidMetadata(path: path, key: Checkpoint.Key.optimizer, reason: "state for \(name), which the model does not have")
                }
                guard p.shape == shape else {
                    throw .invalidMetadata(path: path, key: Checkpoint.Key.optimizer, reason: "state for \(name) of shape \(p.shape); the parameter is \(shape)")
                }
            }
        }
    }

    /// `optimizer.<parameter>.<buffer>`: a buffer of a parameter the optimizer state lists, F32,
    /// of the parameter's shape.
    private static func checkOptimizerTensor(_ name: String, _ entry: Safetensors.Entry, optimizer: OptimizerState,
                                             parameterShapes: [String: [Int]], path: String) throws(CheckpointError) {
        let rest = name.dropFirst("optimizer.".count)
        guard let dot = rest.lastIndex(of: "."), let shape = parameterShapes[String(rest[..<dot])],
              optimizer.parameters[String(rest[..<dot])] != nil else {
            throw .invalidTensor(path: path, name: name, reason: "an optimizer buffer of no parameter in the optimizer state")
        }
        guard entry.dtype == .f32 else {
            throw .invalidTensor(path: path, name: name, reason: "dtype \(entry.dtype.rawValue), expected F32")
        }
        guard entry.shape == shape else {
            throw .shapeMismatch(path: path, name: name, expected: shape, actual: entry.shape)
        }
    }

    /// Floats finite (a NaN weight answers NaN for every input); running variances and
    /// counters not negative.
    private static func checkValues(_ name: String, _ entry: Safetensors.Entry, path: String) throws(CheckpointError) {
        if entry.dtype == .i64 {
            if let count = entry.integerValue, count < 0 {
                throw .invalidTensor(path: path, name: name, reason: "counter \(count), expected ≥ 0")
            }
            return
        }
        let values = entry.tensor().scalars
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw .invalidTensor(path: path, name: name, reason: "element \(i)\(position(i, in: entry.shape)) is \(values[i]), expected a finite number")
        }
        if name.hasSuffix("running_var"), let i = values.firstIndex(where: { $0 < 0 }) {
            throw .invalidTensor(path: path, name: name, reason: "element \(i) is \(values[i]), expected a variance ≥ 0")
        }
    }

    /// " (at [r, c])" for a flat index into a tensor of rank ≥ 2; empty otherwise.
    private static func position(_ flat: Int, in shape: [Int]) -> String {
        guard shape.count >= 2 else { return "" }
        var index: [Int] = []
        var rest = flat
        for d in shape.reversed() {
            index.append(d > 0 ? rest % d : 0)
            rest = d > 0 ? rest / d : 0
        }
        return " (at \(Array(index.reversed())))"
    }
}
