/// Everything that decides a training run besides the network and the data: saved with every
/// checkpoint so a run can be resumed and described.
public struct TrainingConfiguration: Sendable, Codable, Equatable {
    /// Passes over the training set.
    public var epochs: Int = 15
    /// Stop after this many optimizer steps, if given (whatever the epoch).
    public var maximumSteps: Int? = nil
    /// Examples per mini-batch (N = the whole set: batch GD; 1: stochastic GD).
    public var batchSize: Int = 128
    /// Drop the last, smaller mini-batch of each epoch.
    public var dropLast: Bool = false
    /// The optimizer as `NAME[:key=value,…]` (see ``OptimizerSpecification``).
    public var optimizer: String = "adam"
    /// The learning-rate schedule as `NAME[:key=value,…]` (see ``LearningRateSchedule``).
    public var schedule: String = "constant"
    /// Weight decay λ on weight matrices: coupled L2 (λ·W added to the gradient, the gradient
    /// of λ/2·Σ‖W‖²) for every optimizer but AdamW, whose decay is decoupled.
    public var weightDecay: Float = 0
    /// Clip the global gradient norm to this, if given.
    public var clipNorm: Float? = nil
    /// Gradient noise η (Neelakantan et al.: σ_t² = η/(1+t)^0.55), if given.
    public var gradientNoise: Float? = nil
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
}
