/// Copies slivers of op(A) and op(B) into the contiguous layouts the micro-kernels stream.
///
/// Why pack B always: the micro-kernel reuses one `kc × nr` sliver of B for every row sliver of
/// the block, so it must sit contiguously in L1 (an in-place sliver of a matrix whose rows are a
/// power of two apart would map every row onto the same cache set). Packing also turns the
/// transposed layout (A·Bᵀ) into the same column-contiguous form, so one kernel serves all four
/// layouts. A is read in place except for the bottom edge, which is padded to `mr` rows here.
enum GemmPacking {
    /// Width of panel `panel` for a block of `columns` columns: `nr`, or `nr / 2` when the
    /// remainder fits the half kernel (less wasted arithmetic on narrow edges such as N = 10).
    @inline(__always)
    static func panelWidth(columns: Int, panel: Int, nr: Int) -> Int {
        let remaining = columns - panel * nr
        return remaining >= nr ? nr : (remaining <= nr / 2 ? nr / 2 : nr)
    }

    /// Packs the `depth × columns` block of op(B) whose element (p, j) is
    /// `b[p * depthStride + j * columnStride]` into panels of `nr` columns: panel q starts at
    /// `dst + q * depth * nr` and holds element (p, j) at `p * width + j`, zero-padded to `width`.
    @inline(__always)
    static func packB(depth: Int, columns: Int, b: UnsafePointer<Float>, depthStride: Int,
                      columnStride: Int, nr: Int, into dst: UnsafeMutablePointer<Float>) {
        let panels = (columns + nr - 1) / nr
        for panel in 0..<panels {
            let width = panelWidth(columns: columns, panel: panel, nr: nr)
            let used = min(nr, columns - panel * nr)
            let source = b + panel * nr * columnStride
            let target = dst + panel * depth * nr
            if columnStride == 1 {
                copyRows(depth: depth, used: used, width: width, source, depthStride, target)
            } else {
                transposeColumns(depth: depth, used: used, width: width, source, columnStride, target)
            }
        }
    }

    /// Panel packing when each row of the panel is contiguous in memory (B not transposed).
    @inline(__always)
    static func copyRows(depth: Int, used: Int, width: Int, _ source: UnsafePointer<Float>,
                         _ depthStride: Int, _ target: UnsafeMutablePointer<Float>) {
        if used == width && width % 16 == 0 {
            for p in 0..<depth {
                let from = source + p * depthStride
                let to = target + p * width
                var j = 0
                while j < width {
                    storeVector(loadVector(from + j, as: SIMD16<Float>.self), to: to + j)
                    j += 16
                }
            }
        } else {
            for p in 0..<depth {
                let from = source + p * depthStride
                let to = target + p * width
                for j in 0..<used { to[j] = from[j] }
                for j in used..<width { to[j] = 0 }
            }
        }
    }

    /// Panel packing when each column of the panel is contiguous in memory (B transposed): the
    /// bulk goes through 16 × 16 register transposes, the edges through scalar copies.
    @inline(__always)
    static func transposeColumns(depth: Int, used: Int, width: Int, _ source: UnsafePointer<Float>,
                                 _ columnStride: Int, _ target: UnsafeMutablePointer<Float>) {
        var p0 = 0
        if used == width && width % 16 == 0 {
            while p0 + 16 <= depth {
                var j0 = 0
                while j0 < width {
                    transpose16x16(source + j0 * columnStride + p0, sourceStride: columnStride,
                                   target + p0 * width + j0, destinationStride: width)
                    j0 += 16
                }
                p0 += 16
            }
        }
        guard p0 < depth else { return }
        for j in 0..<used {
            let from = source + j * columnStride
            for p in p0..<depth { target[p * width + j] = from[p] }
        }
        if used < width {
            for p in p0..<depth {
                for j in used..<width { target[p * width + j] = 0 }
            }
        }
    }

    /// Packs `rows ≤ mr` rows of an A sliver (element (i, p) at `a[i * rowStride + p * depthStride]`)
    /// as `dst[p * mr + i]`, zero-padding rows `rows..<mr`, so the kernel can read `mr` rows.
    @inline(__always)
    static func packA(rows: Int, depth: Int, a: UnsafePointer<Float>, rowStride: Int,
                      depthStride: Int, mr: Int, into dst: UnsafeMutablePointer<Float>) {
        for p in 0..<depth {
            let to = dst + p * mr
            let from = a + p * depthStride
            for i in 0..<rows { to[i] = from[i * rowStride] }
            for i in rows..<mr { to[i] = 0 }
        }
    }

