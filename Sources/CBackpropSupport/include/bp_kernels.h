#ifndef BP_KERNELS_H
#define BP_KERNELS_H

// The run-time kernel table: every hot loop of Backprop, compiled once per instruction-set level
// (kernels_avx512.c, kernels_avx2.c, kernels_baseline.c on x86-64; kernels_neon.c on arm64) from
// the same bodies in kernels/, and chosen once per process from what the CPU reports (cpuid and
// xgetbv on x86-64) or from BACKPROP_CPU. Swift reads the chosen table through `Backend.kernels`;
// a GPU backend will fill the same kind of table.
//
// Why C and not Swift: Swift has no per-function target attribute, and the only way to make its
// SIMD types use AVX2 or AVX-512 is a `-Xcc -march` unsafe flag for the whole module, which a
// package used by version may not carry and which ties the binary to one CPU. clang's
// `target("avx2,fma")` attribute needs no flag, so one build holds every level.

#include <stdint.h>

#include "bp_math_kernels.h"
#include "bp_row_kernels.h"
#include "bp_sparse.h"

/// Instruction-set levels, in the order x86-64 CPUs add them.
enum {
    BP_LEVEL_BASELINE = 0,  ///< x86-64: SSE2 (every x86-64 CPU); arm64: see BP_LEVEL_NEON.
    BP_LEVEL_AVX2 = 1,      ///< x86-64: AVX2 + FMA3 (Haswell, Zen 1 and later).
    BP_LEVEL_AVX512 = 2,    ///< x86-64: AVX-512 F, BW, DQ, VL (Skylake-SP, Ice Lake, Zen 4 and later).
    BP_LEVEL_NEON = 3,      ///< arm64: NEON with FMA (every arm64 CPU; the baseline there).
    BP_LEVEL_COUNT = 4
};

/// One `C = alpha · op(A) · op(B) + beta · C` problem in layout-free form: element (i, p) of
/// op(A) is a[i * a_row_stride + p * a_depth_stride], element (p, j) of op(B) is
/// b[p * b_depth_stride + j * b_column_stride]; C is row-major with leading dimension ldc.
typedef struct bp_gemm_problem {
    long m, n, k;
    float alpha, beta;
    const float *a;
    long a_row_stride, a_depth_stride;
    const float *b;
    long b_depth_stride, b_column_stride;
    float *c;
    long ldc;
} bp_gemm_problem;

typedef struct bp_kernels {
    /// "baseline", "avx2", "avx512" or "neon".
    const char *name;
    /// One of the BP_LEVEL_ constants.
    int level;
    /// Floats per native vector register at this level (4, 8 or 16).
    int vector_floats;

    // --- GEMM (kernels/gemm.h) -------------------------------------------------------------
    /// Micro-kernel tile: rows and columns of C per register block.
    int gemm_mr, gemm_nr;
    /// 1 when gemm_block packs a transposed A per row chunk (when a block has more than one
    /// panel), so the partition can count that copy; 0 when it reads A in place.
    int gemm_packs_transposed_a;
    /// Floats of scratch that gemm_block needs for a rows x cols block of C of this problem.
    long (*gemm_workspace_floats)(const bp_gemm_problem *p, long rows, long cols);
    /// C[row_begin..<row_end, col_begin..<col_end] of the problem, serially; row_begin and
    /// col_begin are multiples of gemm_mr and gemm_nr (or the block is the whole of C).
    /// workspace: gemm_workspace_floats(p, rows, cols) floats, 64-byte aligned.
    void (*gemm_block)(const bp_gemm_problem *p, long row_begin, long row_end, long col_begin, long col_end,
                       float *workspace);

    // --- Peak probe (kernels/peak.h) -------------------------------------------------------
    /// `iterations` steps of bp_fma_chains independent FMA chains of vector_floats lanes each;
    /// returns a value derived from all of them (so nothing folds away).
    float (*fma_loop)(long iterations, float seed);
    /// Independent chains in fma_loop: enough for any FMA latency x pipes seen (Zen 3/4/5,
    /// Intel: latency 4, 2 pipes -> 8 needed; 16 leave slack).
    int fma_chains;

    // --- Data movement and the sparse-input path (kernels/sparse.h; see bp_sparse.h) --------
    void (*transpose)(const float *a, long rows, long cols, long lda, float *t, long ldt, int accumulate);
    long (*count_nonzeros)(const float *row, long cols);
    int (*compress_rows)(const float *a, long rowBegin, long rowEnd, long cols, long lda, long stride,
                         int32_t *starts, int32_t *ends, int32_t *indices, float *values, long limit);
    void (*compress_columns)(const float *a, long rows, long colBegin, long colEnd, long lda, long stride,
                             int32_t *starts, int32_t *ends, int32_t *indices, float *values);
    void (*sparse_panel_product)(const int32_t *starts, const int32_t *ends, const int32_t *indices,
                                 const float *values, int32_t *cursors, long rowBegin, long rowEnd, long depth,
                                 const float *b, long ldb, long valid, float *c, long ldc, int accumulate);
    /// Columns of one panel of B at this level: the columns sparse_panel_product takes in one
    /// pass over a row's nonzeros (16 x its vector count: 128 at avx512, 64 at avx2 and neon, 32
    /// at baseline), so a depth chunk of a panel is one contiguous run of memory.
    int sparse_panel_width;

    // --- Element-wise math and activations (kernels/vector_math.h; see bp_math_kernels.h) ---------
    bp_math_kernels math;
    // --- Row kernels: BatchNorm, reductions, optimizer updates, weight decay, clipping -------
    //     (kernels/row_kernels.h; see bp_row_kernels.h)
    bp_row_kernels rows;
} bp_kernels;

/// The table of `level`, or NULL when this build has none for it (AVX-512 on arm64, NEON on
/// x86-64). Having a table does not mean the CPU can run it: ask bp_cpu_supports.
const bp_kernels *bp_kernels_for_level(int level);

/// Whether this CPU and operating system can run `level` (x86-64: cpuid feature bits, and xgetbv
/// for the OS saving the ymm/zmm state).
int bp_cpu_supports(int level);

/// The best level this CPU supports.
int bp_best_level(void);

/// The CPU's brand string ("AMD EPYC 9R45 …") into buffer (NUL-terminated; empty when unknown).
void bp_cpu_model(char *buffer, long capacity);

#endif
