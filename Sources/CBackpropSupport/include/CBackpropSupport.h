#ifndef CBACKPROP_SUPPORT_H
#define CBACKPROP_SUPPORT_H

#include "bp_kernels.h"

/// Asks the caches for the bytes [p, p + count) ahead of their use. A hint: it never faults,
/// whatever the address. Swift has no prefetch intrinsic; gathering shuffled rows of a data set
/// larger than the caches otherwise stalls on every row's first cache lines.
static inline void bp_prefetch(const void *p, long count) {
    const char *c = (const char *)p;
    for (long offset = 0; offset < count; offset += 64) {
        __builtin_prefetch(c + offset, 0, 3);
    }
}

/// 16 floats as one vector value; Swift imports the type as SIMD16<Float>. (Clang warns that
/// passing it changes the calling convention between levels; the one function taking it is
/// static inline, so it never crosses a call.)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
typedef float bp_float16 __attribute__((ext_vector_type(16)));

/// Correctly rounded square roots lane by lane (IEEE 754: -0 gives -0, negatives and NaN give
/// NaN, +inf gives +inf, subnormals are exact), as vector instructions: vsqrtps on x86-64, fsqrt
/// on arm64. Swift's SIMD16.squareRoot() is a loop of 16 scalar sqrtf calls instead.
static inline bp_float16 bp_square_root16(bp_float16 x) {
#if __has_builtin(__builtin_elementwise_sqrt)
    return __builtin_elementwise_sqrt(x);
#else
    for (int i = 0; i < 16; i++) x[i] = __builtin_sqrtf(x[i]);
    return x;
#endif
}
#pragma clang diagnostic pop

/// Makes stdout line-buffered, so progress lines appear as printed even through a pipe.
/// (C, because Swift 6 treats the global `stdout` as unsafe shared state.)
void bp_line_buffer_stdout(void);


#endif
