import Foundation
import Synchronization

/// A mixture of models: K networks trained independently and combined at prediction time.
///
/// Why it regularizes: members trained from different initial weights (and, with bagging, on
/// different bootstrap samples of the data) make partly independent errors; averaging cancels
/// the independent part. For the squared error the gain is exact — the ensemble's error equals
/// the members' average error minus their average spread around the ensemble (Krogh & Vedelsby
/// 1995) — and for the log-loss of averaged probabilities it is never worse than the average
/// member's, by Jensen's inequality.
///
/// Combinations (``Combination``):
/// - ``Combination/averageProbabilities`` (classification): the output is the log of the mean of
///   the members' softmaxes, log (1/K) Σₖ softmax(fₖ(x)), so `argmaxRows` predicts and softmax
///   cross-entropy on the output is the ensemble's log-loss.
/// - ``Combination/averageOutputs`` (regression, or averaged logits): (1/K) Σₖ fₖ(x).
/// - ``Combination/majorityVote`` (classification): each member votes for its argmax class; the
///   output is log((votes + p̄)/(K + 1)), with p̄ the mean probabilities, so the argmax is the
///   majority class with ties broken by the mean probability, and the rows are still
///   log-probabilities (finite, so cross-entropy can be evaluated). Not differentiable.
///
/// Both averaging combinations are differentiable, but members are meant to be trained each on
/// its own loss (``train(on:validation:configuration:)``): training the average end to end
/// couples them and loses the independence the ensemble relies on.
///
/// Parameter names (checkpoints): `members.<k>.<name>`, where `<name>` is member k's own name
/// (for a ``Sequential``, `0.weight`, `0.bias`, …), e.g. `members.0.0.weight`.
public final class Ensemble: Module {
    /// How the members' outputs become the ensemble's output (see ``Ensemble``'s overview).
    public enum Combination: String, Sendable, Codable, CaseIterable {
        /// The log of the members' mean softmax probabilities, for classification.
        case averageProbabilities
        /// The mean of the members' outputs, for regression (or averaged logits).
        case averageOutputs
        /// Each member votes for its most probable class; ties go to the higher mean probability.
        /// Not differentiable.
        case majorityVote
    }

    /// The members, each mapping [batch, inputs] to [batch, outputs] of the same width.
    public let members: [any Module]
    /// How the members' outputs are combined; it can be changed after training (a checkpoint
    /// records it).
    public var combination: Combination

    /// Setting it sets every member's mode.
    public var isTraining: Bool = true {
        didSet { for member in members { member.isTraining = isTraining } }
    }

    /// An ensemble of trained (or to-be-trained) members, combined by `combination`.
    ///
    /// - Precondition: at least one member.
    public init(members: [any Module], combination: Combination = .averageProbabilities) {
        precondition(!members.isEmpty, "Ensemble: no members")
        self.members = members
        self.combination = combination
    }

    /// The members' outputs on `input`, combined by ``combination``.
    public func callAsFunction(_ input: Variable) -> Variable {
        combine(members.map { $0(input) })
    }

    /// Combines the members' outputs (each [batch, outputs]) as ``combination`` says.
    public func combine(_ outputs: [Variable]) -> Variable {
        precondition(outputs.count == members.count, "Ensemble.combine: \(outputs.count) outputs for \(members.count) members")
        let batch = outputs[0].shape.first ?? 0
        let uniform = Variable(Tensor(shape: [batch, outputs.count], repeating: 1 / Float(outputs.count)))
        switch combination {
        case .averageProbabilities:
            return logMixture(logits: outputs, weights: uniform)
        case .averageOutputs:
            return mixture(outputs, weights: uniform)
        case .majorityVote:
            let k = Float(outputs.count)
            let meanProbabilities = withoutGradient { logMixture(logits: outputs, weights: uniform) }.value
                .map { $0.isFinite ? Foundation.exp($0) : 0 }
            let columns = meanProbabilities.shape[1]
            var votes = [Float](repeating: 0, count: batch * columns)
            for output in outputs {
                for (row, winner) in output.value.argmaxRows().enumerated() { votes[row * columns + winner] += 1 }
            }
            let scores = (Tensor(shape: [batch, columns], scalars: votes) + meanProbabilities) * (1 / (k + 1))
            return Variable(scores.map { Foundation.log($0) })
        }
    }

