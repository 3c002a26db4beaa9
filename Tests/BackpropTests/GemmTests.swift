import Backprop
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pools shared by the GEMM tests: 2 threads (this machine's core count) and 3 threads (more
/// threads than cores must still be correct).
private let twoThreads = ThreadPool(threadCount: 2)
private let threeThreads = ThreadPool(threadCount: 3)


private struct Layout: CustomStringConvertible, Sendable {
    var transposeA: Bool
    var transposeB: Bool
    var description: String { (transposeA ? "T" : "N") + (transposeB ? "T" : "N") }
    static let all = [Layout(transposeA: false, transposeB: false), Layout(transposeA: false, transposeB: true),
                      Layout(transposeA: true, transposeB: false), Layout(transposeA: true, transposeB: true)]
}

/// Runs one sgemm against a Double reference and records any element outside tolerance.
private func check(_ layout: Layout, m: Int, n: Int, k: Int, alpha: Float, beta: Float,
                   padding: Int, pool: ThreadPool?, kernel: CPULevel, seed: UInt64 = 1) {
    var random = SplitMix(state: seed &+ UInt64(m * 1_000_003 + n * 1009 + k))
    let aRows = layout.transposeA ? k : m, aCols = layout.transposeA ? m : k
    let bRows = layout.transposeB ? n : k, bCols = layout.transposeB ? k : n
    let lda = max(1, aCols + padding), ldb = max(1, bCols + padding), ldc = max(1, n + padding)
    let a = (0..<max(1, aRows * lda)).map { _ in random.next() }
    let b = (0..<max(1, bRows * ldb)).map { _ in random.next() }
    // beta == 0 must not read C: fill it with NaN.
    let c0: [Float] = (0..<max(1, m * ldc)).map { _ in beta == 0 ? .nan : random.next() }
    var c = c0

    func opA(_ i: Int, _ p: Int) -> Double { Double(layout.transposeA ? a[p * lda + i] : a[i * lda + p]) }
    func opB(_ p: Int, _ j: Int) -> Double { Double(layout.transposeB ? b[j * ldb + p] : b[p * ldb + j]) }

    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                Gemm.sgemm(transposeA: layout.transposeA, transposeB: layout.transposeB,
                           m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: lda,
                           b: bp.baseAddress!, ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: ldc,
                           pool: pool, kernels: KernelTable(level: kernel)!)
            }
        }
    }

    var failures = 0
    for i in 0..<m {
        for j in 0..<ldc {
            let index = i * ldc + j
            if j >= n {
                // Padding columns must be untouched (NaN compares unequal, so compare bits).
                if c[index].bitPattern != c0[index].bitPattern { failures += 1 }
                continue
            }
            var sum = 0.0, magnitude = 0.0
            for p in 0..<k {
                let product = opA(i, p) * opB(p, j)
                sum += product
                magnitude += abs(product)
            }
            var expected = Double(alpha) * sum
            var scale = abs(Double(alpha)) * magnitude
            if beta != 0 {
                expected += Double(beta) * Double(c0[index])
                scale += abs(Double(beta) * Double(c0[index]))
            }
            let tolerance = 1e-6 * Double(k + 2) * scale + 1e-30
            let actual = Double(c[index])
            if !(abs(actual - expected) <= tolerance) {
                if failures < 3 {
                    Issue.record("\(layout) \(kernel) m=\(m) n=\(n) k=\(k) alpha=\(alpha) beta=\(beta) pad=\(padding) threads=\(pool?.threadCount ?? 1): C[\(i),\(j)] = \(actual), expected \(expected) ± \(tolerance)")
                }
                failures += 1
            }
        }
    }
    #expect(failures == 0, "\(failures) wrong elements: \(layout) \(kernel) m=\(m) n=\(n) k=\(k)")
}

/// Shapes covering empty, unit, odd-prime, narrow and edge-heavy cases; the products of the
/// last few exceed the size below which sgemm stays single-threaded, so the pools get used.
private let shapes: [(Int, Int, Int)] = [
    (0, 5, 3), (5, 0, 3), (4, 5, 0), (1, 1, 1), (1, 40, 7), (40, 1, 7), (7, 13, 5), (9, 33, 1),
    (33, 17, 65), (60, 10, 100), (17, 48, 300), (129, 257, 31), (61, 100, 97), (7, 300, 200),
    (300, 5, 250),
]

private let scalings: [(alpha: Float, beta: Float)] = [(1, 0), (1, 1), (-0.5, 0.75)]

@Suite("Gemm")
struct GemmTests {
    @Test("every level this CPU has, layout, shape, scaling and pool", arguments: CPULevel.supported, Layout.all)
    fileprivate func smallShapes(kernel: CPULevel, layout: Layout) {
        for (m, n, k) in shapes {
            for (index, scaling) in scalings.enumerated() {
                for pool in [nil, twoThreads, threeThreads] {
                    check(layout, m: m, n: n, k: k, alpha: scaling.alpha, beta: scaling.beta,
                          padding: index == 1 ? 3 : 0, pool: pool, kernel: kernel)
                }
            }
        }
    }

