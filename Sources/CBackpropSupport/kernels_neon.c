// The neon level's kernels: every body in kernels/, compiled for neon through a target
// attribute (no build flag), and its table bp_kernels_neon.
#if defined(__aarch64__)
#define BP_ISA_AVX512 0
#define BP_ISA_AVX2 0
#define BP_ISA_FMA 1
#define BP_ISA_NEON 1
#define BP_LEVEL_ID BP_LEVEL_NEON
#define BP_LEVEL_STRING "neon"
#define BP_TABLE_NAME bp_kernels_neon
#define BP_VECTOR_FLOATS 4
#define GEMM_MR 8
#define GEMM_NR 8
#define GEMM_VW 4
#define GEMM_PACK_TRANSPOSED_A 1
#include "kernels/prelude.h"
// NEON with FMA: what every arm64 CPU has, and what clang targets with no flag.
#include "kernels/all.h"

#endif