    /// Each member's output on `input`, in evaluation mode as set, without gradients.
    public func memberOutputs(_ input: Tensor) -> [Tensor] {
        withoutGradient { members.map { $0(Variable(input)).value } }
    }

    /// Every member's parameters, named `members.<k>.<name>`.
    public func namedParameters() -> [(name: String, parameter: Variable)] {
        members.enumerated().flatMap { k, member in
            member.namedParameters().map { ("members.\(k).\($0.name)", $0.parameter) }
        }
    }

    /// Every member's buffers, named `members.<k>.<name>`.
    public func namedBuffers() -> [(name: String, buffer: Variable)] {
        members.enumerated().flatMap { k, member in
            member.namedBuffers().map { ("members.\(k).\($0.name)", $0.buffer) }
        }
    }

    /// The member count and combination, then each member's summary.
    public var summary: String {
        (["Ensemble(\(members.count) members, \(combination.rawValue))"]
            + members.enumerated().map { k, member in
                "member \(k):\n" + member.summary.split(separator: "\n", omittingEmptySubsequences: false)
                    .map { "  " + $0 }.joined(separator: "\n")
            }).joined(separator: "\n")
    }

    // MARK: Running members in parallel

    /// Calls `body(k, members[k])` for every member and returns the results in member order.
    ///
    /// With `parallel`, members run concurrently on the threads of the current backend's pool,
    /// each inside its own single-thread ``Backend`` (own buffer pool, kernels run serially), so
    /// K independent trainings use the cores without fighting over one pool; otherwise they run
    /// one after another on the current backend (whose kernels are then multi-threaded). Either
    /// way a member's computation depends only on its own state and seeds, so the results are
    /// the same.
    public func forEachMember<Result: Sendable>(parallel: Bool = true,
                                                _ body: (_ index: Int, _ member: any Module) -> Result) -> [Result] {
        let pool = Backend.current.threads
        guard parallel, members.count > 1, pool.threadCount > 1 else {
            return members.enumerated().map { body($0.offset, $0.element) }
        }
        let results = Mutex<[Int: Result]>([:])
        // Members keep the caller's sparse-input threshold, so they take the same paths (and give
        // the same bits) as when trained one after the other.
        let sparseInputDensity = Backend.current.sparseInputDensity
        pool.parallelFor(members.count) { k in
            let backend = Backend(threads: ThreadPool(threadCount: 1), sparseInputDensity: sparseInputDensity)
            let result = Backend.$current.withValue(backend) { body(k, members[k]) }
            results.withLock { $0[k] = result }
        }
        let collected = results.withLock { $0 }
        return (0..<members.count).compactMap { collected[$0] }
    }
}

// MARK: - Training

/// How ``Ensemble/train(on:validation:configuration:)`` trains each member.
public struct EnsembleTrainingConfiguration: Sendable, Equatable, Codable {
    /// Passes over each member's training sample.
    public var epochs: Int
    /// Examples per mini-batch.
    public var batchSize: Int
    /// Every member's optimizer.
    public var optimizer: OptimizerSpecification
    /// The base seed; member k draws its shuffling and bootstrap sample from ``memberSeed(_:)``.
    /// (Initial weights are the members' own: build them with distinct seeds.)
    public var seed: UInt64
    /// Bagging (Breiman 1996): each member trains on its own bootstrap sample, N draws with
    /// replacement from the N training examples (about 63% of them distinct).
    public var bagging: Bool
    /// Train the members concurrently (see ``Ensemble/forEachMember(parallel:_:)``).
    public var parallel: Bool
    /// Applied to every batch (as for the single-model trainer).
    public var normalization: Normalization

