import CBackpropSupport

/// Nadam, Nesterov-accelerated Adam (Dozat 2016), in the simplified form Ruder derives:
///
///     m_t = β₁ · m_{t−1} + (1 − β₁) · g_t
///     v_t = β₂ · v_{t−1} + (1 − β₂) · g_t²
///     m̂_t = m_t / (1 − β₁ᵗ),  v̂_t = v_t / (1 − β₂ᵗ)
///     θ_{t+1} = θ_t − η / (√v̂_t + ε) · (β₁ · m̂_t + (1 − β₁) · g_t / (1 − β₁ᵗ))
///
/// Nesterov's look-ahead folded into Adam: instead of the previous momentum m̂_{t−1}, the
/// update uses the current one, β₁m̂_t, so the momentum step is applied "ahead" of the
/// gradient step. (Dozat's paper also warms β₁ up with a schedule μ_t; Ruder's form, followed
/// here, keeps β₁ constant, as Keras's and PyTorch's Nadam do without the schedule.)
///
/// Defaults: η = 0.002 (Dozat's experiments; Keras), β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
/// State: `m`, `v`.
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct Nadam: OptimizerRule {
    /// β₁, the decay of the first-moment average.
    public var beta1: Float
    /// β₂, the decay of the second-moment average.
    public var beta2: Float
    /// ε, added to √v̂.
    public var epsilon: Float

    /// Nadam with the given hyper-parameters (η is the optimizer's).
    ///
    /// - Precondition: β₁ and β₂ in [0, 1), ε ≥ 0.
    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        validateAdamFamily("Nadam", beta1: beta1, beta2: beta2, epsilon: epsilon)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// `"nadam"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.nadam.rawValue }
    /// η = 0.002 (Dozat; Keras).
    public var defaultLearningRate: Float { 0.002 }
    /// The per-element state: `m` and `v`, the first and second moment averages.
    public var stateNames: [String] { ["m", "v"] }
    /// The hyper-parameters by key: `beta1`, `beta2` and `epsilon`.
    public var hyperParameters: [String: Float] { ["beta1": beta1, "beta2": beta2, "epsilon": epsilon] }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, Adam's step with Nesterov's look-ahead momentum, on the kernels of ``KernelTable/current``'s level.
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
              let first = state[0].baseAddress, let second = state[1].baseAddress else { return }
        let c1 = biasCorrection(beta1, step), c2 = biasCorrection(beta2, step)
        kernels.table.pointee.rows.nadam.unsafelyUnwrapped(p, g, first, second, parameter.count, beta1, 1 - beta1,
                                                           beta2, 1 - beta2, c1, c2, eta, epsilon)
    }
}
