import CBackpropSupport

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
///
/// The loops (the sum of squares, the clamp, the rescaling) are C, compiled once per
/// instruction-set level and chosen at run time (Sources/CBackpropSupport/kernels/optimizer_updates.h
/// and elementwise.h, through ``KernelTable``): Swift's SIMD code compiles for SSE2 only, where the
/// norm's fused multiply-add would be a libm call per lane. `kernels` defaults to
/// ``KernelTable/current``.
public enum GradientClipping {
    /// The ℓ2 norm of all gradients together, √(Σ_p ‖g_p‖²), accumulated in `Double`.
    /// Parameters without a gradient count as zero.
    public static func globalNorm(_ parameters: [Variable], kernels: KernelTable = .current) -> Float {
        var total: Double = 0
        for p in parameters {
            guard let g = p.grad else { continue }
            g.withUnsafeBufferPointer { b in
                guard let base = b.baseAddress else { return }
                total += kernels.table.pointee.rows.sum_squares.unsafelyUnwrapped(base, b.count)
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
    public static func clipByGlobalNorm(_ parameters: [Variable], maxNorm: Float, kernels: KernelTable = .current) -> Float {
        precondition(maxNorm > 0, "clipByGlobalNorm: maxNorm must be positive, got \(maxNorm)")
        let norm = globalNorm(parameters, kernels: kernels)
        guard norm.isFinite, norm > maxNorm else { return norm }
        let factor = maxNorm / norm
        for p in parameters { scaleGradient(of: p, by: factor, kernels: kernels) }
        return norm
    }

    /// Clamps every gradient component to [−limit, limit].
    ///
    /// - Returns: how many components were clamped.
    @discardableResult
    public static func clipByValue(_ parameters: [Variable], limit: Float, kernels: KernelTable = .current) -> Int {
        precondition(limit > 0, "clipByValue: limit must be positive, got \(limit)")
        var clamped = 0
        for p in parameters {
            guard var g = p.grad else { continue }
            p.grad = nil   // keep the buffer uniquely referenced, so the clamp is in place
            g.withUnsafeMutableBufferPointer { b in
                guard let base = b.baseAddress else { return }
                clamped += kernels.table.pointee.rows.clip_by_value.unsafelyUnwrapped(base, b.count, limit)
            }
            p.grad = g
        }
        return clamped
    }

    static func scaleGradient(of p: Variable, by factor: Float, kernels: KernelTable) {
        guard var g = p.grad else { return }
        p.grad = nil
        g.withUnsafeMutableBufferPointer { b in
            guard let base = b.baseAddress else { return }
            Elementwise.scale(factor, base, base, count: b.count, kernels: kernels)
        }
        p.grad = g
    }
}

extension Optimizer {
    /// The parameters' variables, for clipping and noise (``GradientClipping``, ``GradientNoise``).
    public var variables: [Variable] { parameters.map(\.parameter) }
}
