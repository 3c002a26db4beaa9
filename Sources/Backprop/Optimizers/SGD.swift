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

    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        Lanes.forEach(parameter.count) { i, n in
            Lanes.store(Lanes.load(parameter, i, n) - eta * Lanes.load(gradient, i, n), parameter, i, n)
        }
    }
}
