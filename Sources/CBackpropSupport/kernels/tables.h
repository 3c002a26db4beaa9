#ifndef BP_KERNELS_TABLES_H
#define BP_KERNELS_TABLES_H
#include "bp_kernels.h"
// One table per level this build compiles (kernels_<level>.c).
#if defined(__x86_64__)
extern const bp_kernels bp_kernels_baseline;
extern const bp_kernels bp_kernels_avx2;
extern const bp_kernels bp_kernels_avx512;
#elif defined(__aarch64__)
extern const bp_kernels bp_kernels_neon;
#else
extern const bp_kernels bp_kernels_baseline;
#endif
#endif
