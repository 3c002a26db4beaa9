/// Everything that decides a training run besides the network and the data: saved with every
/// checkpoint so a run can be resumed and described.
///
/// Every setting is a typed value: the optimizer an ``OptimizerSpecification``, the schedule a
/// ``LearningRateSchedule``, clipping and noise a chain of ``GradientTransformation``s.
/// ``Trainer`` checks them all before the first step.
public struct TrainingConfiguration: Sendable, Codable, Equatable {
    /// Passes over the training set.
    public var epochs: Int = 15
    /// Stop after this many optimizer steps, if given (whatever the epoch).
    public var maximumSteps: Int? = nil
    /// Examples per mini-batch (N = the whole set: batch GD; 1: stochastic GD).
    public var batchSize: Int = 128
    /// Drop the last, smaller mini-batch of each epoch.
    public var dropLast: Bool = false
    /// The optimizer: Adam with its defaults (η = 0.001) unless set.
    public var optimizer: OptimizerSpecification = OptimizerSpecification(name: .adam)
    /// The learning-rate schedule, applied to the optimizer's η.
    public var schedule: LearningRateSchedule = .constant
    /// Weight decay λ on weight matrices: coupled L2 (λ·W added to the gradient, the gradient
    /// of λ/2·Σ‖W‖²) for every optimizer but AdamW, whose decay is decoupled.
    public var weightDecay: Float = 0
    /// What happens to the gradients between the backward pass and the optimizer, in order
    /// (``GradientTransformationChain``). ``clipNorm`` and ``gradientNoise`` read and write it.
    public var gradientTransformations: [GradientTransformation] = []
    /// Stop when validation accuracy has not improved for this many evaluations, restoring
    /// the best weights.
    public var earlyStoppingPatience: Int? = nil
    /// Fraction of the training set held out for validation (model selection, early stopping).
    public var validationFraction: Float = 1.0 / 12
    /// Evaluate every this many steps (nil: at the end of each epoch).
    public var evaluationInterval: Int? = nil
    /// Visit examples in a fresh random order every epoch (otherwise sequentially).
    public var shuffles: Bool = true
    /// Seed for initialization, data order, dropout, noise and augmentation.
    public var seed: UInt64 = 1
    /// Image augmentation applied to training batches (as `--augment` spells it), if any.
    public var augmentation: String? = nil
    /// The seed the data set was generated and split with (held-out test rows of a CSV file,
    /// generated sets), when it differs from ``seed`` — as for an ensemble member, whose own seed
    /// orders its data — so `eval` rebuilds the same test set. Nil: ``seed``.
    public var dataSeed: UInt64? = nil
    /// The data set's name (as `backprop train --dataset` takes it), so `eval` can find it.
    public var dataset: String? = nil

    /// The defaults: 15 epochs of Adam at its default η (0.001), constant, on mini-batches of 128
    /// in a fresh order every epoch, seed 1, a twelfth of the training set for validation, and no
    /// weight decay, clipping, gradient noise, early stopping or augmentation.
    public init() {}

    /// The global-norm limit of the chain's ``GradientTransformation/clipByGlobalNorm(_:)``, if
    /// any. Setting it replaces that transformation, first in the chain (clip, then add noise:
    /// the noise's scale stays the one asked for); nil removes it.
    public var clipNorm: Float? {
        get {
            for case .clipByGlobalNorm(let limit) in gradientTransformations { return limit }
            return nil
        }
        set {
            gradientTransformations.removeAll { if case .clipByGlobalNorm = $0 { return true } else { return false } }
            if let newValue { gradientTransformations.insert(.clipByGlobalNorm(newValue), at: 0) }
        }
    }

