import Foundation

/// A mixture of experts (Jacobs, Jordan, Nowlan & Hinton 1991): E expert networks and a gating
/// network whose softmax over the experts decides, per input, how much each expert answers,
///
///     g(x) = softmax(gate(x)),     y(x) = Σₑ gₑ(x) · expertₑ(x),
///
/// trained jointly by backpropagation through both the gate and the experts.
///
/// Why it regularizes: each expert only has to model the part of the input space the gate sends
/// it, so E small experts can fit a function with distinct regimes that one network of the same
/// total size would have to compromise on; and the gate's partition is learned, not designed.
///
/// Options:
/// - **Sparse top-k gating** (Shazeer et al. 2017, ``topK``): only the k largest gate logits per
///   example are kept and renormalized, g = softmax(KeepTopK(gate(x), k)), and each expert runs
///   only on the examples routed to it (rows gathered, the expert applied, its outputs scattered
///   back), so compute grows with k, not E. Add ``Forward/importanceLoss`` and/or
///   ``Forward/loadBalancingLoss`` with a small weight (≈ 0.01–0.1) so that routing does not
///   collapse onto a few experts.
/// - **Competitive training** (the 1991 paper's cost): train on
///   ``competitiveLoss(gates:expertOutputs:targets:standardDeviation:reduction:)`` of
///   ``Forward/gates`` and ``Forward/expertOutputs`` instead of the error of the blended output;
///   experts then specialize rather than cooperate.
/// - **Classification** (``Combination/mixtureOfProbabilities``): the output is
///   log Σₑ gₑ softmax(expertₑ(x)), the log class probabilities of the mixture, so ordinary
///   softmax cross-entropy on it is the mixture likelihood −log Σₑ gₑ pₑ(t | x) and `argmaxRows`
///   its prediction.
///
/// Parameter names (checkpoints): `gate.<name>` for the gate's parameters and
/// `experts.<e>.<name>` for expert e's, where `<name>` is the child's own name (for a
/// ``Sequential``, `0.weight`, `0.bias`, …), e.g. `gate.0.weight`, `experts.1.2.bias`.
public final class MixtureOfExperts: Module {
    /// How the experts' outputs are combined into the module's output.
    public enum Combination: String, Sendable, Codable, CaseIterable {
        /// y = Σₑ gₑ oₑ: regression outputs, or blended logits for a classifier.
        case weightedOutputs
        /// y = log Σₑ gₑ softmax(oₑ): the log class probabilities of the mixture.
        case mixtureOfProbabilities
    }

    /// The experts; each maps [batch, inputs] to [batch, outputs].
    public let experts: [Sequential]
    /// The gating network; maps [batch, inputs] to [batch, E] logits.
    public let gate: Sequential
    /// Experts kept per example (sparse gating), or nil for the dense mixture of all of them.
    public let topK: Int?
    /// How the experts' outputs are combined with the gate's weights.
    public let combination: Combination

    /// Setting it sets the gate's and every expert's mode.
    public var isTraining: Bool = true {
        didSet {
            gate.isTraining = isTraining
            for expert in experts { expert.isTraining = isTraining }
        }
    }

    /// A mixture of `experts` weighted by `gate`'s softmax, dense or routed to the `topK` largest
    /// gate weights per example.
    ///
    /// - Precondition: at least one expert; `topK`, if given, in 1...experts.count.
    public init(experts: [Sequential], gate: Sequential, topK: Int? = nil, combination: Combination = .weightedOutputs) {
        precondition(!experts.isEmpty, "MixtureOfExperts: no experts")
        if let topK {
            precondition(topK >= 1 && topK <= experts.count, "MixtureOfExperts: top-k \(topK) must be in 1...\(experts.count)")
        }
        self.experts = experts
        self.gate = gate
        self.topK = topK
        self.combination = combination
    }

    /// Whether the forward pass routes sparsely (top-k with k < E).
    public var isSparse: Bool { topK.map { $0 < experts.count } ?? false }

