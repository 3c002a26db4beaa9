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
    /// Columns of one panel of B: 8 AVX-512 registers of accumulators per row of C.
    public static let panelWidth = 128

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
    ///   - panels: B (`S.columns × n`) in panels, as ``packPanels(_:rows:columns:ld:into:)`` or
    ///     ``packTransposedPanels(_:rows:columns:ld:into:pool:)`` write it.
    ///   - c: `S.rows` rows, row `i` at `c + i * ldc`; only its first `n` columns are written.
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
        var column = 0
        while column < columns {
            let width = min(panelWidth, columns - column)
            let panel = panels + column * rows
            for i in 0..<rows { (panel + i * panelWidth).update(from: a + i * ld + column, count: width) }
            column += panelWidth
        }
    }

    /// Writes the transpose of a `rows × columns` matrix A (row `i` at `a + i * ld`) into panels:
    /// B = Aᵀ is `columns × rows`, so A's rows `128q ..< 128q + 128` become panel `q`. Threads
    /// take bands of 16 rows of A (16 columns of one panel).
    public static func packTransposedPanels(_ a: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int,
                                     into panels: UnsafeMutablePointer<Float>, pool: ThreadPool?) {
        let bands = (rows + 15) / 16
        func packBands(_ range: Range<Int>) {
            for band in range {
                let first = band * 16
                let panel = panels + first / panelWidth * panelWidth * columns
                bp_transpose(a + first * ld, min(16, rows - first), columns, ld,
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
                if s.rowStarts[mid] < target { low = mid + 1 } else { high = mid }
            }
            return low
        }
        return boundary(task)..<max(boundary(task), boundary(task + 1))
    }

    static func multiplyRows(_ s: CompressedRows, _ rows: Range<Int>, panels: UnsafePointer<Float>, n: Int,
                             c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        if !accumulate {
            for i in rows { (c + i * ldc).update(repeating: 0, count: n) }
        }
        var column = 0
        while column < n {
            let valid = min(128, n - column)
            // Each case is its own inlined copy with a constant vector count, so the unused
            // accumulators and their branches fold away.
            switch (valid + 15) / 16 {
            case 8: block(s, rows, b: panels + column * s.columns, ldb: panelWidth, column: column, valid: valid, c: c, ldc: ldc, vectors: 8)
            case 7: block(s, rows, b: panels + column * s.columns, ldb: panelWidth, column: column, valid: valid, c: c, ldc: ldc, vectors: 7)
            case 6: block(s, rows, b: panels + column * s.columns, ldb: panelWidth, column: column, valid: valid, c: c, ldc: ldc, vectors: 6)
            case 5: block(s, rows, b: panels + column * s.columns, ldb: panelWidth, column: column, valid: valid, c: c, ldc: ldc, vectors: 5)
            case 4: block(s, rows, b: panels + column * s.columns, ldb: panelWidth, column: column, valid: valid, c: c, ldc: ldc, vectors: 4)
            case 3: block(s, rows, b: panels + column * s.columns, ldb: panelWidth, column: column, valid: valid, c: c, ldc: ldc, vectors: 3)
            case 2: block(s, rows, b: panels + column * s.columns, ldb: panelWidth, column: column, valid: valid, c: c, ldc: ldc, vectors: 2)
            default: block(s, rows, b: panels + column * s.columns, ldb: panelWidth, column: column, valid: valid, c: c, ldc: ldc, vectors: 1)
            }
            column += 128
        }
    }

    /// Adds one block of `vectors` × 16 columns starting at `column` (of which `valid` are real;
    /// `b` is that block's panel) into C: one `SIMD16<Float>` accumulator each (separate locals, so they stay in
    /// registers) and one fused multiply-add per accumulator per stored element.
    ///
    /// Why in depth chunks: the B rows a row of S picks are scattered over all of B's rows, so
    /// streaming them from L2 leaves the multiply-adds waiting on loads. The rows of S are
    /// instead walked once per chunk of the panel's rows small enough for L1 (32 KiB), each
    /// row resuming at its cursor; C's block is read and written once per row and chunk.
    @inline(__always)
    static func block(_ s: CompressedRows, _ rows: Range<Int>, b: UnsafePointer<Float>, ldb: Int,
                      column: Int, valid: Int, c: UnsafeMutablePointer<Float>, ldc: Int, vectors: Int) {
        typealias V = SIMD16<Float>
        let starts = s.rowStarts, indices = s.indices, values = s.values, cursors = s.cursors
        let bColumn = b
        for i in rows { cursors[i] = starts[i] }
        let depthChunk = 512 / vectors
        var chunkStart = 0
        while chunkStart < s.columns {
            let chunkEnd = Int32(min(chunkStart + depthChunk, s.columns))
            for i in rows {
                var j = Int(cursors[i])
                let end = Int(starts[i + 1])
                guard j < end, indices[j] < chunkEnd else { continue }
                var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
                if vectors == 1 {
                    // A single chain would wait on each multiply-add's latency: alternate two.
                    while j + 1 < end, indices[j + 1] < chunkEnd {
                        a0 = a0.addingProduct(V(repeating: values[j]), loadVector(bColumn + Int(indices[j]) * ldb, as: V.self))
                        a1 = a1.addingProduct(V(repeating: values[j + 1]), loadVector(bColumn + Int(indices[j + 1]) * ldb, as: V.self))
                        j += 2
                    }
                    if j < end, indices[j] < chunkEnd {
                        a0 = a0.addingProduct(V(repeating: values[j]), loadVector(bColumn + Int(indices[j]) * ldb, as: V.self))
                        j += 1
                    }
                    a0 += a1
                } else {
                    // Two elements per turn into two sets of accumulators: each chain then
                    // waits on one multiply-add per two elements, so loads that miss L1 can
                    // overlap instead of stalling it.
                    var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V(), b5 = V(), b6 = V(), b7 = V()
                    while j + 1 < end && indices[j + 1] < chunkEnd {
                        let v = V(repeating: values[j]), u = V(repeating: values[j + 1])
                        let p = bColumn + Int(indices[j]) * ldb, q = bColumn + Int(indices[j + 1]) * ldb
                        a0 = a0.addingProduct(v, loadVector(p, as: V.self))
                        b0 = b0.addingProduct(u, loadVector(q, as: V.self))
                        a1 = a1.addingProduct(v, loadVector(p + 16, as: V.self))
                        b1 = b1.addingProduct(u, loadVector(q + 16, as: V.self))
                        if vectors > 2 { a2 = a2.addingProduct(v, loadVector(p + 32, as: V.self)); b2 = b2.addingProduct(u, loadVector(q + 32, as: V.self)) }
                        if vectors > 3 { a3 = a3.addingProduct(v, loadVector(p + 48, as: V.self)); b3 = b3.addingProduct(u, loadVector(q + 48, as: V.self)) }
                        if vectors > 4 { a4 = a4.addingProduct(v, loadVector(p + 64, as: V.self)); b4 = b4.addingProduct(u, loadVector(q + 64, as: V.self)) }
                        if vectors > 5 { a5 = a5.addingProduct(v, loadVector(p + 80, as: V.self)); b5 = b5.addingProduct(u, loadVector(q + 80, as: V.self)) }
                        if vectors > 6 { a6 = a6.addingProduct(v, loadVector(p + 96, as: V.self)); b6 = b6.addingProduct(u, loadVector(q + 96, as: V.self)) }
                        if vectors > 7 { a7 = a7.addingProduct(v, loadVector(p + 112, as: V.self)); b7 = b7.addingProduct(u, loadVector(q + 112, as: V.self)) }
                        j += 2
                    }
                    if j < end && indices[j] < chunkEnd {
                        let v = V(repeating: values[j])
                        let p = bColumn + Int(indices[j]) * ldb
                        a0 = a0.addingProduct(v, loadVector(p, as: V.self))
                        a1 = a1.addingProduct(v, loadVector(p + 16, as: V.self))
                        if vectors > 2 { a2 = a2.addingProduct(v, loadVector(p + 32, as: V.self)) }
                        if vectors > 3 { a3 = a3.addingProduct(v, loadVector(p + 48, as: V.self)) }
                        if vectors > 4 { a4 = a4.addingProduct(v, loadVector(p + 64, as: V.self)) }
                        if vectors > 5 { a5 = a5.addingProduct(v, loadVector(p + 80, as: V.self)) }
                        if vectors > 6 { a6 = a6.addingProduct(v, loadVector(p + 96, as: V.self)) }
                        if vectors > 7 { a7 = a7.addingProduct(v, loadVector(p + 112, as: V.self)) }
                        j += 1
                    }
                    a0 += b0; a1 += b1; a2 += b2; a3 += b3; a4 += b4; a5 += b5; a6 += b6; a7 += b7
                }
                cursors[i] = Int32(j)
                let out = c + i * ldc + column
                put(a0, out, valid, true)
                if vectors > 1 { put(a1, out + 16, valid - 16, true) }
                if vectors > 2 { put(a2, out + 32, valid - 32, true) }
                if vectors > 3 { put(a3, out + 48, valid - 48, true) }
                if vectors > 4 { put(a4, out + 64, valid - 64, true) }
                if vectors > 5 { put(a5, out + 80, valid - 80, true) }
                if vectors > 6 { put(a6, out + 96, valid - 96, true) }
                if vectors > 7 { put(a7, out + 112, valid - 112, true) }
            }
            chunkStart = Int(chunkEnd)
        }
    }

    /// Writes (or adds) the first `min(count, 16)` lanes of `value` at `out`.
    @inline(__always)
    private static func put(_ value: SIMD16<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int, _ accumulate: Bool) {
        if count >= 16 {
            storeVector(accumulate ? value + loadVector(out, as: SIMD16<Float>.self) : value, to: out)
        } else {
            for lane in 0..<count {
                out[lane] = accumulate ? out[lane] + value[lane] : value[lane]
            }
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
            bp_transpose(a, rows, columns, lda, t, ldt, accumulate ? 1 : 0)
            return
        }
        pool.parallelFor(tasks) { task in
            let first = bands * task / tasks * 16, end = min(bands * (task + 1) / tasks * 16, rows)
            if first < end {
                bp_transpose(a + first * lda, end - first, columns, lda, t + first, ldt, accumulate ? 1 : 0)
            }
        }
    }
}
