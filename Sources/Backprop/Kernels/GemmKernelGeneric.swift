// The unrolled rows below follow one pattern; change them all alike. Accumulators are separate
// locals, never an array or tuple, so the optimizer keeps each in a register.

/// The portable shape for 128-bit vectors (NEON, SSE): 8 rows × 8 columns, 16 `SIMD4<Float>`
/// accumulators.
///
/// Why 8 × 8: arm64 has 32 NEON registers; 16 accumulators + 2 B vectors + a broadcast fit with
/// room to spare, and each `k` step does 16 FMAs for 2 loads and 8 broadcasts.
enum GenericKernel: GemmMicroKernel {
    static var mr: Int { 8 }
    static var nr: Int { 8 }
    static var vectorWidth: Int { 4 }

    /// 8 × 8: 16 accumulators.
    @inline(__always)
    static func full(_ tile: MicroTile, aRowStride: Int, aDepthStride: Int) {
        var c00 = SIMD4<Float>(); var c01 = SIMD4<Float>()
        var c10 = SIMD4<Float>(); var c11 = SIMD4<Float>()
        var c20 = SIMD4<Float>(); var c21 = SIMD4<Float>()
        var c30 = SIMD4<Float>(); var c31 = SIMD4<Float>()
        var c40 = SIMD4<Float>(); var c41 = SIMD4<Float>()
        var c50 = SIMD4<Float>(); var c51 = SIMD4<Float>()
        var c60 = SIMD4<Float>(); var c61 = SIMD4<Float>()
        var c70 = SIMD4<Float>(); var c71 = SIMD4<Float>()
        var pa = tile.a
        var pb = tile.b
        let bStride = tile.bDepthStride
        for _ in 0..<tile.kc {
            let b0: SIMD4<Float> = loadVector(pb + 0, as: SIMD4<Float>.self)
            let b1: SIMD4<Float> = loadVector(pb + 4, as: SIMD4<Float>.self)
            let a0 = SIMD4<Float>(repeating: pa[0])
            c00 = c00.addingProduct(a0, b0); c01 = c01.addingProduct(a0, b1)
            let a1 = SIMD4<Float>(repeating: pa[aRowStride])
            c10 = c10.addingProduct(a1, b0); c11 = c11.addingProduct(a1, b1)
            let a2 = SIMD4<Float>(repeating: pa[2 * aRowStride])
            c20 = c20.addingProduct(a2, b0); c21 = c21.addingProduct(a2, b1)
            let a3 = SIMD4<Float>(repeating: pa[3 * aRowStride])
            c30 = c30.addingProduct(a3, b0); c31 = c31.addingProduct(a3, b1)
            let a4 = SIMD4<Float>(repeating: pa[4 * aRowStride])
            c40 = c40.addingProduct(a4, b0); c41 = c41.addingProduct(a4, b1)
            let a5 = SIMD4<Float>(repeating: pa[5 * aRowStride])
            c50 = c50.addingProduct(a5, b0); c51 = c51.addingProduct(a5, b1)
            let a6 = SIMD4<Float>(repeating: pa[6 * aRowStride])
            c60 = c60.addingProduct(a6, b0); c61 = c61.addingProduct(a6, b1)
            let a7 = SIMD4<Float>(repeating: pa[7 * aRowStride])
            c70 = c70.addingProduct(a7, b0); c71 = c71.addingProduct(a7, b1)
            pa += aDepthStride
            pb += bStride
        }
        writeRow(tile, row: 0, c00, c01)
        writeRow(tile, row: 1, c10, c11)
        writeRow(tile, row: 2, c20, c21)
        writeRow(tile, row: 3, c30, c31)
        writeRow(tile, row: 4, c40, c41)
        writeRow(tile, row: 5, c50, c51)
        writeRow(tile, row: 6, c60, c61)
        writeRow(tile, row: 7, c70, c71)
    }

    /// 8 × 4: the right-hand edge.
    @inline(__always)
    static func half(_ tile: MicroTile, aRowStride: Int, aDepthStride: Int) {
        var c00 = SIMD4<Float>()
        var c10 = SIMD4<Float>()
        var c20 = SIMD4<Float>()
        var c30 = SIMD4<Float>()
        var c40 = SIMD4<Float>()
        var c50 = SIMD4<Float>()
        var c60 = SIMD4<Float>()
        var c70 = SIMD4<Float>()
        var pa = tile.a
        var pb = tile.b
        let bStride = tile.bDepthStride
        for _ in 0..<tile.kc {
            let b0: SIMD4<Float> = loadVector(pb + 0, as: SIMD4<Float>.self)
            let a0 = SIMD4<Float>(repeating: pa[0])
            c00 = c00.addingProduct(a0, b0)
            let a1 = SIMD4<Float>(repeating: pa[aRowStride])
            c10 = c10.addingProduct(a1, b0)
            let a2 = SIMD4<Float>(repeating: pa[2 * aRowStride])
            c20 = c20.addingProduct(a2, b0)
            let a3 = SIMD4<Float>(repeating: pa[3 * aRowStride])
            c30 = c30.addingProduct(a3, b0)
            let a4 = SIMD4<Float>(repeating: pa[4 * aRowStride])
            c40 = c40.addingProduct(a4, b0)
            let a5 = SIMD4<Float>(repeating: pa[5 * aRowStride])
            c50 = c50.addingProduct(a5, b0)
            let a6 = SIMD4<Float>(repeating: pa[6 * aRowStride])
            c60 = c60.addingProduct(a6, b0)
            let a7 = SIMD4<Float>(repeating: pa[7 * aRowStride])
            c70 = c70.addingProduct(a7, b0)
            pa += aDepthStride
            pb += bStride
        }
        writeRow(tile, row: 0, c00)
        writeRow(tile, row: 1, c10)
        writeRow(tile, row: 2, c20)
        writeRow(tile, row: 3, c30)
        writeRow(tile, row: 4, c40)
        writeRow(tile, row: 5, c50)
        writeRow(tile, row: 6, c60)
        writeRow(tile, row: 7, c70)
    }
}
