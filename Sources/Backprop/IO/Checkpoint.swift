import Foundation

/// Errors restoring a model or training run from a checkpoint.
public enum CheckpointError: Error, CustomStringConvertible {
    /// The file could not be read or is malformed.
    case data(DataError)
    /// A checkpoint could not be written.
    case write(WriteError)
    /// The file lacks a tensor the model needs.
    case missingTensor(path: String, name: String)
    /// A tensor's shape differs from the model's.
    case shapeMismatch(path: String, name: String, expected: [Int], actual: [Int])
    /// A metadata entry is missing or does not decode.
    case invalidMetadata(path: String, key: String, reason: String)
    /// A tensor the model does not have, or one of the wrong dtype or with values it cannot hold.
    case invalidTensor(path: String, name: String, reason: String)

    /// A one-line message naming the file and, where there is one, the tensor or metadata key.
    public var description: String {
        switch self {
        case let .data(e): return e.description
        case let .write(e): return e.description
        case let .missingTensor(path, name): return "\(path): no tensor named \(name)"
        case let .shapeMismatch(path, name, expected, actual):
            return "\(path): tensor \(name) has shape \(actual), expected \(expected)"
        case let .invalidMetadata(path, key, reason): return "\(path): metadata \(key): \(reason)"
        case let .invalidTensor(path, name, reason): return "\(path): tensor \(name): \(reason)"
        }
    }
}

/// Model and training-state files in the safetensors format.
///
/// Model tensors carry PyTorch's `nn.Sequential` state-dict names (`0.weight` [out, in],
/// `0.bias`, BatchNorm's `running_mean`, `running_var` and an I64 `num_batches_tracked`), so a
/// model file loads into the equivalent PyTorch network with `load_state_dict`. A training
/// checkpoint adds the optimizer's state as `optimizer.<parameter>.<buffer>` tensors, and the
/// rest of the run (architecture, configuration, RNG states, counters) as JSON in the metadata.
public enum Checkpoint {
    /// Metadata keys.
    public enum Key {
        /// The file's kind and version, e.g. a model file or a training checkpoint.
        public static let format = "format"
        /// The model's description (``TrainableModel``) as JSON.
        public static let architecture = "architecture"
        /// The input ``Normalization`` fitted on the training set, as JSON.
        public static let normalization = "normalization"
        /// The ``TrainingConfiguration`` the run was started with, as JSON.
        public static let configuration = "configuration"
        /// The optimizer's rule, hyper-parameters and step counts, as JSON (its buffers are tensors).
        public static let optimizer = "optimizer"
        /// The training loop's state (epochs and steps completed, the best epoch and its
        /// validation metrics, early stopping's count, the history, the schedule and gradient
        /// noise), as JSON.
        public static let training = "training"
        /// The states of the model's random generators (dropout masks, input noise), as JSON, so
        /// a resumed run draws what an uninterrupted one would (the data order needs none: it is
        /// a function of the seed and the epoch).
        public static let randomState = "rng"
        /// The metrics history so far, as JSON.
        public static let metrics = "metrics"
    }

    /// The format tag written in every file.
    public static let formatTag = "backprop-1"

    /// Writes `model`'s tensors with its description under `descriptionKey`, the format tag and
    /// the caller's `metadata`, atomically. Loading requires the normalization (a skipped
    /// standardization gives other answers), so a caller that gives none has its inputs used as
    /// they are, and the file says so.
    static func writeModelFile(_ model: any Module, to path: String, descriptionKey: String, description: String,
                               metadata: [String: String]) throws(WriteError) {
        var all = metadata
        all[Key.format] = formatTag
        all[descriptionKey] = description
        if all[Key.normalization] == nil { all[Key.normalization] = json(Normalization.none) }
        try Safetensors(entries: modelEntries(model), metadata: all).write(to: path)
    }