    @Test("larger shapes with several depth and row blocks", arguments: CPULevel.supported, Layout.all)
    fileprivate func largerShapes(kernel: CPULevel, layout: Layout) {
        check(layout, m: 200, n: 300, k: 517, alpha: 1, beta: 0, padding: 5, pool: twoThreads, kernel: kernel)
        check(layout, m: 131, n: 1100, k: 40, alpha: 0.5, beta: 1, padding: 0, pool: threeThreads, kernel: kernel)
        // B rows 4 KiB apart (N = 1024, not read in place) under one row chunk: avx2 copies each
        // panel during its first sliver; a ragged last panel is packed on its own.
        check(layout, m: 100, n: 1024, k: 300, alpha: 1, beta: 1, padding: 0, pool: nil, kernel: kernel)
        check(layout, m: 77, n: 1020, k: 257, alpha: -0.5, beta: 0.75, padding: 4, pool: twoThreads, kernel: kernel)
    }

    @Test("large C (rows-outer order, several column chunks), level in force", arguments: Layout.all)
    fileprivate func largeC(layout: Layout) {
        check(layout, m: 520, n: 1030, k: 300, alpha: 1, beta: 1, padding: 3, pool: nil, kernel: KernelTable.current.level)
        // avx2 packs A for large C (GEMM_PACK_LARGE_A): run that path wherever avx2 exists.
        if CPULevel.supported.contains(.avx2) {
            check(layout, m: 520, n: 1030, k: 300, alpha: 1, beta: 1, padding: 3, pool: nil, kernel: .avx2)
        }
    }

    @Test("default entry point uses the level in force and the shared pool")
    func defaultEntryPoint() {
        for layout in Layout.all {
            check(layout, m: 128, n: 96, k: 70, alpha: 1, beta: 0, padding: 0, pool: .shared, kernel: KernelTable.current.level)
        }
    }

    @Test("alpha 0 and k 0 only scale C")
    func scalingOnly() {
        var c: [Float] = [1, 2, 3, 4, .nan, .nan]
        let a: [Float] = [.nan], b: [Float] = [.nan]
        Gemm.sgemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 1, alpha: 0, a: a, lda: 1,
                   b: b, ldb: 2, beta: 2, c: &c, ldc: 3)
        #expect(Array(c[0..<2]) == [2, 4] && c[3] == 8)
        Gemm.sgemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 0, alpha: 1, a: a, lda: 1,
                   b: b, ldb: 2, beta: 0, c: &c, ldc: 3)
        #expect(Array(c[0..<2]) == [0, 0] && Array(c[3..<5]) == [0, 0])
    }
}

@Suite("Gemm thread pool")
struct GemmThreadPoolTests {
    @Test("every index is visited exactly once", arguments: [1, 2, 3, 5])
    func visitsEachIndexOnce(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        #expect(pool.threadCount == threads)
        for count in [0, 1, 2, 3, 7, 1000] {
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
            counts.initialize(repeating: 0, count: max(count, 1))
            defer { counts.deallocate() }
            for _ in 0..<20 {
                pool.parallelFor(count) { index in counts[index] += 1 }
            }
            for index in 0..<count { #expect(counts[index] == 20) }
        }
    }

    /// Back-to-back jobs whose counts alternate between small and larger: a worker that read
    /// the small job's exhausted ticket must not claim an index of the next, larger job on it.
    /// Before jobs were closed first, that ran an index twice and, with `completed` past the
    /// count, hung the submitter (seen in a long training run); with the old protocol this test
    /// crashed the test process (a late body call after the job ended).
    @Test("a late worker never runs an index of the next job")
    func lateWorkersDoNotRunTheNextJob() {
        // More threads than cores: a worker preempted between reading the ticket and the count
        // widens the race window from nanoseconds to a time slice.
        let pool = ThreadPool(threadCount: 8)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 32)
        defer { counts.deallocate() }
        var wrong = 0
        for call in 0..<300_000 {
            let count = [2, 17, 3, 31][call % 4]
            counts.initialize(repeating: 0, count: 32)
            pool.parallelFor(count) { index in counts[index] += 1 }
            for index in 0..<32 where counts[index] != (index < count ? 1 : 0) { wrong += 1 }
        }
        #expect(wrong == 0)
    }

    @Test("nested parallelFor runs serially instead of deadlocking")
    func nestedCallsDoNotDeadlock() {
        let pool = ThreadPool(threadCount: 3)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        counts.initialize(repeating: 0, count: 64)
        defer { counts.deallocate() }
        pool.parallelFor(8) { outer in
            pool.parallelFor(8) { inner in counts[outer * 8 + inner] += 1 }
        }
        for index in 0..<64 { #expect(counts[index] == 1) }
    }

    @Test("the shared pool has at least one thread")
    func sharedPool() {
        #expect(ThreadPool.shared.threadCount >= 1)
    }
}
