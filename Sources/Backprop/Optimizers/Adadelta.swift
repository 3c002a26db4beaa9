import CBackpropSupport

/// Adadelta (Zeiler 2012), as in Ruder:
///
///     E[g²]_t  = ρ · E[g²]_{t−1} + (1 − ρ) · g_t²
///     Δθ_t     = − √(E[Δθ²]_{t−1} + ε) / √(E[g²]_t + ε) · g_t      (= −RMS[Δθ]_{t−1}/RMS[g]_t · g_t)
///     E[Δθ²]_t = ρ · E[Δθ²]_{t−1} + (1 − ρ) · Δθ_t²
///     θ_{t+1}  = θ_t + Δθ_t
///
/// No learning rate is needed: the ratio of RMS values has the units of θ (Zeiler's argument
/// from second-order methods), so the step size comes from the history of steps itself.
///
/// η here is an optional *damping factor* on Δθ, default 1, which is exactly Zeiler's method.
/// When η ≠ 1 the damped step ηΔθ is both applied and accumulated in E[Δθ²] (it *is* the step
/// taken). Why offer it at all: undamped Adadelta is not a descent method. Near a minimum both
/// RMS terms fall towards √ε, so the effective rate RMS[Δθ]/RMS[g] tends to 1 — too large for
/// any direction with curvature above 2 — and a large past step licenses the next one. On
/// x² + 10y² it reaches the minimum in 500 steps and then drifts away from it; on Rosenbrock
/// it never settles. η < 1 breaks that loop (η = 0.5 converges on both; the tests pin this).
/// (PyTorch also multiplies by `lr` but accumulates the undamped Δθ, which does not break
/// it.) Schedules may scale η like any rate.
///
/// Defaults (Zeiler §4.1): ρ = 0.95, ε = 1e-6, η = 1. State: `Eg2` (E[g²]), `Edx2` (E[Δθ²]).
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct Adadelta: OptimizerRule {
    /// ρ, the decay of both running averages.
    public var rho: Float
    /// ε, which also sets the size of the very first steps (√ε / RMS[g]).
    public var epsilon: Float

    /// Adadelta with the given hyper-parameters.
    ///
    /// - Parameters:
    ///   - rho: ρ, the decay of both running averages, in [0, 1).
    ///   - epsilon: ε > 0, added inside both roots; it sets the size of the first steps, when
    ///     E[Δθ²] is still 0.
    public init(rho: Float = 0.95, epsilon: Float = 1e-6) {
        precondition(rho >= 0 && rho < 1, "Adadelta: ρ must be in [0, 1), got \(rho)")
        precondition(epsilon > 0, "Adadelta: ε must be positive, got \(epsilon)")
        self.rho = rho
        self.epsilon = epsilon
    }

    /// `"adadelta"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.adadelta.rawValue }
    /// η = 1: η only damps Zeiler's step, and 1 is his method exactly.
    public var defaultLearningRate: Float { 1 }
    /// The per-element state: `Eg2` (E[g²]) and `Edx2` (E[Δθ²]).
    public var stateNames: [String] { ["Eg2", "Edx2"] }
    /// The hyper-parameters by key: `rho` (ρ) and `epsilon` (ε).
    public var hyperParameters: [String: Float] { ["rho": rho, "epsilon": epsilon] }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, Zeiler's step −RMS[Δθ]/RMS[g] · g, times η, on the kernels of ``KernelTable/current``'s level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        update(parameter: parameter, gradient: gradient, state: state, step: step, learningRate: eta, kernels: .current)
    }

    /// The update on one level's kernels; the loop is C (kernels/optimizer_updates.h), the same
    /// bits at every level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float,
                       kernels: KernelTable) {
        guard let p = parameter.baseAddress, let g = gradient.baseAddress,
              let meanG2 = state[0].baseAddress, let meanDx2 = state[1].baseAddress else { return }
        kernels.table.pointee.rows.adadelta.unsafelyUnwrapped(p, g, meanG2, meanDx2, parameter.count, eta, rho, 1 - rho, epsilon)
    }
}
