/// Batch Normalization's forward and backward passes (Ioffe & Szegedy 2015, Algorithm 1 and
/// its gradient), each as a single kernel over a row-major [rows × columns] batch, normalizing
/// every column (feature) over the rows (examples).
///
/// Statistics are accumulated column-wise with 16-wide vectors across features, row by row, so
/// every pass streams memory in order. The variance is computed in a second pass around the
/// mean (not as E[x²] − E[x]², which cancels catastrophically when |μ| ≫ σ).
public enum BatchNormKernels {
    typealias V = SIMD16<Float>

    /// Training forward: μ_B, σ²_B (biased, over the batch), x̂ = (x − μ_B)/√(σ²_B + ε),
    /// y = γ·x̂ + β. Writes y, x̂ (kept for backward), the batch mean and variance, and
    /// 1/√(σ²_B + ε).
    public static func forwardTraining(
        x: UnsafePointer<Float>, rows: Int, columns: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float,
        y: UnsafeMutablePointer<Float>, normalized: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
        inverseStandardDeviation: UnsafeMutablePointer<Float>
    ) {
        precondition(rows > 0, "BatchNorm: empty batch")
        let m = Float(rows)
        Elementwise.columnSums(x, rows: rows, columns: columns, into: mean, accumulate: false)
        Elementwise.scale(1 / m, mean, mean, count: columns)
        centeredSquares(x: x, rows: rows, columns: columns, mean: mean, centered: normalized, into: variance)
        for j in 0..<columns {
            variance[j] /= m
            inverseStandardDeviation[j] = 1 / (variance[j] + epsilon).squareRoot()
        }
        normalize(rows: rows, columns: columns, centered: normalized, inverseStandardDeviation: inverseStandardDeviation,
                  gamma: gamma, beta: beta, y: y)
    }

    /// Σ (x − μ)² per column into `squares` (zeroed first), leaving x − μ in `centered`.
    static func centeredSquares(x: UnsafePointer<Float>, rows: Int, columns: Int, mean: UnsafeMutablePointer<Float>,
                                centered: UnsafeMutablePointer<Float>, into squares: UnsafeMutablePointer<Float>) {
        Elementwise.fill(squares, 0, count: columns)
        for r in 0..<rows {
            let xr = x + r * columns, cr = centered + r * columns
            Elementwise.zip(xr, UnsafePointer(mean), cr, count: columns, { $0 - $1 }, { $0 - $1 })
            Elementwise.zip(UnsafePointer(cr), UnsafePointer(squares), squares, count: columns,
                            { $1.addingProduct($0, $0) }, { $1 + $0 * $0 })
        }
    }

    /// x̂ = (x − μ)·σ⁻¹ in place of `centered`, and y = x̂·γ + β.
    static func normalize(rows: Int, columns: Int, centered normalized: UnsafeMutablePointer<Float>,
                          inverseStandardDeviation: UnsafeMutablePointer<Float>,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        // One pass per row: x̂ = (x − μ)·σ⁻¹, y = x̂·γ + β (the same operations, in the same
        // order, as three separate passes).
        for r in 0..<rows {
            let cr = normalized + r * columns, yr = y + r * columns
            var j = 0
            while j + 16 <= columns {
                let xhat = Elementwise.load(cr + j) * Elementwise.load(inverseStandardDeviation + j)
                Elementwise.store(xhat, cr + j)
                Elementwise.store(xhat * Elementwise.load(gamma + j) + Elementwise.load(beta + j), yr + j)
                j += 16
            }
            while j < columns {
                let xhat = cr[j] * inverseStandardDeviation[j]
                cr[j] = xhat
                yr[j] = xhat * gamma[j] + beta[j]
                j += 1
            }
        }
    }

