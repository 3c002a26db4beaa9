/// Gradient descent with momentum (Qian 1999), in the form Ruder writes it, with η inside the
/// velocity:
///
///     v_t = γ · v_{t−1} + η · g_t
///     θ_{t+1} = θ_t − v_t
///
/// The velocity accumulates past steps, so directions whose gradients agree speed up (up to
/// 1/(1−γ) times) and directions that oscillate cancel out — ravines like Rosenbrock's valley
/// are crossed far faster than by plain SGD.
///
/// Because η sits inside v, a schedule that changes η changes only new contributions to the
/// velocity (PyTorch puts η outside, which rescales the whole velocity at once).
///
/// Defaults: γ = 0.9 (Ruder: "usually set to 0.9"), η = 0.01. State: `v`.
public struct Momentum: OptimizerRule {
    /// γ, the fraction of the previous velocity kept.
    public var momentum: Float

    public init(momentum: Float = 0.9) {
        precondition(momentum >= 0 && momentum < 1, "Momentum: γ must be in [0, 1), got \(momentum)")
        self.momentum = momentum
    }

    public var name: String { OptimizerName.momentum.rawValue }
    public var defaultLearningRate: Float { 0.01 }
    public var stateNames: [String] { ["v"] }
    public var hyperParameters: [String: Float] { ["momentum": momentum] }
    public var isElementwise: Bool { true }

    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        let gamma = momentum
        // A plain pointer loop (see SGD): the `Lanes.forEach` body was not inlined.
        guard let p = parameter.baseAddress, let g = gradient.baseAddress, let velocity = state[0].baseAddress else { return }
        let count = parameter.count
        var i = 0
        while i + 16 <= count {
            let v = gamma * Elementwise.load(velocity + i) + eta * Elementwise.load(g + i)
            Elementwise.store(v, velocity + i)
            Elementwise.store(Elementwise.load(p + i) - v, p + i)
            i += 16
        }
        while i < count {
            let v = gamma * velocity[i] + eta * g[i]
            velocity[i] = v
            p[i] = p[i] - v
            i += 1
        }
    }
}
