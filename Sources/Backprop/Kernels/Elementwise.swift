import CBackpropSupport

/// Elementwise and reduction kernels over raw buffers.
///
/// The fixed kernels (``fill(_:_:count:kernels:)``, ``axpy(_:_:_:count:kernels:)``, ``sum(_:count:kernels:)``,
/// ``dot(_:_:count:kernels:)``, ``columnSums(_:rows:columns:into:accumulate:kernels:)`` and the others
/// without a closure) are C, compiled once per instruction-set level and chosen at run time
/// (Sources/CBackpropSupport/kernels/elementwise.h, reached through ``KernelTable``): Swift has no
/// per-function target attribute, so its SIMD code compiles for SSE2 only, where every
/// `addingProduct` is a libm `fmaf` call per lane. Each takes `kernels` (default
/// ``KernelTable/current``) so tests can run every level in one process. Their operation order is
/// the one these loops had in Swift (fused multiply-adds where it wrote `addingProduct`, the same
/// accumulators, lanes summed in order), so the avx2 and avx512 levels give the same bits as each
/// other and as the Swift loops did when built with `-march=native`; the SSE2 baseline rounds
/// those multiply-adds twice.
///
/// The generic ``map(_:_:count:_:_:)``, ``zip(_:_:_:count:_:_:)``, ``zipRows(_:row:_:rows:columns:_:_:)``
/// and ``zipColumns(_:column:_:rows:columns:_:_:)`` take closures, so they stay Swift: 16-float
/// SIMD vectors with a scalar tail, the closures inlined into each caller. Their callers pass plain
/// arithmetic (no `addingProduct`), which SSE2 does in vector instructions. Inputs and outputs
/// may alias exactly (in place) but must not otherwise overlap.
public enum Elementwise {
    /// The vector the loops work in: 16 floats (four SSE2 registers, one AVX-512 register).
    public typealias V = SIMD16<Float>

