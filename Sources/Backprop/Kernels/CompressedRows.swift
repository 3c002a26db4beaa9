import CBackpropSupport

/// The nonzero elements of a dense row-major matrix, row by row (compressed sparse rows).
///
/// Why it exists: MNIST-like inputs are mostly exact zeros (81% of MNIST's pixels are 0 after
/// scaling to [0, 1]), so the first layer's products `X·Wᵀ` and `dZᵀ·X` spend most of a dense
/// GEMM's multiply-adds on zeros. ``SparseGemm`` multiplies by this form instead, skipping them.
///
/// Each row has a slot of `columns` elements (row `i`'s stored elements are positions
/// `rowStarts[i] ..< rowEnds[i]`, with `rowStarts[i] = i · columns`), so the rows are filled in
/// one pass, without first counting them. Storage comes from a ``BufferPool`` and its size
/// depends on the shape only, so a training step asks the pool for the same size every time
/// and, after the first step, allocates nothing.
///
/// Semantics: an element is stored when it is not equal to zero, so NaN and ±∞ are stored
/// (they propagate as in the dense product) and −0 is dropped. Skipping a zero skips its `0 · w`
/// term: where a weight is ±∞ or NaN, the dense product has NaN and this one does not.
public final class CompressedRows {
    /// Rows of the dense matrix.
    public let rows: Int
    /// Columns of the dense matrix.
    public let columns: Int
    /// Stored elements.
    public private(set) var count: Int
    /// Where row `i`'s elements start: `i · columns`.
    public let rowStarts: UnsafeMutablePointer<Int32>
    /// Where row `i`'s elements end (exclusive).
    public let rowEnds: UnsafeMutablePointer<Int32>
    /// `rows + 1` running totals: rows `0 ..< i` hold `elementsBefore[i]` elements (for
    /// splitting rows over threads by work).
    public let elementsBefore: UnsafeMutablePointer<Int32>
    /// Column of each stored element, increasing within a row.
    public let indices: UnsafeMutablePointer<Int32>
    /// Value of each stored element, in the order of ``indices``.
    public let values: UnsafeMutablePointer<Float>
    /// `rows` positions for ``SparseGemm``'s chunked walk over the rows (scratch; each row's
    /// is touched only by the thread that multiplies that row).
    let cursors: UnsafeMutablePointer<Int32>
    private let storage: TensorStorage

    private init(rows: Int, columns: Int, pool: BufferPool) {
        self.rows = rows
        self.columns = columns
        self.count = 0
        let slots = rows * columns
        // Int32 and Float have the same size and alignment, so one float block holds all the
        // arrays; the Int32 parts are rebound to their type.
        storage = TensorStorage(capacity: 4 * rows + 1 + 2 * slots, pool: pool)
        let raw = UnsafeMutableRawPointer(storage.base)
        rowStarts = raw.bindMemory(to: Int32.self, capacity: rows)
        rowEnds = (raw + 4 * rows).bindMemory(to: Int32.self, capacity: rows)
        cursors = (raw + 8 * rows).bindMemory(to: Int32.self, capacity: rows)
        elementsBefore = (raw + 12 * rows).bindMemory(to: Int32.self, capacity: rows + 1)
        indices = (raw + 4 * (4 * rows + 1)).bindMemory(to: Int32.self, capacity: slots)
        values = (raw + 4 * (4 * rows + 1 + slots)).bindMemory(to: Float.self, capacity: slots)
    }

    deinit {
        // The pool hands this memory out again as floats: give it back bound to Float.
        _ = UnsafeMutableRawPointer(storage.base).bindMemory(to: Float.self, capacity: storage.capacity)
    }

