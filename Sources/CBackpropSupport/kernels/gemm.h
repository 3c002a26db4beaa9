// Single-precision GEMM for one rectangle of C: Goto/BLIS blocking around a register-blocked
// micro-kernel, compiled once per level with that level's tile (GEMM_MR x GEMM_NR, vectors of
// GEMM_VW floats). Swift's Gemm splits C into rectangles over its thread pool (GemmPartition) and
// calls gemm_block for each.
//
// Tiles per level (accumulators + B vectors + one broadcast must fit the register file):
//   avx512   8 x 32, 16 zmm accumulators of 16 floats (32 registers): 16 FMAs per 2 B loads and
//            8 broadcasts keep both FMA pipes of a Zen 4/5 or Skylake-X core busy (82-95 % of peak).
//   avx2     6 x 16, 12 ymm accumulators (16 registers; BLIS's haswell sgemm shape, which its
//            zen configurations use too): 12 FMAs per 2 B loads and 6 broadcasts.
//   baseline 6 x 8, 12 xmm accumulators (SSE2's 16 registers), separate multiply and add.
//   neon     8 x 8, 16 q-register accumulators (32 registers).
//
// Loop nest of one rectangle: columns in chunks of nc -> depth in chunks of kc (pack that kc x nc
// block of B once) -> rows in chunks of 128 -> B panels of nr columns -> A slivers of mr rows ->
// micro-kernel. A kc x nr B panel (32 KiB for 256 x 32) stays in L1 while the 128 x kc block of
// A streams from L2. A is read in place (its bottom edge padded into scratch), and B too when its
// rows are contiguous and few row slivers share each panel (small M), saving the packing pass.
//
// Order of operations, the same for any thread count: each element of C is the sum over depth
// chunks (of at most 256, split evenly) of that chunk's FMA chain in increasing p, scaled by
// alpha and added to beta * C: fma(C, beta, alpha * sum) in whole tiles, alpha * sum + beta * C
// in edge tiles. The tile shape differs by level, so levels agree to rounding, not bit for bit.

typedef float gemm_vec __attribute__((ext_vector_type(GEMM_VW)));
#define GEMM_NV (GEMM_NR / GEMM_VW)

enum {
    gemm_max_depth_chunk = 256,  // upper bound of kc; the actual chunk splits K evenly
    gemm_row_chunk = 128,        // rows of A kept hot in L2 while a depth chunk's panels pass
    gemm_column_chunk = 1024,    // columns of B packed at a time
    gemm_large_c = 1 << 19,      // C block (floats) above which rows go outer
    gemm_in_place_row_limit = 256,
};