    /// Everything one forward pass computes, for losses beyond the output's.
    public struct Forward {
        /// The module's output (see ``Combination``), [batch, outputs].
        public var output: Variable
        /// The gate's logits, [batch, E].
        public var gateLogits: Variable
        /// The mixing weights gₑ(x), [batch, E]: the gate's softmax, or its top-k softmax (zeros
        /// for experts not chosen).
        public var gates: Variable
        /// The dense softmax of the gate's logits (equal to ``gates`` without top-k), for
        /// ``loadBalancingLoss``.
        public var gateProbabilities: Variable
        /// Each expert's output, [batch, outputs]. With top-k, rows not routed to the expert
        /// are zero (the expert did not run on them) and their gate weight is 0.
        public var expertOutputs: [Variable]
        /// For each example, the experts it was routed to (all of them when dense).
        public var chosen: [[Int]]
        /// For each expert, the examples (rows) it ran on.
        public var routedRows: [[Int]]

        /// Shazeer et al.'s importance loss CV(Σᵢ gᵢ)² on ``gates``; see ``importanceLoss(gates:)``.
        public var importanceLoss: Variable { Backprop.importanceLoss(gates: gates) }
        /// The Switch Transformer's load-balancing loss E·Σₑ fₑ Pₑ on the routing of this pass;
        /// see ``loadBalancingLoss(gateProbabilities:chosen:)``. (With dense gating every
        /// example goes to every expert, so it is constant; use ``importanceLoss`` there.)
        public var loadBalancingLoss: Variable {
            Backprop.loadBalancingLoss(gateProbabilities: gateProbabilities, chosen: chosen)
        }
    }

    /// Runs the gate and the experts and mixes their outputs, keeping the intermediate results.
    public func forward(_ input: Variable) -> Forward {
        precondition(input.value.rank == 2, "MixtureOfExperts: input must be [batch, features], got \(input.shape)")
        let batch = input.shape[0]
        let logits = gate(input)
        precondition(logits.shape == [batch, experts.count],
                     "MixtureOfExperts: the gate gives \(logits.shape), expected [\(batch), \(experts.count)] (one logit per expert)")
        let everyExpert = Array(0..<experts.count)
        let gates: Variable, probabilities: Variable, chosen: [[Int]]
        if let k = topK, k < experts.count {
            (gates, chosen) = logits.softmaxRows(keepingLargest: k)
            probabilities = logits.softmaxRows()
        } else {
            gates = logits.softmaxRows()
            probabilities = gates
            chosen = Array(repeating: everyExpert, count: batch)
        }
        var routedRows = Array(repeating: [Int](), count: experts.count)
        for (row, picks) in chosen.enumerated() { for e in picks { routedRows[e].append(row) } }

        var outputs: [Variable?] = Array(repeating: nil, count: experts.count)
        for (e, expert) in experts.enumerated() {
            let rows = routedRows[e]
            if rows.count == batch {
                outputs[e] = expert(input)
            } else if !rows.isEmpty {
                outputs[e] = expert(input.gatheringRows(rows)).scatteringRows(into: batch, at: rows)
            }
        }
        // Experts no example was routed to contribute zeros (of the others' width).
        let width = outputs.lazy.compactMap { $0?.shape[1] }.first ?? 0
        let expertOutputs = outputs.map { $0 ?? Variable(.zeros([batch, width])) }
        let output: Variable
        switch combination {
        case .weightedOutputs: output = mixture(expertOutputs, weights: gates)
        case .mixtureOfProbabilities: output = logMixture(logits: expertOutputs, weights: gates)
        }
        return Forward(output: output, gateLogits: logits, gates: gates, gateProbabilities: probabilities,
                       expertOutputs: expertOutputs, chosen: chosen, routedRows: routedRows)
    }

    /// The mixed output, ``forward(_:)``'s ``Forward/output``.
    public func callAsFunction(_ input: Variable) -> Variable {
        forward(input).output
    }

    /// The gate's parameters (`gate.<name>`), then each expert's (`experts.<e>.<name>`).
    public func namedParameters() -> [(name: String, parameter: Variable)] {
        gate.namedParameters().map { ("gate.\($0.name)", $0.parameter) }
            + experts.enumerated().flatMap { e, expert in
                expert.namedParameters().map { ("experts.\(e).\($0.name)", $0.parameter) }
            }
    }