    /// A configuration; every member trains with the same settings and its own seed.
    ///
    /// - Parameters:
    ///   - epochs: passes over each member's training sample.
    ///   - batchSize: examples per mini-batch.
    ///   - optimizer: every member's optimizer.
    ///   - seed: the base seed of the members' data orders and bootstrap samples.
    ///   - bagging: train each member on a bootstrap sample.
    ///   - parallel: train the members concurrently.
    ///   - normalization: applied to every batch.
    public init(epochs: Int = 5, batchSize: Int = 64, optimizer: OptimizerSpecification = OptimizerSpecification(Adam(), learningRate: 0.001), seed: UInt64 = 0,
                bagging: Bool = false, parallel: Bool = true, normalization: Normalization = .none) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.seed = seed
        self.bagging = bagging
        self.parallel = parallel
        self.normalization = normalization
    }

    /// The seed of member k's data order and bootstrap sample.
    public func memberSeed(_ k: Int) -> UInt64 { Ensemble.memberSeed(base: seed, index: k) }
}

/// What training one member produced.
public struct MemberTrainingReport: Sendable, Codable {
    /// The member's index, 0-based.
    public var member: Int
    /// The seed of this member's data order and sample.
    public var seed: UInt64
    /// Training examples per epoch (draws, with bagging).
    public var sampleSize: Int
    /// Distinct examples in the sample (N with bagging ≈ 0.632 N).
    public var distinctExamples: Int
    /// Optimizer steps taken.
    public var steps: Int
    /// Mean loss and accuracy over the last epoch's batches.
    public var finalLoss: Float
    /// The fraction of the last epoch's training examples classified correctly.
    public var trainAccuracy: Float
    /// The member alone on the validation set, if one was given.
    public var validation: Evaluation?
    /// Training time in seconds.
    public var seconds: Double
}

