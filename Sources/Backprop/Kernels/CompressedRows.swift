import CBackpropSupport

/// The nonzero elements of a dense row-major matrix, row by row (compressed sparse rows).
///
/// Why it exists: MNIST-like inputs are mostly exact zeros (81% of MNIST's pixels are 0 after
/// scaling to [0, 1]), so the first layer's products `X·Wᵀ` and `dZᵀ·X` spend most of a dense
/// GEMM's multiply-adds on zeros. ``SparseGemm`` multiplies by this form instead, skipping them.
///
/// Storage comes from a ``BufferPool`` (one block for starts, indices and values), sized by the
/// *largest* nonzero count the caller accepts rather than the actual one, so a training step asks
/// the pool for the same size every time and, after the first step, allocates nothing.
///
/// Semantics: an element is stored when it is not equal to zero, so NaN and ±∞ are stored
/// (they propagate as in the dense product) and −0 is dropped. Skipping a zero skips its `0 · w`
/// term: where a weight is ±∞ or NaN, the dense product has NaN and this one does not.
public final class CompressedRows {
    public let rows: Int
    public let columns: Int
    /// Stored elements.
    public private(set) var count: Int
    /// Room for elements (the same for every batch of one shape, so pool sizes repeat).
    public let capacity: Int
    /// `rows + 1` offsets: row `i`'s elements are `rowStarts[i] ..< rowStarts[i + 1]`.
    public let rowStarts: UnsafeMutablePointer<Int32>
    /// Column of each stored element, increasing within a row.
    public let indices: UnsafeMutablePointer<Int32>
    public let values: UnsafeMutablePointer<Float>
    /// `rows` positions for ``SparseGemm``'s chunked walk over the rows (scratch; each row's
    /// is touched only by the thread that multiplies that row).
    let cursors: UnsafeMutablePointer<Int32>
    private let storage: TensorStorage

    /// Room for `capacity` elements.
    private init(rows: Int, columns: Int, capacity: Int, pool: BufferPool) {
        self.rows = rows
        self.columns = columns
        self.count = 0
        self.capacity = capacity
        // Int32 and Float have the same size and alignment, so one float block holds all four
        // arrays; the Int32 parts are rebound to their type.
        storage = TensorStorage(capacity: rows + 1 + 2 * capacity + rows, pool: pool)
        let raw = UnsafeMutableRawPointer(storage.base)
        rowStarts = raw.bindMemory(to: Int32.self, capacity: rows + 1)
        indices = (raw + 4 * (rows + 1)).bindMemory(to: Int32.self, capacity: capacity)
        values = (raw + 4 * (rows + 1 + capacity)).bindMemory(to: Float.self, capacity: capacity)
        cursors = (raw + 4 * (rows + 1 + 2 * capacity)).bindMemory(to: Int32.self, capacity: rows)
    }

    deinit {
        // The pool hands this memory out again as floats: give it back bound to Float.
        _ = UnsafeMutableRawPointer(storage.base).bindMemory(to: Float.self, capacity: storage.capacity)
    }

    /// The capacity used for a `rows × columns` matrix of at most `maximumDensity` nonzeros.
    public static func capacity(rows: Int, columns: Int, maximumDensity: Double) -> Int {
        Int((Double(rows * columns) * maximumDensity).rounded(.up))
    }

    /// The nonzeros of `a` (`rows × columns`, row `i` at `a + i * lda`), or nil when more than
    /// `maximumDensity` of its elements are nonzero (the dense product is then the faster one).
    /// Rows are counted and filled on `threads`, each thread a contiguous range of rows.
    public static func compressing(_ a: UnsafePointer<Float>, rows: Int, columns: Int, lda: Int,
                            maximumDensity: Double, pool: BufferPool = Backend.current.buffers,
                                   threads: ThreadPool?) -> CompressedRows? {
        precondition(rows >= 0 && columns >= 0 && lda >= columns)
        let capacity = capacity(rows: rows, columns: columns, maximumDensity: maximumDensity)
        guard rows * columns > 0, rows * columns < Int(Int32.max), capacity > 0 else { return nil }
        let tasks = rows * columns >= SparseGemm.minimumParallelWork / 4 ? min(threads?.threadCount ?? 1, rows) : 1
        func forEachRange(_ body: (Range<Int>) -> Void) {
            if tasks > 1, let threads {
                threads.parallelFor(tasks) { task in body(rows * task / tasks ..< rows * (task + 1) / tasks) }
            } else {
                body(0..<rows)
            }
        }
        let scratch = CompressedRows(rows: rows, columns: columns, capacity: capacity, pool: pool)
        let starts = scratch.rowStarts
        forEachRange { range in
            bp_count_nonzeros(a + range.lowerBound * lda, range.count, columns, lda, starts + range.lowerBound + 1)
        }
        starts[0] = 0
        for i in 0..<rows { starts[i + 1] += starts[i] }
        let count = Int(starts[rows])
        guard count <= capacity else { return nil }
        scratch.count = count
        forEachRange { range in
            bp_compress_rows(a + range.lowerBound * lda, range.count, columns, lda, starts + range.lowerBound,
                             scratch.indices, scratch.values)
        }
        return scratch
    }
}