    /// The gate's and the experts' buffers, named as their parameters.
    public func namedBuffers() -> [(name: String, buffer: Variable)] {
        gate.namedBuffers().map { ("gate.\($0.name)", $0.buffer) }
            + experts.enumerated().flatMap { e, expert in
                expert.namedBuffers().map { ("experts.\(e).\($0.name)", $0.buffer) }
            }
    }

    /// The expert count, the routing and the combination, then the gate's and every expert's
    /// summary, indented.
    public var summary: String {
        let routing = isSparse ? "top-\(topK ?? 0) of \(experts.count)" : "dense over \(experts.count)"
        let parts = ["MixtureOfExperts(\(experts.count) experts, \(routing), \(combination.rawValue))",
                     "gate:\n" + indent(gate.summary)]
            + experts.enumerated().map { "expert \($0.offset):\n" + indent($0.element.summary) }
        return parts.joined(separator: "\n")
    }

    private func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
    }

    /// The parameters in two optimizer groups, the gate's (group 0, its learning rate scaled by
    /// `gateLearningRateScale`) and the experts' (group 1), for ``Optimizer/init(groups:rule:learningRate:)``.
    ///
    /// Why a faster gate helps: the gate's logits must grow large for its split between experts
    /// to become sharp, and with Adam each step moves a weight by about η, so at the experts' η
    /// the gate lags behind them; ×10 lets the split sharpen while the experts fit their parts.
    public func parameterGroups(gateLearningRateScale: Float = 1) -> [ParameterGroup] {
        let all = namedParameters()
        return [ParameterGroup(all.filter { $0.name.hasPrefix("gate.") }, learningRateScale: gateLearningRateScale),
                ParameterGroup(all.filter { !$0.name.hasPrefix("gate.") })]
    }

    // MARK: Usage statistics

    /// How the gate uses the experts on a data set, for `info` and for checking that routing
    /// has not collapsed.
    public struct Usage: Sendable, Equatable, Codable, CustomStringConvertible {
        /// For each expert, the examples whose largest gate weight is that expert's.
        public var argmaxCounts: [Int]
        /// For each expert, the examples it ran on (routed to it by top-k; every example when dense).
        public var routedCounts: [Int]
        /// For each expert, its mean gate weight over the examples (sums to 1).
        public var meanGates: [Float]
        /// The number of examples.
        public var count: Int

        /// argmaxCounts as fractions of the examples.
        public var argmaxFractions: [Float] { argmaxCounts.map { Float($0) / Float(max(count, 1)) } }

        /// One line per expert: its share of the examples by largest gate weight, the examples routed
        /// to it and its mean gate weight.
        public var description: String {
            argmaxCounts.indices.map { e in
                String(format: "expert %d: %5.1f%% of examples (top gate), routed %d, mean gate %.3f",
                       e, 100 * argmaxFractions[e], routedCounts[e], meanGates[e])
            }.joined(separator: "\n")
        }
    }

    /// Gate statistics over `inputs` ([examples, features]), in evaluation mode, without gradients.
    public func usage(on inputs: Tensor, batchSize: Int = 1000) -> Usage {
        precondition(inputs.rank == 2, "MixtureOfExperts.usage: inputs must be [examples, features], got \(inputs.shape)")
        return usage(count: inputs.shape[0], batchSize: batchSize) { inputs.rows($0) }
    }

    /// Gate statistics over every example of `source`, normalized as for training.
    public func usage(on source: any ExampleSource, normalization: Normalization = .none, batchSize: Int = 1000) -> Usage {
        usage(count: source.count, batchSize: batchSize) { range in
            var features = source.batch(ArraySlice(Array(range))).features
            normalization.apply(to: &features)
            return features
        }
    }

    /// For each expert, the number of examples of `inputs` whose largest gate weight is its own.
    public func routingCounts(on inputs: Tensor) -> [Int] {
        usage(on: inputs).argmaxCounts
    }

    private func usage(count: Int, batchSize: Int, _ batchAt: (Range<Int>) -> Tensor) -> Usage {
        let wasTraining = isTraining
        eval()
        defer { isTraining = wasTraining }
        let e = experts.count
        var result = Usage(argmaxCounts: Array(repeating: 0, count: e), routedCounts: Array(repeating: 0, count: e),
                           meanGates: Array(repeating: 0, count: e), count: count)
        var sums = [Double](repeating: 0, count: e)
        var start = 0
        withoutGradient {
            while start < count {
                let end = min(start + max(batchSize, 1), count)
                let logits = gate(Variable(batchAt(start..<end)))
                let gates: Tensor, chosen: [[Int]]
                if let k = topK, k < e {
                    let sparse = logits.softmaxRows(keepingLargest: k)
                    (gates, chosen) = (sparse.probabilities.value, sparse.chosen)
                } else {
                    gates = logits.value.softmaxRows()
                    chosen = Array(repeating: Array(0..<e), count: end - start)
                }
                for winner in gates.argmaxRows() { result.argmaxCounts[winner] += 1 }
                for picks in chosen { for p in picks { result.routedCounts[p] += 1 } }
                for (j, s) in gates.sum(alongAxis: 0).scalars.enumerated() { sums[j] += Double(s) }
                start = end
            }
        }
        result.meanGates = sums.map { Float($0 / Double(max(count, 1))) }
        return result
    }
}

