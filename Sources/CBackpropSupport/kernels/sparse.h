// Data movement and the sparse-input path of a fully connected layer (contracts in
// include/bp_sparse.h). Part of the per-level kernel bodies: see kernels_<level>.c. The AVX-512
// level keeps masked loads/stores and zmm permutes for ragged edges and tile transposes; the
// other levels take the portable paths (same results, bit for bit: these only move data, and
// the product's order of operations is the same on every level).

#if BP_ISA_AVX512

// Loads the 16 x 16 tile at a (row stride lda) and returns its columns in columns[0..15]: the
// classic four rounds of in-lane unpacks and 128-bit lane shuffles, 64 permutes per 256
// elements. The tile's first `rows` rows and `cols` columns (1...16 each) are real: missing rows
// read as zeros, missing columns are not read (their lanes are zero).
static inline void load_tile16_columns(const float *a, long lda, int rows, int cols, __m512 columns[16]) {
    __m512 r[16], s[16];
    const __mmask16 columnMask = (__mmask16)((1u << cols) - 1u);
    for (int i = 0; i < 16; i++) {
        r[i] = i < rows ? _mm512_maskz_loadu_ps(columnMask, a + i * lda) : _mm512_setzero_ps();
    }
    for (int i = 0; i < 16; i += 2) {
        s[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        s[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(s[i]), _mm512_castps_pd(s[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(s[i]), _mm512_castps_pd(s[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(s[i + 1]), _mm512_castps_pd(s[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(s[i + 1]), _mm512_castps_pd(s[i + 3])));
    }
    // r[4q + p] now holds, in 128-bit lane L, column 4L + p of rows 4q .. 4q + 3. Two rounds
    // of lane shuffles gather lane L of r[p], r[4 + p], r[8 + p], r[12 + p] into one register:
    // first s[q + p] = (col p | col 8+p) and s[q + 4 + p] = (col 4+p | col 12+p) of rows
    // q .. q + 7 (q = 0, 8),
    for (int q = 0; q < 16; q += 8) {
        for (int p = 0; p < 4; p++) {
            s[q + p] = _mm512_shuffle_f32x4(r[q + p], r[q + 4 + p], 0x88);      // lanes 0, 2 of each
            s[q + 4 + p] = _mm512_shuffle_f32x4(r[q + p], r[q + 4 + p], 0xDD);  // lanes 1, 3 of each
        }
    }
    // then whole columns from rows 0-7 and 8-15.
    for (int p = 0; p < 4; p++) {
        columns[p] = _mm512_shuffle_f32x4(s[p], s[8 + p], 0x88);
        columns[8 + p] = _mm512_shuffle_f32x4(s[p], s[8 + p], 0xDD);
        columns[4 + p] = _mm512_shuffle_f32x4(s[4 + p], s[12 + p], 0x88);
        columns[12 + p] = _mm512_shuffle_f32x4(s[4 + p], s[12 + p], 0xDD);
    }
}

// Transposes the 16 x 16 tile at a into t (row stride ldt), first `rows` rows and `cols`
// columns only: missing columns are neither read nor written, so ragged edges take the vector
// path too.
static inline void transpose_tile16(const float *a, long lda, float *t, long ldt, int accumulate,
                                    int rows, int cols) {
    __m512 columns[16];
    load_tile16_columns(a, lda, rows, cols, columns);
    const __mmask16 rowMask = (__mmask16)((1u << rows) - 1u);
    for (int j = 0; j < cols; j++) {
        float *row = t + j * ldt;
        __m512 value = columns[j];
        if (accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(rowMask, row));
        _mm512_mask_storeu_ps(row, rowMask, value);
    }
}
#endif

#if !BP_ISA_AVX512
typedef float tr_v8 __attribute__((ext_vector_type(8)));

/// Transposes the whole 8 x 8 tile at a (stride lda) into t (stride ldt), or adds it. AVX2: in
/// ymm registers (avx2_transpose8x8). SSE2 and NEON: three rounds of "unzip" (even/odd lanes
/// of two concatenated rows) swap rows and lanes, as the GEMM packer's 16 x 16 does.
BP_INLINE void transpose_tile8(const float *a, long lda, float *t, long ldt, int accumulate) {
#if BP_ISA_AVX2
    __m256 v[8];
    for (int i = 0; i < 8; i++) v[i] = _mm256_loadu_ps(a + i * lda);
    avx2_transpose8x8(v);
    for (int j = 0; j < 8; j++) {
        __m256 value = v[j];
        if (accumulate) value = _mm256_add_ps(value, _mm256_loadu_ps(t + j * ldt));
        _mm256_storeu_ps(t + j * ldt, value);
    }
#else
    tr_v8 r[8], u[8];
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; i++) __builtin_memcpy(&r[i], a + i * lda, sizeof r[i]);
#pragma clang loop unroll(full)
    for (int round = 0; round < 3; round++) {
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) {
            u[q] = __builtin_shufflevector(r[2 * q], r[2 * q + 1], 0, 2, 4, 6, 8, 10, 12, 14);
            u[q + 4] = __builtin_shufflevector(r[2 * q], r[2 * q + 1], 1, 3, 5, 7, 9, 11, 13, 15);
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < 8; i++) r[i] = u[i];
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < 8; j++) {
        tr_v8 value = r[j];
        if (accumulate) {
            tr_v8 old;
            __builtin_memcpy(&old, t + j * ldt, sizeof old);
            value += old;
        }
        __builtin_memcpy(t + j * ldt, &value, sizeof value);
    }
#endif
}

/// Whole 8 x 8 tiles through registers, the ragged right and bottom edges element by element.
static void transpose_portable(const float *a, long rows, long cols, long lda, float *t, long ldt, int accumulate) {
    const long fullRows = rows / 8 * 8, fullCols = cols / 8 * 8;
    for (long i0 = 0; i0 < fullRows; i0 += 8)
        for (long j0 = 0; j0 < fullCols; j0 += 8)
            transpose_tile8(a + i0 * lda + j0, lda, t + j0 * ldt + i0, ldt, accumulate);
    for (long i = 0; i < rows; i++) {
        const float *src = a + i * lda;
        const long jStart = i < fullRows ? fullCols : 0;
        for (long j = jStart; j < cols; j++) {
            if (accumulate) t[j * ldt + i] += src[j];
            else t[j * ldt + i] = src[j];
        }
    }
}
#endif

static void sparse_transpose(const float *a, long rows, long cols, long lda, float *t, long ldt, int accumulate) {
#if BP_ISA_AVX512
    for (long i0 = 0; i0 < rows; i0 += 16) {
        int tileRows = rows - i0 < 16 ? (int)(rows - i0) : 16;
        for (long j0 = 0; j0 < cols; j0 += 16) {
            int tileCols = cols - j0 < 16 ? (int)(cols - j0) : 16;
            transpose_tile16(a + i0 * lda + j0, lda, t + j0 * ldt + i0, ldt, accumulate, tileRows, tileCols);
        }
    }
#else
    transpose_portable(a, rows, cols, lda, t, ldt, accumulate);
#endif
}

#if BP_ISA_AVX2 && !BP_ISA_AVX512
// AVX2 has no compress instruction: the nonzero lanes of 8 floats are packed to the front by one
// vpermps whose lane indices come from this table (for each 8-bit mask, the set lanes' numbers
// as 4-bit fields, lowest first; 1 KiB). Used by compress_rows and compress_columns.
static const uint32_t avx2_pack_table[256] = {
    0x00000000, 0x00000000, 0x00000001, 0x00000010, 0x00000002, 0x00000020, 0x00000021, 0x00000210,
    0x00000003, 0x00000030, 0x00000031, 0x00000310, 0x00000032, 0x00000320, 0x00000321, 0x00003210,
    0x00000004, 0x00000040, 0x00000041, 0x00000410, 0x00000042, 0x00000420, 0x00000421, 0x00004210,
    0x00000043, 0x00000430, 0x00000431, 0x00004310, 0x00000432, 0x00004320, 0x00004321, 0x00043210,
    0x00000005, 0x00000050, 0x00000051, 0x00000510, 0x00000052, 0x00000520, 0x00000521, 0x00005210,
    0x00000053, 0x00000530, 0x00000531, 0x00005310, 0x00000532, 0x00005320, 0x00005321, 0x00053210,
    0x00000054, 0x00000540, 0x00000541, 0x00005410, 0x00000542, 0x00005420, 0x00005421, 0x00054210,
    0x00000543, 0x00005430, 0x00005431, 0x00054310, 0x00005432, 0x00054320, 0x00054321, 0x00543210,
    0x00000006, 0x00000060, 0x00000061, 0x00000610, 0x00000062, 0x00000620, 0x00000621, 0x00006210,
    0x00000063, 0x00000630, 0x00000631, 0x00006310, 0x00000632, 0x00006320, 0x00006321, 0x00063210,
    0x00000064, 0x00000640, 0x00000641, 0x00006410, 0x00000642, 0x00006420, 0x00006421, 0x00064210,
    0x00000643, 0x00006430, 0x00006431, 0x00064310, 0x00006432, 0x00064320, 0x00064321, 0x00643210,
    0x00000065, 0x00000650, 0x00000651, 0x00006510, 0x00000652, 0x00006520, 0x00006521, 0x00065210,
    0x00000653, 0x00006530, 0x00006531, 0x00065310, 0x00006532, 0x00065320, 0x00065321, 0x00653210,
    0x00000654, 0x00006540, 0x00006541, 0x00065410, 0x00006542, 0x00065420, 0x00065421, 0x00654210,
    0x00006543, 0x00065430, 0x00065431, 0x00654310, 0x00065432, 0x00654320, 0x00654321, 0x06543210,
    0x00000007, 0x00000070, 0x00000071, 0x00000710, 0x00000072, 0x00000720, 0x00000721, 0x00007210,
    0x00000073, 0x00000730, 0x00000731, 0x00007310, 0x00000732, 0x00007320, 0x00007321, 0x00073210,
    0x00000074, 0x00000740, 0x00000741, 0x00007410, 0x00000742, 0x00007420, 0x00007421, 0x00074210,
    0x00000743, 0x00007430, 0x00007431, 0x00074310, 0x00007432, 0x00074320, 0x00074321, 0x00743210,
    0x00000075, 0x00000750, 0x00000751, 0x00007510, 0x00000752, 0x00007520, 0x00007521, 0x00075210,
    0x00000753, 0x00007530, 0x00007531, 0x00075310, 0x00007532, 0x00075320, 0x00075321, 0x00753210,
    0x00000754, 0x00007540, 0x00007541, 0x00075410, 0x00007542, 0x00075420, 0x00075421, 0x00754210,
    0x00007543, 0x00075430, 0x00075431, 0x00754310, 0x00075432, 0x00754320, 0x00754321, 0x07543210,
    0x00000076, 0x00000760, 0x00000761, 0x00007610, 0x00000762, 0x00007620, 0x00007621, 0x00076210,
    0x00000763, 0x00007630, 0x00007631, 0x00076310, 0x00007632, 0x00076320, 0x00076321, 0x00763210,
    0x00000764, 0x00007640, 0x00007641, 0x00076410, 0x00007642, 0x00076420, 0x00076421, 0x00764210,
    0x00007643, 0x00076430, 0x00076431, 0x00764310, 0x00076432, 0x00764320, 0x00764321, 0x07643210,
    0x00000765, 0x00007650, 0x00007651, 0x00076510, 0x00007652, 0x00076520, 0x00076521, 0x00765210,
    0x00007653, 0x00076530, 0x00076531, 0x00765310, 0x00076532, 0x00765320, 0x00765321, 0x07653210,
    0x00007654, 0x00076540, 0x00076541, 0x00765410, 0x00076542, 0x00765420, 0x00765421, 0x07654210,
    0x00076543, 0x00765430, 0x00765431, 0x07654310, 0x00765432, 0x07654320, 0x07654321, 0x76543210
};

/// The lanes of v whose bit is set in `mask` (8 bits), packed to the front (the rest undefined).
static inline __m256 avx2_pack_left(__m256 v, unsigned mask) {
    const __m256i fields = _mm256_srlv_epi32(_mm256_set1_epi32((int)avx2_pack_table[mask]),
                                             _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
    return _mm256_permutevar8x32_ps(v, _mm256_and_si256(fields, _mm256_set1_epi32(15)));
}

static inline __m256i avx2_pack_left_epi32(__m256i v, unsigned mask) {
    return _mm256_castps_si256(avx2_pack_left(_mm256_castsi256_ps(v), mask));
}

/// The nonzero lanes of 8 floats (NaN counts, -0 does not, as `!= 0`).
static inline unsigned avx2_nonzero_mask(__m256 v) {
    return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
}
#endif

static long sparse_count_nonzeros(const float *row, long cols) {
    long n = 0, k = 0;
#if BP_ISA_AVX512
    const __m512 zero = _mm512_setzero_ps();
    for (; k + 16 <= cols; k += 16) {
        n += __builtin_popcount((unsigned)_mm512_cmp_ps_mask(_mm512_loadu_ps(row + k), zero, _CMP_NEQ_UQ));
    }
#elif BP_ISA_AVX2
    for (; k + 8 <= cols; k += 8) n += __builtin_popcount(avx2_nonzero_mask(_mm256_loadu_ps(row + k)));
#endif
    for (; k < cols; k++) n += row[k] != 0;
    return n;
}

static int sparse_compress_rows(const float *a, long rowBegin, long rowEnd, long cols, long lda, long stride,
                     int32_t *starts, int32_t *ends, int32_t *indices, float *values, long limit) {
    long total = 0;
    for (long i = rowBegin; i < rowEnd; i++) {
        const float *row = a + i * lda;
        int32_t *idx = indices + i * stride;
        float *val = values + i * stride;
        long k = 0;
#if BP_ISA_AVX512
        const __m512 zero = _mm512_setzero_ps();
        const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (; k < cols; k += 16) {
            // The ragged end as a masked load (missing lanes read as zeros): short rows such
            // as a 60-example batch's columns would otherwise spend most of the time in a
            // branchy scalar tail. NEQ_UQ: NaN counts as nonzero, -0 as zero, as `!= 0` does.
            __mmask16 valid = cols - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - k)) - 1u);
            __m512 v = _mm512_maskz_loadu_ps(valid, row + k);
            __mmask16 m = _mm512_cmp_ps_mask(v, zero, _CMP_NEQ_UQ) & valid;
            if (m == 0) continue;
            int c = __builtin_popcount((unsigned)m);
            // Compress in a register, then a masked store of exactly c lanes: a compress
            // straight to memory is microcoded and slow on Zen 4, and an unmasked store would
            // write past the row's slot into the next row's, which another thread may be filling.
            __mmask16 keep = (__mmask16)((1u << c) - 1u);
            _mm512_mask_storeu_ps(val, keep, _mm512_maskz_compress_ps(m, v));
            __m512i columns = _mm512_add_epi32(lanes, _mm512_set1_epi32((int)k));
            _mm512_mask_storeu_epi32(idx, keep, _mm512_maskz_compress_epi32(m, columns));
            val += c;
            idx += c;
        }
#elif BP_ISA_AVX2
        // Whole groups of 8 store all 8 lanes: at most k values precede them in the row's slot,
        // so the store ends by column k + 8 <= cols <= stride, inside the slot.
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (; k + 8 <= cols; k += 8) {
            const __m256 v = _mm256_loadu_ps(row + k);
            const unsigned m = avx2_nonzero_mask(v);
            if (m == 0) continue;
            _mm256_storeu_ps(val, avx2_pack_left(v, m));
            _mm256_storeu_si256((__m256i *)idx, avx2_pack_left_epi32(_mm256_add_epi32(lanes, _mm256_set1_epi32((int)k)), m));
            const int c = __builtin_popcount(m);
            val += c;
            idx += c;
        }
#endif
        for (; k < cols; k++) {
            float v = row[k];
            if (v != 0) {
                *val++ = v;
                *idx++ = (int32_t)k;
            }
        }
        starts[i] = (int32_t)(i * stride);
        ends[i] = (int32_t)(idx - indices);
        total += ends[i] - starts[i];
        if (total > limit) return 0;
    }
    return 1;
}

static void sparse_compress_columns(const float *a, long rows, long colBegin, long colEnd, long lda, long stride,
                         int32_t *starts, int32_t *ends, int32_t *indices, float *values) {
    for (long j = colBegin; j < colEnd; j++) {
        starts[j] = (int32_t)(j * stride);
        ends[j] = (int32_t)(j * stride);
    }
#if BP_ISA_AVX512
    // 16 columns at a time: a 16 x 16 tile of rows is transposed in registers and each of its
    // columns compressed into that column's slot, so the transpose is never written out.
    const __m512 zero = _mm512_setzero_ps();
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (long j0 = colBegin; j0 < colEnd; j0 += 16) {
        const int cols = colEnd - j0 < 16 ? (int)(colEnd - j0) : 16;
        for (long i0 = 0; i0 < rows; i0 += 16) {
            const int tileRows = rows - i0 < 16 ? (int)(rows - i0) : 16;
            const __mmask16 valid = (__mmask16)(tileRows == 16 ? 0xFFFFu : (1u << tileRows) - 1u);
            __m512 columns[16];
            load_tile16_columns(a + i0 * lda + j0, lda, tileRows, cols, columns);
            const __m512i rowIndices = _mm512_add_epi32(lanes, _mm512_set1_epi32((int)i0));
            for (int c = 0; c < cols; c++) {
                const __mmask16 m = _mm512_cmp_ps_mask(columns[c], zero, _CMP_NEQ_UQ) & valid;
                if (m == 0) continue;
                const int n = __builtin_popcount((unsigned)m);
                const __mmask16 keep = (__mmask16)((1u << n) - 1u);
                const long at = ends[j0 + c];
                _mm512_mask_storeu_ps(values + at, keep, _mm512_maskz_compress_ps(m, columns[c]));
                _mm512_mask_storeu_epi32(indices + at, keep, _mm512_maskz_compress_epi32(m, rowIndices));
                ends[j0 + c] = (int32_t)(at + n);
            }
        }
    }
#else
    long firstScalarRow = 0;
#if BP_ISA_AVX2
    // Groups of 8 rows: each column's 8 values gathered by strided loads into one vector (the
    // compiler keeps them in registers), compressed into the column's slot with all 8 lanes
    // stored (at most i0 values precede them, so the store ends by row i0 + 8 <= rows <= stride).
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (long i0 = 0; i0 + 8 <= rows; i0 += 8) {
        const __m256i rowIndices = _mm256_add_epi32(lanes, _mm256_set1_epi32((int)i0));
        const float *r = a + i0 * lda;
        for (long j = colBegin; j < colEnd; j++) {
            const __m256 v = _mm256_setr_ps(r[j], r[lda + j], r[2 * lda + j], r[3 * lda + j], r[4 * lda + j],
                                            r[5 * lda + j], r[6 * lda + j], r[7 * lda + j]);
            const unsigned m = avx2_nonzero_mask(v);
            if (m == 0) continue;
            const long at = ends[j];
            _mm256_storeu_ps(values + at, avx2_pack_left(v, m));
            _mm256_storeu_si256((__m256i *)(indices + at), avx2_pack_left_epi32(rowIndices, m));
            ends[j] = (int32_t)(at + __builtin_popcount(m));
        }
        firstScalarRow = i0 + 8;
    }
#endif
    for (long j = colBegin; j < colEnd; j++) {
        long at = ends[j];
        for (long i = firstScalarRow; i < rows; i++) {
            const float v = a[i * lda + j];
            if (v != 0) {
                values[at] = v;
                indices[at] = (int32_t)i;
                at++;
            }
        }
        ends[j] = (int32_t)at;
    }
#endif
}

// ---------------------------------------------------------------------------------------------
// Sparse rows times a dense panel (SparseGemm.multiply's inner kernel).
//
// Why in C: the Swift version of this loop kept the vector count a run-time value (its
// specializations were not folded), re-checked it between multiply-adds, spilled the cursors and
// kept overflow checks on the index arithmetic: it issued ~0.6 multiply-adds per cycle where the
// loads allow 2. Here the vector count is a compile-time constant of each copy.
//
// Order of operations (the same for every lane and thread count at one level): a row's elements
// of one depth chunk are taken in order; with two sets (AVX-512) the first of each pair goes into
// accumulator set A, the second into set B (an odd last one into A), then A + B is added into C;
// with one set (other levels) all go into A. The sum is added into C (or stored, when C is not
// accumulated and the whole depth is one chunk).

// Vectors of 16 per pass over a row's nonzeros, and whether each row keeps two accumulator
// sets (even and odd nonzeros, added at the end) or one. The accumulators must stay in
// registers. AVX-512 (32 zmm): a whole 128-wide panel per pass (V = 8), two sets, 16 zmm. A
// 16-float value is two ymm on AVX2 and four xmm on SSE2 and NEON, so there a panel is walked in
// column groups, one set each: AVX2 and NEON 64 floats (8 ymm, or 16 of NEON's 32 q registers),
// SSE2 32 (8 xmm) — enough independent FMA chains (8 or more) without the second set, and half
// the passes (each re-reads the row's indices and values). With two sets of V = 2, avx2's product
// was 1.3-1.7x slower than avx512's on Zen 5; with every accumulator spilled, 3x slower than dense.
#if BP_ISA_AVX512
#define SPARSE_PASS_VECTORS 8
#define SPARSE_PAIRED 1
#elif BP_ISA_AVX2 || BP_ISA_NEON
#define SPARSE_PASS_VECTORS 4
#define SPARSE_PAIRED 0
#else
#define SPARSE_PASS_VECTORS 2
#define SPARSE_PAIRED 0
#endif


#define BP_PANEL_WIDTH 128

// Rows of B per depth chunk: 32 KiB of the panel, which L1 (32-48 KiB) holds while every row of
// S takes its elements of that chunk. Measured on Zen 5 (bench sparse): 16 KiB and 64 KiB are
// both ~5-10% slower, the whole depth at once ~40% slower on MNIST's first layer.
static inline long depth_chunk_rows(int vectors) { return 32768 / (64 * vectors); }

static inline __attribute__((always_inline)) void
panel_block(const int32_t *starts, const int32_t *ends, const int32_t *indices, const float *values, int32_t *cursors,
            long rowBegin, long rowEnd, long depth, const float *b, long ldb, long valid,
            float *c, long ldc, int accumulate, const int V) {
    const long chunk = depth_chunk_rows(V);
    const int last = (int)(valid - 16 * (V - 1));   // lanes of the last vector, 1...16
    const int single = depth <= chunk;
    if (!accumulate && !single) {
        for (long i = rowBegin; i < rowEnd; i++) {
            for (int v = 0; v < V; v++) v16_store_first(c + i * ldc + 16 * v, (v16)0, v == V - 1 ? last : 16);
        }
    }
    const int store = !accumulate && single;
    for (long i = rowBegin; i < rowEnd; i++) cursors[i] = starts[i];
    for (long chunkStart = 0; chunkStart < depth; chunkStart += chunk) {
        const int32_t chunkEnd = (int32_t)(chunkStart + chunk < depth ? chunkStart + chunk : depth);
        for (long i = rowBegin; i < rowEnd; i++) {
            long j = cursors[i];
            const long end = ends[i];
            if (!store && (j >= end || indices[j] >= chunkEnd)) continue;
            v16 a[8], s[8];
            for (int v = 0; v < V; v++) { a[v] = 0; s[v] = 0; }
            for (; j + 1 < end && indices[j + 1] < chunkEnd; j += 2) {
                const v16 x = values[j], y = values[j + 1];
                const float *p = b + (long)indices[j] * ldb, *q = b + (long)indices[j + 1] * ldb;
                for (int v = 0; v < V; v++) {
                    a[v] = v16_fma(x, v16_load(p + 16 * v), a[v]);
                    if (SPARSE_PAIRED) s[v] = v16_fma(y, v16_load(q + 16 * v), s[v]);
                    else a[v] = v16_fma(y, v16_load(q + 16 * v), a[v]);
                }
            }
            if (j < end && indices[j] < chunkEnd) {
                const v16 x = values[j];
                const float *p = b + (long)indices[j] * ldb;
                for (int v = 0; v < V; v++) a[v] = v16_fma(x, v16_load(p + 16 * v), a[v]);
                j += 1;
            }
            cursors[i] = (int32_t)j;
            float *out = c + i * ldc;
            for (int v = 0; v < V; v++) {
                const int n = v == V - 1 ? last : 16;
                v16 sum = a[v] + s[v];
                if (!store) sum += v16_load_first(out + 16 * v, n, 0);
                v16_store_first(out + 16 * v, sum, n);
            }
        }
    }
}

static void sparse_panel_product(const int32_t *starts, const int32_t *ends, const int32_t *indices, const float *values,
                             int32_t *cursors, long rowBegin, long rowEnd, long depth,
                             const float *b, long ldb, long valid, float *c, long ldc, int accumulate) {
    for (long group = 0; group < valid; group += 16 * SPARSE_PASS_VECTORS) {
        const long width = valid - group < 16 * SPARSE_PASS_VECTORS ? valid - group : 16 * SPARSE_PASS_VECTORS;
        const float *bg = b + group;
        float *cg = c + group;
        // One copy per vector count, each with its accumulators in registers.
        switch ((width + 15) / 16) {
#if SPARSE_PASS_VECTORS >= 8
        case 8: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, bg, ldb, width, cg, ldc, accumulate, 8); break;
        case 7: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, bg, ldb, width, cg, ldc, accumulate, 7); break;
        case 6: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, bg, ldb, width, cg, ldc, accumulate, 6); break;
        case 5: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, bg, ldb, width, cg, ldc, accumulate, 5); break;
#endif
#if SPARSE_PASS_VECTORS >= 4
        case 4: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, bg, ldb, width, cg, ldc, accumulate, 4); break;
        case 3: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, bg, ldb, width, cg, ldc, accumulate, 3); break;
#endif
#if SPARSE_PASS_VECTORS >= 2
        case 2: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, bg, ldb, width, cg, ldc, accumulate, 2); break;
#endif
        case 1: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, bg, ldb, width, cg, ldc, accumulate, 1); break;
        default: break;
        }
    }
}
