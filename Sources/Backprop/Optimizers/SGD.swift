import CBackpropSupport

/// Vanilla (stochastic) gradient descent.
///
///     θ_{t+1} = θ_t − η · g_t,   g_t = ∇_θ J(θ_t)
///
/// Whether this is batch, mini-batch or stochastic gradient descent depends only on how many
/// examples g_t averages over, which the training loop's batch size decides (Ruder §2).
///
/// Default: η = 0.01 (no paper default exists; this is the customary starting point).
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct SGD: OptimizerRule {
    /// Plain gradient descent: it has no hyper-parameters besides the optimizer's η.
    public init() {}

    /// `"sgd"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.sgd.rawValue }
    /// η = 0.01, the customary starting point (there is no paper default).
    public var defaultLearningRate: Float { 0.01 }
    /// None: plain gradient descent keeps no state.
    public var stateNames: [String] { [] }
    /// None: SGD has no hyper-parameters besides η.
    public var hyperParameters: [String: Float] { [:] }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, θ ← θ − η g, on the kernels of ``KernelTable/current``'s level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        update(parameter: parameter, gradient: gradient, state: state, step: step, learningRate: eta, kernels: .current)
    }

    /// The update on one level's kernels; the loop is C (kernels/optimizer_updates.h), the same
    /// bits at every level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float,
                       kernels: KernelTable) {
        guard let p = parameter.baseAddress, let g = gradient.baseAddress else { return }
        kernels.table.pointee.rows.sgd.unsafelyUnwrapped(p, g, parameter.count, eta)
    }
}