/// A mixture of experts described by sizes, for the command line and checkpoints: E experts of
/// one ``MultilayerPerceptronArchitecture`` shape and a gate MLP from the same inputs to E logits.
public struct MixtureOfExpertsArchitecture: Sendable, Hashable, Codable {
    /// Each expert's network (input size … output size).
    public var expert: MultilayerPerceptronArchitecture
    /// The gate's network (input size … E).
    public var gate: MultilayerPerceptronArchitecture
    /// E, the number of experts.
    public var expertCount: Int
    /// Experts kept per example (sparse gating), or nil for the dense mixture.
    public var topK: Int?
    /// How the experts' outputs are combined.
    public var combination: MixtureOfExperts.Combination

    /// The metadata key under which a checkpoint stores this description as JSON.
    public static let metadataKey = "mixture_of_experts"

    /// A description of E experts of one shape and their gate.
    ///
    /// - Parameters:
    ///   - inputSize: features in.
    ///   - outputSize: outputs (or classes) out.
    ///   - expertCount: E ≥ 1.
    ///   - expertHidden: each expert's hidden sizes (`--expert-layers`), possibly empty.
    ///   - gateHidden: the gate's hidden sizes (`--gate-layers`); empty gives a linear gate.
    ///   - topK: sparse gating with k of the E experts per example; nil (or E) is dense.
    ///   - activation: the hidden non-linearity of the experts and the gate.
    ///   - combination: how the experts' outputs are combined.
    /// - Throws: ``ModelError`` for sizes or options that cannot build a network.
    public init(inputSize: Int, outputSize: Int, expertCount: Int, expertHidden: [Int], gateHidden: [Int] = [],
                topK: Int? = nil, activation: Activation = .relu,
                combination: MixtureOfExperts.Combination = .weightedOutputs) throws(ModelError) {
        guard expertCount >= 1 else {
            throw .invalidOption("experts", reason: "the number of experts must be at least 1, got \(expertCount)")
        }
        if let topK, !(1...expertCount).contains(topK) {
            throw .invalidOption("top-k", reason: "k = \(topK) must be between 1 and the number of experts (\(expertCount))")
        }
        try self.init(expert: try MultilayerPerceptronArchitecture(sizes: [inputSize] + expertHidden + [outputSize], activation: activation),
                      gate: try MultilayerPerceptronArchitecture(sizes: [inputSize] + gateHidden + [expertCount], activation: activation),
                      expertCount: expertCount, topK: topK, combination: combination)
    }

