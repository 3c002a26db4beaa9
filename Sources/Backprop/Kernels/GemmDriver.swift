/// The layout-free description of one `C = alpha · op(A) · op(B) + beta · C` problem: element
/// (i, p) of op(A) is `a[i * aRowStride + p * aDepthStride]`, element (p, j) of op(B) is
/// `b[p * bDepthStride + j * bColumnStride]`. Transposition only swaps strides, so one driver
/// serves all four layouts.
struct GemmOperands {
    var m: Int
    var n: Int
    var k: Int
    var alpha: Float
    var beta: Float
    var a: UnsafePointer<Float>
    var aRowStride: Int
    var aDepthStride: Int
    var b: UnsafePointer<Float>
    var bDepthStride: Int
    var bColumnStride: Int
    var c: UnsafeMutablePointer<Float>
    var ldc: Int
}

/// Goto/BLIS-style blocking around one micro-kernel shape.
///
/// Loop nest of one task (a rectangle of C): columns in chunks of `nc` → depth in chunks of `kc`
/// (pack that `kc × nc` block of B once) → rows in chunks of `mc` → B panels of `nr` columns →
/// A slivers of `mr` rows → micro-kernel. A `kc × nr` B panel (32 KiB for 256 × 32) stays in L1
/// while the `mc × kc` block of A (128 KiB) streams from L2.
enum GemmDriver<Kernel: GemmMicroKernel> {
    /// Upper bound of the depth chunk; the actual chunk splits K evenly so no tiny tail remains.
    static var maxDepthChunk: Int { 256 }
    /// Rows of A kept hot in L2 while the B panels of one depth chunk pass over them.
    static var rowChunk: Int { 128 }
    /// Columns of B packed at a time (bounds the per-thread buffer to kc × nc floats).
    static var columnChunk: Int { 1024 }
    /// Size of a task's C block (floats) above which the rows-outer order is used.
    static var largeCElements: Int { 1 << 19 }
    /// Tasks with at most this many rows read full-width B panels in place (see `multiplyBlock`).
    static var inPlaceRowLimit: Int { 256 }

    static func multiply(_ operands: GemmOperands, pool: ThreadPool?) {
        let partition = GemmPartition(m: operands.m, n: operands.n, k: operands.k,
                                      mr: Kernel.mr, nr: Kernel.nr,
                                      threads: pool?.threadCount ?? 1,
                                      bTransposed: operands.bColumnStride != 1,
                                      bInPlace: canReadBInPlace(operands), inPlaceRowLimit: inPlaceRowLimit)
        if partition.taskCount == 1 {
            multiplyBlock(operands, rows: 0..<operands.m, columns: 0..<operands.n)
            return
        }
        guard let pool else { return }
        pool.parallelFor(partition.taskCount) { task in
            let (rows, columns) = partition.ranges(ofTask: task)
            if !rows.isEmpty && !columns.isEmpty {
                multiplyBlock(operands, rows: rows, columns: columns)
            }
        }
    }

    /// Whether a `kc × nr` sliver of B can be streamed from B itself rather than packed: its rows
    /// must be contiguous, and the row stride must not be a multiple of 128 bytes, which would
    /// fold the sliver's rows onto a few L1 sets (a 4 KiB stride maps them all to one).
    @inline(__always)
    static func canReadBInPlace(_ op: GemmOperands) -> Bool {
        op.bColumnStride == 1 && op.bDepthStride % 32 != 0
    }

