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
public struct AdaMax: OptimizerRule {
    public var beta1: Float
    public var beta2: Float

    public init(beta1: Float = 0.9, beta2: Float = 0.999) {
        validateAdamFamily("AdaMax", beta1: beta1, beta2: beta2, epsilon: 0)
        self.beta1 = beta1
        self.beta2 = beta2
    }

    public var name: String { OptimizerName.adamax.rawValue }
    public var defaultLearningRate: Float { 0.002 }
    public var stateNames: [String] { ["m", "u"] }
    public var hyperParameters: [String: Float] { ["beta1": beta1, "beta2": beta2] }
    public var isElementwise: Bool { true }

    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        let first = state[0], norm = state[1], beta1 = beta1, beta2 = beta2, keep1 = 1 - beta1
        let rate = eta / biasCorrection(beta1, step)
        let tiny = Lanes.V(repeating: .leastNormalMagnitude)
        Lanes.forEach(parameter.count) { i, n in
            let g = Lanes.load(gradient, i, n)
            let m = beta1 * Lanes.load(first, i, n) + keep1 * g
            let u = pointwiseMax(beta2 * Lanes.load(norm, i, n), Lanes.abs(g))
            Lanes.store(m, first, i, n)
            Lanes.store(u, norm, i, n)
            Lanes.store(Lanes.load(parameter, i, n) - rate * m / pointwiseMax(u, tiny), parameter, i, n)
        }
    }
}
