#include "bp_sparse.h"

#if defined(__AVX512F__)
#include <immintrin.h>

// Transposes the 16 x 16 tile at a (row stride lda) into t (row stride ldt): the classic four
// rounds of in-lane unpacks and 128-bit lane shuffles, 64 permutes per 256 elements.
// The tile's first `rows` rows and `cols` columns (1...16 each) are real: missing rows read as
// zeros, missing columns are neither read nor written, so ragged edges take the vector path too.
static inline void transpose_tile16(const float *a, long lda, float *t, long ldt, int accumulate,
                                    int rows, int cols) {
    __m512 r[16], s[16];
    const __mmask16 columnMask = (__mmask16)((1u << cols) - 1u);
    const __mmask16 rowMask = (__mmask16)((1u << rows) - 1u);
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
        __m512 c0 = _mm512_shuffle_f32x4(s[p], s[8 + p], 0x88);          // column p
        __m512 c2 = _mm512_shuffle_f32x4(s[p], s[8 + p], 0xDD);          // column 8 + p
        __m512 c1 = _mm512_shuffle_f32x4(s[4 + p], s[12 + p], 0x88);     // column 4 + p
        __m512 c3 = _mm512_shuffle_f32x4(s[4 + p], s[12 + p], 0xDD);     // column 12 + p
        const __m512 columns[4] = {c0, c1, c2, c3};
        for (int q = 0; q < 4; q++) {
            int j = 4 * q + p;   // c0..c3 are columns p, 4 + p, 8 + p, 12 + p
            if (j >= cols) continue;
            float *row = t + j * ldt;
            __m512 value = columns[q];
            if (accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(rowMask, row));
            _mm512_mask_storeu_ps(row, rowMask, value);
        }
    }
}
#endif

#if !defined(__AVX512F__)
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

void bp_transpose(const float *a, long rows, long cols, long lda, float *t, long ldt, int accumulate) {
#if defined(__AVX512F__)
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

void bp_count_nonzeros(const float *a, long rows, long cols, long lda, int32_t *counts) {
    for (long i = 0; i < rows; i++) {
        const float *row = a + i * lda;
        long k = 0;
        int32_t n = 0;
#if defined(__AVX512F__)
        const __m512 zero = _mm512_setzero_ps();
        for (; k < cols; k += 16) {
            // The ragged end as a masked load (missing lanes read as zeros): short rows such
            // as a 60-example batch's columns would otherwise spend most of the time in a
            // branchy scalar tail. NEQ_UQ: NaN counts as nonzero, -0 as zero, as `!= 0` does.
            __mmask16 valid = cols - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - k)) - 1u);
            __mmask16 m = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(valid, row + k), zero, _CMP_NEQ_UQ) & valid;
            n += __builtin_popcount((unsigned)m);
        }
#endif
        for (; k < cols; k++) n += row[k] != 0;
        counts[i] = n;
    }
}

void bp_compress_rows(const float *a, long rows, long cols, long lda, const int32_t *starts,
                      int32_t *indices, float *values) {
    for (long i = 0; i < rows; i++) {
        const float *row = a + i * lda;
        int32_t *idx = indices + starts[i];
        float *val = values + starts[i];
        long k = 0;
#if defined(__AVX512F__)
        const __m512 zero = _mm512_setzero_ps();
        const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (; k < cols; k += 16) {
            __mmask16 valid = cols - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - k)) - 1u);
            __m512 v = _mm512_maskz_loadu_ps(valid, row + k);
            __mmask16 m = _mm512_cmp_ps_mask(v, zero, _CMP_NEQ_UQ) & valid;
            if (m == 0) continue;
            int c = __builtin_popcount((unsigned)m);
            // Compress in a register, then a masked store of exactly c lanes: a compress
            // straight to memory is microcoded and slow on Zen 4, and an unmasked store would
            // write past the row's end into memory another thread may be filling.
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
    }
}