    /// Computes the rectangle `rows × columns` of C, serially, on the calling thread.
    static func multiplyBlock(_ op: GemmOperands, rows: Range<Int>, columns: Range<Int>) {
        let mr = Kernel.mr
        let nr = Kernel.nr
        let k = op.k
        let depthChunks = (k + maxDepthChunk - 1) / maxDepthChunk
        let kcNominal = (k + depthChunks - 1) / depthChunks
        // When C is too large to stay cached between depth chunks, walk each A sliver across all
        // B panels (rows outer): C is then touched left to right, a stream the hardware
        // prefetcher follows, and the B block (kc × nc, nc ≤ 512 so ≤ 512 KiB) stays in L2.
        // Otherwise walk each B panel down all slivers (panels outer), keeping it in L1.
        let rowsOuter = rows.count * columns.count >= largeCElements && k > maxDepthChunk
        let ncNominal = min(rowsOuter ? 512 : columnChunk, columns.count)
        // Reading B in place saves the packing pass, which matters when few row slivers share each
        // packed panel (small M); with many slivers the packed copy's locality wins.
        let bInPlace = canReadBInPlace(op) && rows.count <= inPlaceRowLimit
        let packedBFloats = kcNominal * (bInPlace ? nr : (ncNominal + nr - 1) / nr * nr)
        let workspace = GemmWorkspace.current
        let packedB = workspace.floats(packedBFloats + kcNominal * mr)
        let packedEdgeA = packedB + packedBFloats

        var jc = columns.lowerBound
        while jc < columns.upperBound {
            let nc = min(ncNominal, columns.upperBound - jc)
            let panels = (nc + nr - 1) / nr
            let fullPanels = nc / nr
            var pc = 0
            while pc < k {
                let kc = min(kcNominal, k - pc)
                let beta: Float = pc == 0 ? op.beta : 1
                let bBlock = op.b + pc * op.bDepthStride + jc * op.bColumnStride
                if !bInPlace {
                    GemmPacking.packB(depth: kc, columns: nc, b: bBlock,
                                      depthStride: op.bDepthStride, columnStride: op.bColumnStride,
                                      nr: nr, into: packedB)
                } else if fullPanels < panels {
                    // Only the ragged right-hand panel is copied (zero-padded).
                    GemmPacking.packB(depth: kc, columns: nc - fullPanels * nr,
                                      b: bBlock + fullPanels * nr * op.bColumnStride,
                                      depthStride: op.bDepthStride, columnStride: op.bColumnStride,
                                      nr: nr, into: packedB)
                }
                var ic = rows.lowerBound
                while ic < rows.upperBound {
                    let icEnd = min(ic + rowChunk, rows.upperBound)
                    let fullEnd = ic + (icEnd - ic) / mr * mr
                    if fullEnd < icEnd {
                        GemmPacking.packA(rows: icEnd - fullEnd, depth: kc,
                                          a: op.a + fullEnd * op.aRowStride + pc * op.aDepthStride,
                                          rowStride: op.aRowStride, depthStride: op.aDepthStride,
                                          mr: mr, into: packedEdgeA)
                    }
                    /// One micro-kernel call: B panel `panel` times the A sliver at row `ir`.
                    func runTile(panel: Int, ir: Int) {
                        let width = GemmPacking.panelWidth(columns: nc, panel: panel, nr: nr)
                        var tile = MicroTile(
                            kc: kc, a: op.a, aRowStride: op.aRowStride, aDepthStride: op.aDepthStride,
                            b: UnsafePointer(packedB + panel * kc * nr), bDepthStride: width,
                            c: op.c + ir * op.ldc + jc + panel * nr, ldc: op.ldc,
                            rows: min(mr, icEnd - ir), cols: min(nr, nc - panel * nr),
                            alpha: op.alpha, beta: beta)
                        if bInPlace {
                            if panel < fullPanels {
                                tile.b = bBlock + panel * nr
                                tile.bDepthStride = op.bDepthStride
                            } else {
                                tile.b = UnsafePointer(packedB)
                            }
                        }
                        if ir < fullEnd {
                            tile.a = op.a + ir * op.aRowStride + pc * op.aDepthStride
                            runKernel(tile, full: width == nr, short: false,
                                      aRowStride: op.aRowStride, aDepthStride: op.aDepthStride)
                        } else {
                            tile.a = UnsafePointer(packedEdgeA)
                            runKernel(tile, full: width == nr, short: tile.rows <= mr / 2,
                                      aRowStride: 1, aDepthStride: mr)
                        }
                    }
                    if rowsOuter {
                        var ir = ic
                        while ir < icEnd {
                            for panel in 0..<panels { runTile(panel: panel, ir: ir) }
                            ir += mr
                        }
                    } else {
                        for panel in 0..<panels {
                            var ir = ic
                            while ir < icEnd {
                                runTile(panel: panel, ir: ir)
                                ir += mr
                            }
                        }
                    }
                    ic = icEnd
                }
                pc += kc
            }
            jc += nc
        }
    }

    /// Picks the kernel for the tile's shape: full or half width, full or short height.
    @inline(__always)
    static func runKernel(_ tile: MicroTile, full: Bool, short: Bool, aRowStride: Int, aDepthStride: Int) {
        switch (full, short) {
        case (true, false): Kernel.full(tile, aRowStride: aRowStride, aDepthStride: aDepthStride)
        case (false, false): Kernel.half(tile, aRowStride: aRowStride, aDepthStride: aDepthStride)
        case (true, true): Kernel.fullShort(tile, aRowStride: aRowStride, aDepthStride: aDepthStride)
        case (false, true): Kernel.halfShort(tile, aRowStride: aRowStride, aDepthStride: aDepthStride)
        }
    }
}
