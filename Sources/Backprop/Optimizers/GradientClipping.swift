#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Gradient clipping, applied between `backward()` and ``Optimizer/step()``.
///
/// Exploding gradients (deep or recurrent networks, a bad batch) turn one step into a jump
/// that undoes training. Clipping by global norm (Pascanu, Mikolov & Bengio 2013) rescales all
/// gradients together, so the step keeps its direction and only its length is bounded;
/// clipping by value bounds each component separately, which also changes the direction.
public enum GradientClipping {
    /// The ℓ2 norm of all gradients together, √(Σ_p ‖g_p‖²), accumulated in `Double`.
    /// Parameters without a gradient count as zero.
    public static func globalNorm(_ parameters: [Variable]) -> Float {
        var total: Double = 0
        for p in parameters {
            guard let g = p.grad else { continue }
            g.withUnsafeBufferPointer { b in
                var partial = Lanes.V()
                var tail: Double = 0
                let full = b.count - b.count % 16
                Lanes.forEach(full) { i, _ in
                    let v = Lanes.load(b, i, 16)
                    partial = partial.addingProduct(v, v)
                }
                for i in full..<b.count { tail += Double(b[i]) * Double(b[i]) }
                var lanes: Double = 0
                for k in 0..<16 { lanes += Double(partial[k]) }
                total += lanes + tail
            }
        }
        return Float(total.squareRoot())
    }

    /// Rescales every gradient by maxNorm / ‖g‖ when the global norm ‖g‖ exceeds `maxNorm`, so
    /// that afterwards it equals `maxNorm`; leaves them alone otherwise.
    ///
    /// A non-finite norm (an overflowed or NaN gradient) is returned without rescaling, so the
    /// caller can see it and skip the step; scaling by 0 would silently hide the problem.
    ///
    /// - Returns: the global norm before clipping (worth logging: it is the usual early sign
    ///   of divergence).
    @discardableResult
    public static func clipByGlobalNorm(_ parameters: [Variable], maxNorm: Float) -> Float {
        precondition(maxNorm > 0, "clipByGlobalNorm: maxNorm must be positive, got \(maxNorm)")
        let norm = globalNorm(parameters)
        guard norm.isFinite, norm > maxNorm else { return norm }
        let factor = maxNorm / norm
        for p in parameters { scaleGradient(of: p, by: factor) }
        return norm
    }

    /// Clamps every gradient component to [−limit, limit].
    ///
    /// - Returns: how many components were clamped.
    @discardableResult
    public static func clipByValue(_ parameters: [Variable], limit: Float) -> Int {
        precondition(limit > 0, "clipByValue: limit must be positive, got \(limit)")
        var clamped = 0
        for p in parameters {
            guard var g = p.grad else { continue }
            p.grad = nil   // keep the buffer uniquely referenced, so the clamp is in place
            g.withUnsafeMutableBufferPointer { b in
                for i in b.indices {
                    let x = b[i]
                    if x > limit { b[i] = limit; clamped += 1 } else if x < -limit { b[i] = -limit; clamped += 1 }
                }
            }
            p.grad = g
        }
        return clamped
    }

    static func scaleGradient(of p: Variable, by factor: Float) {
        guard var g = p.grad else { return }
        p.grad = nil
        g.withUnsafeMutableBufferPointer { b in
            Lanes.forEach(b.count) { i, n in Lanes.store(factor * Lanes.load(b, i, n), b, i, n) }
        }
        p.grad = g
    }
}

extension Optimizer {
    /// The parameters' variables, for clipping and noise (``GradientClipping``, ``GradientNoise``).
    public var variables: [Variable] { parameters.map(\.parameter) }
}