extension Ensemble {
    /// A seed for member k derived from a base seed (SplitMix64 of base ⊕ k), so members and runs
    /// get well-separated streams.
    public static func memberSeed(base: UInt64, index: Int) -> UInt64 {
        var z = base &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A bootstrap sample: `count` draws with replacement from `indices`, reproducible from `seed`.
    public static func bootstrapSample(of indices: [Int], count: Int? = nil, seed: UInt64) -> [Int] {
        guard !indices.isEmpty else { return [] }
        var generator = RandomGenerator(seed: seed, stream: 0xBA66)
        return (0..<(count ?? indices.count)).map { _ in indices[generator.nextInt(below: indices.count)] }
    }

    /// Trains every member independently as a classifier (softmax cross-entropy on its output),
    /// each with its own optimizer, data order and, with bagging, bootstrap sample; concurrently
    /// when ``EnsembleTrainingConfiguration/parallel``. Leaves the ensemble in evaluation mode.
    ///
    /// A shorthand for ``train(on:validation:configuration:bagging:parallel:normalization:transform:objective:members:runDirectory:resume:)``
    /// with a ``TrainingConfiguration`` of the given epochs, batch size, optimizer and seed.
    ///
    /// - Returns: one report per member, in member order.
    /// - Throws: ``TrainingError`` for a bad configuration, data that does not fit the members,
    ///   or a loss that became non-finite.
    public func train(on source: any ExampleSource, validation: (any ExampleSource)? = nil,
                      configuration c: EnsembleTrainingConfiguration) throws(TrainingError) -> [MemberTrainingReport] {
        var training = TrainingConfiguration()
        training.epochs = c.epochs
        training.batchSize = c.batchSize
        training.optimizer = c.optimizer
        training.seed = c.seed
        return try train(on: source, validation: validation, configuration: training, bagging: c.bagging,
                         parallel: c.parallel, normalization: c.normalization)
    }

    /// Trains every member through its own ``Trainer`` — the one training loop, so every
    /// setting of `configuration` (schedule, clipping, gradient noise, weight decay, step limit,
    /// early stopping, augmentation) applies to each member as it would to one network.
    ///
    /// Member k trains with the seed ``memberSeed(base:index:)`` of `configuration.seed` (its
    /// data order, gradient noise and, with bagging, its bootstrap sample of the source's size);
    /// its initial weights are its own, as built. With a run folder, member k keeps its model,
    /// checkpoint and metrics in `member-<k+1>/` (model selection and early stopping on its
    /// validation accuracy), and `resume` continues every member from its checkpoint, bit for
    /// bit as if never stopped. Leaves the ensemble in evaluation mode.
    ///
    /// - Parameters:
    ///   - source: the training examples.
    ///   - validation: each member's validation set, or nil.
    ///   - configuration: every member's settings (its seed is derived per member).
    ///   - bagging: train each member on a bootstrap sample of `source`.
    ///   - parallel: train the members concurrently (see ``forEachMember(parallel:_:)``); the
    ///     results are the same bits either way.
    ///   - normalization: applied to every batch.
    ///   - transform: applied to every training batch after normalization (augmentation).
    ///   - objective: what each member minimizes (softmax cross-entropy by default).
    ///   - descriptions: the members' descriptions (`members:`; needed with a run folder).
    ///   - runDirectory: the ensemble's run folder, or nil to keep everything in memory.
    ///   - resume: continue every member from its checkpoint in `runDirectory`.
    /// - Returns: one report per member, in member order.
    public func train(on source: any ExampleSource, validation: (any ExampleSource)?,
                      configuration: TrainingConfiguration, bagging: Bool, parallel: Bool = true,
                      normalization: Normalization = .none,
                      transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)? = nil,
                      objective: any TrainingObjective = SoftmaxCrossEntropyObjective(),
                      members descriptions: [MultilayerPerceptronArchitecture]? = nil,
                      runDirectory: String? = nil, resume: Bool = false) throws(TrainingError) -> [MemberTrainingReport] {
        guard source.count > 0 else { throw .invalidConfiguration("the training set is empty") }
        if let descriptions, descriptions.count != members.count {
            throw .invalidConfiguration("\(descriptions.count) member descriptions for \(members.count) members")
        }
        if runDirectory != nil && descriptions == nil {
            throw .invalidConfiguration("an ensemble's run folder needs the members' descriptions")
        }
        let all = Array(0..<source.count)
        // Members on their own threads keep every core busy: a prefetch thread each would only
        // compete with them.
        let concurrent = parallel && members.count > 1 && Backend.current.threads.threadCount > 1
        let outcomes = forEachMember(parallel: parallel) { k, member -> Result<MemberTrainingReport, TrainingError> in
            do throws(TrainingError) {
                return .success(try Self.trainMember(
                    member, index: k, description: descriptions?[k], source: source, all: all, validation: validation,
                    configuration: configuration, bagging: bagging, normalization: normalization, transform: transform,
                    objective: objective, runDirectory: runDirectory, resume: resume, prefetches: concurrent ? false : nil))
            } catch {
                return .failure(error)
            }
        }
        eval()
        var reports: [MemberTrainingReport] = []
        for outcome in outcomes {
            switch outcome {
            case .success(let report): reports.append(report)
            case .failure(let error): throw error
            }
        }
        return reports
    }

    /// The run folder of member k inside an ensemble's run folder.
    public static func memberDirectory(_ runDirectory: String, index: Int) -> String {
        (runDirectory as NSString).appendingPathComponent("member-\(index + 1)")
    }

