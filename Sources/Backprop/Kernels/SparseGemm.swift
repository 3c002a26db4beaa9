import CBackpropSupport

/// Products of a sparse matrix (``CompressedRows``) with a dense one, and the dense data
/// movement around them.
///
/// `C = S · B` is computed row by row: row `i` of C is the sum of B's rows `p` weighted by the
/// stored `S[i, p]`, so each stored element costs `n` multiply-adds and each zero none. B is
/// read from *panels*: its columns in blocks of ``panelWidth``, each block stored contiguously
/// (`S.columns` rows of ``panelWidth`` floats), so that a chunk of a panel's rows is one
/// contiguous run of memory that L1 holds without set conflicts (rows of B picked at a large
/// power-of-two stride would fold onto a few cache sets). Rows of C are split over threads by
/// stored-element count.
///
/// Each row's sum runs over its elements in increasing column order, alternating between two
/// sets of accumulators that are combined per depth chunk and added into C; the order depends on
/// the row alone, so results differ from a dense GEMM's only by rounding and are the same for
/// any thread count.
public enum SparseGemm {
    /// Columns of one panel of B at the level in use (``KernelTable/sparsePanelWidth``): the
    /// columns the kernel keeps in registers during one pass over a row's nonzeros (8 AVX-512
    /// accumulators of 16 floats: 128; 8 of AVX2's 8 floats or 16 of NEON's 4: 64; 8 of SSE2's 4: 32). A
    /// panel as wide as the pass makes each depth chunk of it one contiguous run of memory that
    /// L1 holds whole: a 128-wide panel walked 64 columns at a time at avx2 used every other
    /// 256-byte half of its 512-byte rows, half of L1's sets, and spilled its 32 KiB chunk to L2
    /// (the product 1.1-1.4× slower on Zen 5; bench sparse).
    public static var panelWidth: Int { KernelTable.current.sparsePanelWidth }

    /// Floats of the panels of a `rows × n` dense operand (the last panel padded to full width;
    /// the padding may hold anything, it reaches only discarded lanes).
    public static func panelFloats(rows: Int, n: Int) -> Int { (n + panelWidth - 1) / panelWidth * panelWidth * rows }

    /// A row stride of at least `n` floats, a multiple of 16 (64 bytes), but not of 256
    /// (1 KiB), so 16 consecutive rows of a transposed tile do not share cache sets.
    public static func unaliasedStride(_ n: Int) -> Int {
        let padded = (n + 15) / 16 * 16
        return padded % 256 == 0 ? padded + 16 : padded
    }

    /// Minimum multiply-adds for which waking other threads pays.
    static let minimumParallelWork = 1 << 17

    /// `C[i, 0..<n] = (accumulate ? C[i, 0..<n] : 0) + Σₚ S[i, p] · B[p, 0..<n]` for every row of S.
    ///
    /// - Parameters:
    ///   - s: the sparse left operand S.
    ///   - panels: B (`S.columns × n`) in panels, as ``packPanels(_:rows:columns:ld:into:)`` or
    ///     ``packTransposedPanels(_:rows:columns:ld:into:pool:)`` write it.
    ///   - n: the columns of B and C.
    ///   - c: `S.rows` rows, row `i` at `c + i * ldc`; only its first `n` columns are written.
    ///   - ldc: C's row stride in floats, at least `n`.
    ///   - accumulate: add to C's values (true) or overwrite them (false).
    ///   - pool: the threads the rows are split over; nil runs on the calling thread.
    ///
    /// Uses S's scratch cursors: two products with the same S must not run at the same time.
    public static func multiply(_ s: CompressedRows, panels: UnsafePointer<Float>, n: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, pool: ThreadPool?) {
        precondition(ldc >= n, "SparseGemm.multiply: ldc \(ldc) < n \(n)")
        guard s.rows > 0, n > 0 else { return }
        let tasks = pool.map { min($0.threadCount, s.rows) } ?? 1
        guard tasks > 1, s.count * n >= minimumParallelWork, let pool else {
            multiplyRows(s, 0..<s.rows, panels: panels, n: n, c: c, ldc: ldc, accumulate: accumulate)
            return
        }
        pool.parallelFor(tasks) { task in
            let rows = balancedRows(s, task: task, of: tasks)
            multiplyRows(s, rows, panels: panels, n: n, c: c, ldc: ldc, accumulate: accumulate)
        }
    }

