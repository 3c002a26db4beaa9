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
static void transpose_scalar(const float *a, long rows, long cols, long lda, float *t, long ldt, int accumulate) {
    for (long i0 = 0; i0 < rows; i0 += 16) {
        long i1 = i0 + 16 < rows ? i0 + 16 : rows;
        for (long j0 = 0; j0 < cols; j0 += 16) {
            long j1 = j0 + 16 < cols ? j0 + 16 : cols;
            for (long i = i0; i < i1; i++) {
                const float *src = a + i * lda;
                if (accumulate) {
                    for (long j = j0; j < j1; j++) t[j * ldt + i] += src[j];
                } else {
                    for (long j = j0; j < j1; j++) t[j * ldt + i] = src[j];
                }
            }
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
    transpose_scalar(a, rows, cols, lda, t, ldt, accumulate);
#endif
}

static long sparse_count_nonzeros(const float *row, long cols) {
    long n = 0, k = 0;
#if BP_ISA_AVX512
    const __m512 zero = _mm512_setzero_ps();
    for (; k + 16 <= cols; k += 16) {
        n += __builtin_popcount((unsigned)_mm512_cmp_ps_mask(_mm512_loadu_ps(row + k), zero, _CMP_NEQ_UQ));
    }
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
    for (long j = colBegin; j < colEnd; j++) {
        long at = ends[j];
        for (long i = 0; i < rows; i++) {
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
// Order of operations (the same for every lane, thread count and build): a row's elements of one
// depth chunk are taken in pairs, the first of each pair into accumulator set A, the second into
// set B (an odd last one into A); then A + B is added into C (or stored, when C is not
// accumulated and the whole depth is one chunk).

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
                    s[v] = v16_fma(y, v16_load(q + 16 * v), s[v]);
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
    // One copy per vector count, each with its accumulators in registers.
    switch ((valid + 15) / 16) {
    case 8: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, b, ldb, valid, c, ldc, accumulate, 8); break;
    case 7: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, b, ldb, valid, c, ldc, accumulate, 7); break;
    case 6: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, b, ldb, valid, c, ldc, accumulate, 6); break;
    case 5: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, b, ldb, valid, c, ldc, accumulate, 5); break;
    case 4: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, b, ldb, valid, c, ldc, accumulate, 4); break;
    case 3: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, b, ldb, valid, c, ldc, accumulate, 3); break;
    case 2: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, b, ldb, valid, c, ldc, accumulate, 2); break;
    case 1: panel_block(starts, ends, indices, values, cursors, rowBegin, rowEnd, depth, b, ldb, valid, c, ldc, accumulate, 1); break;
    default: break;
    }
}
