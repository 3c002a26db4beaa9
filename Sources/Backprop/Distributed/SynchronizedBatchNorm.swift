/// Synchronized Batch Normalization for data-parallel training (SyncBN): every rank normalizes
/// with the statistics of the whole global mini-batch — all ranks' shards — as one process with
/// the whole batch would, at the cost of three small allreduces per BatchNorm layer and step
/// (Σx, then Σ(x − μ)², forward; Σdy and Σdy·x̂, backward).
///
/// Set on a ``BatchNorm1d`` by ``DataParallel/synchronizeBatchNorm(in:)``. The layer's forward and
/// backward cannot throw, so a failed reduction is kept in ``error`` and thrown by the data-parallel
/// step that follows.
public final class BatchNormSynchronizer {
    /// The group whose batch statistics are combined.
    public let collective: any Collective
    /// The first failed reduction, if any.
    public private(set) var error: CollectiveError?

    /// A synchronizer over `collective`.
    public init(collective: any Collective) {
        self.collective = collective
    }

    /// Sums `buffer` over the ranks (after a failure, leaves it as it is).
    func sum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard error == nil else { return }
        do { try collective.allReduceSum(buffer) } catch { self.error = error }
    }

    /// Takes the recorded failure (for the step to throw).
    func takeError() -> CollectiveError? {
        defer { error = nil }
        return error
    }
}

extension BatchNormKernels {
    /// Training forward with statistics over every rank's rows: μ = Σ_ranks Σx / n and
    /// σ² = Σ_ranks Σ(x − μ)² / n (the same two-pass variance as one process), n the global
    /// example count, which it returns.
    static func forwardTrainingSynchronized(
        x: UnsafePointer<Float>, rows: Int, columns: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float,
        y: UnsafeMutablePointer<Float>, normalized: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>,
        inverseStandardDeviation: UnsafeMutablePointer<Float>, synchronizer: BatchNormSynchronizer
    ) -> Int {
        let sums = UnsafeMutableBufferPointer<Float>.allocate(capacity: columns + 1)
        defer { sums.deallocate() }
        Elementwise.columnSums(x, rows: rows, columns: columns, into: sums.baseAddress!, accumulate: false)
        sums[columns] = Float(rows)
        synchronizer.sum(sums)
        let n = max(sums[columns], 1)
        Elementwise.scale(1 / n, sums.baseAddress!, mean, count: columns)
        centeredSquares(x: x, rows: rows, columns: columns, mean: mean, centered: normalized, into: variance)
        synchronizer.sum(UnsafeMutableBufferPointer(start: variance, count: columns))
        for j in 0..<columns {
            variance[j] /= n
            inverseStandardDeviation[j] = 1 / (variance[j] + epsilon).squareRoot()
        }
        normalize(rows: rows, columns: columns, centered: normalized, inverseStandardDeviation: inverseStandardDeviation,
                  gamma: gamma, beta: beta, y: y)
        return Int(n.rounded())
    }

    /// Backward through synchronized statistics. γ's and β's gradients are this rank's part
    /// (the data-parallel step combines them with the other parameters' gradients). For the
    /// input's gradient, each rank's dy is the gradient of its own shard's mean loss L_r, while
    /// the statistics depend on the global loss L = Σ_r (n_r/n)·L_r: the sums over all ranks are
    /// T = Σ_r n_r·Σ_{i∈r} dy_i, and rank r uses T/n_r in the one-process formula with m = n.
    /// With equal shards T/n_r is the plain sum over all ranks.
    static func backwardSynchronized(
        dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>, rows: Int, columns: Int, globalCount: Int,
        gamma: UnsafePointer<Float>, inverseStandardDeviation: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>?, gammaGradient: UnsafeMutablePointer<Float>?,
        betaGradient: UnsafeMutablePointer<Float>?,
        sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>,
        synchronizer: BatchNormSynchronizer
    ) {
        backwardSums(dy: dy, normalized: normalized, rows: rows, columns: columns, sumDy: sumDy, sumDyXhat: sumDyXhat)
        if let betaGradient { Elementwise.axpy(1, sumDy, betaGradient, count: columns) }
        if let gammaGradient { Elementwise.axpy(1, sumDyXhat, gammaGradient, count: columns) }
        guard let dx else { return }
        let both = UnsafeMutableBufferPointer<Float>.allocate(capacity: 2 * columns)
        defer { both.deallocate() }
        let local = Float(rows)
        Elementwise.scale(local, sumDy, both.baseAddress!, count: columns)
        Elementwise.scale(local, sumDyXhat, both.baseAddress! + columns, count: columns)
        synchronizer.sum(both)
        Elementwise.scale(1 / local, both.baseAddress!, sumDy, count: columns)
        Elementwise.scale(1 / local, both.baseAddress! + columns, sumDyXhat, count: columns)
        inputGradient(dy: dy, normalized: normalized, rows: rows, columns: columns, count: Float(globalCount), gamma: gamma,
                      inverseStandardDeviation: inverseStandardDeviation, throughStatistics: true,
                      dx: dx, sumDy: sumDy, sumDyXhat: sumDyXhat)
    }
}