    /// η of the chain's ``GradientTransformation/addNoise(eta:gamma:)`` (Neelakantan et al.:
    /// σ_t² = η/(1+t)^γ), if any. Setting it replaces that transformation with γ = 0.55, last in
    /// the chain; nil removes it.
    public var gradientNoise: Float? {
        get {
            for case .addNoise(let eta, _) in gradientTransformations { return eta }
            return nil
        }
        set {
            gradientTransformations.removeAll { if case .addNoise = $0 { return true } else { return false } }
            if let newValue { gradientTransformations.append(.addNoise(eta: newValue, gamma: 0.55)) }
        }
    }

    private enum CodingKeys: String, CodingKey {
        case epochs, maximumSteps, batchSize, dropLast, optimizer, schedule, weightDecay, gradientTransformations
        case earlyStoppingPatience, validationFraction, evaluationInterval, shuffles, seed, augmentation, dataSeed, dataset
        /// Earlier files: the limit and η on their own (now ``gradientTransformations``).
        case clipNorm, gradientNoise
    }

    /// Reads the configuration a checkpoint or model file holds; a setting the file lacks takes
    /// its default, and files of earlier versions (the optimizer and schedule as spec strings,
    /// `clipNorm` and `gradientNoise` as numbers) read as they were meant.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = TrainingConfiguration()
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? defaults.epochs
        maximumSteps = try c.decodeIfPresent(Int.self, forKey: .maximumSteps)
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? defaults.batchSize
        dropLast = try c.decodeIfPresent(Bool.self, forKey: .dropLast) ?? defaults.dropLast
        optimizer = try c.decodeIfPresent(OptimizerSpecification.self, forKey: .optimizer) ?? defaults.optimizer
        if let text = try? c.decodeIfPresent(String.self, forKey: .schedule) {
            do { schedule = try LearningRateSchedule(parsing: text) } catch {
                throw DecodingError.dataCorruptedError(forKey: .schedule, in: c, debugDescription: error.description)
            }
        } else {
            schedule = try c.decodeIfPresent(LearningRateSchedule.self, forKey: .schedule) ?? defaults.schedule
        }
        weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? defaults.weightDecay
        if let chain = try c.decodeIfPresent([GradientTransformation].self, forKey: .gradientTransformations) {
            gradientTransformations = chain
        } else {
            clipNorm = try c.decodeIfPresent(Float.self, forKey: .clipNorm)
            gradientNoise = try c.decodeIfPresent(Float.self, forKey: .gradientNoise)
        }
        earlyStoppingPatience = try c.decodeIfPresent(Int.self, forKey: .earlyStoppingPatience)
        validationFraction = try c.decodeIfPresent(Float.self, forKey: .validationFraction) ?? defaults.validationFraction
        evaluationInterval = try c.decodeIfPresent(Int.self, forKey: .evaluationInterval)
        shuffles = try c.decodeIfPresent(Bool.self, forKey: .shuffles) ?? defaults.shuffles
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? defaults.seed
        augmentation = try c.decodeIfPresent(String.self, forKey: .augmentation)
        dataSeed = try c.decodeIfPresent(UInt64.self, forKey: .dataSeed)
        dataset = try c.decodeIfPresent(String.self, forKey: .dataset)
    }

    /// Writes every setting (the optimizer and schedule as their fields, the gradient
    /// transformations as a list).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epochs, forKey: .epochs)
        try c.encodeIfPresent(maximumSteps, forKey: .maximumSteps)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(dropLast, forKey: .dropLast)
        try c.encode(optimizer, forKey: .optimizer)
        try c.encode(schedule, forKey: .schedule)
        try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(gradientTransformations, forKey: .gradientTransformations)
        try c.encodeIfPresent(earlyStoppingPatience, forKey: .earlyStoppingPatience)
        try c.encode(validationFraction, forKey: .validationFraction)
        try c.encodeIfPresent(evaluationInterval, forKey: .evaluationInterval)
        try c.encode(shuffles, forKey: .shuffles)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(augmentation, forKey: .augmentation)
        try c.encodeIfPresent(dataSeed, forKey: .dataSeed)
        try c.encodeIfPresent(dataset, forKey: .dataset)
    }
}