    /// The nonzeros of `a` (`rows × columns`, row `i` at `a + i * lda`), or nil when more than
    /// `maximumDensity` of its elements are nonzero (the dense product is then the faster one) —
    /// or when 8 sampled rows (the same rows for any thread count) hold more than 1.25 ×
    /// `maximumDensity` of theirs, which may decline a batch just under the limit. Rows are
    /// compressed on `threads`, each thread a contiguous range of rows.
    public static func compressing(_ a: UnsafePointer<Float>, rows: Int, columns: Int, lda: Int,
                            maximumDensity: Double, pool: BufferPool = Backend.current.buffers,
                                   threads: ThreadPool?) -> CompressedRows? {
        precondition(rows >= 0 && columns >= 0 && lda >= columns)
        guard let limit = elementLimit(rows: rows, columns: columns, maximumDensity: maximumDensity) else { return nil }
        // A look at up to 8 rows first: a hidden layer's activations (sigmoid: all nonzero,
        // ReLU: about half) are declined after reading those, not after compressing most of the
        // batch. The sample is the same rows for any thread count, so the decision is too.
        let sampled = min(rows, 8)
        var sampledNonzeros = 0
        for s in 0..<sampled { sampledNonzeros += KernelTable.current.countNonzeros(a + (s * rows / sampled) * lda, columns) }
        guard Double(sampledNonzeros) <= 1.25 * maximumDensity * Double(sampled * columns) else { return nil }
        let tasks = rows * columns >= SparseGemm.minimumParallelWork / 4 ? min(threads?.threadCount ?? 1, rows) : 1
        let compressed = CompressedRows(rows: rows, columns: columns, pool: pool)
        let (starts, ends) = (compressed.rowStarts, compressed.rowEnds)
        let (indices, values) = (compressed.indices, compressed.values)
        // Each range stops once it alone holds more than the limit (then so does the whole).
        if tasks > 1, let threads {
            let declined = PoolAtomic()
            threads.parallelFor(tasks) { task in
                if KernelTable.current.compressRows(a, rows * task / tasks, rows * (task + 1) / tasks, columns, lda, columns,
                                    starts, ends, indices, values, limit) == 0 { declined.store(1) }
            }
            if declined.load() != 0 { return nil }
        } else if KernelTable.current.compressRows(a, 0, rows, columns, lda, columns, starts, ends, indices, values, limit) == 0 {
            return nil
        }
        return compressed.finish(limit: limit)
    }

    /// The nonzeros of `aᵀ`, for `a` of `rows × columns` (row `i` at `a + i * lda`): row `j`
    /// of the result is column `j` of `a`. The same elements in the same order as transposing
    /// `a` and compressing that, without writing the transpose (tiles of 16 × 16 are
    /// transposed in registers); nil when more than `maximumDensity` of the elements are
    /// nonzero. Columns are split over `threads` in bands of 16.
    public static func compressingColumns(_ a: UnsafePointer<Float>, rows: Int, columns: Int, lda: Int,
                                          maximumDensity: Double, pool: BufferPool = Backend.current.buffers,
                                          threads: ThreadPool?) -> CompressedRows? {
        precondition(rows >= 0 && columns >= 0 && lda >= columns)
        guard let limit = elementLimit(rows: rows, columns: columns, maximumDensity: maximumDensity) else { return nil }
        let bands = (columns + 15) / 16
        let tasks = rows * columns >= SparseGemm.minimumParallelWork / 4 ? min(threads?.threadCount ?? 1, bands) : 1
        let compressed = CompressedRows(rows: columns, columns: rows, pool: pool)
        let (starts, ends) = (compressed.rowStarts, compressed.rowEnds)
        let (indices, values) = (compressed.indices, compressed.values)
        if tasks > 1, let threads {
            threads.parallelFor(tasks) { task in
                let lower = bands * task / tasks * 16, upper = min(bands * (task + 1) / tasks * 16, columns)
                if lower < upper {
                    KernelTable.current.compressColumns(a, rows, lower, upper, lda, rows, starts, ends, indices, values)
                }
            }
        } else {
            KernelTable.current.compressColumns(a, rows, 0, columns, lda, rows, starts, ends, indices, values)
        }
        return compressed.finish(limit: limit)
    }

    /// The most elements a `rows × columns` matrix may keep at `maximumDensity`; nil when there
    /// is nothing to compress or the offsets would not fit Int32.
    private static func elementLimit(rows: Int, columns: Int, maximumDensity: Double) -> Int? {
        let limit = Int((Double(rows * columns) * maximumDensity).rounded(.up))
        guard rows * columns > 0, rows * columns < Int(Int32.max), limit > 0 else { return nil }
        return limit
    }

    /// Totals the rows' counts; nil when they exceed `limit`.
    private func finish(limit: Int) -> CompressedRows? {
        elementsBefore[0] = 0
        for i in 0..<rows { elementsBefore[i + 1] = elementsBefore[i] + (rowEnds[i] - rowStarts[i]) }
        let total = Int(elementsBefore[rows])
        guard total <= limit else { return nil }
        count = total
        return self
    }
}
