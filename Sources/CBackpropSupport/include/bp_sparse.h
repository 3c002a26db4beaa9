#ifndef BP_SPARSE_H
#define BP_SPARSE_H

#include <stdint.h>

// Data-movement kernels for the sparse-input path of a fully connected layer (Swift's
// SparseGemm and CompressedRows call them). They are in C because they need the AVX-512
// permutes and compress instructions, which Swift's SIMD types cannot express; each has a
// portable scalar path for other targets, selected at compile time.

/// t[j * ldt + i] = a[i * lda + j] (or += when accumulate != 0) for i < rows, j < cols.
void bp_transpose(const float *a, long rows, long cols, long lda,
                  float *t, long ldt, int accumulate);

/// Compresses rows rowBegin ..< rowEnd of a (row i at a + i * lda, cols floats): row i's
/// elements not equal to zero (NaN and infinities kept, -0 dropped), in increasing column order,
/// and their column indices go to values/indices at offset i * stride (stride >= cols, so every
/// row fits its slot whatever its count); starts[i] = i * stride and ends[i] = the offset past
/// its last element. One pass, nothing written outside the rows' slots, so threads may fill
/// disjoint row ranges of the same arrays.
void bp_compress_rows(const float *a, long rowBegin, long rowEnd, long cols, long lda, long stride,
                      int32_t *starts, int32_t *ends, int32_t *indices, float *values);

/// For rows rowBegin ..< rowEnd of a compressed-row matrix S (row i's elements at positions
/// starts[i] ..< ends[i] of indices and values; `depth` columns) and one panel B of `depth` rows (row p at b + p * ldb) with `valid` real columns
/// (1...128): c[i * ldc + k] = (accumulate ? c[i * ldc + k] : 0) + sum over p of S[i, p] * B[p, k]
/// for k < valid. Walks B in depth chunks that fit L1, resuming each row at cursors[i]
/// (scratch, rows rowBegin ..< rowEnd only). Writes no other element of c, so threads may take
/// disjoint row ranges.
void bp_sparse_panel_product(const int32_t *starts, const int32_t *ends, const int32_t *indices, const float *values,
                             int32_t *cursors, long rowBegin, long rowEnd, long depth,
                             const float *b, long ldb, long valid, float *c, long ldc, int accumulate);

#endif
