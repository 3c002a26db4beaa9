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
public struct AMSGrad: OptimizerRule {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        validateAdamFamily("AMSGrad", beta1: beta1, beta2: beta2, epsilon: epsilon)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public var name: String { OptimizerName.amsgrad.rawValue }
    public var defaultLearningRate: Float { 0.001 }
    public var stateNames: [String] { ["m", "v", "vhat"] }
    public var hyperParameters: [String: Float] { ["beta1": beta1, "beta2": beta2, "epsilon": epsilon] }
    public var isElementwise: Bool { true }

    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        let first = state[0], second = state[1], maximum = state[2]
        let beta1 = beta1, beta2 = beta2, eps = epsilon, keep1 = 1 - beta1, keep2 = 1 - beta2
        Lanes.forEach(parameter.count) { i, n in
            let g = Lanes.load(gradient, i, n)
            let m = beta1 * Lanes.load(first, i, n) + keep1 * g
            let v = beta2 * Lanes.load(second, i, n) + keep2 * (g * g)
            let vHat = pointwiseMax(Lanes.load(maximum, i, n), v)
            Lanes.store(m, first, i, n)
            Lanes.store(v, second, i, n)
            Lanes.store(vHat, maximum, i, n)
            Lanes.store(Lanes.load(parameter, i, n) - eta / (Elementwise.squareRoot(vHat) + eps) * m, parameter, i, n)
        }
    }
}
