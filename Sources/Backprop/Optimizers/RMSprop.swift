import CBackpropSupport

/// RMSprop (Hinton, Coursera lecture 6e), as in Ruder:
///
///     E[g²]_t = ρ · E[g²]_{t−1} + (1 − ρ) · g_t²
///     θ_{t+1} = θ_t − η / √(E[g²]_t + ε) · g_t
///
/// Adagrad with a decaying average instead of a sum, so the per-parameter rate stops
/// shrinking to zero. Ruder calls the decay γ; the key is `rho` as in Adadelta, whose first
/// equation this is.
///
/// Defaults (Hinton, via Ruder): ρ = 0.9, η = 0.001, ε = 1e-8 (inside the root, as Ruder
/// writes it). State: `Eg2`.
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct RMSprop: OptimizerRule {
    /// ρ (Ruder's γ), the decay of the squared-gradient average.
    public var rho: Float
    /// ε, the smoothing term.
    public var epsilon: Float

    /// RMSprop with the given hyper-parameters (η is the optimizer's).
    ///
    /// - Parameters:
    ///   - rho: ρ, the decay of the running average of g², in [0, 1).
    ///   - epsilon: added inside the root; non-negative.
    public init(rho: Float = 0.9, epsilon: Float = 1e-8) {
        precondition(rho >= 0 && rho < 1, "RMSprop: ρ must be in [0, 1), got \(rho)")
        precondition(epsilon >= 0, "RMSprop: ε must be non-negative, got \(epsilon)")
        self.rho = rho
        self.epsilon = epsilon
    }

    /// `"rmsprop"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.rmsprop.rawValue }
    /// η = 0.001 (Hinton, via Ruder).
    public var defaultLearningRate: Float { 0.001 }
    /// The per-element state: `Eg2`, the running average of g².
    public var stateNames: [String] { ["Eg2"] }
    /// The hyper-parameters by key: `rho` (ρ) and `epsilon` (ε).
    public var hyperParameters: [String: Float] { ["rho": rho, "epsilon": epsilon] }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, E[g²] ← ρE[g²] + (1 − ρ)g², θ ← θ − η g / √(E[g²] + ε), on the kernels of ``KernelTable/current``'s level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        update(parameter: parameter, gradient: gradient, state: state, step: step, learningRate: eta, kernels: .current)
    }

    /// The update on one level's kernels; the loop is C (kernels/optimizer_updates.h), the same
    /// bits at every level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float,
                       kernels: KernelTable) {
        guard let p = parameter.baseAddress, let g = gradient.baseAddress, let meanG2 = state[0].baseAddress else { return }
        kernels.table.pointee.rows.rmsprop.unsafelyUnwrapped(p, g, meanG2, parameter.count, eta, rho, 1 - rho, epsilon)
    }
}
