// The unrolled rows below follow one pattern; change them all alike. Accumulators are separate
// locals, never an array or tuple, so the optimizer keeps each in a register.

/// The portable shape for 128-bit vectors (NEON, SSE): 8 rows × 8 columns, 16 `SIMD4<Float>`
/// accumulators.
///
/// Why 8 × 8: arm64 has 32 NEON registers; 16 accumulators + 2 B vectors + a broadcast fit with
/// room to spare, and each `k` step does 16 FMAs for 2 loads and 8 broadcasts.
@usableFromInline
enum GenericKernel: GemmMicroKernel {
    @usableFromInline static var mr: Int { 8 }
    @usableFromInline static var nr: Int { 8 }
    @usableFromInline static var vectorWidth: Int { 4 }

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
        // Load the C tile before the k loop when it will be read anyway (beta != 0): its cache
        // misses then overlap the arithmetic instead of stalling the write-back (C of a large
        // problem is re-read once per depth chunk and lives in L3 or DRAM by then).
        let preload = tile.beta != 0 && tile.rows == 8 && tile.cols == 8
        var o00 = SIMD4<Float>(); var o01 = SIMD4<Float>()
        var o10 = SIMD4<Float>(); var o11 = SIMD4<Float>()
        var o20 = SIMD4<Float>(); var o21 = SIMD4<Float>()
        var o30 = SIMD4<Float>(); var o31 = SIMD4<Float>()
        var o40 = SIMD4<Float>(); var o41 = SIMD4<Float>()
        var o50 = SIMD4<Float>(); var o51 = SIMD4<Float>()
        var o60 = SIMD4<Float>(); var o61 = SIMD4<Float>()
        var o70 = SIMD4<Float>(); var o71 = SIMD4<Float>()
        if preload {
            let row0 = tile.c + 0 * tile.ldc
            o00 = loadVector(row0 + 0, as: SIMD4<Float>.self); o01 = loadVector(row0 + 4, as: SIMD4<Float>.self)
            let row1 = tile.c + 1 * tile.ldc
            o10 = loadVector(row1 + 0, as: SIMD4<Float>.self); o11 = loadVector(row1 + 4, as: SIMD4<Float>.self)
            let row2 = tile.c + 2 * tile.ldc
            o20 = loadVector(row2 + 0, as: SIMD4<Float>.self); o21 = loadVector(row2 + 4, as: SIMD4<Float>.self)
            let row3 = tile.c + 3 * tile.ldc
            o30 = loadVector(row3 + 0, as: SIMD4<Float>.self); o31 = loadVector(row3 + 4, as: SIMD4<Float>.self)
            let row4 = tile.c + 4 * tile.ldc
            o40 = loadVector(row4 + 0, as: SIMD4<Float>.self); o41 = loadVector(row4 + 4, as: SIMD4<Float>.self)
            let row5 = tile.c + 5 * tile.ldc
            o50 = loadVector(row5 + 0, as: SIMD4<Float>.self); o51 = loadVector(row5 + 4, as: SIMD4<Float>.self)
            let row6 = tile.c + 6 * tile.ldc
            o60 = loadVector(row6 + 0, as: SIMD4<Float>.self); o61 = loadVector(row6 + 4, as: SIMD4<Float>.self)
            let row7 = tile.c + 7 * tile.ldc
            o70 = loadVector(row7 + 0, as: SIMD4<Float>.self); o71 = loadVector(row7 + 4, as: SIMD4<Float>.self)
        }
        var pb = tile.b
        let bStride = tile.bDepthStride
        if aDepthStride == 1 {
            // Row-major A read in place: one pointer per row, all indexed by p, so no
            // serial chain of address additions limits the loop.
            let r0 = tile.a + 0 * aRowStride
            let r1 = tile.a + 1 * aRowStride
            let r2 = tile.a + 2 * aRowStride
            let r3 = tile.a + 3 * aRowStride
            let r4 = tile.a + 4 * aRowStride
            let r5 = tile.a + 5 * aRowStride
            let r6 = tile.a + 6 * aRowStride
            let r7 = tile.a + 7 * aRowStride
            for p in 0..<tile.kc {
                let b0: SIMD4<Float> = loadVector(pb + 0, as: SIMD4<Float>.self)
                let b1: SIMD4<Float> = loadVector(pb + 4, as: SIMD4<Float>.self)
                let a0 = SIMD4<Float>(repeating: r0[p])
                c00 = c00.addingProduct(a0, b0); c01 = c01.addingProduct(a0, b1)
                let a1 = SIMD4<Float>(repeating: r1[p])
                c10 = c10.addingProduct(a1, b0); c11 = c11.addingProduct(a1, b1)
                let a2 = SIMD4<Float>(repeating: r2[p])
                c20 = c20.addingProduct(a2, b0); c21 = c21.addingProduct(a2, b1)
                let a3 = SIMD4<Float>(repeating: r3[p])
                c30 = c30.addingProduct(a3, b0); c31 = c31.addingProduct(a3, b1)
                let a4 = SIMD4<Float>(repeating: r4[p])
                c40 = c40.addingProduct(a4, b0); c41 = c41.addingProduct(a4, b1)
                let a5 = SIMD4<Float>(repeating: r5[p])
                c50 = c50.addingProduct(a5, b0); c51 = c51.addingProduct(a5, b1)
                let a6 = SIMD4<Float>(repeating: r6[p])
                c60 = c60.addingProduct(a6, b0); c61 = c61.addingProduct(a6, b1)
                let a7 = SIMD4<Float>(repeating: r7[p])
                c70 = c70.addingProduct(a7, b0); c71 = c71.addingProduct(a7, b1)
                pb += bStride
            }
        } else {
            // Packed or transposed A: the rows of one depth step are adjacent.
            precondition(aRowStride == 1)
            var pa = tile.a
            for _ in 0..<tile.kc {
                let b0: SIMD4<Float> = loadVector(pb + 0, as: SIMD4<Float>.self)
                let b1: SIMD4<Float> = loadVector(pb + 4, as: SIMD4<Float>.self)
                let a0 = SIMD4<Float>(repeating: pa[0])
                c00 = c00.addingProduct(a0, b0); c01 = c01.addingProduct(a0, b1)
                let a1 = SIMD4<Float>(repeating: pa[1])
                c10 = c10.addingProduct(a1, b0); c11 = c11.addingProduct(a1, b1)
                let a2 = SIMD4<Float>(repeating: pa[2])
                c20 = c20.addingProduct(a2, b0); c21 = c21.addingProduct(a2, b1)
                let a3 = SIMD4<Float>(repeating: pa[3])
                c30 = c30.addingProduct(a3, b0); c31 = c31.addingProduct(a3, b1)
                let a4 = SIMD4<Float>(repeating: pa[4])
                c40 = c40.addingProduct(a4, b0); c41 = c41.addingProduct(a4, b1)
                let a5 = SIMD4<Float>(repeating: pa[5])
                c50 = c50.addingProduct(a5, b0); c51 = c51.addingProduct(a5, b1)
                let a6 = SIMD4<Float>(repeating: pa[6])
                c60 = c60.addingProduct(a6, b0); c61 = c61.addingProduct(a6, b1)
                let a7 = SIMD4<Float>(repeating: pa[7])
                c70 = c70.addingProduct(a7, b0); c71 = c71.addingProduct(a7, b1)
                pa += aDepthStride
                pb += bStride
            }
        }
        if preload {
            let alpha = tile.alpha, beta = tile.beta
            let row0 = tile.c + 0 * tile.ldc
            storeVector((c00 * alpha).addingProduct(o00, beta), to: row0 + 0); storeVector((c01 * alpha).addingProduct(o01, beta), to: row0 + 4)
            let row1 = tile.c + 1 * tile.ldc
            storeVector((c10 * alpha).addingProduct(o10, beta), to: row1 + 0); storeVector((c11 * alpha).addingProduct(o11, beta), to: row1 + 4)
            let row2 = tile.c + 2 * tile.ldc
            storeVector((c20 * alpha).addingProduct(o20, beta), to: row2 + 0); storeVector((c21 * alpha).addingProduct(o21, beta), to: row2 + 4)
            let row3 = tile.c + 3 * tile.ldc
            storeVector((c30 * alpha).addingProduct(o30, beta), to: row3 + 0); storeVector((c31 * alpha).addingProduct(o31, beta), to: row3 + 4)
            let row4 = tile.c + 4 * tile.ldc
            storeVector((c40 * alpha).addingProduct(o40, beta), to: row4 + 0); storeVector((c41 * alpha).addingProduct(o41, beta), to: row4 + 4)
            let row5 = tile.c + 5 * tile.ldc
            storeVector((c50 * alpha).addingProduct(o50, beta), to: row5 + 0); storeVector((c51 * alpha).addingProduct(o51, beta), to: row5 + 4)
            let row6 = tile.c + 6 * tile.ldc
            storeVector((c60 * alpha).addingProduct(o60, beta), to: row6 + 0); storeVector((c61 * alpha).addingProduct(o61, beta), to: row6 + 4)
            let row7 = tile.c + 7 * tile.ldc
            storeVector((c70 * alpha).addingProduct(o70, beta), to: row7 + 0); storeVector((c71 * alpha).addingProduct(o71, beta), to: row7 + 4)
            return
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
        // Load the C tile before the k loop when it will be read anyway (beta != 0): its cache
        // misses then overlap the arithmetic instead of stalling the write-back (C of a large
        // problem is re-read once per depth chunk and lives in L3 or DRAM by then).
        let preload = tile.beta != 0 && tile.rows == 8 && tile.cols == 4
        var o00 = SIMD4<Float>()
        var o10 = SIMD4<Float>()
        var o20 = SIMD4<Float>()
        var o30 = SIMD4<Float>()
        var o40 = SIMD4<Float>()
        var o50 = SIMD4<Float>()
        var o60 = SIMD4<Float>()
        var o70 = SIMD4<Float>()
        if preload {
            let row0 = tile.c + 0 * tile.ldc
            o00 = loadVector(row0 + 0, as: SIMD4<Float>.self)
            let row1 = tile.c + 1 * tile.ldc
            o10 = loadVector(row1 + 0, as: SIMD4<Float>.self)
            let row2 = tile.c + 2 * tile.ldc
            o20 = loadVector(row2 + 0, as: SIMD4<Float>.self)
            let row3 = tile.c + 3 * tile.ldc
            o30 = loadVector(row3 + 0, as: SIMD4<Float>.self)
            let row4 = tile.c + 4 * tile.ldc
            o40 = loadVector(row4 + 0, as: SIMD4<Float>.self)
            let row5 = tile.c + 5 * tile.ldc
            o50 = loadVector(row5 + 0, as: SIMD4<Float>.self)
            let row6 = tile.c + 6 * tile.ldc
            o60 = loadVector(row6 + 0, as: SIMD4<Float>.self)
            let row7 = tile.c + 7 * tile.ldc
            o70 = loadVector(row7 + 0, as: SIMD4<Float>.self)
        }
        var pb = tile.b
        let bStride = tile.bDepthStride
        if aDepthStride == 1 {
            // Row-major A read in place: one pointer per row, all indexed by p, so no
            // serial chain of address additions limits the loop.
            let r0 = tile.a + 0 * aRowStride
            let r1 = tile.a + 1 * aRowStride
            let r2 = tile.a + 2 * aRowStride
            let r3 = tile.a + 3 * aRowStride
            let r4 = tile.a + 4 * aRowStride
            let r5 = tile.a + 5 * aRowStride
            let r6 = tile.a + 6 * aRowStride
            let r7 = tile.a + 7 * aRowStride
            for p in 0..<tile.kc {
                let b0: SIMD4<Float> = loadVector(pb + 0, as: SIMD4<Float>.self)
                let a0 = SIMD4<Float>(repeating: r0[p])
                c00 = c00.addingProduct(a0, b0)
                let a1 = SIMD4<Float>(repeating: r1[p])
                c10 = c10.addingProduct(a1, b0)
                let a2 = SIMD4<Float>(repeating: r2[p])
                c20 = c20.addingProduct(a2, b0)
                let a3 = SIMD4<Float>(repeating: r3[p])
                c30 = c30.addingProduct(a3, b0)
                let a4 = SIMD4<Float>(repeating: r4[p])
                c40 = c40.addingProduct(a4, b0)
                let a5 = SIMD4<Float>(repeating: r5[p])
                c50 = c50.addingProduct(a5, b0)
                let a6 = SIMD4<Float>(repeating: r6[p])
                c60 = c60.addingProduct(a6, b0)
                let a7 = SIMD4<Float>(repeating: r7[p])
                c70 = c70.addingProduct(a7, b0)
                pb += bStride
            }
        } else {
            // Packed or transposed A: the rows of one depth step are adjacent.
            precondition(aRowStride == 1)
            var pa = tile.a
            for _ in 0..<tile.kc {
                let b0: SIMD4<Float> = loadVector(pb + 0, as: SIMD4<Float>.self)
                let a0 = SIMD4<Float>(repeating: pa[0])
                c00 = c00.addingProduct(a0, b0)
                let a1 = SIMD4<Float>(repeating: pa[1])
                c10 = c10.addingProduct(a1, b0)
                let a2 = SIMD4<Float>(repeating: pa[2])
                c20 = c20.addingProduct(a2, b0)
                let a3 = SIMD4<Float>(repeating: pa[3])
                c30 = c30.addingProduct(a3, b0)
                let a4 = SIMD4<Float>(repeating: pa[4])
                c40 = c40.addingProduct(a4, b0)
                let a5 = SIMD4<Float>(repeating: pa[5])
                c50 = c50.addingProduct(a5, b0)
                let a6 = SIMD4<Float>(repeating: pa[6])
                c60 = c60.addingProduct(a6, b0)
                let a7 = SIMD4<Float>(repeating: pa[7])
                c70 = c70.addingProduct(a7, b0)
                pa += aDepthStride
                pb += bStride
            }
        }
        if preload {
            let alpha = tile.alpha, beta = tile.beta
            let row0 = tile.c + 0 * tile.ldc
            storeVector((c00 * alpha).addingProduct(o00, beta), to: row0 + 0)
            let row1 = tile.c + 1 * tile.ldc
            storeVector((c10 * alpha).addingProduct(o10, beta), to: row1 + 0)
            let row2 = tile.c + 2 * tile.ldc
            storeVector((c20 * alpha).addingProduct(o20, beta), to: row2 + 0)
            let row3 = tile.c + 3 * tile.ldc
            storeVector((c30 * alpha).addingProduct(o30, beta), to: row3 + 0)
            let row4 = tile.c + 4 * tile.ldc
            storeVector((c40 * alpha).addingProduct(o40, beta), to: row4 + 0)
            let row5 = tile.c + 5 * tile.ldc
            storeVector((c50 * alpha).addingProduct(o50, beta), to: row5 + 0)
            let row6 = tile.c + 6 * tile.ldc
            storeVector((c60 * alpha).addingProduct(o60, beta), to: row6 + 0)
            let row7 = tile.c + 7 * tile.ldc
            storeVector((c70 * alpha).addingProduct(o70, beta), to: row7 + 0)
            return
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

    /// 4 × 8: the bottom edge.
    @inline(__always)
    static func fullShort(_ tile: MicroTile, aRowStride: Int, aDepthStride: Int) {
        var c00 = SIMD4<Float>(); var c01 = SIMD4<Float>()
        var c10 = SIMD4<Float>(); var c11 = SIMD4<Float>()
        var c20 = SIMD4<Float>(); var c21 = SIMD4<Float>()
        var c30 = SIMD4<Float>(); var c31 = SIMD4<Float>()
        // Load the C tile before the k loop when it will be read anyway (beta != 0): its cache
        // misses then overlap the arithmetic instead of stalling the write-back (C of a large
        // problem is re-read once per depth chunk and lives in L3 or DRAM by then).
        let preload = tile.beta != 0 && tile.rows == 4 && tile.cols == 8
        var o00 = SIMD4<Float>(); var o01 = SIMD4<Float>()
        var o10 = SIMD4<Float>(); var o11 = SIMD4<Float>()
        var o20 = SIMD4<Float>(); var o21 = SIMD4<Float>()
        var o30 = SIMD4<Float>(); var o31 = SIMD4<Float>()
        if preload {
            let row0 = tile.c + 0 * tile.ldc
            o00 = loadVector(row0 + 0, as: SIMD4<Float>.self); o01 = loadVector(row0 + 4, as: SIMD4<Float>.self)
            let row1 = tile.c + 1 * tile.ldc
            o10 = loadVector(row1 + 0, as: SIMD4<Float>.self); o11 = loadVector(row1 + 4, as: SIMD4<Float>.self)
            let row2 = tile.c + 2 * tile.ldc
            o20 = loadVector(row2 + 0, as: SIMD4<Float>.self); o21 = loadVector(row2 + 4, as: SIMD4<Float>.self)
            let row3 = tile.c + 3 * tile.ldc
            o30 = loadVector(row3 + 0, as: SIMD4<Float>.self); o31 = loadVector(row3 + 4, as: SIMD4<Float>.self)
        }
        var pb = tile.b
        let bStride = tile.bDepthStride
        if aDepthStride == 1 {
            // Row-major A read in place: one pointer per row, all indexed by p, so no
            // serial chain of address additions limits the loop.
            let r0 = tile.a + 0 * aRowStride
            let r1 = tile.a + 1 * aRowStride
            let r2 = tile.a + 2 * aRowStride
            let r3 = tile.a + 3 * aRowStride
            for p in 0..<tile.kc {
                let b0: SIMD4<Float> = loadVector(pb + 0, as: SIMD4<Float>.self)
                let b1: SIMD4<Float> = loadVector(pb + 4, as: SIMD4<Float>.self)
                let a0 = SIMD4<Float>(repeating: r0[p])
                c00 = c00.addingProduct(a0, b0); c01 = c01.addingProduct(a0, b1)
                let a1 = SIMD4<Float>(repeating: r1[p])
                c10 = c10.addingProduct(a1, b0); c11 = c11.addingProduct(a1, b1)
                let a2 = SIMD4<Float>(repeating: r2[p])
                c20 = c20.addingProduct(a2, b0); c21 = c21.addingProduct(a2, b1)
                let a3 = SIMD4<Float>(repeating: r3[p])
                c30 = c30.addingProduct(a3, b0); c31 = c31.addingProduct(a3, b1)
                pb += bStride
            }
        } else {
            // Packed or transposed A: the rows of one depth step are adjacent.
            precondition(aRowStride == 1)
            var pa = tile.a
            for _ in 0..<tile.kc {
                let b0: SIMD4<Float> = loadVector(pb + 0, as: SIMD4<Float>.self)
                let b1: SIMD4<Float> = loadVector(pb + 4, as: SIMD4<Float>.self)
                let a0 = SIMD4<Float>(repeating: pa[0])
                c00 = c00.addingProduct(a0, b0); c01 = c01.addingProduct(a0, b1)
                let a1 = SIMD4<Float>(repeating: pa[1])
                c10 = c10.addingProduct(a1, b0); c11 = c11.addingProduct(a1, b1)
                let a2 = SIMD4<Float>(repeating: pa[2])
                c20 = c20.addingProduct(a2, b0); c21 = c21.addingProduct(a2, b1)
                let a3 = SIMD4<Float>(repeating: pa[3])
                c30 = c30.addingProduct(a3, b0); c31 = c31.addingProduct(a3, b1)
                pa += aDepthStride
                pb += bStride
            }
        }
        if preload {
            let alpha = tile.alpha, beta = tile.beta
            let row0 = tile.c + 0 * tile.ldc
            storeVector((c00 * alpha).addingProduct(o00, beta), to: row0 + 0); storeVector((c01 * alpha).addingProduct(o01, beta), to: row0 + 4)
            let row1 = tile.c + 1 * tile.ldc
            storeVector((c10 * alpha).addingProduct(o10, beta), to: row1 + 0); storeVector((c11 * alpha).addingProduct(o11, beta), to: row1 + 4)
            let row2 = tile.c + 2 * tile.ldc
            storeVector((c20 * alpha).addingProduct(o20, beta), to: row2 + 0); storeVector((c21 * alpha).addingProduct(o21, beta), to: row2 + 4)
            let row3 = tile.c + 3 * tile.ldc
            storeVector((c30 * alpha).addingProduct(o30, beta), to: row3 + 0); storeVector((c31 * alpha).addingProduct(o31, beta), to: row3 + 4)
            return
        }
        writeRow(tile, row: 0, c00, c01)
        writeRow(tile, row: 1, c10, c11)
        writeRow(tile, row: 2, c20, c21)
        writeRow(tile, row: 3, c30, c31)
    }

    /// 4 × 4: the bottom-right corner.
    @inline(__always)
    static func halfShort(_ tile: MicroTile, aRowStride: Int, aDepthStride: Int) {
        var c00 = SIMD4<Float>()
        var c10 = SIMD4<Float>()
        var c20 = SIMD4<Float>()
        var c30 = SIMD4<Float>()
        // Load the C tile before the k loop when it will be read anyway (beta != 0): its cache
        // misses then overlap the arithmetic instead of stalling the write-back (C of a large
        // problem is re-read once per depth chunk and lives in L3 or DRAM by then).
        let preload = tile.beta != 0 && tile.rows == 4 && tile.cols == 4
        var o00 = SIMD4<Float>()
        var o10 = SIMD4<Float>()
        var o20 = SIMD4<Float>()
        var o30 = SIMD4<Float>()
        if preload {
            let row0 = tile.c + 0 * tile.ldc
            o00 = loadVector(row0 + 0, as: SIMD4<Float>.self)
            let row1 = tile.c + 1 * tile.ldc
            o10 = loadVector(row1 + 0, as: SIMD4<Float>.self)
            let row2 = tile.c + 2 * tile.ldc
            o20 = loadVector(row2 + 0, as: SIMD4<Float>.self)
            let row3 = tile.c + 3 * tile.ldc
            o30 = loadVector(row3 + 0, as: SIMD4<Float>.self)
        }
        var pb = tile.b
        let bStride = tile.bDepthStride
        if aDepthStride == 1 {
            // Row-major A read in place: one pointer per row, all indexed by p, so no
            // serial chain of address additions limits the loop.
            let r0 = tile.a + 0 * aRowStride
            let r1 = tile.a + 1 * aRowStride
            let r2 = tile.a + 2 * aRowStride
            let r3 = tile.a + 3 * aRowStride
            for p in 0..<tile.kc {
                let b0: SIMD4<Float> = loadVector(pb + 0, as: SIMD4<Float>.self)
                let a0 = SIMD4<Float>(repeating: r0[p])
                c00 = c00.addingProduct(a0, b0)
                let a1 = SIMD4<Float>(repeating: r1[p])
                c10 = c10.addingProduct(a1, b0)
                let a2 = SIMD4<Float>(repeating: r2[p])
                c20 = c20.addingProduct(a2, b0)
                let a3 = SIMD4<Float>(repeating: r3[p])
                c30 = c30.addingProduct(a3, b0)
                pb += bStride
            }
        } else {
            // Packed or transposed A: the rows of one depth step are adjacent.
            precondition(aRowStride == 1)
            var pa = tile.a
            for _ in 0..<tile.kc {
                let b0: SIMD4<Float> = loadVector(pb + 0, as: SIMD4<Float>.self)
                let a0 = SIMD4<Float>(repeating: pa[0])
                c00 = c00.addingProduct(a0, b0)
                let a1 = SIMD4<Float>(repeating: pa[1])
                c10 = c10.addingProduct(a1, b0)
                let a2 = SIMD4<Float>(repeating: pa[2])
                c20 = c20.addingProduct(a2, b0)
                let a3 = SIMD4<Float>(repeating: pa[3])
                c30 = c30.addingProduct(a3, b0)
                pa += aDepthStride
                pb += bStride
            }
        }
        if preload {
            let alpha = tile.alpha, beta = tile.beta
            let row0 = tile.c + 0 * tile.ldc
            storeVector((c00 * alpha).addingProduct(o00, beta), to: row0 + 0)
            let row1 = tile.c + 1 * tile.ldc
            storeVector((c10 * alpha).addingProduct(o10, beta), to: row1 + 0)
            let row2 = tile.c + 2 * tile.ldc
            storeVector((c20 * alpha).addingProduct(o20, beta), to: row2 + 0)
            let row3 = tile.c + 3 * tile.ldc
            storeVector((c30 * alpha).addingProduct(o30, beta), to: row3 + 0)
            return
        }
        writeRow(tile, row: 0, c00)
        writeRow(tile, row: 1, c10)
        writeRow(tile, row: 2, c20)
        writeRow(tile, row: 3, c30)
    }
}
