// The baseline level's kernels: every body in kernels/, compiled for baseline through a target
// attribute (no build flag), and its table bp_kernels_baseline.
#if !defined(__aarch64__)
#define BP_ISA_AVX512 0
#define BP_ISA_AVX2 0
#define BP_ISA_FMA 0
#define BP_ISA_NEON 0
#define BP_LEVEL_ID BP_LEVEL_BASELINE
#define BP_LEVEL_STRING "baseline"
#define BP_TABLE_NAME bp_kernels_baseline
#define BP_VECTOR_FLOATS 4
#define GEMM_MR 6
#define GEMM_NR 8
#define GEMM_VW 4
#define GEMM_PACK_TRANSPOSED_A 1
#include "kernels/prelude.h"
// SSE2: what every x86-64 CPU has, and what clang targets with no flag.
#include "kernels/all.h"

#endif
