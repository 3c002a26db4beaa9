import CBackpropSupport
/// Vectorized elementwise and reduction kernels over raw buffers.
///
/// Every loop here runs on 16-float SIMD vectors with a scalar tail; the closures are inlined
/// into each caller, so each public kernel compiles to one tight loop. Inputs and outputs may
/// alias exactly (in place) but must not otherwise overlap.
public enum Elementwise {
    public typealias V = SIMD16<Float>

    // The vector load and store are VectorMath's; these names keep the loops below short.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { VectorMath.load(p) }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { VectorMath.store(v, p) }

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

    /// y[i] = Float(x[i]) · scale: bytes (image pixels) to floats, 16 at a time.
    public static func convertBytes(_ x: UnsafePointer<UInt8>, scale: Float, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let s = V(repeating: scale)
        var i = 0
        while i + 16 <= count {
            // Lane by lane: LLVM turns this into one zero-extending load and one conversion
            // (vpmovzxbd + vcvtdq2ps); the generic SIMD conversion initializers stay calls.
            var v = V()
            for k in 0..<16 { v[k] = Float(x[i + k]) }
            store(v * s, y + i)
            i += 16
        }
        while i < count {
            y[i] = Float(x[i]) * scale
            i += 1
        }
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
    /// (vsqrtps), inlined here. An earlier Newton iteration from a bit-trick estimate took ~20
    /// vector operations and left Adam's loop split into 128-bit pieces.
    @inline(__always)
    public static func squareRoot(_ x: V) -> V { bp_square_root16(x) }

    /// p[i] = value.
    public static func fill(_ p: UnsafeMutablePointer<Float>, _ value: Float, count: Int) {
        let v = V(repeating: value)
        var i = 0
        while i + 16 <= count {
            store(v, p + i)
            i += 16
        }
        while i < count {
            p[i] = value
            i += 1
        }
    }

    /// y[i] += alpha · x[i].
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let av = V(repeating: alpha)
        zip(x, UnsafePointer(y), y, count: count, { $1.addingProduct(av, $0) }, { $1 + alpha * $0 })
    }

    /// y[i] = alpha · x[i].
    public static func scale(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let av = V(repeating: alpha)
        map(x, y, count: count, { $0 * av }, { $0 * alpha })
    }

    /// Σ x[i], accumulated in 16 float lanes then in `Double` across lanes.
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = V(), acc1 = V()
        var i = 0
        while i + 32 <= count {
            acc0 += load(x + i)
            acc1 += load(x + i + 16)
            i += 32
        }
        while i + 16 <= count {
            acc0 += load(x + i)
            i += 16
        }
        var total = Double((acc0 + acc1).sum())
        while i < count {
            total += Double(x[i])
            i += 1
        }
        return Float(total)
    }

    /// Σ x[i]·y[i].
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = V(), acc1 = V()
        var i = 0
        while i + 32 <= count {
            acc0.addProduct(load(x + i), load(y + i))
            acc1.addProduct(load(x + i + 16), load(y + i + 16))
            i += 32
        }
        while i + 16 <= count {
            acc0.addProduct(load(x + i), load(y + i))
            i += 16
        }
        var total = (acc0 + acc1).sum()
        while i < count {
            total += x[i] * y[i]
            i += 1
        }
        return total
    }

    /// out[j] (+)= Σ_r x[r, j]: column sums of a row-major rows × columns matrix.
    /// With `accumulate` the sums are added to `out`, otherwise they overwrite it.
    public static func columnSums(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int,
        into out: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        if !accumulate { fill(out, 0, count: columns) }
        for r in 0..<rows {
            let xr = x + r * columns
            zip(xr, UnsafePointer(out), out, count: columns, { $0 + $1 }, { $0 + $1 })
        }
    }

    /// out[r] = Σ_j x[r, j].
    public static func rowSums(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { out[r] = sum(x + r * columns, count: columns) }
    }

    /// The largest element of x[0..<count] and its first index; NaN counts as largest.
    public static func maxIndex(_ x: UnsafePointer<Float>, count: Int) -> (value: Float, index: Int) {
        precondition(count > 0, "Elementwise.maxIndex: empty input")
        var best = x[0], at = 0
        if best.isNaN { return (best, 0) }
        for i in 1..<count {
            let v = x[i]
            if v.isNaN { return (v, i) }
            if v > best { best = v; at = i }
        }
        return (best, at)
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
