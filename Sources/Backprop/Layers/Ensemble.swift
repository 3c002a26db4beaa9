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
    public enum Combination: String, Sendable, Codable, CaseIterable {
        case averageProbabilities
        case averageOutputs
        case majorityVote
    }

    /// The members, each mapping [batch, inputs] to [batch, outputs] of the same width.
    public let members: [any Module]
    public var combination: Combination

    public var isTraining: Bool = true {
        didSet { for member in members { member.isTraining = isTraining } }
    }

    /// - Precondition: at least one member.
    public init(members: [any Module], combination: Combination = .averageProbabilities) {
        precondition(!members.isEmpty, "Ensemble: no members")
        self.members = members
        self.combination = combination
    }

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

    public func namedParameters() -> [(name: String, parameter: Variable)] {
        members.enumerated().flatMap { k, member in
            member.namedParameters().map { ("members.\(k).\($0.name)", $0.parameter) }
        }
    }

    public func namedBuffers() -> [(name: String, buffer: Variable)] {
        members.enumerated().flatMap { k, member in
            member.namedBuffers().map { ("members.\(k).\($0.name)", $0.buffer) }
        }
    }

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
    public var batchSize: Int
    /// An ``OptimizerSpecification`` string, e.g. `adam:lr=0.001`.
    public var optimizer: String
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

    public init(epochs: Int = 5, batchSize: Int = 64, optimizer: String = "adam:lr=0.001", seed: UInt64 = 0,
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
    public var member: Int
    /// The seed of this member's data order and sample.
    public var seed: UInt64
    /// Training examples per epoch (draws, with bagging).
    public var sampleSize: Int
    /// Distinct examples in the sample (N with bagging ≈ 0.632 N).
    public var distinctExamples: Int
    public var steps: Int
    /// Mean loss and accuracy over the last epoch's batches.
    public var finalLoss: Float
    public var trainAccuracy: Float
    /// The member alone on the validation set, if one was given.
    public var validation: Evaluation?
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
    /// - Returns: one report per member, in member order.
    /// - Throws: ``TrainingError`` for a bad configuration, data that does not fit the members,
    ///   or a loss that became non-finite (naming the member in the message's step count).
    public func train(on source: any ExampleSource, validation: (any ExampleSource)? = nil,
                      configuration c: EnsembleTrainingConfiguration) throws(TrainingError) -> [MemberTrainingReport] {
        guard c.epochs >= 1 else { throw .invalidConfiguration("epochs must be at least 1, got \(c.epochs)") }
        guard c.batchSize >= 1 else { throw .invalidConfiguration("batch size must be at least 1, got \(c.batchSize)") }
        guard source.count > 0 else { throw .invalidConfiguration("the training set is empty") }
        let specification: OptimizerSpecification
        do { specification = try OptimizerSpecification(parsing: c.optimizer) } catch {
            throw .invalidConfiguration(error.description)
        }
        if members.contains(where: { ($0 as? Sequential)?.layers.contains { $0 is BatchNorm1d } ?? false }) {
            // Every member's sample (a bootstrap sample too) has the source's size.
            try Trainer.checkBatchNormBatches(count: source.count, batchSize: c.batchSize, dropLast: false)
        }
        let all = Array(0..<source.count)
        let outcomes = forEachMember(parallel: c.parallel) { k, member -> Result<MemberTrainingReport, TrainingError> in
            let seed = c.memberSeed(k)
            let sample = c.bagging ? Self.bootstrapSample(of: all, seed: seed) : all
            do throws(TrainingError) {
                return .success(try Self.trainMember(member, index: k, seed: seed, sample: sample, source: source,
                                                     validation: validation, specification: specification, configuration: c))
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

    private static func trainMember(_ member: any Module, index: Int, seed: UInt64, sample: [Int],
                                    source: any ExampleSource, validation: (any ExampleSource)?,
                                    specification: OptimizerSpecification,
                                    configuration c: EnsembleTrainingConfiguration) throws(TrainingError) -> MemberTrainingReport {
        let start = Date()
        let optimizer: Optimizer
        do { optimizer = try specification.makeOptimizer(member.namedParameters()) } catch {
            throw .invalidConfiguration(error.description)
        }
        var generator = RandomGenerator(seed: seed, stream: 0x0DE5)
        member.train()
        var steps = 0
        var lossSum = 0.0, correct = 0, seen = 0
        for epoch in 1...c.epochs {
            lossSum = 0; correct = 0; seen = 0
            let order = generator.permutation(sample.count).map { sample[$0] }
            var first = 0
            while first < order.count {
                let last = min(first + c.batchSize, order.count)
                var (features, labels) = source.batch(order[first..<last])
                c.normalization.apply(to: &features)
                optimizer.zeroGrad()
                let logits = member(Variable(features))
                guard logits.shape.count == 2, logits.shape[1] == source.classCount else {
                    throw .invalidConfiguration("member \(index) gives outputs \(logits.shape) for \(source.classCount) classes")
                }
                let loss = softmaxCrossEntropy(logits: logits, labels: labels)
                let value = loss.value.scalar
                guard value.isFinite else {
                    throw .nonFiniteLoss(epoch: epoch, step: steps, loss: value, lastCheckpoint: nil)
                }
                loss.backward()
                optimizer.step()
                steps += 1
                lossSum += Double(value) * Double(labels.count)
                seen += labels.count
                for (p, t) in zip(logits.value.argmaxRows(), labels) where p == Int(t) { correct += 1 }
                first = last
            }
        }
        let evaluation = validation.map { Evaluation.measure(member, on: $0, normalization: c.normalization) }
        member.eval()
        return MemberTrainingReport(member: index, seed: seed, sampleSize: sample.count,
                                    distinctExamples: Set(sample).count, steps: steps,
                                    finalLoss: Float(lossSum / Double(max(seen, 1))),
                                    trainAccuracy: Float(correct) / Float(max(seen, 1)),
                                    validation: evaluation, seconds: Date().timeIntervalSince(start))
    }
}

// MARK: - Description and checkpoints

/// An ensemble described by sizes, for the command line and checkpoints: K members, each a
/// ``MultilayerPerceptron`` (usually the same shape), and how they combine.
public struct EnsembleArchitecture: Sendable, Hashable, Codable {
    public var members: [MultilayerPerceptron]
    public var combination: Ensemble.Combination
    /// Whether the members were trained on bootstrap samples (recorded for `info`).
    public var bagging: Bool

    /// The metadata key under which a checkpoint stores this description as JSON.
    public static let metadataKey = "ensemble"

    public init(members: [MultilayerPerceptron], combination: Ensemble.Combination = .averageProbabilities,
                bagging: Bool = false) throws(ModelError) {
        guard !members.isEmpty else { throw .invalidOption("ensemble", reason: "an ensemble needs at least 1 member") }
        self.members = members
        self.combination = combination
        self.bagging = bagging
    }

    /// K copies of one network shape.
    public init(member: MultilayerPerceptron, count: Int, combination: Ensemble.Combination = .averageProbabilities,
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
        var all = metadata
        all[Checkpoint.Key.format] = Checkpoint.formatTag
        all[EnsembleArchitecture.metadataKey] = Checkpoint.json(architecture)
        try Safetensors(entries: Checkpoint.modelEntries(self), metadata: all).write(to: path)
    }

    /// Copies the tensors of `file` into the members, checking names and shapes.
    public func restore(from file: Safetensors, path: String) throws(CheckpointError) {
        for (k, member) in members.enumerated() {
            try restoreModule(member, prefix: "members.\(k).", from: file, path: path)
        }
    }

    /// Loads a file written by ``save(to:architecture:metadata:)``, in evaluation mode.
    public static func load(from path: String) throws(CheckpointError) -> (model: Ensemble, architecture: EnsembleArchitecture, file: Safetensors) {
        let file: Safetensors
        do { file = try Safetensors(contentsOf: path) } catch { throw .data(error) }
        let architecture = try Checkpoint.decode(EnsembleArchitecture.self, file, key: EnsembleArchitecture.metadataKey, path: path)
        let ensemble = architecture.build(seed: 0)
        try ensemble.restore(from: file, path: path)
        ensemble.eval()
        return (ensemble, architecture, file)
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
