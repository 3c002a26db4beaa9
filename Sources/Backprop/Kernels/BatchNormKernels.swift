import CBackpropSupport

/// Batch Normalization's forward and backward passes (Ioffe & Szegedy 2015, Algorithm 1 and
/// its gradient), each as a single kernel over a row-major [rows × columns] batch, normalizing
/// every column (feature) over the rows (examples).
///
/// The loops are C, compiled once per instruction-set level and chosen at run time
/// (Sources/CBackpropSupport/kernels/batchnorm.h, reached through ``KernelTable``; Swift's SIMD
/// code compiles for SSE2 only, where its fused multiply-adds are libm calls per lane). Each entry
/// takes `kernels` (default ``KernelTable/current``) so tests can run every level in one process.
///
/// Statistics are accumulated column-wise over 16-float vectors of features, down the rows in
/// order, so every pass streams memory in order. The variance is computed in a second pass around
/// the mean (not as E[x²] − E[x]², which cancels catastrophically when |μ| ≫ σ). The sums of
/// squares and of dy·x̂ are fused multiply-adds over whole 16-float vectors (one rounding at the
/// AVX2 and AVX-512 levels, two at the SSE2 baseline), separate multiply and add over the last
/// `columns % 16` columns; the avx2 and avx512 levels give the same bits.
public enum BatchNormKernels {
    /// Training forward: μ_B, σ²_B (biased, over the batch), x̂ = (x − μ_B)/√(σ²_B + ε),
    /// y = γ·x̂ + β. Writes y, x̂ (kept for backward), the batch mean and variance, and
    /// 1/√(σ²_B + ε).
    public static func forwardTraining(
        x: UnsafePointer<Float>, rows: Int, columns: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float,
        y: UnsafeMutablePointer<Float>, normalized: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
        inverseStandardDeviation: UnsafeMutablePointer<Float>, kernels: KernelTable = .current
    ) {
        precondition(rows > 0, "BatchNorm: empty batch")
        kernels.table.pointee.rows.batchnorm_forward_training.unsafelyUnwrapped(
            x, rows, columns, gamma, beta, epsilon, y, normalized, mean, variance, inverseStandardDeviation)
    }

    /// Σ (x − μ)² per column into `squares`, leaving x − μ in `centered`.
    static func centeredSquares(x: UnsafePointer<Float>, rows: Int, columns: Int, mean: UnsafeMutablePointer<Float>,
                                centered: UnsafeMutablePointer<Float>, into squares: UnsafeMutablePointer<Float>,
                                kernels: KernelTable = .current) {
        kernels.table.pointee.rows.batchnorm_centered_squares.unsafelyUnwrapped(x, rows, columns, mean, centered, squares)
    }

    /// x̂ = (x − μ)·σ⁻¹ in place of `centered`, and y = x̂·γ + β.
    static func normalize(rows: Int, columns: Int, centered normalized: UnsafeMutablePointer<Float>,
                          inverseStandardDeviation: UnsafeMutablePointer<Float>,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                          kernels: KernelTable = .current) {
        kernels.table.pointee.rows.batchnorm_normalize.unsafelyUnwrapped(
            rows, columns, normalized, inverseStandardDeviation, gamma, beta, y)
    }

    /// Inference forward (Algorithm 2): y = γ·(x − E[x])/√(Var[x] + ε) + β with the population
    /// estimates. Writes x̂ too when `normalized` is given (for a backward pass in eval mode).
    public static func forwardInference(
        x: UnsafePointer<Float>, rows: Int, columns: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        runningMean: UnsafePointer<Float>, runningVariance: UnsafePointer<Float>, epsilon: Float,
        y: UnsafeMutablePointer<Float>, normalized: UnsafeMutablePointer<Float>?,
        inverseStandardDeviation: UnsafeMutablePointer<Float>, kernels: KernelTable = .current
    ) {
        kernels.table.pointee.rows.batchnorm_forward_inference.unsafelyUnwrapped(
            x, rows, columns, gamma, beta, runningMean, runningVariance, epsilon, y, normalized, inverseStandardDeviation)
    }

    /// Backward through Algorithm 1, batch statistics included:
    ///   dβ += Σ dy,  dγ += Σ dy·x̂,
    ///   dx = γ/(m·σ_B) · (m·dy − Σ dy − x̂·Σ dy·x̂)      (σ_B = √(σ²_B + ε)).
    /// With `throughStatistics == false` (evaluation mode, fixed statistics) dx = γ·dy/σ.
    /// `dx` may be `dy`. `sumDy` and `sumDyXhat` are `columns` floats of scratch.
    public static func backward(
        dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>, rows: Int, columns: Int,
        gamma: UnsafePointer<Float>, inverseStandardDeviation: UnsafePointer<Float>,
        throughStatistics: Bool,
        dx: UnsafeMutablePointer<Float>?, gammaGradient: UnsafeMutablePointer<Float>?,
        betaGradient: UnsafeMutablePointer<Float>?,
        sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>,
        kernels: KernelTable = .current
    ) {
        kernels.table.pointee.rows.batchnorm_backward.unsafelyUnwrapped(
            dy, normalized, rows, columns, gamma, inverseStandardDeviation, throughStatistics ? 1 : 0,
            dx, gammaGradient, betaGradient, sumDy, sumDyXhat)
    }

    /// Σ dy and Σ dy·x̂ per column.
    static func backwardSums(dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>, rows: Int, columns: Int,
                             sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>,
                             kernels: KernelTable = .current) {
        kernels.table.pointee.rows.batchnorm_backward_sums.unsafelyUnwrapped(dy, normalized, rows, columns, sumDy, sumDyXhat)
    }

    /// dx = γ/(m·σ_B) · (m·dy − Σ dy − x̂·Σ dy·x̂) with the sums given (overwritten as scratch)
    /// and m = `count`, the examples the statistics came from.
    static func inputGradient(dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>, rows: Int, columns: Int,
                              count m: Float, gamma: UnsafePointer<Float>, inverseStandardDeviation: UnsafePointer<Float>,
                              throughStatistics: Bool, dx: UnsafeMutablePointer<Float>,
                              sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>,
                              kernels: KernelTable = .current) {
        // Per column: k = γ·σ⁻¹, and dx = k·dy − (k/m)·Σdy − (k/m)·x̂·Σdy·x̂, the sums first
        // replaced by (k/m)·Σdy and (k/m)·Σdy·x̂.
        kernels.table.pointee.rows.batchnorm_input_gradient.unsafelyUnwrapped(
            dy, normalized, rows, columns, m, gamma, inverseStandardDeviation, throughStatistics ? 1 : 0,
            dx, sumDy, sumDyXhat)
    }
}