    /// Transposes a 16 × 16 block: row r of the source (`src + r * sourceStride`, 16 floats)
    /// becomes column r of the destination (`dst + c * destinationStride`).
    ///
    /// Why this shape: four rounds of "unzip" (even/odd lanes of two concatenated rows) rotate the
    /// 8-bit (row, lane) index by one bit each, so after four rounds rows and lanes have swapped.
    /// LLVM lowers each unzip to one `vpermt2ps` on AVX-512: 64 permutes per 256 floats, versus
    /// 256 scalar strided stores for the naive copy.
    @inline(__always)
    static func transpose16x16(_ src: UnsafePointer<Float>, sourceStride: Int,
                               _ dst: UnsafeMutablePointer<Float>, destinationStride: Int) {
        var r0: SIMD16<Float> = loadVector(src + 0 * sourceStride, as: SIMD16<Float>.self)
        var r1: SIMD16<Float> = loadVector(src + 1 * sourceStride, as: SIMD16<Float>.self)
        var r2: SIMD16<Float> = loadVector(src + 2 * sourceStride, as: SIMD16<Float>.self)
        var r3: SIMD16<Float> = loadVector(src + 3 * sourceStride, as: SIMD16<Float>.self)
        var r4: SIMD16<Float> = loadVector(src + 4 * sourceStride, as: SIMD16<Float>.self)
        var r5: SIMD16<Float> = loadVector(src + 5 * sourceStride, as: SIMD16<Float>.self)
        var r6: SIMD16<Float> = loadVector(src + 6 * sourceStride, as: SIMD16<Float>.self)
        var r7: SIMD16<Float> = loadVector(src + 7 * sourceStride, as: SIMD16<Float>.self)
        var r8: SIMD16<Float> = loadVector(src + 8 * sourceStride, as: SIMD16<Float>.self)
        var r9: SIMD16<Float> = loadVector(src + 9 * sourceStride, as: SIMD16<Float>.self)
        var r10: SIMD16<Float> = loadVector(src + 10 * sourceStride, as: SIMD16<Float>.self)
        var r11: SIMD16<Float> = loadVector(src + 11 * sourceStride, as: SIMD16<Float>.self)
        var r12: SIMD16<Float> = loadVector(src + 12 * sourceStride, as: SIMD16<Float>.self)
        var r13: SIMD16<Float> = loadVector(src + 13 * sourceStride, as: SIMD16<Float>.self)
        var r14: SIMD16<Float> = loadVector(src + 14 * sourceStride, as: SIMD16<Float>.self)
        var r15: SIMD16<Float> = loadVector(src + 15 * sourceStride, as: SIMD16<Float>.self)
        for _ in 0..<4 {
            let t0 = SIMD32(lowHalf: r0, highHalf: r1)
            let t1 = SIMD32(lowHalf: r2, highHalf: r3)
            let t2 = SIMD32(lowHalf: r4, highHalf: r5)
            let t3 = SIMD32(lowHalf: r6, highHalf: r7)
            let t4 = SIMD32(lowHalf: r8, highHalf: r9)
            let t5 = SIMD32(lowHalf: r10, highHalf: r11)
            let t6 = SIMD32(lowHalf: r12, highHalf: r13)
            let t7 = SIMD32(lowHalf: r14, highHalf: r15)
            r0 = t0.evenHalf; r8 = t0.oddHalf
            r1 = t1.evenHalf; r9 = t1.oddHalf
            r2 = t2.evenHalf; r10 = t2.oddHalf
            r3 = t3.evenHalf; r11 = t3.oddHalf
            r4 = t4.evenHalf; r12 = t4.oddHalf
            r5 = t5.evenHalf; r13 = t5.oddHalf
            r6 = t6.evenHalf; r14 = t6.oddHalf
            r7 = t7.evenHalf; r15 = t7.oddHalf
        }
        storeVector(r0, to: dst + 0 * destinationStride)
        storeVector(r1, to: dst + 1 * destinationStride)
        storeVector(r2, to: dst + 2 * destinationStride)
        storeVector(r3, to: dst + 3 * destinationStride)
        storeVector(r4, to: dst + 4 * destinationStride)
        storeVector(r5, to: dst + 5 * destinationStride)
        storeVector(r6, to: dst + 6 * destinationStride)
        storeVector(r7, to: dst + 7 * destinationStride)
        storeVector(r8, to: dst + 8 * destinationStride)
        storeVector(r9, to: dst + 9 * destinationStride)
        storeVector(r10, to: dst + 10 * destinationStride)
        storeVector(r11, to: dst + 11 * destinationStride)
        storeVector(r12, to: dst + 12 * destinationStride)
        storeVector(r13, to: dst + 13 * destinationStride)
        storeVector(r14, to: dst + 14 * destinationStride)
        storeVector(r15, to: dst + 15 * destinationStride)
    }
}