BP_INLINE gemm_vec gv_load(const float *p) {
    gemm_vec v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

BP_INLINE void gv_store(float *p, gemm_vec v) { __builtin_memcpy(p, &v, sizeof v); }

/// One R x (V * GEMM_VW) tile of C from a kc-deep sliver of A (element (i, p) at
/// a[i * ars + p * ads]; ads == 1 or ars == 1) and of B (row p at b + p * bs, columns
/// contiguous). Only rows x cols of the tile lie in C. R and V are constants of each copy.
BP_INLINE void gemm_tile(const int R, const int V, long kc, const float *a, long ars, long ads,
                         const float *b, long bs, float *c, long ldc, long rows, long cols,
                         float alpha, float beta) {
    gemm_vec acc[GEMM_MR][GEMM_NV];
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++) acc[i][v] = (gemm_vec)0;
    // When C will be read (beta != 0), ask for its lines now, so their cache misses overlap the
    // arithmetic instead of stalling the write-back. (Loading the tile into registers instead
    // spills them on AVX2's 16 registers: 1-2% slower on Zen 5, at both levels.)
    if (beta != 0) {
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            __builtin_prefetch(c + i * ldc, 1, 3);
            if (V * GEMM_VW > 16) __builtin_prefetch(c + i * ldc + 16, 1, 3);
        }
    }
    // Callers pass a literal 1 for the unit stride (ads for row-major A read in place, ars for
    // packed or transposed A), so each inlined copy indexes with one constant stride: row-major
    // A becomes one base register per row, all indexed by p (no address arithmetic in the loop);
    // packed A immediate offsets from one running depth offset.
    const float *rows_of_a[GEMM_MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++) rows_of_a[i] = a + i * ars;
    for (long p = 0; p < kc; p++) {
        gemm_vec bv[GEMM_NV];
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++) bv[v] = gv_load(b + v * GEMM_VW);
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            const gemm_vec av = (gemm_vec)rows_of_a[i][p * ads];
#pragma clang loop unroll(full)
            for (int v = 0; v < V; v++) acc[i][v] = BP_FMA(av, bv[v], acc[i][v]);
        }
        b += bs;
    }
    if (rows == R && cols == V * GEMM_VW) {
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
            for (int v = 0; v < V; v++) {
                float *out = c + i * ldc + v * GEMM_VW;
                if (beta == 0) gv_store(out, acc[i][v] * alpha);
                else gv_store(out, BP_FMA(gv_load(out), (gemm_vec)beta, acc[i][v] * alpha));
            }
        return;
    }
    // An edge tile: through a scratch row, only the columns that exist.
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++) {
        if (i >= rows) break;
        float scratch[GEMM_NR];
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++) gv_store(scratch + v * GEMM_VW, acc[i][v]);
        float *out = c + i * ldc;
        if (beta == 0) {
            for (long j = 0; j < cols; j++) out[j] = alpha * scratch[j];
        } else {
            for (long j = 0; j < cols; j++) out[j] = alpha * scratch[j] + beta * out[j];
        }
    }
}

/// Width of panel `panel` of a block of `columns`: nr, or nr / 2 when the remainder fits the
/// half-width kernel (less wasted arithmetic on narrow edges such as N = 10).
BP_INLINE long gemm_panel_width(long columns, long panel) {
    const long remaining = columns - panel * GEMM_NR;
    return remaining >= GEMM_NR ? GEMM_NR : (remaining <= GEMM_NR / 2 ? GEMM_NR / 2 : GEMM_NR);
}

typedef float gemm_v16 __attribute__((ext_vector_type(16)));
typedef float gemm_v32 __attribute__((ext_vector_type(32)));

