// The avx2 level's kernels: every body in kernels/, compiled for avx2 through a target
// attribute (no build flag), and its table bp_kernels_avx2.
#if defined(__x86_64__)
#define BP_ISA_AVX512 0
#define BP_ISA_AVX2 1
#define BP_ISA_FMA 1
#define BP_ISA_NEON 0
#define BP_LEVEL_ID BP_LEVEL_AVX2
#define BP_LEVEL_STRING "avx2"
#define BP_TABLE_NAME bp_kernels_avx2
#define BP_VECTOR_FLOATS 8
#define GEMM_MR 6
#define GEMM_NR 16
#define GEMM_VW 8
#define GEMM_PACK_TRANSPOSED_A 1
#define GEMM_COPY_B_IN_FIRST_SLIVER 1
#define GEMM_PACK_LARGE_A 1
#define GEMM_PACK_TRANSPOSED_B_PER_PANEL 1
#include "kernels/prelude.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi,bmi2,f16c"))), apply_to = function)
#include "kernels/all.h"
#pragma clang attribute pop
#endif
