#ifndef BP_SPARSE_H
#define BP_SPARSE_H

#include <stdint.h>

// Contracts of the data-movement kernels for the sparse-input path of a fully connected layer
// (Swift's SparseGemm and CompressedRows call them through the kernel table, bp_kernels.h; the
// bodies are kernels/sparse.h). The AVX-512 level uses masked loads and zmm permutes; the other
// levels a portable path with the same results.

/// t[j * ldt + i] = a[i * lda + j] (or += when accumulate != 0) for i < rows, j < cols.
// void bp_transpose(const float *a, long rows, long cols, long lda,
//                   float *t, long ldt, int accumulate);

/// The elements of row[0 ..< cols] not equal to zero (NaN counts, -0 does not).
// long bp_count_nonzeros(const float *row, long cols);

/// Compresses rows rowBegin ..< rowEnd of a (row i at a + i * lda, cols floats): row i's
/// elements not equal to zero (NaN and infinities kept, -0 dropped), in increasing column order,
/// and their column indices go to values/indices at offset i * stride (stride >= cols, so every
/// row fits its slot whatever its count); starts[i] = i * stride and ends[i] = the offset past
/// its last element. One pass, nothing written outside the rows' slots, so threads may fill
/// disjoint row ranges of the same arrays. Returns 0 as soon as these rows hold more than
/// `limit` elements in all (the rest are then not compressed: a batch too dense for the sparse
/// path costs only part of a pass), 1 otherwise.
// int bp_compress_rows(const float *a, long rowBegin, long rowEnd, long cols, long lda, long stride,
//                      int32_t *starts, int32_t *ends, int32_t *indices, float *values, long limit);

/// The compressed rows of the transpose of a (rows x cols, row i at a + i * lda), for its
/// columns colBegin ..< colEnd: column j's elements not equal to zero (NaN and infinities kept,
/// -0 dropped), in increasing row order, and their row indices go to values/indices at offset
/// j * stride (stride >= rows); starts[j] = j * stride, ends[j] past its last element. Equal to
/// transposing a and compressing the rows of the result, without writing the transpose; threads
/// may take disjoint column ranges.
// void bp_compress_columns(const float *a, long rows, long colBegin, long colEnd, long lda, long stride,
//                          int32_t *starts, int32_t *ends, int32_t *indices, float *values);

/// For rows rowBegin ..< rowEnd of a compressed-row matrix S (row i's elements at positions
/// starts[i] ..< ends[i] of indices and values; `depth` columns) and one panel B of `depth` rows (row p at b + p * ldb) with `valid` real columns
/// (1...128, at most the level's sparse_panel_width when B is laid out in its panels): c[i * ldc + k] = (accumulate ? c[i * ldc + k] : 0) + sum over p of S[i, p] * B[p, k]
/// for k < valid. Each row of B is read as whole 16-float vectors, 16 * ceil(valid / 16) floats
/// (a whole panel always has them; lanes past `valid` reach only discarded lanes). Walks B in depth chunks that fit L1, resuming each row at cursors[i]
/// (scratch, rows rowBegin ..< rowEnd only). Writes no other element of c, so threads may take
/// disjoint row ranges.
// void bp_sparse_panel_product(const int32_t *starts, const int32_t *ends, const int32_t *indices, const float *values,
//                              int32_t *cursors, long rowBegin, long rowEnd, long depth,
//                              const float *b, long ldb, long valid, float *c, long ldc, int accumulate);

#endif
