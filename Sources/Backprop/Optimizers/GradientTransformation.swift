/// One change made to the gradients between `backward()` and the optimizer's update, as a
/// value — optax's gradient transformations (`clip_by_global_norm`, `clip`, `add_noise`),
/// chained in a ``GradientTransformationChain`` that ``Trainer`` builds once from
/// ``TrainingConfiguration/gradientTransformations`` and applies, in order, every step.
///
/// Weight decay is not one of them, although optax writes it as one (`add_decayed_weights`):
/// here it belongs to the optimizer's parameter groups (``WeightDecay``), so it reaches only the
/// parameters that ``Variable/decays`` and, coupled, is fused into the rule's update loop
/// instead of making another pass over every gradient.
public enum GradientTransformation: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Rescale all gradients together so their global ℓ2 norm is at most the limit
    /// (``GradientClipping/clipByGlobalNorm(_:maxNorm:kernels:)``).
    case clipByGlobalNorm(Float)
    /// Clamp every component to [−limit, limit] (``GradientClipping/clipByValue(_:limit:kernels:)``).
    case clipByValue(Float)
    /// Add annealed Gaussian noise N(0, η/(1+t)^γ) (``GradientNoise``; η = 0.01…1, γ = 0.55 in
    /// Neelakantan et al.).
    case addNoise(eta: Float, gamma: Float)

    /// Checks the transformation's values.
    ///
    /// - Throws: ``GradientTransformationError/invalidValue(_:value:reason:)`` naming the
    ///   transformation and the value.
    public func validate() throws(GradientTransformationError) {
        switch self {
        case .clipByGlobalNorm(let limit), .clipByValue(let limit):
            guard limit > 0 && limit.isFinite else {
                throw .invalidValue(self, value: limit, reason: "the limit must be positive and finite")
            }
        case let .addNoise(eta, gamma):
            guard eta >= 0 && eta.isFinite else { throw .invalidValue(self, value: eta, reason: "η must be ≥ 0 and finite") }
            guard gamma >= 0 && gamma.isFinite else { throw .invalidValue(self, value: gamma, reason: "γ must be ≥ 0 and finite") }
        }
    }

    /// The transformation and its values, e.g. `clip-by-global-norm(1.0)`.
    public var description: String {
        switch self {
        case .clipByGlobalNorm(let limit): return "clip-by-global-norm(\(limit))"
        case .clipByValue(let limit): return "clip-by-value(\(limit))"
        case let .addNoise(eta, gamma): return "add-noise(η=\(eta), γ=\(gamma))"
        }
    }
}

/// A gradient transformation that cannot be applied.
public enum GradientTransformationError: Error, Equatable, CustomStringConvertible {
    /// A limit, η or γ out of its range: the transformation, the value and the range.
    case invalidValue(GradientTransformation, value: Float, reason: String)
    /// Two noise transformations in one chain (one noise stream is saved in checkpoints).
    case repeatedNoise

    /// One line naming the transformation and what is wrong.
    public var description: String {
        switch self {
        case let .invalidValue(transformation, value, reason):
            return "gradient transformation \(transformation): \(value) is invalid: \(reason)"
        case .repeatedNoise:
            return "a chain of gradient transformations may add gradient noise once"
        }
    }
}

/// Gradient transformations applied in order, with the state they carry (the noise generator),
/// built once per training run. `Codable` with that state, so a resumed run continues the
/// same noise bit for bit.
///
/// ```swift
/// var chain = try GradientTransformationChain([.clipByGlobalNorm(1), .addNoise(eta: 0.01, gamma: 0.55)], seed: 7)
/// loss.backward()
/// chain.apply(to: model.parameters, step: optimizer.stepCount)
/// optimizer.step()
/// ```
public struct GradientTransformationChain: Sendable, Equatable, Codable {
    /// The transformations, in the order ``apply(to:step:kernels:)`` runs them.
    public let transformations: [GradientTransformation]
    /// The state of the chain's noise transformation, if it has one.
    public var noise: GradientNoise?

    /// A chain; the noise transformation (at most one) draws from `seed`.
    ///
    /// - Throws: ``GradientTransformationError`` for a value out of range or a second noise
    ///   transformation.
    public init(_ transformations: [GradientTransformation], seed: UInt64) throws(GradientTransformationError) {
        var noise: GradientNoise? = nil
        for transformation in transformations {
            try transformation.validate()
            if case let .addNoise(eta, gamma) = transformation {
                guard noise == nil else { throw .repeatedNoise }
                noise = GradientNoise(eta: eta, gamma: gamma, seed: seed)
            }
        }
        self.transformations = transformations
        self.noise = noise
    }

    /// Applies every transformation to the parameters' gradients, in order.
    ///
    /// - Parameters:
    ///   - parameters: the variables whose `grad` is transformed in place (those without one are
    ///     skipped).
    ///   - step: t, the optimizer steps taken before this one (the noise's annealing).
    ///   - kernels: the instruction-set level's kernels the clipping runs on.
    public mutating func apply(to parameters: [Variable], step: Int, kernels: KernelTable = .current) {
        for transformation in transformations {
            switch transformation {
            case .clipByGlobalNorm(let limit):
                GradientClipping.clipByGlobalNorm(parameters, maxNorm: limit, kernels: kernels)
            case .clipByValue(let limit):
                GradientClipping.clipByValue(parameters, limit: limit, kernels: kernels)
            case .addNoise:
                noise?.perturb(parameters, step: step)
            }
        }
    }
}
