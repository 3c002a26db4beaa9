import CBackpropSupport

/// AMSGrad (Reddi, Kale & Kumar 2018), as in Ruder:
///
///     m_t = β₁ · m_{t−1} + (1 − β₁) · g_t
///     v_t = β₂ · v_{t−1} + (1 − β₂) · g_t²
///     v̂_t = max(v̂_{t−1}, v_t)
///     θ_{t+1} = θ_t − η / (√v̂_t + ε) · m_t
///
/// Adam's exponential average forgets large, informative gradients quickly, which can make
/// it fail to converge (Reddi et al.'s counter-example); keeping the maximum of past v makes
/// the per-parameter step size non-increasing. As in Ruder (and the paper's Algorithm 2),
/// there is no bias correction.
///
/// Defaults: η = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-8 (Adam's). State: `m`, `v`, `vhat`.
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct AMSGrad: OptimizerRule {
    /// β₁, the decay of the first-moment average.
    public var beta1: Float
    /// β₂, the decay of the second-moment average.
    public var beta2: Float
    /// ε, added to √v̂.
    public var epsilon: Float

    /// AMSGrad with the given hyper-parameters.
    ///
    /// - Precondition: β₁ and β₂ in [0, 1), ε ≥ 0.
    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        validateAdamFamily("AMSGrad", beta1: beta1, beta2: beta2, epsilon: epsilon)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// `"amsgrad"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.amsgrad.rawValue }
    /// η = 0.001 (Adam's).
    public var defaultLearningRate: Float { 0.001 }
    /// The per-element state: `m`, `v` and `vhat`, the maximum of the v seen so far.
    public var stateNames: [String] { ["m", "v", "vhat"] }
    /// The hyper-parameters by key: `beta1`, `beta2` and `epsilon`.
    public var hyperParameters: [String: Float] { ["beta1": beta1, "beta2": beta2, "epsilon": epsilon] }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, θ ← θ − η m / (√v̂ + ε), v̂ the running maximum of v, on the kernels of ``KernelTable/current``'s level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        update(parameter: parameter, gradient: gradient, state: state, step: step, learningRate: eta, kernels: .current)
    }

    /// The update on one level's kernels; the loop is C (kernels/optimizer_updates.h), the same
    /// bits at every level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float,
                       kernels: KernelTable) {
        guard let p = parameter.baseAddress, let g = gradient.baseAddress, let first = state[0].baseAddress,
              let second = state[1].baseAddress, let maximum = state[2].baseAddress else { return }
        kernels.table.pointee.rows.amsgrad.unsafelyUnwrapped(p, g, first, second, maximum, parameter.count, beta1, 1 - beta1,
                                                             beta2, 1 - beta2, eta, epsilon)
    }
}