    /// 16 floats from p (any alignment).
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    /// 16 floats to p (any alignment).
    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }

    /// y[i] = f(x[i]).
    @inline(__always)
    public static func map(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
        _ vector: (V) -> V, _ scalar: (Float) -> Float
    ) {
        var i = 0
        while i + 16 <= count {
            store(vector(load(x + i)), y + i)
            i += 16
        }
        while i < count {
            y[i] = scalar(x[i])
            i += 1
        }
    }

    /// c[i] = f(a[i], b[i]).
    @inline(__always)
    public static func zip(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        count: Int, _ vector: (V, V) -> V, _ scalar: (Float, Float) -> Float
    ) {
        var i = 0
        while i + 16 <= count {
            store(vector(load(a + i), load(b + i)), c + i)
            i += 16
        }
        while i < count {
            c[i] = scalar(a[i], b[i])
            i += 1
        }
    }

    /// y[i] = Float(x[i]) · scale: bytes (image pixels) to floats.
    public static func convertBytes(_ x: UnsafePointer<UInt8>, scale: Float, _ y: UnsafeMutablePointer<Float>, count: Int,
                                    kernels: KernelTable = .current) {
        kernels.table.pointee.rows.convert_bytes.unsafelyUnwrapped(x, scale, y, count)
    }

    /// c[r, j] = f(a[r, j], row[j]) for a row-major rows × columns matrix and a row vector.
    @inline(__always)
    public static func zipRows(
        _ a: UnsafePointer<Float>, row: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int, _ vector: (V, V) -> V, _ scalar: (Float, Float) -> Float
    ) {
        for r in 0..<rows {
            zip(a + r * columns, row, c + r * columns, count: columns, vector, scalar)
        }
    }

    /// c[r, j] = f(a[r, j], column[r]) for a row-major rows × columns matrix and a column vector.
    @inline(__always)
    public static func zipColumns(
        _ a: UnsafePointer<Float>, column: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int, _ vector: (V, V) -> V, _ scalar: (Float, Float) -> Float
    ) {
        for r in 0..<rows {
            let s = column[r]
            let sv = V(repeating: s)
            let ar = a + r * columns, cr = c + r * columns
            var i = 0
            while i + 16 <= columns {
                store(vector(load(ar + i), sv), cr + i)
                i += 16
            }
            while i < columns {
                cr[i] = scalar(ar[i], s)
                i += 1
            }
        }
    }

    /// √x lane by lane, correctly rounded (IEEE 754), in vector instructions only.
    ///
    /// Why not `SIMD16.squareRoot()`: it is a loop over lanes calling `Float.squareRoot()`,
    /// which lowers to `sqrtf` with an errno check, so LLVM keeps it scalar (16 square roots,
    /// lane inserts and stack spills per vector). The C helper is one vector square root
    /// (sqrtps: four of them at SSE2, which is what Swift code compiles for), inlined here.
    @inline(__always)
    public static func squareRoot(_ x: V) -> V { bp_square_root16(x) }

    /// p[i] = value.
    public static func fill(_ p: UnsafeMutablePointer<Float>, _ value: Float, count: Int, kernels: KernelTable = .current) {
        kernels.table.pointee.rows.fill.unsafelyUnwrapped(p, value, count)
    }

    /// y[i] += alpha · x[i]: one rounding (fused) in whole 16-float vectors where the level has
    /// FMA, separate multiply and add in the last `count % 16` elements.
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                            kernels: KernelTable = .current) {
        kernels.table.pointee.rows.axpy.unsafelyUnwrapped(alpha, x, y, count)
    }

    /// y[i] = alpha · x[i] (y may be x).
    public static func scale(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                             kernels: KernelTable = .current) {
        kernels.table.pointee.rows.scale.unsafelyUnwrapped(alpha, x, y, count)
    }

    /// Σ x[i]: two 16-lane float accumulators, their lanes added in order, then the last
    /// `count % 16` elements in `Double`.
    public static func sum(_ x: UnsafePointer<Float>, count: Int, kernels: KernelTable = .current) -> Float {
        kernels.table.pointee.rows.sum.unsafelyUnwrapped(x, count)
    }

    /// Σ x[i]·y[i]: two 16-lane accumulators of fused multiply-adds (two roundings each at the
    /// baseline level), their lanes added in order, then the last `count % 16` products.
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int,
                           kernels: KernelTable = .current) -> Float {
        kernels.table.pointee.rows.dot.unsafelyUnwrapped(x, y, count)
    }

    /// out[j] (+)= Σ_r x[r, j]: column sums of a row-major rows × columns matrix, added in row
    /// order. With `accumulate` the sums are added to `out`, otherwise they overwrite it.
    public static func columnSums(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int,
        into out: UnsafeMutablePointer<Float>, accumulate: Bool, kernels: KernelTable = .current
    ) {
        kernels.table.pointee.rows.column_sums.unsafelyUnwrapped(x, rows, columns, out, accumulate ? 1 : 0)
    }

    /// out[r] = Σ_j x[r, j], each row as ``sum(_:count:kernels:)``.
    public static func rowSums(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>,
                               kernels: KernelTable = .current) {
        kernels.table.pointee.rows.row_sums.unsafelyUnwrapped(x, rows, columns, out)
    }

    /// The largest element of x[0..<count] and its first index; NaN counts as largest (the
    /// first NaN is returned).
    public static func maxIndex(_ x: UnsafePointer<Float>, count: Int,
                                kernels: KernelTable = .current) -> (value: Float, index: Int) {
        precondition(count > 0, "Elementwise.maxIndex: empty input")
        let at = kernels.table.pointee.rows.max_index.unsafelyUnwrapped(x, count)
        return (x[at], at)
    }

    /// Copies a rows × columns matrix into its transpose (columns × rows): the same 16 × 16
    /// tile kernel as the sparse-input path (``SparseGemm/transpose(_:rows:columns:lda:into:ldt:accumulate:pool:)``),
    /// on the calling thread.
    public static func transpose(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, into y: UnsafeMutablePointer<Float>
    ) {
        guard rows > 0, columns > 0 else { return }
        KernelTable.current.transpose(x, rows, columns, columns, y, rows, 0)
    }
}