    /// The model's parameters and buffers as named entries.
    public static func modelEntries(_ model: any Module) -> [(name: String, entry: Safetensors.Entry)] {
        var entries: [(name: String, entry: Safetensors.Entry)] = model.namedParameters().map { ($0.name, Safetensors.Entry($0.parameter.value)) }
        for (name, buffer) in model.namedBuffers() {
            if name.hasSuffix("num_batches_tracked") {
                entries.append((name, Safetensors.Entry(int64: Int64(buffer.value.scalar))))
            } else {
                entries.append((name, Safetensors.Entry(buffer.value)))
            }
        }
        return entries
    }

    /// Copies the model tensors of `file` into `model`, checking names and shapes.
    public static func restoreModel(_ model: Sequential, from file: Safetensors, path: String) throws(CheckpointError) {
        for (name, parameter) in model.namedParameters() {
            guard let entry = file[name] else { throw .missingTensor(path: path, name: name) }
            guard entry.shape == parameter.shape else {
                throw .shapeMismatch(path: path, name: name, expected: parameter.shape, actual: entry.shape)
            }
            parameter.value = entry.tensor()
        }
        for (index, layer) in model.layers.enumerated() {
            guard let bn = layer as? BatchNorm1d else { continue }
            for (suffix, variable) in [("running_mean", bn.runningMean), ("running_var", bn.runningVariance)] {
                let name = "\(index).\(suffix)"
                guard let entry = file[name] else { throw .missingTensor(path: path, name: name) }
                guard entry.shape == variable.shape else {
                    throw .shapeMismatch(path: path, name: name, expected: variable.shape, actual: entry.shape)
                }
                variable.value = entry.tensor()
            }
            if let count = file["\(index).num_batches_tracked"]?.integerValue { bn.setBatchesTracked(Int(count)) }
        }
    }

    /// The architecture stored in a file's metadata.
    public static func architecture(of file: Safetensors, path: String) throws(CheckpointError) -> MultilayerPerceptronArchitecture {
        guard let json = file.metadata[Key.architecture] else {
            throw .invalidMetadata(path: path, key: Key.architecture, reason: "missing: the file does not describe its network")
        }
        do {
            return try JSONDecoder().decode(MultilayerPerceptronArchitecture.self, from: Data(json.utf8))
        } catch {
            throw .invalidMetadata(path: path, key: Key.architecture, reason: "not a valid network description (\(error))")
        }
    }

    /// Loads a model file (or a training checkpoint) of one network, validated whole by
    /// ``ModelFile``: the network it describes, with its weights.
    public static func loadModel(_ path: String) throws(CheckpointError) -> (model: Sequential, architecture: MultilayerPerceptronArchitecture, file: Safetensors) {
        let loaded = try ModelFile.read(path)
        guard case .network(let architecture) = loaded.description, let model = loaded.model as? Sequential else {
            throw .invalidMetadata(path: path, key: Key.architecture,
                                   reason: "missing: the file holds \(ModelFile.descriptionKey(loaded.description)), not a single network")
        }
        return (model, architecture, loaded.file)
    }

    /// Non-finite floats (an untouched best loss is +∞) are spelled as strings in JSON.
    static let nonFinite = (positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")

    /// Encodes a Codable value as JSON text for metadata.
    ///
    /// Every type stored this way is plain data, so an encoding failure is a programming error.
    public static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: nonFinite.positiveInfinity, negativeInfinity: nonFinite.negativeInfinity, nan: nonFinite.nan)
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            preconditionFailure("Checkpoint.json: cannot encode \(T.self): \(error)")
        }
    }

    /// Decodes JSON metadata.
    public static func decode<T: Decodable>(_ type: T.Type, _ file: Safetensors, key: String, path: String) throws(CheckpointError) -> T {
        guard let text = file.metadata[key] else {
            throw .invalidMetadata(path: path, key: key, reason: "missing")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonFinite.positiveInfinity, negativeInfinity: nonFinite.negativeInfinity, nan: nonFinite.nan)
        do {
            return try decoder.decode(T.self, from: Data(text.utf8))
        } catch {
            throw .invalidMetadata(path: path, key: key, reason: "cannot be decoded (\(error))")
        }
    }
}
