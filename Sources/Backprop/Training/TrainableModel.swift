import Foundation

/// A model the ``Trainer`` can build, describe in its files and check a checkpoint against: a
/// network, or a mixture of experts. (An ensemble trains as K networks, each through its own
/// trainer: see ``Ensemble/train(on:validation:configuration:)``.)
///
/// A model file records the description under the key its loader reads — ``Checkpoint/Key/architecture``
/// for a network (as it always has), ``MixtureOfExpertsArchitecture/metadataKey`` for a mixture — so
/// `eval`, `predict`, `info` and `export` open what the trainer wrote.
public enum TrainableModel: Sendable, Hashable, Codable {
    /// A multilayer perceptron, trained as a ``Sequential``.
    case network(MultilayerPerceptronArchitecture)
    /// A mixture of experts, trained on ``MixtureOfExpertsObjective``.
    case mixtureOfExperts(MixtureOfExpertsArchitecture)

    /// The module, with initial weights drawn from `seed`.
    public func build(seed: UInt64) -> any Module {
        switch self {
        case .network(let network): return network.build(seed: seed)
        case .mixtureOfExperts(let mixture): return mixture.build(seed: seed)
        }
    }

    /// Features in.
    public var inputSize: Int {
        switch self {
        case .network(let network): return network.sizes.first ?? 0
        case .mixtureOfExperts(let mixture): return mixture.expert.sizes.first ?? 0
        }
    }

    /// Outputs (classes) out.
    public var outputSize: Int {
        switch self {
        case .network(let network): return network.sizes.last ?? 0
        case .mixtureOfExperts(let mixture): return mixture.expert.sizes.last ?? 0
        }
    }

    /// Whether some layer normalizes by its batch's statistics (training batches need ≥ 2 examples).
    public var usesBatchNorm: Bool {
        switch self {
        case .network(let network): return network.batchNorm
        case .mixtureOfExperts(let mixture): return mixture.expert.batchNorm || mixture.gate.batchNorm
        }
    }

    /// The objective this kind of model trains on unless told otherwise.
    public var defaultObjective: any TrainingObjective {
        switch self {
        case .network: return SoftmaxCrossEntropyObjective()
        case .mixtureOfExperts: return MixtureOfExpertsObjective()
        }
    }

    /// The metadata entry that describes the model in its files.
    public var metadata: (key: String, value: String) {
        switch self {
        case .network(let network): return (Checkpoint.Key.architecture, Checkpoint.json(network))
        case .mixtureOfExperts(let mixture): return (MixtureOfExpertsArchitecture.metadataKey, Checkpoint.json(mixture))
        }
    }

    /// The description stored in `file`, of the same kind as this one.
    ///
    /// - Throws: ``CheckpointError/invalidMetadata(path:key:reason:)`` when the entry is missing,
    ///   cannot be decoded, or describes a different model.
    public func checkMatches(_ file: Safetensors, path: String) throws(CheckpointError) {
        switch self {
        case .network(let network):
            let stored = try Checkpoint.architecture(of: file, path: path)
            guard stored == network else {
                throw .invalidMetadata(path: path, key: Checkpoint.Key.architecture,
                                       reason: "the checkpoint's network \(stored.sizes) differs from \(network.sizes)")
            }
        case .mixtureOfExperts(let mixture):
            let key = MixtureOfExpertsArchitecture.metadataKey
            let stored = try Checkpoint.decode(MixtureOfExpertsArchitecture.self, file, key: key, path: path)
            guard stored == mixture else {
                throw .invalidMetadata(path: path, key: key, reason: "the checkpoint's mixture of experts differs from the one being trained")
            }
        }
    }

    /// Copies the tensors of `file` into `model` (built by ``build(seed:)``), checking names and shapes.
    public func restore(_ model: any Module, from file: Safetensors, path: String) throws(CheckpointError) {
        if let network = model as? Sequential {
            try Checkpoint.restoreModel(network, from: file, path: path)
        } else if let mixture = model as? MixtureOfExperts {
            try mixture.restore(from: file, path: path)
        } else {
            try restoreModule(model, prefix: "", from: file, path: path)
        }
    }
}

// MARK: - Random state inside a model

/// The layers of `model` that draw random numbers in training (dropout masks, input noise),
/// each with a stable key: a ``Sequential``'s layer index (`"2"`), prefixed by the child's name
/// inside mixtures and ensembles (`"experts.1.2"`, `"members.0.2"`). Checkpoints store each
/// generator under its key, so a resumed run draws what an uninterrupted one would.
func randomLayers(of model: any Module, prefix: String = "") -> [(key: String, layer: any Module)] {
    switch model {
    case let sequential as Sequential:
        return sequential.layers.enumerated().flatMap { index, layer -> [(key: String, layer: any Module)] in
            if layer is Dropout || layer is GaussianNoise { return [("\(prefix)\(index)", layer)] }
            return randomLayers(of: layer, prefix: "\(prefix)\(index).")
        }
    case let mixture as MixtureOfExperts:
        return randomLayers(of: mixture.gate, prefix: "\(prefix)gate.")
            + mixture.experts.enumerated().flatMap { randomLayers(of: $0.element, prefix: "\(prefix)experts.\($0.offset).") }
    case let ensemble as Ensemble:
        return ensemble.members.enumerated().flatMap { randomLayers(of: $0.element, prefix: "\(prefix)members.\($0.offset).") }
    default:
        return []
    }
}

/// The generator words of every random layer of `model`, by ``randomLayers(of:prefix:)`` key.
func randomState(of model: any Module) -> [String: [UInt64]] {
    var out: [String: [UInt64]] = [:]
    for (key, layer) in randomLayers(of: model) {
        if let d = layer as? Dropout { out[key] = [d.generator.state, d.generator.increment] }
        if let n = layer as? GaussianNoise { out[key] = [n.generator.state, n.generator.increment] }
    }
    return out
}

/// Restores what ``randomState(of:)`` saved; every random layer must have its entry.
func restoreRandomState(_ words: [String: [UInt64]], of model: any Module, path: String) throws(CheckpointError) {
    for (key, layer) in randomLayers(of: model) {
        guard let pair = words[key], pair.count == 2 else {
            throw .invalidMetadata(path: path, key: Checkpoint.Key.randomState, reason: "no generator state for layer \(key)")
        }
        let generator = RandomGenerator(state: pair[0], increment: pair[1])
        if let d = layer as? Dropout { d.generator = generator }
        if let n = layer as? GaussianNoise { n.generator = generator }
    }
}
