import CBackpropSupport

/// Adam, adaptive moment estimation (Kingma & Ba 2015), as in Ruder:
///
///     m_t = β₁ · m_{t−1} + (1 − β₁) · g_t          (first moment: mean)
///     v_t = β₂ · v_{t−1} + (1 − β₂) · g_t²         (second moment: uncentred variance)
///     m̂_t = m_t / (1 − β₁ᵗ)                        (bias corrections: m and v start at 0,
///     v̂_t = v_t / (1 − β₂ᵗ)                         so early averages are too small)
///     θ_{t+1} = θ_t − η · m̂_t / (√v̂_t + ε)
///
/// Momentum (m) plus RMSprop's per-parameter scaling (v). The first step moves every
/// coordinate by about η whatever the gradient's scale, since m̂₁/√v̂₁ = g/|g|.
///
/// Defaults (Kingma & Ba, Algorithm 1): η = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
/// State: `m`, `v`. For decoupled weight decay see ``AdamW``.
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct Adam: OptimizerRule {
    /// β₁, the decay of the first-moment average.
    public var beta1: Float
    /// β₂, the decay of the second-moment average.
    public var beta2: Float
    /// ε, added to √v̂ (outside the root, as in the paper).
    public var epsilon: Float

    /// Adam with the given hyper-parameters (η is the optimizer's).
    ///
    /// - Precondition: β₁ and β₂ in [0, 1), ε ≥ 0.
    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        validateAdamFamily("Adam", beta1: beta1, beta2: beta2, epsilon: epsilon)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// `"adam"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.adam.rawValue }
    /// η = 0.001 (Kingma & Ba, Algorithm 1).
    public var defaultLearningRate: Float { 0.001 }
    /// The per-element state: `m` and `v`, the first and second moment averages.
    public var stateNames: [String] { ["m", "v"] }
    /// The hyper-parameters by key: `beta1`, `beta2` and `epsilon`.
    public var hyperParameters: [String: Float] { ["beta1": beta1, "beta2": beta2, "epsilon": epsilon] }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, θ ← θ − η m̂ / (√v̂ + ε), with the bias-corrected moments, on the kernels of ``KernelTable/current``'s level.
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

func validateAdamFamily(_ name: String, beta1: Float, beta2: Float, epsilon: Float) {
    precondition(beta1 >= 0 && beta1 < 1, "\(name): β₁ must be in [0, 1), got \(beta1)")
    precondition(beta2 >= 0 && beta2 < 1, "\(name): β₂ must be in [0, 1), got \(beta2)")
    precondition(epsilon >= 0, "\(name): ε must be non-negative, got \(epsilon)")
}

/// The Adam update, shared by ``Adam`` and ``AdamW`` (which differ only in weight decay): the
/// scalar constants here (bias corrections in Double), the loop in C (kernels/optimizer_updates.h).
@inline(__always)
func adamUpdate(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                m first: UnsafeMutableBufferPointer<Float>, v second: UnsafeMutableBufferPointer<Float>,
                step t: Int, eta: Float, beta1: Float, beta2: Float, epsilon: Float, kernels: KernelTable) {
    guard let p = parameter.baseAddress, let g = gradient.baseAddress,
          let m = first.baseAddress, let v = second.baseAddress else { return }
    let c1 = biasCorrection(beta1, t), c2 = biasCorrection(beta2, t)
    // η·m̂ = (η/c₁)·m and v̂ = v·(1/c₂): one vector division per element instead of three
    // (each rewrite moves the result by at most an ulp).
    let stepSize = eta / c1, inverseC2 = 1 / c2
    kernels.table.pointee.rows.adam.unsafelyUnwrapped(p, g, m, v, parameter.count, beta1, 1 - beta1, beta2, 1 - beta2,
                                                      stepSize, inverseC2, epsilon)
}
