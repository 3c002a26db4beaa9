import CBackpropSupport

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
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct Momentum: OptimizerRule {
    /// γ, the fraction of the previous velocity kept.
    public var momentum: Float

    /// Momentum with the given γ (η is the optimizer's).
    ///
    /// - Parameter momentum: γ, in [0, 1); 0 is plain SGD.
    public init(momentum: Float = 0.9) {
        precondition(momentum >= 0 && momentum < 1, "Momentum: γ must be in [0, 1), got \(momentum)")
        self.momentum = momentum
    }

    /// `"momentum"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.momentum.rawValue }
    /// η = 0.01.
    public var defaultLearningRate: Float { 0.01 }
    /// The per-element state: `v`, the velocity.
    public var stateNames: [String] { ["v"] }
    /// The hyper-parameters by key: `momentum` (γ).
    public var hyperParameters: [String: Float] { ["momentum": momentum] }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, v ← γv + ηg, θ ← θ − v, on the kernels of ``KernelTable/current``'s level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        update(parameter: parameter, gradient: gradient, state: state, step: step, learningRate: eta, kernels: .current)
    }

    /// The update on one level's kernels; the loop is C (kernels/optimizer_updates.h), the same
    /// bits at every level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float,
                       kernels: KernelTable) {
        guard let p = parameter.baseAddress, let g = gradient.baseAddress, let v = state[0].baseAddress else { return }
        kernels.table.pointee.rows.momentum.unsafelyUnwrapped(p, g, v, parameter.count, eta, momentum)
    }
}
