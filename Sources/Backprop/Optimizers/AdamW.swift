import CBackpropSupport

/// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019, Algorithm 2):
///
///     m_t, v_t, m̂_t, v̂_t as in Adam, from the gradient g_t of the loss alone
///     θ_{t+1} = θ_t − η · m̂_t / (√v̂_t + ε) − η · λ · θ_t
///
/// With L2 regularization (the coupled form, g ← g + λθ) the decay term passes through the
/// adaptive denominator √v̂, so weights with large gradients are barely regularized; the
/// decoupled form shrinks every weight by the same fraction ηλ per step, which is what weight
/// decay means in SGD and what makes λ and η tunable independently.
///
/// The equations are Adam's; the decay is applied by ``Optimizer`` for any rule given
/// ``WeightDecay/decoupled(_:)``, and this rule only makes that the default. (The paper
/// multiplies λ by the schedule multiplier η_t, not by α; here, as in PyTorch, by η — see
/// ``WeightDecay``.) As usual, decay applies to weight matrices only (``Variable/decays``)
/// when the optimizer is built from a model's parameters.
///
/// Defaults: η = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-8 (Adam's), λ = 0.01 (PyTorch's; the
/// paper tunes a normalized λ per budget instead of giving one). State: `m`, `v`.
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct AdamW: OptimizerRule {
    /// β₁, the decay of the first-moment average.
    public var beta1: Float
    /// β₂, the decay of the second-moment average.
    public var beta2: Float
    /// ε, added to √v̂.
    public var epsilon: Float
    /// λ, applied decoupled: θ ← θ − ηλθ.
    public var weightDecay: Float

    /// AdamW with the given hyper-parameters (η is the optimizer's).
    ///
    /// - Precondition: β₁ and β₂ in [0, 1), ε ≥ 0, λ ≥ 0.
    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        validateAdamFamily("AdamW", beta1: beta1, beta2: beta2, epsilon: epsilon)
        precondition(weightDecay >= 0, "AdamW: λ must be non-negative, got \(weightDecay)")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// `"adamw"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.adamw.rawValue }
    /// η = 0.001 (Adam's).
    public var defaultLearningRate: Float { 0.001 }
    /// The per-element state: `m` and `v`, as Adam's.
    public var stateNames: [String] { ["m", "v"] }
    /// The hyper-parameters by key: `beta1`, `beta2`, `epsilon` and `weight-decay` (λ).
    public var hyperParameters: [String: Float] {
        ["beta1": beta1, "beta2": beta2, "epsilon": epsilon, "weight-decay": weightDecay]
    }
    /// ``WeightDecay/decoupled(_:)`` with ``weightDecay``: what makes this rule AdamW rather
    /// than Adam. A parameter group given its own decay overrides it.
    public var defaultWeightDecay: WeightDecay { .decoupled(weightDecay) }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, Adam's step; the decoupled decay −ηλθ is applied by ``Optimizer``, on the kernels of ``KernelTable/current``'s level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        update(parameter: parameter, gradient: gradient, state: state, step: step, learningRate: eta, kernels: .current)
    }

    /// The update on one level's kernels; the loop is C (kernels/optimizer_updates.h), the same
    /// bits at every level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float,
                       kernels: KernelTable) {
        adamUpdate(parameter: parameter, gradient: gradient, m: state[0], v: state[1], step: step,
                   eta: eta, beta1: beta1, beta2: beta2, epsilon: epsilon, kernels: kernels)
    }
}