    /// Inference forward (Algorithm 2): y = γ·(x − E[x])/√(Var[x] + ε) + β with the population
    /// estimates. Writes x̂ too when `normalized` is given (for a backward pass in eval mode).
    public static func forwardInference(
        x: UnsafePointer<Float>, rows: Int, columns: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        runningMean: UnsafePointer<Float>, runningVariance: UnsafePointer<Float>, epsilon: Float,
        y: UnsafeMutablePointer<Float>, normalized: UnsafeMutablePointer<Float>?,
        inverseStandardDeviation: UnsafeMutablePointer<Float>
    ) {
        for j in 0..<columns {
            inverseStandardDeviation[j] = 1 / (runningVariance[j] + epsilon).squareRoot()
        }
        let s = UnsafePointer(inverseStandardDeviation)
        for r in 0..<rows {
            let xr = x + r * columns, yr = y + r * columns
            Elementwise.zip(xr, runningMean, yr, count: columns, { $0 - $1 }, { $0 - $1 })
            Elementwise.zip(UnsafePointer(yr), s, yr, count: columns, { $0 * $1 }, { $0 * $1 })
            if let normalized { (normalized + r * columns).update(from: yr, count: columns) }
            Elementwise.zip(UnsafePointer(yr), gamma, yr, count: columns, { $0 * $1 }, { $0 * $1 })
            Elementwise.zip(UnsafePointer(yr), beta, yr, count: columns, { $0 + $1 }, { $0 + $1 })
        }
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
        sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>
    ) {
        backwardSums(dy: dy, normalized: normalized, rows: rows, columns: columns, sumDy: sumDy, sumDyXhat: sumDyXhat)
        if let betaGradient { Elementwise.axpy(1, sumDy, betaGradient, count: columns) }
        if let gammaGradient { Elementwise.axpy(1, sumDyXhat, gammaGradient, count: columns) }
        guard let dx else { return }
        inputGradient(dy: dy, normalized: normalized, rows: rows, columns: columns, count: Float(rows), gamma: gamma,
                      inverseStandardDeviation: inverseStandardDeviation, throughStatistics: throughStatistics,
                      dx: dx, sumDy: sumDy, sumDyXhat: sumDyXhat)
    }

    /// Σ dy and Σ dy·x̂ per column.
    static func backwardSums(dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>, rows: Int, columns: Int,
                             sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>) {
        Elementwise.fill(sumDy, 0, count: columns)
        Elementwise.fill(sumDyXhat, 0, count: columns)
        for r in 0..<rows {
            let dyr = dy + r * columns, xr = normalized + r * columns
            Elementwise.zip(dyr, UnsafePointer(sumDy), sumDy, count: columns, { $0 + $1 }, { $0 + $1 })
            var j = 0
            while j + 16 <= columns {
                let acc = Elementwise.load(sumDyXhat + j).addingProduct(Elementwise.load(dyr + j), Elementwise.load(xr + j))
                Elementwise.store(acc, sumDyXhat + j)
                j += 16
            }
            while j < columns {
                sumDyXhat[j] += dyr[j] * xr[j]
                j += 1
            }
        }
    }

    /// dx = γ/(m·σ_B) · (m·dy − Σ dy − x̂·Σ dy·x̂) with the sums given (overwritten as scratch)
    /// and m = `count`, the examples the statistics came from.
    static func inputGradient(dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>, rows: Int, columns: Int,
                              count m: Float, gamma: UnsafePointer<Float>, inverseStandardDeviation: UnsafePointer<Float>,
                              throughStatistics: Bool, dx: UnsafeMutablePointer<Float>,
                              sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>) {
        // Per column: k = γ·σ⁻¹, and dx = k·dy − (k/m)·Σdy − (k/m)·x̂·Σdy·x̂.
        // Reuse the scratch: sumDy ← (k/m)·Σdy, sumDyXhat ← (k/m)·Σdy·x̂.
        for j in 0..<columns {
            let k = gamma[j] * inverseStandardDeviation[j]
            sumDy[j] *= k / m
            sumDyXhat[j] *= k / m
        }
        for r in 0..<rows {
            let dyr = dy + r * columns, xr = normalized + r * columns, dxr = dx + r * columns
            var j = 0
            while j + 16 <= columns {
                let k = Elementwise.load(gamma + j) * Elementwise.load(inverseStandardDeviation + j)
                var v = Elementwise.load(dyr + j) * k
                if throughStatistics {
                    v -= Elementwise.load(sumDy + j)
                    v -= Elementwise.load(xr + j) * Elementwise.load(sumDyXhat + j)
                }
                Elementwise.store(v, dxr + j)
                j += 16
            }
            while j < columns {
                var v = dyr[j] * gamma[j] * inverseStandardDeviation[j]
                if throughStatistics { v -= sumDy[j] + xr[j] * sumDyXhat[j] }
                dxr[j] = v
                j += 1
            }
        }
    }
}
