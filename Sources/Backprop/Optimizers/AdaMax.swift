import CBackpropSupport

/// AdaMax (Kingma & Ba 2015, §7.1), as in Ruder: Adam with the ℓ∞ norm in place of ℓ2.
///
///     m_t = β₁ · m_{t−1} + (1 − β₁) · g_t
///     u_t = max(β₂ · u_{t−1}, |g_t|)
///     θ_{t+1} = θ_t − η / (1 − β₁ᵗ) · m_t / u_t
///
/// u needs no bias correction (a max is not biased towards its zero start) and no ε: u_t > 0
/// as soon as any gradient of that coordinate was non-zero. While every gradient so far was
/// exactly zero, u = m = 0 and the paper's 0/0 is taken as no step (the division is by
/// max(u, the least normal Float), which changes nothing else).
///
/// Defaults (Kingma & Ba): η = 0.002, β₁ = 0.9, β₂ = 0.999. State: `m`, `u`.
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct AdaMax: OptimizerRule {
    /// β₁, the decay of the first-moment average.
    public var beta1: Float
    /// β₂, the decay applied to the running maximum u before it is compared with |g|.
    public var beta2: Float

    /// AdaMax with the given hyper-parameters.
    ///
    /// - Precondition: β₁ and β₂ in [0, 1).
    public init(beta1: Float = 0.9, beta2: Float = 0.999) {
        validateAdamFamily("AdaMax", beta1: beta1, beta2: beta2, epsilon: 0)
        self.beta1 = beta1
        self.beta2 = beta2
    }

    /// `"adamax"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.adamax.rawValue }
    /// η = 0.002 (Kingma & Ba).
    public var defaultLearningRate: Float { 0.002 }
    /// The per-element state: `m`, the first moment average, and `u`, the decayed maximum of |g|.
    public var stateNames: [String] { ["m", "u"] }
    /// The hyper-parameters by key: `beta1` and `beta2`.
    public var hyperParameters: [String: Float] { ["beta1": beta1, "beta2": beta2] }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, θ ← θ − η/(1 − β₁ᵗ) · m/u, on the kernels of ``KernelTable/current``'s level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        update(parameter: parameter, gradient: gradient, state: state, step: step, learningRate: eta, kernels: .current)
    }

    /// The update on one level's kernels; the loop is C (kernels/optimizer_updates.h), the same
    /// bits at every level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float,
                       kernels: KernelTable) {
        guard let p = parameter.baseAddress, let g = gradient.baseAddress,
              let first = state[0].baseAddress, let norm = state[1].baseAddress else { return }
        // u > 0 once any gradient of the coordinate was non-zero; the C loop divides by
        // max(u, Float.leastNormalMagnitude), so 0/0 (no gradient yet) is no step.
        let rate = eta / biasCorrection(beta1, step)
        kernels.table.pointee.rows.adamax.unsafelyUnwrapped(p, g, first, norm, parameter.count, beta1, 1 - beta1, beta2, rate)
    }
}
