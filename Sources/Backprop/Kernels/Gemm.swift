import CBackpropSupport

/// Single-precision general matrix multiplication.
///
/// The implementation follows Goto/BLIS: B is packed in `kc × nc` blocks of `nr`-wide panels, A
/// is read in place (its bottom edge padded), a register-blocked micro-kernel computes `mr × nr`
/// tiles of C, and the rectangle of C is split over a ``ThreadPool`` (`GemmPartition`). The
/// blocking and micro-kernels are C, compiled once per instruction-set level with that level's
/// tile (Sources/CBackpropSupport/kernels/gemm.h); this type splits the work and picks the
/// level's table (``KernelTable/current`` unless a caller names one).
public enum Gemm {
    /// Computes `C = alpha · op(A) · op(B) + beta · C` for row-major matrices.
    ///
    /// - op(A) is `m × k`: A is stored `m × k` (row `i` at `a + i * lda`) or, when `transposeA`,
    ///   `k × m` (row `p` at `a + p * lda`) and used transposed.
    /// - op(B) is `k × n`: B is stored `k × n` (row `p` at `b + p * ldb`) or, when `transposeB`,
    ///   `n × k` and used transposed.
    /// - C is `m × n`, row `i` at `c + i * ldc`. Only those `m × n` elements are written.
    /// - `beta == 0` overwrites C without reading it, so C may hold garbage such as NaN;
    ///   `beta == 1` accumulates (gradient accumulation); `k == 0` or `alpha == 0` just scales C
    ///   by `beta` and reads neither A nor B.
    /// - Leading dimensions may exceed the row widths (sub-matrices); each must be at least the
    ///   stored row width (and at least 1).
    /// - `pool`: threads to use; `nil` runs on the calling thread only. Small problems run on the
    ///   calling thread regardless, since waking workers would cost more than it saves.
    ///
    /// The result is deterministic for a given shape, kernel and thread count; the summation order
    /// over `k` differs from a naive loop (blocks of up to 256, FMA), so expect rounding
    /// differences of order `k · ε · Σ|a||b|`.
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, pool: ThreadPool? = .shared
    ) {
        sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
              a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, pool: pool,
              kernels: .current)
    }

    /// ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:pool:)`` with an explicit
    /// level's kernels, so tests and benchmarks can run every level the machine supports in one
    /// process.
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, pool: ThreadPool?, kernels: KernelTable
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative shape m=\(m) n=\(n) k=\(k)")
        let aWidth = transposeA ? m : k
        let bWidth = transposeB ? k : n
        precondition(lda >= max(1, aWidth),
                     "sgemm: lda=\(lda) < \(transposeA ? "m" : "k")=\(aWidth) (A stored \(transposeA ? "k × m" : "m × k"), m=\(m) k=\(k))")
        precondition(ldb >= max(1, bWidth),
                     "sgemm: ldb=\(ldb) < \(transposeB ? "k" : "n")=\(bWidth) (B stored \(transposeB ? "n × k" : "k × n"), k=\(k) n=\(n))")
        precondition(ldc >= max(1, n), "sgemm: ldc=\(ldc) < n=\(n) (C is m × n, m=\(m))")
        guard m > 0, n > 0 else { return }
        guard k > 0, alpha != 0 else {
            scale(m: m, n: n, beta: beta, c: c, ldc: ldc)
            return
        }
        let problem = bp_gemm_problem(
            m: m, n: n, k: k, alpha: alpha, beta: beta,
            a: a, a_row_stride: transposeA ? 1 : lda, a_depth_stride: transposeA ? lda : 1,
            b: b, b_depth_stride: transposeB ? 1 : ldb, b_column_stride: transposeB ? ldb : 1,
            c: c, ldc: ldc)
        multiply(problem, kernels: kernels, pool: pool)
    }

    /// Tasks with at most this many rows read full-width B panels in place (kernels/gemm.h's
    /// `gemm_in_place_row_limit`).
    static let inPlaceRowLimit = 256

    /// Splits C into rectangles (one per task of ``GemmPartition``) and runs the level's blocked
    /// kernel on each, every thread with its own packing scratch.
    static func multiply(_ problem: bp_gemm_problem, kernels: KernelTable, pool: ThreadPool?) {
        let table = kernels.table
        let mr = Int(table.pointee.gemm_mr), nr = Int(table.pointee.gemm_nr)
        // B's slivers can be streamed in place when its rows are contiguous and not a multiple of
        // 128 bytes apart (which would fold them onto a few L1 sets).
        let bInPlace = problem.b_column_stride == 1 && problem.b_depth_stride % 32 != 0
        let partition = GemmPartition(m: problem.m, n: problem.n, k: problem.k, mr: mr, nr: nr,
                                      threads: pool?.threadCount ?? 1,
                                      bTransposed: problem.b_column_stride != 1,
                                      bInPlace: bInPlace, inPlaceRowLimit: inPlaceRowLimit,
                                      aPacked: table.pointee.gemm_packs_transposed_a != 0 && problem.a_depth_stride != 1)
        guard let workspaceFloats = table.pointee.gemm_workspace_floats, let block = table.pointee.gemm_block else {
            preconditionFailure("Gemm: the \(kernels.level.rawValue) kernel table has no GEMM")
        }
        func run(rows: Range<Int>, columns: Range<Int>) {
            withUnsafePointer(to: problem) { p in
                let floats = workspaceFloats(p, rows.count, columns.count)
                let workspace = GemmWorkspace.current.floats(floats)
                block(p, rows.lowerBound, rows.upperBound, columns.lowerBound, columns.upperBound, workspace)
            }
        }
        if partition.taskCount == 1 {
            run(rows: 0..<problem.m, columns: 0..<problem.n)
            return
        }
        guard let pool else { return }
        pool.parallelFor(partition.taskCount) { task in
            let (rows, columns) = partition.ranges(ofTask: task)
            if !rows.isEmpty && !columns.isEmpty { run(rows: rows, columns: columns) }
        }
    }

    /// `C = beta · C`, writing zeros (not `0 · NaN`) when beta is 0.
    private static func scale(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard beta != 1 else { return }
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else {
                for j in 0..<n { row[j] *= beta }
            }
        }
    }
}
