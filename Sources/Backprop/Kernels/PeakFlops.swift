import Foundation

/// Measures the single-precision FMA throughput this process actually gets, as the yardstick for
/// "% of peak" in benchmarks.
///
/// Why measure rather than compute from a spec sheet: the clock under an all-core vector load,
/// the number of FMA pipes and the share of a virtual machine's cores we are given all vary;
/// a register-only loop with nothing but independent FMAs measures them together.
public enum PeakFlops {
    /// Iterations of the FMA loop per timed repetition: 16 chains · 2 · 16 lanes · 2M ≈ 1 GFLOP
    /// per thread at AVX-512, a few milliseconds: long enough to reach the all-core clock, short
    /// enough to repeat.
    static let iterations = 2_000_000

    /// Best-of-several GFLOP/s of `threads` threads running the level's FMA loop at the same time
    /// on `pool` (which must have at least `threads` threads to run them in parallel).
    ///
    /// The loop (Sources/CBackpropSupport/kernels/peak.h) keeps one independent FMA chain per
    /// vector register it can spare (16 on AVX-512 and NEON, 12 on AVX2 and SSE2), so it reaches
    /// the peak of any core whose FMA latency × pipes is at most that. At `baseline` the loop is a
    /// separate multiply and add, so its figure is the multiply-add rate of SSE2 code.
    public static func measure(threads: Int, pool: ThreadPool, kernels: KernelTable = .current) -> Double {
        let threads = max(1, min(threads, pool.threadCount))
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads)
        sink.initialize(repeating: 0, count: threads)
        defer { sink.deallocate() }
        let loop = kernels.table.pointee.fma_loop.unsafelyUnwrapped
        let flopsPerThread = Double(iterations) * Double(kernels.table.pointee.fma_chains) * Double(kernels.vectorWidth) * 2
        var best = 0.0
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            if threads == 1 {
                sink[0] += loop(iterations, sink[0])
            } else {
                pool.parallelFor(threads) { thread in
                    sink[thread] += loop(iterations, sink[thread])
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
}