    /// The parts as stored, checked against each other: what ``build(seed:)`` and the forward
    /// pass need (at least one expert, k in range, a gate from the experts' inputs to one logit
    /// per expert), so that a description read from a file cannot make either trap.
    ///
    /// - Throws: ``ModelError`` naming the part that does not fit.
    public init(expert: MultilayerPerceptronArchitecture, gate: MultilayerPerceptronArchitecture, expertCount: Int,
                topK: Int?, combination: MixtureOfExperts.Combination) throws(ModelError) {
        guard expertCount >= 1 else {
            throw .invalidOption("experts", reason: "the number of experts must be at least 1, got \(expertCount)")
        }
        if let topK, !(1...expertCount).contains(topK) {
            throw .invalidOption("top-k", reason: "k = \(topK) must be between 1 and the number of experts (\(expertCount))")
        }
        guard gate.sizes.last == expertCount, gate.sizes.first == expert.sizes.first else {
            throw .invalidOption("gate", reason: "the gate's sizes \(gate.sizes) must run from the experts' \(expert.sizes.first ?? 0) inputs to one logit for each of the \(expertCount) experts")
        }
        let perExpert = zip(expert.sizes, expert.sizes.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
        guard perExpert <= MultilayerPerceptronArchitecture.maximumParameterCount / expertCount else {
            throw .invalidOption("experts", reason: "\(expertCount) experts of \(perExpert) parameters each exceed \(MultilayerPerceptronArchitecture.maximumParameterCount) parameters")
        }
        self.expert = expert
        self.gate = gate
        self.expertCount = expertCount
        self.topK = topK
        self.combination = combination
    }

    private enum CodingKeys: String, CodingKey {
        case expert, gate, expertCount, topK, combination
    }

    /// Decodes a description (a model file's metadata) through the checking initializer: a file
    /// naming 0 experts or a gate of the wrong width was built and trapped (found by fuzzing).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(expert: c.decode(MultilayerPerceptronArchitecture.self, forKey: .expert),
                          gate: c.decode(MultilayerPerceptronArchitecture.self, forKey: .gate),
                          expertCount: c.decode(Int.self, forKey: .expertCount),
                          topK: c.decodeIfPresent(Int.self, forKey: .topK),
                          combination: c.decode(MixtureOfExperts.Combination.self, forKey: .combination))
        } catch let error as ModelError {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: error.description))
        }
    }

    /// Builds the module; expert e and the gate get distinct seeds derived from `seed`, so the
    /// experts start different (identical experts would receive identical gradients).
    public func build(seed: UInt64) -> MixtureOfExperts {
        let experts = (0..<expertCount).map { e in expert.build(seed: seed &+ 0x9E37_79B9 &* UInt64(e + 1)) }
        return MixtureOfExperts(experts: experts, gate: gate.build(seed: seed &+ 0x5851_F42D),
                                topK: topK, combination: combination)
    }
}

extension MixtureOfExperts {
    /// Writes the weights (``namedParameters()`` names) and the description as one safetensors
    /// file, atomically; `metadata` adds keys (normalization, metrics, …).
    public func save(to path: String, architecture: MixtureOfExpertsArchitecture,
                     metadata: [String: String] = [:]) throws(WriteError) {
        try Checkpoint.writeModelFile(self, to: path, descriptionKey: MixtureOfExpertsArchitecture.metadataKey,
                                      description: Checkpoint.json(architecture), metadata: metadata)
    }

    /// Copies the tensors of `file` into this module, checking names and shapes.
    public func restore(from file: Safetensors, path: String) throws(CheckpointError) {
        try restoreModule(gate, prefix: "gate.", from: file, path: path)
        for (e, expert) in experts.enumerated() {
            try restoreModule(expert, prefix: "experts.\(e).", from: file, path: path)
        }
    }

    /// Loads a file written by ``save(to:architecture:metadata:)``, in evaluation mode.
    /// The file is validated whole by ``ModelFile``.
    public static func load(from path: String) throws(CheckpointError) -> (model: MixtureOfExperts, architecture: MixtureOfExpertsArchitecture, file: Safetensors) {
        let loaded = try ModelFile.read(path)
        guard case .mixtureOfExperts(let architecture) = loaded.description, let model = loaded.model as? MixtureOfExperts else {
            throw .invalidMetadata(path: path, key: MixtureOfExpertsArchitecture.metadataKey,
                                   reason: "missing: the file holds \(ModelFile.descriptionKey(loaded.description)), not a mixture of experts")
        }
        return (model, architecture, loaded.file)
    }
}