    private static func trainMember(_ member: any Module, index: Int, description: MultilayerPerceptronArchitecture?,
                                    source: any ExampleSource, all: [Int], validation: (any ExampleSource)?,
                                    configuration: TrainingConfiguration, bagging: Bool, normalization: Normalization,
                                    transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)?,
                                    objective: any TrainingObjective, runDirectory: String?, resume: Bool, prefetches: Bool?) throws(TrainingError) -> MemberTrainingReport {
        let start = Date()
        var c = configuration
        c.seed = memberSeed(base: configuration.seed, index: index)
        c.dataSeed = configuration.dataSeed ?? configuration.seed
        let sample = bagging ? bootstrapSample(of: all, seed: c.seed) : all
        let data: any ExampleSource = bagging ? subset(of: source, indices: sample) : source
        let directory = runDirectory.map { memberDirectory($0, index: index) }
        let trainer = try Trainer(module: member, description: description.map { .network($0) },
                                  objective: objective, configuration: c,
                                  train: data, validation: validation, test: nil, normalization: normalization,
                                  transform: transform, runDirectory: directory, reporter: ProgressReporter(quiet: true),
                                  prefetches: prefetches)
        if resume, let path = trainer.checkpointPath {
            guard FileManager.default.fileExists(atPath: path) else {
                throw .invalidConfiguration("--resume: member \(index + 1) has no checkpoint at \(path)")
            }
            try trainer.resume(from: path)
        }
        let summary = try trainer.fit()
        let last = summary.history.last
        let evaluation = validation.map { objective.measure(member, on: $0, normalization: normalization) }
        member.eval()
        return MemberTrainingReport(member: index, seed: c.seed, sampleSize: sample.count,
                                    distinctExamples: Set(sample).count, steps: summary.steps,
                                    finalLoss: last?.trainLoss ?? .nan, trainAccuracy: last?.trainAccuracy ?? .nan,
                                    validation: evaluation, seconds: Date().timeIntervalSince(start))
    }
}

// MARK: - Description and checkpoints

/// An ensemble described by sizes, for the command line and checkpoints: K members, each a
/// ``MultilayerPerceptronArchitecture`` (usually the same shape), and how they combine.
public struct EnsembleArchitecture: Sendable, Hashable, Codable {
    /// The members' shapes, one per member.
    public var members: [MultilayerPerceptronArchitecture]
    /// How the members' outputs are combined.
    public var combination: Ensemble.Combination
    /// Whether the members were trained on bootstrap samples (recorded for `info`).
    public var bagging: Bool

    /// The metadata key under which a checkpoint stores this description as JSON.
    public static let metadataKey = "ensemble"

    /// An ensemble of the given members.
    ///
    /// - Parameters:
    ///   - members: the members' shapes; at least one.
    ///   - combination: how their outputs are combined.
    ///   - bagging: whether the members are (to be) trained on bootstrap samples.
    /// - Throws: ``ModelError/invalidOption(_:reason:)`` for an empty list.
    public init(members: [MultilayerPerceptronArchitecture], combination: Ensemble.Combination = .averageProbabilities,
                bagging: Bool = false) throws(ModelError) {
        guard !members.isEmpty else { throw .invalidOption("ensemble", reason: "an ensemble needs at least 1 member") }
        // Members are combined output by output, so they must read and give the same sizes.
        guard let first = members.first?.sizes, members.allSatisfy({ $0.sizes.first == first.first && $0.sizes.last == first.last }) else {
            throw .invalidOption("ensemble", reason: "every member must take the first member's \(members[0].sizes.first ?? 0) inputs and give its \(members[0].sizes.last ?? 0) outputs; sizes are \(members.map(\.sizes))")
        }
        self.members = members
        self.combination = combination
        self.bagging = bagging
    }

    private enum CodingKeys: String, CodingKey {
        case members, combination, bagging
    }

    /// Decodes a description (a model file's metadata) through the checking initializer, so a
    /// file cannot describe an ensemble that `init` refuses (no members traps when built).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(members: c.decode([MultilayerPerceptronArchitecture].self, forKey: .members),
                          combination: c.decode(Ensemble.Combination.self, forKey: .combination),
                          bagging: c.decode(Bool.self, forKey: .bagging))
        } catch let error as ModelError {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: error.description))
        }
    }

    /// K copies of one network shape.
    public init(member: MultilayerPerceptronArchitecture, count: Int, combination: Ensemble.Combination = .averageProbabilities,
                bagging: Bool = false) throws(ModelError) {
        guard count >= 1 else { throw .invalidOption("ensemble", reason: "the number of members must be at least 1, got \(count)") }
        try self.init(members: Array(repeating: member, count: count), combination: combination, bagging: bagging)
    }

    /// Builds the ensemble; member k's weights come from ``Ensemble/memberSeed(base:index:)``, so
    /// members start different.
    public func build(seed: UInt64) -> Ensemble {
        Ensemble(members: members.enumerated().map { $0.element.build(seed: Ensemble.memberSeed(base: seed, index: $0.offset)) },
                 combination: combination)
    }
}

