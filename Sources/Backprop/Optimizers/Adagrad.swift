import CBackpropSupport

/// Adagrad (Duchi, Hazan & Singer 2011), as in Ruder:
///
///     G_t = G_{t−1} + g_t²                (element-wise: the diagonal of Σ g gᵀ)
///     θ_{t+1} = θ_t − η / √(G_t + ε) · g_t
///
/// Each parameter gets its own rate, smaller for parameters with large past gradients and
/// larger for rarely-updated ones — good for sparse features. The sum only grows, so the rate
/// decays towards zero, which is what Adadelta and RMSprop fix.
///
/// ε is inside the square root, as Ruder writes it (PyTorch adds it outside); it only guards
/// the division before the first non-zero gradient.
///
/// Defaults: η = 0.01 ("most implementations use a default value of 0.01"), ε = 1e-8.
/// State: `G`.
///
/// The element-wise loop is C, one copy per instruction-set level chosen at run time
/// (Sources/CBackpropSupport/kernels/optimizer_updates.h); this type computes its constants.
public struct Adagrad: OptimizerRule {
    /// ε, the smoothing term.
    public var epsilon: Float

    /// Adagrad with the given ε (η is the optimizer's).
    ///
    /// - Parameter epsilon: added to G inside the root; non-negative.
    public init(epsilon: Float = 1e-8) {
        precondition(epsilon >= 0, "Adagrad: ε must be non-negative, got \(epsilon)")
        self.epsilon = epsilon
    }

    /// `"adagrad"`, the name ``OptimizerName`` and saved optimizer state know this rule by.
    public var name: String { OptimizerName.adagrad.rawValue }
    /// η = 0.01 (Ruder: "most implementations use a default value of 0.01").
    public var defaultLearningRate: Float { 0.01 }
    /// The per-element state: `G`, the running sum of squared gradients.
    public var stateNames: [String] { ["G"] }
    /// The hyper-parameters by key: `epsilon` (ε).
    public var hyperParameters: [String: Float] { ["epsilon": epsilon] }
    /// True: every element is updated independently, so ``Optimizer`` may split a large parameter into ranges updated in parallel.
    public var isElementwise: Bool { true }

    /// One step on one parameter, G ← G + g², θ ← θ − η g / √(G + ε), on the kernels of ``KernelTable/current``'s level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float) {
        update(parameter: parameter, gradient: gradient, state: state, step: step, learningRate: eta, kernels: .current)
    }

    /// The update on one level's kernels; the loop is C (kernels/optimizer_updates.h), the same
    /// bits at every level.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate eta: Float,
                       kernels: KernelTable) {
        guard let p = parameter.baseAddress, let g = gradient.baseAddress, let sum = state[0].baseAddress else { return }
        kernels.table.pointee.rows.adagrad.unsafelyUnwrapped(p, g, sum, parameter.count, eta, epsilon)
    }
}
