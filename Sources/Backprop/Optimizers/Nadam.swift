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
public struct Nadam: OptimizerRule {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        validateAdamFamily("Nadam", beta1: beta1, beta2: beta2, epsilon: epsilon)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public var name: String { OptimizerName.nadam.rawValue }
    public var defaultLearningRate: Float { 0.002 }
    public var stateNames: [String] { ["m", "v"] }
    public var hyperParameters: [String: Float] { ["beta1": beta1, "beta2": beta2, "epsilon": epsilon] }
    public var isElementwise: Bool { true }

    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        let first = state[0], second = state[1], beta1 = beta1, beta2 = beta2, eps = epsilon
        let keep1 = 1 - beta1, keep2 = 1 - beta2
        let c1 = biasCorrection(beta1, step), c2 = biasCorrection(beta2, step)
        Lanes.forEach(parameter.count) { i, n in
            let g = Lanes.load(gradient, i, n)
            let m = beta1 * Lanes.load(first, i, n) + keep1 * g
            let v = beta2 * Lanes.load(second, i, n) + keep2 * (g * g)
            Lanes.store(m, first, i, n)
            Lanes.store(v, second, i, n)
            let mHat = m / c1, vHat = v / c2
            let direction = beta1 * mHat + keep1 * g / c1
            Lanes.store(Lanes.load(parameter, i, n) - eta / (Elementwise.squareRoot(vHat) + eps) * direction, parameter, i, n)
        }
    }
}