/// Transposes a 16 x 16 block: row r of src (stride ss) becomes column r of dst (stride ds).
/// Four rounds of "unzip" (even/odd lanes of two concatenated rows) rotate the 8-bit (row, lane)
/// index by one bit each, so after four rounds rows and lanes have swapped; on AVX-512 each unzip
/// is one vpermt2ps.
BP_INLINE void gemm_transpose16x16(const float *src, long ss, float *dst, long ds) {
    gemm_v16 r[16], t[16];
#pragma clang loop unroll(full)
    for (int i = 0; i < 16; i++) __builtin_memcpy(&r[i], src + i * ss, sizeof r[i]);
#pragma clang loop unroll(full)
    for (int round = 0; round < 4; round++) {
#pragma clang loop unroll(full)
        for (int q = 0; q < 8; q++) {
            t[q] = __builtin_shufflevector(r[2 * q], r[2 * q + 1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
                                           24, 26, 28, 30);
            t[q + 8] = __builtin_shufflevector(r[2 * q], r[2 * q + 1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21,
                                               23, 25, 27, 29, 31);
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < 16; i++) r[i] = t[i];
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < 16; i++) __builtin_memcpy(dst + i * ds, &r[i], sizeof r[i]);
}

/// Packs the depth x columns block of op(B) (element (p, j) at b[p * ds + j * cs]) into panels
/// of nr columns: panel q at dst + q * depth * nr holds (p, j) at p * width + j, zero-padded.
static void gemm_pack_b(long depth, long columns, const float *b, long ds, long cs, float *dst) {
    const long panels = (columns + GEMM_NR - 1) / GEMM_NR;
    for (long panel = 0; panel < panels; panel++) {
        const long width = gemm_panel_width(columns, panel);
        const long used = columns - panel * GEMM_NR < GEMM_NR ? columns - panel * GEMM_NR : GEMM_NR;
        const float *source = b + panel * GEMM_NR * cs;
        float *target = dst + panel * depth * GEMM_NR;
        if (cs == 1) {
            for (long p = 0; p < depth; p++) {
                const float *from = source + p * ds;
                float *to = target + p * width;
                if (used == width && width % GEMM_VW == 0) {
                    for (long j = 0; j < width; j += GEMM_VW) gv_store(to + j, gv_load(from + j));
                } else {
                    for (long j = 0; j < used; j++) to[j] = from[j];
                    for (long j = used; j < width; j++) to[j] = 0;
                }
            }
        } else {
            long p0 = 0;
            if (used == width && width % 16 == 0) {
                for (; p0 + 16 <= depth; p0 += 16)
                    for (long j0 = 0; j0 < width; j0 += 16)
                        gemm_transpose16x16(source + j0 * cs + p0, cs, target + p0 * width + j0, width);
            }
            if (p0 < depth) {
                for (long j = 0; j < used; j++) {
                    const float *from = source + j * cs;
                    for (long p = p0; p < depth; p++) target[p * width + j] = from[p];
                }
                for (long p = p0; p < depth; p++)
                    for (long j = used; j < width; j++) target[p * width + j] = 0;
            }
        }
    }
}

/// Packs rows <= mr rows of an A sliver as dst[p * mr + i], zero-padding rows rows..<mr.
static void gemm_pack_a(long rows, long depth, const float *a, long rs, long ds, float *dst) {
    for (long p = 0; p < depth; p++) {
        float *to = dst + p * GEMM_MR;
        const float *from = a + p * ds;
        for (long i = 0; i < rows; i++) to[i] = from[i * rs];
        for (long i = rows; i < GEMM_MR; i++) to[i] = 0;
    }
}

/// Whether kc x nr slivers of B can be streamed from B itself: rows contiguous, and the row
/// stride not a multiple of 128 bytes (which would fold a sliver's rows onto a few L1 sets).
BP_INLINE int gemm_b_in_place(const bp_gemm_problem *op) {
    return op->b_column_stride == 1 && op->b_depth_stride % 32 != 0;
}

typedef struct gemm_blocking {
    long kc_nominal, nc_nominal;
    int rows_outer, b_in_place;
    /// Whether each row chunk of A is packed into mr-row slivers before its panels run.
    int pack_a;
    long packed_b_floats;
} gemm_blocking;

BP_INLINE gemm_blocking gemm_blocking_for(const bp_gemm_problem *op, long rows, long cols) {
    gemm_blocking g;
    const long k = op->k;
    const long depth_chunks = (k + gemm_max_depth_chunk - 1) / gemm_max_depth_chunk;
    g.kc_nominal = (k + depth_chunks - 1) / depth_chunks;
    // When C is too large to stay cached between depth chunks, walk each A sliver across all
    // B panels (rows outer): C is then touched left to right, a stream the prefetcher follows,
    // and the B block (kc x nc, nc <= 512) stays in L2. Otherwise panels outer, each in L1.
    g.rows_outer = rows * cols >= gemm_large_c && k > gemm_max_depth_chunk;
    const long limit = g.rows_outer ? 512 : gemm_column_chunk;
    g.nc_nominal = limit < cols ? limit : cols;
    g.b_in_place = gemm_b_in_place(op) && rows <= gemm_in_place_row_limit;
    g.packed_b_floats = g.kc_nominal * (g.b_in_place ? GEMM_NR : (g.nc_nominal + GEMM_NR - 1) / GEMM_NR * GEMM_NR);
    // Transposed A (depth steps a stored row apart) is packed per row chunk into mr-row slivers
    // at levels where that measured faster (GEMM_PACK_TRANSPOSED_A): read in place, each sliver
    // touches a new cache line and page at every depth step, lines that share an L1 set when
    // the stride is a multiple of 4 KiB. Aᵀ·B of a 1024-wide layer on Zen 5, 1 thread: avx2 88
    // GFLOP/s in place, ~95 packed; avx512 (8-row slivers, two cache lines per 16 FMAs) the
    // other way, ~105 in place, ~95 packed. Row-major A stays in place at every level: packed
    // too (4+ panels per chunk) it was 1-3% slower on the bench gemm shapes, 18% on (60,100,784).
    g.pack_a = GEMM_PACK_TRANSPOSED_A && op->a_depth_stride != 1 && cols > GEMM_NR;
    return g;
}

static long gemm_workspace_floats(const bp_gemm_problem *op, long rows, long cols) {
    const gemm_blocking g = gemm_blocking_for(op, rows, cols);
    const long a_rows = g.pack_a ? (gemm_row_chunk + GEMM_MR - 1) / GEMM_MR * GEMM_MR : GEMM_MR;
    return g.packed_b_floats + g.kc_nominal * a_rows;
}

/// Packs rows [0, rows) of a transposed A block (element (i, p) at a[i + p * ds]) as slivers of
/// mr rows: sliver s at dst + s * depth * mr holds (s·mr + i, p) at p * mr + i, zero-padded. Each
/// depth step reads `rows` contiguous floats.
static void gemm_pack_a_transposed(long rows, long depth, const float *a, long ds, float *dst) {
    const long slivers = (rows + GEMM_MR - 1) / GEMM_MR;
    for (long p = 0; p < depth; p++) {
        const float *from = a + p * ds;
        for (long s = 0; s < slivers; s++) {
            float *to = dst + s * depth * GEMM_MR + p * GEMM_MR;
            const long n = rows - s * GEMM_MR < GEMM_MR ? rows - s * GEMM_MR : GEMM_MR;
            for (long i = 0; i < n; i++) to[i] = from[s * GEMM_MR + i];
            for (long i = n; i < GEMM_MR; i++) to[i] = 0;
        }
    }
}

/// Picks the copy of the micro-kernel for the tile's shape: full or half width, full or short.
BP_INLINE void gemm_run_tile(int full, int shorter, long kc, const float *a, long ars, long ads,
                             const float *b, long bs, float *c, long ldc, long rows, long cols,
                             float alpha, float beta) {
    if (full) {
        if (!shorter) gemm_tile(GEMM_MR, GEMM_NV, kc, a, ars, ads, b, bs, c, ldc, rows, cols, alpha, beta);
        else gemm_tile(GEMM_MR / 2, GEMM_NV, kc, a, ars, ads, b, bs, c, ldc, rows, cols, alpha, beta);
    } else {
        if (!shorter) gemm_tile(GEMM_MR, GEMM_NV / 2, kc, a, ars, ads, b, bs, c, ldc, rows, cols, alpha, beta);
        else gemm_tile(GEMM_MR / 2, GEMM_NV / 2, kc, a, ars, ads, b, bs, c, ldc, rows, cols, alpha, beta);
    }
}

/// B panel `panel` of the current block times the A sliver at row ir (row chunk [ic, ic_end);
/// packed_edge_a holds the chunk's packed slivers when g->pack_a, else its padded bottom edge).
BP_INLINE void gemm_panel_sliver(const bp_gemm_problem *op, const gemm_blocking *g, long panel, long ir,
                                 long ic, long ic_end, long full_end, long jc, long nc, long full_panels, long pc,
                                 long kc, float beta, const float *b_block, const float *packed_b,
                                 const float *packed_edge_a) {
    const long width = gemm_panel_width(nc, panel);
    const float *b = packed_b + panel * kc * GEMM_NR;
    long bs = width;
    if (g->b_in_place) {
        if (panel < full_panels) {
            b = b_block + panel * GEMM_NR;
            bs = op->b_depth_stride;
        } else {
            b = packed_b;
        }
    }
    float *c = op->c + ir * op->ldc + jc + panel * GEMM_NR;
    const long rows = GEMM_MR < ic_end - ir ? GEMM_MR : ic_end - ir;
    const long cols = GEMM_NR < nc - panel * GEMM_NR ? GEMM_NR : nc - panel * GEMM_NR;
    if (g->pack_a) {
        const float *a = packed_edge_a + (ir - ic) / GEMM_MR * kc * GEMM_MR;
        gemm_run_tile(width == GEMM_NR, rows <= GEMM_MR / 2, kc, a, 1, GEMM_MR, b, bs, c, op->ldc, rows, cols,
                      op->alpha, beta);
    } else if (ir < full_end) {
        const float *a = op->a + ir * op->a_row_stride + pc * op->a_depth_stride;
        if (op->a_depth_stride == 1)
            gemm_run_tile(width == GEMM_NR, 0, kc, a, op->a_row_stride, 1, b, bs, c, op->ldc, rows, cols,
                          op->alpha, beta);
        else
            gemm_run_tile(width == GEMM_NR, 0, kc, a, 1, op->a_depth_stride, b, bs, c, op->ldc, rows, cols,
                          op->alpha, beta);
    } else {
        gemm_run_tile(width == GEMM_NR, rows <= GEMM_MR / 2, kc, packed_edge_a, 1, GEMM_MR, b, bs, c, op->ldc,
                      rows, cols, op->alpha, beta);
    }
}

static void gemm_block(const bp_gemm_problem *op, long row_begin, long row_end, long col_begin, long col_end,
                       float *workspace) {
    const long k = op->k;
    const gemm_blocking g = gemm_blocking_for(op, row_end - row_begin, col_end - col_begin);
    float *packed_b = workspace;
    float *packed_edge_a = workspace + g.packed_b_floats;
    for (long jc = col_begin; jc < col_end; jc += g.nc_nominal) {
        const long nc = g.nc_nominal < col_end - jc ? g.nc_nominal : col_end - jc;
        const long panels = (nc + GEMM_NR - 1) / GEMM_NR;
        const long full_panels = nc / GEMM_NR;
        for (long pc = 0; pc < k; pc += g.kc_nominal) {
            const long kc = g.kc_nominal < k - pc ? g.kc_nominal : k - pc;
            const float beta = pc == 0 ? op->beta : 1;
            const float *b_block = op->b + pc * op->b_depth_stride + jc * op->b_column_stride;
            if (!g.b_in_place) {
                gemm_pack_b(kc, nc, b_block, op->b_depth_stride, op->b_column_stride, packed_b);
            } else if (full_panels < panels) {
                // Only the ragged right-hand panel is copied (zero-padded).
                gemm_pack_b(kc, nc - full_panels * GEMM_NR, b_block + full_panels * GEMM_NR * op->b_column_stride,
                            op->b_depth_stride, op->b_column_stride, packed_b);
            }
            for (long ic = row_begin; ic < row_end; ic += gemm_row_chunk) {
                const long ic_end = ic + gemm_row_chunk < row_end ? ic + gemm_row_chunk : row_end;
                const long full_end = ic + (ic_end - ic) / GEMM_MR * GEMM_MR;
                if (g.pack_a && op->a_depth_stride != 1) {
                    gemm_pack_a_transposed(ic_end - ic, kc, op->a + ic + pc * op->a_depth_stride, op->a_depth_stride,
                                           packed_edge_a);
                } else if (full_end < ic_end) {
                    gemm_pack_a(ic_end - full_end, kc, op->a + full_end * op->a_row_stride + pc * op->a_depth_stride,
                                op->a_row_stride, op->a_depth_stride, packed_edge_a);
                }
                if (g.rows_outer) {
                    for (long ir = ic; ir < ic_end; ir += GEMM_MR)
                        for (long panel = 0; panel < panels; panel++)
                            gemm_panel_sliver(op, &g, panel, ir, ic, ic_end, full_end, jc, nc, full_panels, pc, kc, beta,
                                              b_block, packed_b, packed_edge_a);
                } else {
                    for (long panel = 0; panel < panels; panel++)
                        for (long ir = ic; ir < ic_end; ir += GEMM_MR)
                            gemm_panel_sliver(op, &g, panel, ir, ic, ic_end, full_end, jc, nc, full_panels, pc, kc, beta,
                                              b_block, packed_b, packed_edge_a);
                }
            }
        }
    }
}
