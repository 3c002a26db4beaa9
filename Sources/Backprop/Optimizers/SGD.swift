/// Vanilla (stochastic) gradient descent.
///
///     θ_{t+1} = θ_t − η · g_t,   g_t = ∇_θ J(θ_t)
///
/// Whether this is batch, mini-batch or stochastic gradient descent depends only on how many
/// examples g_t averages over, which the training loop's batch size decides (Ruder §2).
///
/// Default: η = 0.01 (no paper default exists; this is the customary starting point).
public struct SGD: OptimizerRule {
    public init() {}

    public var name: String { OptimizerName.sgd.rawValue }
    public var defaultLearningRate: Float { 0.01 }
    public var stateNames: [String] { [] }
    public var hyperParameters: [String: Float] { [:] }
    public var isElementwise: Bool { true }

    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        // A plain pointer loop: through `Lanes.forEach` the body stayed an out-of-line call per
        // 16 elements (stack realignment and vzeroupper each time).
        guard let p = parameter.baseAddress, let g = gradient.baseAddress else { return }
        let count = parameter.count
        var i = 0
        while i + 16 <= count {
            Elementwise.store(Elementwise.load(p + i) - eta * Elementwise.load(g + i), p + i)
            i += 16
        }
        while i < count {
            p[i] = p[i] - eta * g[i]
            i += 1
        }
    }
}
