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
// Where B's rows are contiguous but cannot be read in place (row stride a multiple of 128 bytes,
// e.g. N = 1024) and the block has one row chunk, the first sliver of each panel reads B in place
// and writes the copy that the chunk's other slivers read (one kc x nr buffer, hot in L1), so the
// packing overlaps the arithmetic instead of a separate pass over a 1 MiB block. Large C (the
// 2048-cubed class) packs A too and keeps the same panels-outer order.
//
// Order of operations, the same for any thread count: each element of C is the sum over depth
// chunks (of at most 256, split evenly) of that chunk's FMA chain in increasing p, scaled by
// alpha and added to beta * C: fma(C, beta, alpha * sum) in whole tiles, alpha * sum + beta * C
// in edge tiles. The tile shape differs by level, so levels agree to rounding, not bit for bit.

// Per-level choices (0 unless the level's kernels_<level>.c defines them; measured on Zen 5):
//   GEMM_COPY_B_IN_FIRST_SLIVER  copy B panel by panel during the first sliver (see gemm_blocking).
//   GEMM_PACK_LARGE_A            large C packs A and keeps panels outer, instead of rows outer.
//   GEMM_PACK_TRANSPOSED_B_PER_PANEL  a large transposed B block packed panel by panel too.
// The first two win at avx2 (6 x 16) and lose 2-4 % at avx512 (8 x 32: 32 KiB panels, 2048-cubed
// 109 GFLOP/s rows outer vs 105), so only kernels_avx2.c turns them on; the third is neutral on
// Zen 5 (within 2 % either way on (128, 784 or 1024, 1024) A·Bᵀ) and is meant for the smaller
// L2 of AVX2-only cores (Zen 3: 512 KiB, which a 1 MiB block cannot stay in; not measured
// there), so it too is on at avx2 only.
#ifndef GEMM_COPY_B_IN_FIRST_SLIVER
#define GEMM_COPY_B_IN_FIRST_SLIVER 0
#endif
#ifndef GEMM_PACK_LARGE_A
#define GEMM_PACK_LARGE_A 0
#endif
#ifndef GEMM_PACK_TRANSPOSED_B_PER_PANEL
#define GEMM_PACK_TRANSPOSED_B_PER_PANEL 0
#endif

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
/// COPY (a constant too): also store each row of the B sliver at bcopy, contiguously (the packed
/// panel that later slivers read).
BP_INLINE void gemm_tile(const int R, const int V, long kc, const float *a, long ars, long ads,
                         const float *b, long bs, float *c, long ldc, long rows, long cols,
                         float alpha, float beta, const int COPY, float *bcopy) {
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
        if (COPY) {
#pragma clang loop unroll(full)
            for (int v = 0; v < V; v++) gv_store(bcopy + v * GEMM_VW, bv[v]);
            bcopy += V * GEMM_VW;
        }
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
    if (cs == 1 && columns % GEMM_NR == 0) {
        // Row by row: each row of B is read once, front to back, and its nr-wide pieces go to
        // their panels. Panel by panel (below) reads 64 bytes of every row a row stride apart,
        // a new page at every step when rows are 4 KiB or more, which the hardware prefetchers
        // do not follow: every line is a demand miss whenever B is not in L2.
        for (long p = 0; p < depth; p++) {
            const float *from = b + p * ds;
            float *to = dst + p * GEMM_NR;
            for (long panel = 0; panel < panels; panel++)
#pragma clang loop unroll(full)
                for (long j = 0; j < GEMM_NR; j += GEMM_VW)
                    gv_store(to + panel * depth * GEMM_NR + j, gv_load(from + panel * GEMM_NR + j));
        }
        return;
    }
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
#if BP_ISA_AVX2 && !BP_ISA_AVX512
            // 8 x 8 tiles in ymm registers (unpack, shuffle, 128-bit lane swap: 24 shuffles per
            // 64 floats). The 16 x 16 unzip below, written for zmm, becomes 256 shuffles per 256
            // floats on AVX2: it cost ~10 % of (128, 1024, 1024) A·Bᵀ, whose every panel is packed
            // by transposing.
            if (used == width && width % 8 == 0) {
                for (; p0 + 8 <= depth; p0 += 8)
                    for (long j0 = 0; j0 < width; j0 += 8) {
                        const float *from = source + j0 * cs + p0;
                        __m256 r[8];
                        for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(from + i * cs);
                        avx2_transpose8x8(r);
                        float *to = target + p0 * width + j0;
                        for (int i = 0; i < 8; i++) _mm256_storeu_ps(to + i * width, r[i]);
                    }
            }
#endif
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
#if GEMM_MR == 6 && GEMM_VW == 8
    if (rows == GEMM_MR && ds == 1) {
        // 8 depth steps at a time: an 8 x 8 transpose (unpack, shuffle, lane swap) of the 6 rows
        // plus 2 don't-care rows, each column stored as 8 floats at a 6-float pitch (the next
        // store overwrites the 2 extra; the last 8 steps go one by one).
        long p0 = 0;
        for (; p0 + 8 < depth; p0 += 8) {
            gemm_vec r[8], t[8], u[8];
#pragma clang loop unroll(full)
            for (int i = 0; i < 6; i++) r[i] = gv_load(a + i * rs + p0);
            r[6] = r[4];
            r[7] = r[5];
#pragma clang loop unroll(full)
            for (int i = 0; i < 4; i++) {
                t[2 * i] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
                t[2 * i + 1] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
            }
#pragma clang loop unroll(full)
            for (int h = 0; h < 2; h++) {
                u[4 * h + 0] = __builtin_shufflevector(t[4 * h], t[4 * h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
                u[4 * h + 1] = __builtin_shufflevector(t[4 * h], t[4 * h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
                u[4 * h + 2] = __builtin_shufflevector(t[4 * h + 1], t[4 * h + 3], 0, 1, 8, 9, 4, 5, 12, 13);
                u[4 * h + 3] = __builtin_shufflevector(t[4 * h + 1], t[4 * h + 3], 2, 3, 10, 11, 6, 7, 14, 15);
            }
            float *to = dst + p0 * GEMM_MR;
#pragma clang loop unroll(full)
            for (int q = 0; q < 4; q++)
                gv_store(to + q * GEMM_MR, __builtin_shufflevector(u[q], u[q + 4], 0, 1, 2, 3, 8, 9, 10, 11));
#pragma clang loop unroll(full)
            for (int q = 0; q < 4; q++)
                gv_store(to + (q + 4) * GEMM_MR, __builtin_shufflevector(u[q], u[q + 4], 4, 5, 6, 7, 12, 13, 14, 15));
        }
        for (long p = p0; p < depth; p++)
            for (long i = 0; i < GEMM_MR; i++) dst[p * GEMM_MR + i] = a[i * rs + p];
        return;
    }
#endif
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
    /// Whether B is packed one panel at a time into a single kc x nr buffer, by the first sliver
    /// of each panel (row-contiguous B that is not read in place, one row chunk).
    int b_single_panel;
    long packed_b_floats;
} gemm_blocking;

BP_INLINE gemm_blocking gemm_blocking_for(const bp_gemm_problem *op, long rows, long cols) {
    gemm_blocking g;
    const long k = op->k;
    const long depth_chunks = (k + gemm_max_depth_chunk - 1) / gemm_max_depth_chunk;
    g.kc_nominal = (k + depth_chunks - 1) / depth_chunks;
    // When C is too large to stay cached between depth chunks (large_c), either walk each A
    // sliver across all B panels (rows outer): C is then touched left to right, a stream the
    // prefetcher follows, and the B block (kc x nc, nc <= 512) stays in L2; or, with
    // GEMM_PACK_LARGE_A, pack A (below) and keep panels outer, each kc x nr B panel in L1 while
    // the packed 128 x kc A chunk streams from L2 (the BLIS order). Rows outer reads A in place,
    // where 6 rows 8 KiB apart share L1 sets: 2048-cubed at avx2 ~98 GFLOP/s that way, ~105
    // packed (OpenBLAS Haswell ~105-109). Otherwise panels outer, each in L1.
    const int large_c = rows * cols >= gemm_large_c && k > gemm_max_depth_chunk;
    g.rows_outer = large_c && !GEMM_PACK_LARGE_A;
    const long limit = g.rows_outer ? 512 : gemm_column_chunk;
    g.nc_nominal = limit < cols ? limit : cols;
    g.b_in_place = gemm_b_in_place(op) && rows <= gemm_in_place_row_limit;
    // Packing a kc x 1024 block of B (1 MiB, an L2's worth) in its own pass cost ~6 % of
    // (128, 1024, K) at avx2; copied by the first sliver of each panel instead: 128 x 1024 x 256
    // 106 -> 110 GFLOP/s, x 1024 103 -> 107.
    // Transposed B (A·Bᵀ) too when its block is large (over 256 KiB), each panel packed
    // (transposing) just before its slivers run, into one kc x nr buffer that stays in L1:
    // packing a whole kc x 1024 block first puts 1 MiB through L2 (all of Zen 5's, twice Zen 3's),
    // evicting the A chunk that every sliver reads. Small blocks stay packed whole: (60, 100, 784)
    // NT was ~8 % slower panel by panel on Zen 5 (10 slivers per panel do not hide the packing).
    const long block_floats = g.kc_nominal * (g.nc_nominal + GEMM_NR - 1) / GEMM_NR * GEMM_NR;
    g.b_single_panel = !g.b_in_place && rows <= gemm_row_chunk && !g.rows_outer &&
                       (op->b_column_stride == 1 ? GEMM_COPY_B_IN_FIRST_SLIVER
                                                 : GEMM_PACK_TRANSPOSED_B_PER_PANEL && block_floats > (1 << 16));
    g.packed_b_floats = g.kc_nominal * (g.b_in_place || g.b_single_panel ? GEMM_NR : (g.nc_nominal + GEMM_NR - 1) / GEMM_NR * GEMM_NR);
    // Transposed A (depth steps a stored row apart) is packed per row chunk into mr-row slivers
    // at levels where that measured faster (GEMM_PACK_TRANSPOSED_A): read in place, each sliver
    // touches a new cache line and page at every depth step, lines that share an L1 set when
    // the stride is a multiple of 4 KiB. Aᵀ·B of a 1024-wide layer on Zen 5, 1 thread: avx2 88
    // GFLOP/s in place, ~95 packed; avx512 (8-row slivers, two cache lines per 16 FMAs) the
    // other way, ~105 in place, ~95 packed. Row-major A stays in place at every level: packed
    // too (4+ panels per chunk) it was 1-3% slower on the bench gemm shapes, 18% on (60,100,784).
    g.pack_a = (GEMM_PACK_TRANSPOSED_A && op->a_depth_stride != 1 && cols > GEMM_NR) || (large_c && GEMM_PACK_LARGE_A);
    return g;
}

static long gemm_workspace_floats(const bp_gemm_problem *op, long rows, long cols) {
    const gemm_blocking g = gemm_blocking_for(op, rows, cols);
    const long a_rows = g.pack_a ? (gemm_row_chunk + GEMM_MR - 1) / GEMM_MR * GEMM_MR : GEMM_MR;
    return g.packed_b_floats + g.kc_nominal * a_rows;
}

/// Packs rows [0, rows) of a transposed A block (element (i, p) at a[i + p * ds]) as slivers of
/// mr rows: sliver s at dst + s * depth * mr holds (s·mr + i, p) at p * mr + i, zero-padded.
/// Depth steps go 8 at a time, each sliver's 8 (8 x mr floats, contiguous) before the next: one
/// step at a time across all slivers (~22 store streams) took 10.6 us per 128 x 256 chunk on
/// Zen 5, this 4.0 us (the chunk's arithmetic ~76 us), (1024, 128, 1024) TN 96 -> 104 GFLOP/s.
static void gemm_pack_a_transposed(long rows, long depth, const float *a, long ds, float *dst) {
    const long full = rows / GEMM_MR;
    for (long p0 = 0; p0 < depth; p0 += 8) {
        const long p1 = p0 + 8 < depth ? p0 + 8 : depth;
        for (long s = 0; s < full; s++) {
            float *to = dst + s * depth * GEMM_MR;
            const float *from = a + s * GEMM_MR;
            for (long p = p0; p < p1; p++) __builtin_memcpy(to + p * GEMM_MR, from + p * ds, GEMM_MR * sizeof(float));
        }
        if (full * GEMM_MR < rows) {
            float *to = dst + full * depth * GEMM_MR;
            const float *from = a + full * GEMM_MR;
            const long n = rows - full * GEMM_MR;
            for (long p = p0; p < p1; p++) {
                for (long i = 0; i < n; i++) to[p * GEMM_MR + i] = from[p * ds + i];
                for (long i = n; i < GEMM_MR; i++) to[p * GEMM_MR + i] = 0;
            }
        }
    }
}

/// The micro-kernel that also copies its B sliver into bcopy (gemm_tile's COPY), for full-width
/// panels. Out of line: inlined, its copies cost the main loop nest 1-2 % on small shapes.
__attribute__((noinline)) static void gemm_copy_tile(int shorter, long kc, const float *a, long ars, long ads,
                                                     const float *b, long bs, float *c, long ldc, long rows,
                                                     long cols, float alpha, float beta, float *bcopy) {
    if (ads == 1) {
        if (!shorter) gemm_tile(GEMM_MR, GEMM_NV, kc, a, ars, 1, b, bs, c, ldc, rows, cols, alpha, beta, 1, bcopy);
        else gemm_tile(GEMM_MR / 2, GEMM_NV, kc, a, ars, 1, b, bs, c, ldc, rows, cols, alpha, beta, 1, bcopy);
    } else {
        if (!shorter) gemm_tile(GEMM_MR, GEMM_NV, kc, a, 1, ads, b, bs, c, ldc, rows, cols, alpha, beta, 1, bcopy);
        else gemm_tile(GEMM_MR / 2, GEMM_NV, kc, a, 1, ads, b, bs, c, ldc, rows, cols, alpha, beta, 1, bcopy);
    }
}

/// Picks the copy of the micro-kernel for the tile's shape: full or half width, full or short.
BP_INLINE void gemm_run_tile(int full, int shorter, long kc, const float *a, long ars, long ads,
                             const float *b, long bs, float *c, long ldc, long rows, long cols,
                             float alpha, float beta, float *bcopy) {
    if (bcopy) {
        gemm_copy_tile(shorter, kc, a, ars, ads, b, bs, c, ldc, rows, cols, alpha, beta, bcopy);
        return;
    }
    if (full) {
        if (!shorter) gemm_tile(GEMM_MR, GEMM_NV, kc, a, ars, ads, b, bs, c, ldc, rows, cols, alpha, beta, 0, 0);
        else gemm_tile(GEMM_MR / 2, GEMM_NV, kc, a, ars, ads, b, bs, c, ldc, rows, cols, alpha, beta, 0, 0);
    } else {
        if (!shorter) gemm_tile(GEMM_MR, GEMM_NV / 2, kc, a, ars, ads, b, bs, c, ldc, rows, cols, alpha, beta, 0, 0);
        else gemm_tile(GEMM_MR / 2, GEMM_NV / 2, kc, a, ars, ads, b, bs, c, ldc, rows, cols, alpha, beta, 0, 0);
    }
}

/// B panel `panel` of the current block times the A sliver at row ir (row chunk [ic, ic_end);
/// packed_edge_a holds the chunk's packed slivers when g->pack_a, else its padded bottom edge).
/// copy_b: read the (full-width) panel from B itself and copy it into packed_b.
BP_INLINE void gemm_panel_sliver(const bp_gemm_problem *op, const gemm_blocking *g, long panel, long ir,
                                 long ic, long ic_end, long full_end, long jc, long nc, long full_panels, long pc,
                                 long kc, float beta, const float *b_block, const float *packed_b,
                                 const float *packed_edge_a, int copy_b) {
    const long width = gemm_panel_width(nc, panel);
    const float *b = packed_b + (g->b_single_panel ? 0 : panel * kc * GEMM_NR);
    long bs = width;
    float *bcopy = 0;
    if (copy_b) {
        bcopy = (float *)packed_b;
        b = b_block + panel * GEMM_NR;
        bs = op->b_depth_stride;
    }
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
                      op->alpha, beta, bcopy);
    } else if (ir < full_end) {
        const float *a = op->a + ir * op->a_row_stride + pc * op->a_depth_stride;
        if (op->a_depth_stride == 1)
            gemm_run_tile(width == GEMM_NR, 0, kc, a, op->a_row_stride, 1, b, bs, c, op->ldc, rows, cols,
                          op->alpha, beta, bcopy);
        else
            gemm_run_tile(width == GEMM_NR, 0, kc, a, 1, op->a_depth_stride, b, bs, c, op->ldc, rows, cols,
                          op->alpha, beta, bcopy);
    } else {
        gemm_run_tile(width == GEMM_NR, rows <= GEMM_MR / 2, kc, packed_edge_a, 1, GEMM_MR, b, bs, c, op->ldc,
                      rows, cols, op->alpha, beta, bcopy);
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
            if (g.b_single_panel) {
                // Packed panel by panel in the row loop below.
            } else if (!g.b_in_place) {
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
                } else if (g.pack_a) {
                    for (long s = ic; s < ic_end; s += GEMM_MR)
                        gemm_pack_a(ic_end - s < GEMM_MR ? ic_end - s : GEMM_MR, kc, op->a + s * op->a_row_stride + pc,
                                    op->a_row_stride, 1, packed_edge_a + (s - ic) / GEMM_MR * kc * GEMM_MR);
                } else if (full_end < ic_end) {
                    gemm_pack_a(ic_end - full_end, kc, op->a + full_end * op->a_row_stride + pc * op->a_depth_stride,
                                op->a_row_stride, op->a_depth_stride, packed_edge_a);
                }
                // While this chunk runs, prefetch (spread over its tiles) what the next A packing
                // will read, so that packing finds it in cache: TN (1024, 128, 1024) +1 %.
                const float *next_a = 0;
                long next_segments = 0, next_length = 0, next_stride = 0, next_done = 0, next_per_tile = 0;
                if (g.pack_a) {
                    long nic = ic + gemm_row_chunk, npc = pc;
                    if (nic >= row_end) nic = row_begin, npc = pc + g.kc_nominal;
                    if (npc < k) {
                        const long nrows = gemm_row_chunk < row_end - nic ? gemm_row_chunk : row_end - nic;
                        const long nkc = g.kc_nominal < k - npc ? g.kc_nominal : k - npc;
                        if (op->a_depth_stride != 1) {
                            next_a = op->a + nic + npc * op->a_depth_stride;
                            next_segments = nkc, next_length = nrows, next_stride = op->a_depth_stride;
                        } else {
                            next_a = op->a + nic * op->a_row_stride + npc;
                            next_segments = nrows, next_length = nkc, next_stride = op->a_row_stride;
                        }
                        const long tiles = panels * ((ic_end - ic + GEMM_MR - 1) / GEMM_MR);
                        next_per_tile = (next_segments + tiles - 1) / tiles;
                    }
                }
                if (g.rows_outer) {
                    for (long ir = ic; ir < ic_end; ir += GEMM_MR)
                        for (long panel = 0; panel < panels; panel++)
                            gemm_panel_sliver(op, &g, panel, ir, ic, ic_end, full_end, jc, nc, full_panels, pc, kc, beta,
                                              b_block, packed_b, packed_edge_a, 0);
                    continue;
                }
                for (long panel = 0; panel < panels; panel++) {
                    const long cs = op->b_column_stride;
                    const int copy = g.b_single_panel && cs == 1 && panel < full_panels;
                    if (g.b_single_panel && !copy)
                        gemm_pack_b(kc, GEMM_NR < nc - panel * GEMM_NR ? GEMM_NR : nc - panel * GEMM_NR,
                                    b_block + panel * GEMM_NR * cs, op->b_depth_stride, cs, packed_b);
                    // When B is copied panel by panel, the first sliver reads the panel's kc rows
                    // of nr floats a row stride apart, each on a new page: prefetch the next
                    // panel's rows into L2, spread over this panel's slivers, so that they are not
                    // demand misses to L3 or memory ((128, 1024, 1024) NN at avx2, 1 thread:
                    // medians +10-20 % on a noisy Zen 5). Transposed B: the next panel's nr stored
                    // rows of kc floats, line by line.
                    const float *next_b = 0;
                    long next_b_rows = 0, next_b_lines = 0, next_b_done = 0, next_b_per_tile = 0;
                    if (g.b_single_panel) {
                        if (panel + 1 < panels) {
                            next_b = b_block + (panel + 1) * GEMM_NR * cs, next_b_rows = kc;
                        } else if (pc + g.kc_nominal < k) {
                            next_b = op->b + (pc + g.kc_nominal) * op->b_depth_stride + jc * cs;
                            next_b_rows = g.kc_nominal < k - pc - g.kc_nominal ? g.kc_nominal : k - pc - g.kc_nominal;
                        } else if (jc + g.nc_nominal < col_end) {
                            next_b = op->b + (jc + g.nc_nominal) * cs, next_b_rows = g.kc_nominal;
                        }
                        next_b_lines = cs == 1 ? next_b_rows : GEMM_NR * ((next_b_rows + 15) / 16);
                        const long slivers = (ic_end - ic + GEMM_MR - 1) / GEMM_MR;
                        next_b_per_tile = (next_b_lines + slivers - 1) / slivers;
                    }
                    const int next_b_straddles = ((unsigned long)next_b & 63) != 0;
                    for (long ir = ic; ir < ic_end; ir += GEMM_MR) {
                        for (long q = 0; q < next_b_per_tile && next_b_done < next_b_lines; q++, next_b_done++) {
                            const long lines_per_column = (next_b_rows + 15) / 16;
                            const float *line = cs == 1 ? next_b + next_b_done * op->b_depth_stride
                                                        : next_b + next_b_done / lines_per_column * cs +
                                                              next_b_done % lines_per_column * 16;
                            __builtin_prefetch(line, 0, 2);
                            if (next_b_straddles) __builtin_prefetch(line + 15, 0, 2);
                        }
                        for (long q = 0; q < next_per_tile && next_done < next_segments; q++, next_done++) {
                            const float *segment = next_a + next_done * next_stride;
                            for (long off = 0; off < next_length; off += 16) __builtin_prefetch(segment + off, 0, 3);
                            __builtin_prefetch(segment + next_length - 1, 0, 3);
                        }
                        gemm_panel_sliver(op, &g, panel, ir, ic, ic_end, full_end, jc, nc, full_panels, pc, kc, beta,
                                          b_block, packed_b, packed_edge_a, copy && ir == ic);
                    }
                }
            }
        }
    }
}
