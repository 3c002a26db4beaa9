/// The operands of one register-blocked micro-kernel call: an `mr × kc` sliver of op(A) times a
/// `kc × nr` sliver of op(B), written into an `mr × nr` tile of C (only `rows × cols` of it).
///
/// Why strides instead of a packed layout only: A is read in place whenever it already has one
/// unit stride (row-major A walks along `k` with stride 1, transposed A walks along `m` with
/// stride 1), which saves the packing pass that dominates small and medium problems. The
/// micro-kernels are `@inline(__always)` so the driver's call sites, which pass a literal `1` for
/// the unit stride, get a specialized loop with immediate address offsets.
///
/// The A sliver must have `mr` readable rows and the B sliver `nr` (or `nr / 2` for the half
/// kernel) readable columns: the driver pads edges into scratch buffers, so kernels never branch
/// on edges inside the `k` loop.
struct MicroTile {
    /// Depth of the product.
    var kc: Int
    /// Element (i, p) of the A sliver is `a[i * aRowStride + p * aDepthStride]`.
    var a: UnsafePointer<Float>
    var aRowStride: Int
    var aDepthStride: Int
    /// Element (p, j) of the B sliver is `b[p * bDepthStride + j]` (columns contiguous).
    var b: UnsafePointer<Float>
    var bDepthStride: Int
    /// Top-left element of the C tile, row-major with leading dimension `ldc`.
    var c: UnsafeMutablePointer<Float>
    var ldc: Int
    /// How much of the computed `mr × nr` tile lies inside C.
    var rows: Int
    var cols: Int
    var alpha: Float
    /// 0 overwrites C without reading it; anything else reads C.
    var beta: Float
}

/// One register-blocking shape for one vector ISA.
///
/// Each conforming type keeps its accumulators in separate local variables, not arrays or
/// tuples: the optimizer then keeps every accumulator in a register for the whole `k` loop.
protocol GemmMicroKernel {
    /// Rows of C computed per call.
    static var mr: Int { get }
    /// Columns of C computed per full-width call; a multiple of 16 or of the vector width.
    static var nr: Int { get }
    /// Floats per vector; the transposing packer uses blocks of this size.
    static var vectorWidth: Int { get }
    /// Computes an `mr × nr` tile.
    static func full(_ tile: MicroTile, aRowStride: Int, aDepthStride: Int)
    /// Computes an `mr × (nr / 2)` tile: the right-hand edge when few columns remain.
    static func half(_ tile: MicroTile, aRowStride: Int, aDepthStride: Int)
    /// Computes an `(mr / 2) × nr` tile: the bottom edge when few rows remain (M = 60 = 7 · 8 + 4
    /// would otherwise spend an eighth of its time on padding).
    static func fullShort(_ tile: MicroTile, aRowStride: Int, aDepthStride: Int)
    /// Computes an `(mr / 2) × (nr / 2)` tile.
    static func halfShort(_ tile: MicroTile, aRowStride: Int, aDepthStride: Int)
}

// MARK: - Loads and stores shared by the kernels

@inline(__always)
func loadVector<V: SIMD>(_ pointer: UnsafePointer<Float>, as type: V.Type) -> V where V.Scalar == Float {
    UnsafeRawPointer(pointer).loadUnaligned(as: V.self)
}

@inline(__always)
func storeVector<V: SIMD>(_ value: V, to pointer: UnsafeMutablePointer<Float>) where V.Scalar == Float {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: V.self)
}

/// `c[0..<V.scalarCount] = alpha * v + beta * c`, not reading C when beta is 0.
@inline(__always)
func updateVector<V: SIMD>(_ pointer: UnsafeMutablePointer<Float>, _ value: V, alpha: Float, beta: Float)
where V.Scalar == Float {
    if beta == 0 {
        storeVector(value * alpha, to: pointer)
    } else {
        let old: V = loadVector(pointer, as: V.self)
        storeVector((value * alpha).addingProduct(old, beta), to: pointer)
    }
}

/// Writes one row of an edge tile: the first `cols` lanes of `values` (laid out in `scratch`).
@inline(__always)
func updatePartialRow(_ c: UnsafeMutablePointer<Float>, _ scratch: UnsafePointer<Float>, cols: Int,
                      alpha: Float, beta: Float) {
    if beta == 0 {
        for j in 0..<cols { c[j] = alpha * scratch[j] }
    } else {
        for j in 0..<cols { c[j] = alpha * scratch[j] + beta * c[j] }
    }
}

/// Writes a computed tile row made of two vectors: straight into C when the whole tile is inside
/// C, else through a scratch row and a scalar copy of the columns that exist.
@inline(__always)
func writeRow<V: SIMD>(_ tile: MicroTile, row: Int, _ v0: V, _ v1: V) where V.Scalar == Float {
    guard row < tile.rows else { return }
    let c = tile.c + row * tile.ldc
    let width = V.scalarCount
    if tile.cols == 2 * width {
        updateVector(c, v0, alpha: tile.alpha, beta: tile.beta)
        updateVector(c + width, v1, alpha: tile.alpha, beta: tile.beta)
    } else {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * width) { scratch in
            let base = scratch.baseAddress.unsafelyUnwrapped
            storeVector(v0, to: base)
            storeVector(v1, to: base + width)
            updatePartialRow(c, base, cols: tile.cols, alpha: tile.alpha, beta: tile.beta)
        }
    }
}

/// Single-vector variant of ``writeRow(_:row:_:_:)`` for the half kernels.
@inline(__always)
func writeRow<V: SIMD>(_ tile: MicroTile, row: Int, _ v0: V) where V.Scalar == Float {
    guard row < tile.rows else { return }
    let c = tile.c + row * tile.ldc
    if tile.cols == V.scalarCount {
        updateVector(c, v0, alpha: tile.alpha, beta: tile.beta)
    } else {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: V.scalarCount) { scratch in
            let base = scratch.baseAddress.unsafelyUnwrapped
            storeVector(v0, to: base)
            updatePartialRow(c, base, cols: tile.cols, alpha: tile.alpha, beta: tile.beta)
        }
    }
}