    /// Copies a `rows × columns` matrix (row `i` at `a + i * ld`) into panels.
    public static func packPanels(_ a: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int, into panels: UnsafeMutablePointer<Float>) {
        let panelWidth = Self.panelWidth
        var column = 0
        while column < columns {
            let width = min(panelWidth, columns - column)
            let panel = panels + column * rows
            for i in 0..<rows { (panel + i * panelWidth).update(from: a + i * ld + column, count: width) }
            column += panelWidth
        }
    }

    /// Writes the transpose of a `rows × columns` matrix A (row `i` at `a + i * ld`) into panels:
    /// B = Aᵀ is `columns × rows`, so A's rows `wq ..< wq + w` become panel `q` (w = ``panelWidth``). Threads
    /// take bands of 16 rows of A (16 columns of one panel).
    public static func packTransposedPanels(_ a: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int,
                                     into panels: UnsafeMutablePointer<Float>, pool: ThreadPool?) {
        let bands = (rows + 15) / 16
        let panelWidth = Self.panelWidth
        func packBands(_ range: Range<Int>) {
            for band in range {
                let first = band * 16
                let panel = panels + first / panelWidth * panelWidth * columns
                KernelTable.current.transpose(a + first * ld, min(16, rows - first), columns, ld,
                             panel + first % panelWidth, panelWidth, 0)
            }
        }
        let tasks = min(pool?.threadCount ?? 1, bands)
        guard tasks > 1, rows * columns >= minimumParallelWork / 4, let pool else {
            packBands(0..<bands)
            return
        }
        pool.parallelFor(tasks) { task in packBands(bands * task / tasks ..< bands * (task + 1) / tasks) }
    }

    /// Task `task` of `tasks`'s rows: contiguous, holding about `count / tasks` elements.
    static func balancedRows(_ s: CompressedRows, task: Int, of tasks: Int) -> Range<Int> {
        func boundary(_ t: Int) -> Int {
            if t == 0 { return 0 }
            if t == tasks { return s.rows }
            let target = Int32(s.count * t / tasks)
            // First row whose elements start at or after the target.
            var low = 0, high = s.rows
            while low < high {
                let mid = (low + high) / 2
                if s.elementsBefore[mid] < target { low = mid + 1 } else { high = mid }
            }
            return low
        }
        return boundary(task)..<max(boundary(task), boundary(task + 1))
    }

    static func multiplyRows(_ s: CompressedRows, _ rows: Range<Int>, panels: UnsafePointer<Float>, n: Int,
                             c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let panelWidth = Self.panelWidth
        var column = 0
        while column < n {
            KernelTable.current.sparsePanelProduct(s.rowStarts, s.rowEnds, s.indices, s.values, s.cursors, rows.lowerBound, rows.upperBound,
                                    s.columns, panels + column * s.columns, panelWidth, min(panelWidth, n - column),
                                    c + column, ldc, accumulate ? 1 : 0)
            column += panelWidth
        }
    }

    /// `T[j, i] = (accumulate ? T[j, i] : 0) + A[i, j]` for A of `rows × columns` (row `i` at
    /// `a + i * lda`) and T of `columns × rows` (row `j` at `t + j * ldt`).
    public static func transpose(_ a: UnsafePointer<Float>, rows: Int, columns: Int, lda: Int,
                          into t: UnsafeMutablePointer<Float>, ldt: Int, accumulate: Bool, pool: ThreadPool?) {
        precondition(lda >= columns && ldt >= rows, "SparseGemm.transpose: leading dimensions too small")
        // Tasks take whole 16-row bands of A, i.e. 16-column bands of T, so no two threads
        // write the same cache line of T.
        let bands = (rows + 15) / 16
        let tasks = min(pool?.threadCount ?? 1, bands)
        guard tasks > 1, rows * columns >= minimumParallelWork / 4, let pool else {
            KernelTable.current.transpose(a, rows, columns, lda, t, ldt, accumulate ? 1 : 0)
            return
        }
        pool.parallelFor(tasks) { task in
            let first = bands * task / tasks * 16, end = min(bands * (task + 1) / tasks * 16, rows)
            if first < end {
                KernelTable.current.transpose(a + first * lda, end - first, columns, lda, t + first, ldt, accumulate ? 1 : 0)
            }
        }
    }
}