extension Ensemble {
    /// Writes every member's weights (``namedParameters()`` names) and the description as one
    /// safetensors file, atomically; `metadata` adds keys (normalization, metrics, …).
    public func save(to path: String, architecture: EnsembleArchitecture,
                     metadata: [String: String] = [:]) throws(WriteError) {
        try Checkpoint.writeModelFile(self, to: path, descriptionKey: EnsembleArchitecture.metadataKey,
                                      description: Checkpoint.json(architecture), metadata: metadata)
    }

    /// Copies the tensors of `file` into the members, checking names and shapes.
    public func restore(from file: Safetensors, path: String) throws(CheckpointError) {
        for (k, member) in members.enumerated() {
            try restoreModule(member, prefix: "members.\(k).", from: file, path: path)
        }
    }

    /// Loads a file written by ``save(to:architecture:metadata:)``, in evaluation mode.
    /// The file is validated whole by ``ModelFile``.
    public static func load(from path: String) throws(CheckpointError) -> (model: Ensemble, architecture: EnsembleArchitecture, file: Safetensors) {
        let loaded = try ModelFile.read(path)
        guard case .ensemble(let architecture) = loaded.description, let ensemble = loaded.model as? Ensemble else {
            throw .invalidMetadata(path: path, key: EnsembleArchitecture.metadataKey,
                                   reason: "missing: the file holds \(ModelFile.descriptionKey(loaded.description)), not an ensemble")
        }
        return (ensemble, architecture, loaded.file)
    }
}

/// Restores a child module whose tensors are stored under `prefix` (`members.0.`, `gate.`, …).
/// A ``Sequential`` goes through ``Checkpoint/restoreModel(_:from:path:)`` on the entries with
/// the prefix removed (so BatchNorm statistics and counters load as for a single model); any
/// other module by the names of its parameters and buffers.
func restoreModule(_ module: any Module, prefix: String, from file: Safetensors, path: String) throws(CheckpointError) {
    if let sequential = module as? Sequential {
        let entries = file.entries.filter { $0.name.hasPrefix(prefix) }
            .map { (name: String($0.name.dropFirst(prefix.count)), entry: $0.entry) }
        do {
            try Checkpoint.restoreModel(sequential, from: Safetensors(entries: entries, metadata: file.metadata), path: path)
        } catch {
            throw prefixed(error, prefix)
        }
        return
    }
    let tensors = module.namedParameters().map { ($0.name, $0.parameter) }
        + module.namedBuffers().filter { !$0.name.hasSuffix("num_batches_tracked") }.map { ($0.name, $0.buffer) }
    for (name, variable) in tensors {
        let full = prefix + name
        guard let entry = file[full] else { throw .missingTensor(path: path, name: full) }
        guard entry.shape == variable.shape else {
            throw .shapeMismatch(path: path, name: full, expected: variable.shape, actual: entry.shape)
        }
        variable.value = entry.tensor()
    }
}

/// Puts the prefix back into the tensor name of an error from a child's restore.
private func prefixed(_ error: CheckpointError, _ prefix: String) -> CheckpointError {
    switch error {
    case let .missingTensor(path, name): return .missingTensor(path: path, name: prefix + name)
    case let .shapeMismatch(path, name, expected, actual):
        return .shapeMismatch(path: path, name: prefix + name, expected: expected, actual: actual)
    default: return error
    }
}
