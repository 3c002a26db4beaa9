import Foundation

/// Measures the single-precision FMA throughput this process actually gets, as the yardstick for
/// "% of peak" in benchmarks.
///
/// Why measure rather than compute from a spec sheet: the clock under an all-core vector load,
/// the number of FMA pipes and the share of a virtual machine's cores we are given all vary;
/// a register-only loop with nothing but independent FMAs measures them together.
public enum PeakFlops {
    /// Iterations of the FMA loop per timed repetition: 12 · 2 · 16 · 2M ≈ 0.8 GFLOP per thread,
    /// a few milliseconds — long enough to reach the all-core clock, short enough to repeat.
    static let iterations = 2_000_000

    /// Best-of-several GFLOP/s of `threads` threads running the FMA loop at the same time on
    /// `pool` (which must have at least `threads` threads to run them in parallel).
    public static func measure(threads: Int, pool: ThreadPool) -> Double {
        let threads = max(1, min(threads, pool.threadCount))
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads)
        sink.initialize(repeating: 0, count: threads)
        defer { sink.deallocate() }
        let flopsPerThread = Double(iterations) * 12 * 16 * 2
        var best = 0.0
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            if threads == 1 {
                sink[0] += fmaLoop(iterations: iterations, seed: sink[0])
            } else {
                pool.parallelFor(threads) { thread in
                    sink[thread] += fmaLoop(iterations: iterations, seed: sink[thread])
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            best = max(best, flopsPerThread * Double(threads) / seconds / 1e9)
        }
        // Keep the results observable so the loops cannot be removed.
        var total: Float = 0
        for thread in 0..<threads { total += sink[thread] }
        if total.isNaN { print("PeakFlops: unexpected NaN") }
        return best
    }

    /// Twelve independent chains of 16-lane FMAs: two FMA pipes with a 4-cycle latency need at
    /// least 8 chains in flight; 12 leave slack for scheduling. Each step is `c = c · x + y` with
    /// x < 1, so values stay finite and normal; x and y depend on the `seed` argument, and the
    /// sum is returned, so the optimizer can fold nothing.
    @inline(never)
    static func fmaLoop(iterations: Int, seed: Float) -> Float {
        let x = SIMD16<Float>(repeating: 0.999_999 + seed * 1e-30)
        let y = SIMD16<Float>(repeating: 1e-7 + seed * 1e-30)
        var c0 = SIMD16<Float>(repeating: 0), c1 = SIMD16<Float>(repeating: 1)
        var c2 = SIMD16<Float>(repeating: 2), c3 = SIMD16<Float>(repeating: 3)
        var c4 = SIMD16<Float>(repeating: 4), c5 = SIMD16<Float>(repeating: 5)
        var c6 = SIMD16<Float>(repeating: 6), c7 = SIMD16<Float>(repeating: 7)
        var c8 = SIMD16<Float>(repeating: 8), c9 = SIMD16<Float>(repeating: 9)
        var c10 = SIMD16<Float>(repeating: 10), c11 = SIMD16<Float>(repeating: 11)
        for _ in 0..<iterations {
            c0 = y.addingProduct(c0, x) ; c1 = y.addingProduct(c1, x)
            c2 = y.addingProduct(c2, x) ; c3 = y.addingProduct(c3, x)
            c4 = y.addingProduct(c4, x) ; c5 = y.addingProduct(c5, x)
            c6 = y.addingProduct(c6, x) ; c7 = y.addingProduct(c7, x)
            c8 = y.addingProduct(c8, x) ; c9 = y.addingProduct(c9, x)
            c10 = y.addingProduct(c10, x) ; c11 = y.addingProduct(c11, x)
        }
        let sum = (c0 + c1 + c2 + c3) + (c4 + c5 + c6 + c7) + (c8 + c9 + c10 + c11)
        return sum.sum() * 1e-30
    }
}
