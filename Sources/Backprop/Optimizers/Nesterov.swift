import CBackpropSupport

/// Nesterov accelerated gradient (Nesterov 1983; Sutskever et al. 2013), as in Ruder:
///
///     v_t = γ · v_{t−1} + η · ∇_θ J(θ_t − γ · v_{t−1})
///     θ_{t+1} = θ_t − v_t
///
/// The gradient is taken at the look-ahead point θ − γv, where momentum is about to carry the
/// parameters, so the step corrects itself before overshooting.
///
/// A training loop can only compute the gradient at the parameters it holds, so, like every
/// library (Bengio et al. 2012, "Advances in optimizing recurrent networks", eq. 7), this
/// stores the look-ahead point φ_t = θ_t − γ·v_t as the parameter instead of θ_t. Substituting
/// into the equations above, with g_t = ∇J(φ_{t−1}):
///
///     v_t = γ · v_{t−1} + η · g_t
///     φ_t = φ_{t−1} − γ · v_t − η · g_t
///
/// (φ_t = θ_t − γv_t = θ_{t−1} − (1+γ)v_t = φ_{t−1} + γv_{t−1} − (1+γ)v_t, and
/// γv_{t−1} − v_t = −η·g_t.) With v_0 = 0 both start at the same point, and at a minimum
/// v → 0 so φ and θ coincide. The hand-worked test checks φ against Ruder's form directly.
///
/// Defaults: γ = 0.9, η = 0.01. State: `v`.
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct Nesterov: OptimizerRule {
    /// γ, the fraction of the previous velocity kept.
    public var momentum: Float

    /// Nesterov's method with the given γ (η is the optimizer's).
    ///
    /// - Parameter momentum: γ, in [0, 1); 0 is plain SGD.
    public init(momentum: Float = 0.9) {
        precondition(momentum >= 0 && momentum < 1, "Nesterov: γ must be in [0, 1), got \(momentum)")
        self.momentum = momentum
    }

    /// `"nesterov"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.nesterov.rawValue }
    /// η = 0.01.
    public var defaultLearningRate: Float { 0.01 }
    /// The per-element state: `v`, the velocity.
    public var stateNames: [String] { ["v"] }
    /// The hyper-parameters by key: `momentum` (γ).
    public var hyperParameters: [String: Float] { ["momentum": momentum] }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, v ← γv + ηg, φ ← φ − γv − ηg (the look-ahead form), on the kernels of ``KernelTable/current``'s level.
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
        kernels.table.pointee.rows.nesterov.unsafelyUnwrapped(p, g, v, parameter.count, eta, momentum)
    }
}
