// The unrolled rows below follow one pattern; change them all alike. Accumulators are separate
// locals, never an array or tuple, so the optimizer keeps each in a register.

/// The AVX2 + FMA shape: 6 rows × 16 columns, 12 `SIMD8<Float>` accumulators (ymm registers).
///
/// Why 6 × 16: AVX2 has 16 vector registers; 12 accumulators + 2 B vectors + 1 broadcast fit
/// without spilling, whereas a 16-wide kernel would need 32 ymm registers.
enum AVX2Kernel: GemmMicroKernel {
    static var mr: Int { 6 }
    static var nr: Int { 16 }
    static var vectorWidth: Int { 8 }

    /// 6 × 16: 12 accumulators.
    @inline(__always)
    static func full(_ tile: MicroTile, aRowStride: Int, aDepthStride: Int) {
        var c00 = SIMD8<Float>(); var c01 = SIMD8<Float>()
        var c10 = SIMD8<Float>(); var c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(); var c21 = SIMD8<Float>()
        var c30 = SIMD8<Float>(); var c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(); var c41 = SIMD8<Float>()
        var c50 = SIMD8<Float>(); var c51 = SIMD8<Float>()
        var pa = tile.a
        var pb = tile.b
        let bStride = tile.bDepthStride
        for _ in 0..<tile.kc {
            let b0: SIMD8<Float> = loadVector(pb + 0, as: SIMD8<Float>.self)
            let b1: SIMD8<Float> = loadVector(pb + 8, as: SIMD8<Float>.self)
            let a0 = SIMD8<Float>(repeating: pa[0])
            c00 = c00.addingProduct(a0, b0); c01 = c01.addingProduct(a0, b1)
            let a1 = SIMD8<Float>(repeating: pa[aRowStride])
            c10 = c10.addingProduct(a1, b0); c11 = c11.addingProduct(a1, b1)
            let a2 = SIMD8<Float>(repeating: pa[2 * aRowStride])
            c20 = c20.addingProduct(a2, b0); c21 = c21.addingProduct(a2, b1)
            let a3 = SIMD8<Float>(repeating: pa[3 * aRowStride])
            c30 = c30.addingProduct(a3, b0); c31 = c31.addingProduct(a3, b1)
            let a4 = SIMD8<Float>(repeating: pa[4 * aRowStride])
            c40 = c40.addingProduct(a4, b0); c41 = c41.addingProduct(a4, b1)
            let a5 = SIMD8<Float>(repeating: pa[5 * aRowStride])
            c50 = c50.addingProduct(a5, b0); c51 = c51.addingProduct(a5, b1)
            pa += aDepthStride
            pb += bStride
        }
        writeRow(tile, row: 0, c00, c01)
        writeRow(tile, row: 1, c10, c11)
        writeRow(tile, row: 2, c20, c21)
        writeRow(tile, row: 3, c30, c31)
        writeRow(tile, row: 4, c40, c41)
        writeRow(tile, row: 5, c50, c51)
    }

    /// 6 × 8: the right-hand edge.
    @inline(__always)
    static func half(_ tile: MicroTile, aRowStride: Int, aDepthStride: Int) {
        var c00 = SIMD8<Float>()
        var c10 = SIMD8<Float>()
        var c20 = SIMD8<Float>()
        var c30 = SIMD8<Float>()
        var c40 = SIMD8<Float>()
        var c50 = SIMD8<Float>()
        var pa = tile.a
        var pb = tile.b
        let bStride = tile.bDepthStride
        for _ in 0..<tile.kc {
            let b0: SIMD8<Float> = loadVector(pb + 0, as: SIMD8<Float>.self)
            let a0 = SIMD8<Float>(repeating: pa[0])
            c00 = c00.addingProduct(a0, b0)
            let a1 = SIMD8<Float>(repeating: pa[aRowStride])
            c10 = c10.addingProduct(a1, b0)
            let a2 = SIMD8<Float>(repeating: pa[2 * aRowStride])
            c20 = c20.addingProduct(a2, b0)
            let a3 = SIMD8<Float>(repeating: pa[3 * aRowStride])
            c30 = c30.addingProduct(a3, b0)
            let a4 = SIMD8<Float>(repeating: pa[4 * aRowStride])
            c40 = c40.addingProduct(a4, b0)
            let a5 = SIMD8<Float>(repeating: pa[5 * aRowStride])
            c50 = c50.addingProduct(a5, b0)
            pa += aDepthStride
            pb += bStride
        }
        writeRow(tile, row: 0, c00)
        writeRow(tile, row: 1, c10)
        writeRow(tile, row: 2, c20)
        writeRow(tile, row: 3, c30)
        writeRow(tile, row: 4, c40)
        writeRow(tile, row: 5, c50)
    }
}
