// Every kernel body, then the level's table. Included once by each kernels_<level>.c, inside its
// target region, after it has defined:
//   BP_ISA_AVX512, BP_ISA_AVX2, BP_ISA_FMA, BP_ISA_NEON  (0 or 1: what this level may use)
//   BP_LEVEL_ID, BP_LEVEL_STRING, BP_TABLE_NAME, BP_VECTOR_FLOATS
//   GEMM_MR, GEMM_NR, GEMM_VW  (the GEMM micro-kernel tile and its vector width)
#include "vec.h"
#include "gemm.h"
#include "peak.h"
#include "sparse.h"
#include "vector_math.h"
#include "row_kernels.h"

const bp_kernels BP_TABLE_NAME = {
    .name = BP_LEVEL_STRING,
    .level = BP_LEVEL_ID,
    .vector_floats = BP_VECTOR_FLOATS,
    .gemm_mr = GEMM_MR,
    .gemm_nr = GEMM_NR,
    .gemm_packs_transposed_a = GEMM_PACK_TRANSPOSED_A,
    .gemm_workspace_floats = gemm_workspace_floats,
    .gemm_block = gemm_block,
    .fma_loop = peak_fma_loop,
    .fma_chains = PEAK_CHAINS,
    .transpose = sparse_transpose,
    .count_nonzeros = sparse_count_nonzeros,
    .compress_rows = sparse_compress_rows,
    .compress_columns = sparse_compress_columns,
    .sparse_panel_product = sparse_panel_product,
    .sparse_panel_width = 16 * SPARSE_PASS_VECTORS,
    .math = BP_MATH_KERNELS_INIT,
    .rows = BP_ROW_KERNELS_INIT,
};
