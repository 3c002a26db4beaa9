// The avx512 level's kernels: every body in kernels/, compiled for avx512 through a target
// attribute (no build flag), and its table bp_kernels_avx512.
#if defined(__x86_64__)
#define BP_ISA_AVX512 1
#define BP_ISA_AVX2 1
#define BP_ISA_FMA 1
#define BP_ISA_NEON 0
#define BP_LEVEL_ID BP_LEVEL_AVX512
#define BP_LEVEL_STRING "avx512"
#define BP_TABLE_NAME bp_kernels_avx512
#define BP_VECTOR_FLOATS 16
#define GEMM_MR 8
#define GEMM_NR 32
#define GEMM_VW 16
#define GEMM_PACK_TRANSPOSED_A 0
#include "kernels/prelude.h"
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,bmi,bmi2,f16c"))), apply_to = function)
#include "kernels/all.h"
#pragma clang attribute pop
#endif
