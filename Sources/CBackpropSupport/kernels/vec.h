// The vector vocabulary every kernel body is written in: one 16-float value (`v16`), its integer
// and mask companions, and the few operations whose best instruction differs by level.
//
// Included once per instruction-set level (kernels_<level>.c), inside that level's
// `#pragma clang attribute push(target(...))` region, so each copy compiles to that level's
// registers: one zmm on AVX-512, two ymm on AVX2, four xmm on SSE2 or NEON. The BP_ISA_* macros
// below are the level's, not the build machine's: a target attribute does not define __AVX2__.
//
// Every helper is static and always inlined: a 16-float value passed by value across a real call
// would change the calling convention between levels (clang's -Wpsabi warning), so none crosses one.

#ifndef BP_KERNELS_VEC_H
#define BP_KERNELS_VEC_H

#include <stdint.h>
#include <string.h>

// No silent fusing of a * b + c: a kernel that wants one rounding says v16_fma, so a level with
// FMA and one without compute the same expression, and results do not depend on the compiler's
// contraction heuristics.
#pragma STDC FP_CONTRACT OFF
#pragma clang diagnostic ignored "-Wpsabi"

#define BP_INLINE static inline __attribute__((always_inline))

typedef float v16 __attribute__((ext_vector_type(16)));
typedef int32_t i16v __attribute__((ext_vector_type(16)));
typedef uint32_t u16v __attribute__((ext_vector_type(16)));

BP_INLINE v16 v16_load(const float *p) {
    v16 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

BP_INLINE void v16_store(float *p, v16 v) { __builtin_memcpy(p, &v, sizeof v); }

BP_INLINE v16 v16_splat(float x) { return (v16)x; }

/// x * y + z lane by lane, for any vector type: one rounding where the level has FMA (AVX2,
/// AVX-512, NEON), two on SSE2, whose FMA would be a libm call per lane (~50x slower). So the
/// baseline level's results differ from the others' by rounding, never by more.
#if BP_ISA_FMA
#define BP_FMA(x, y, z) __builtin_elementwise_fma(x, y, z)
#else
#define BP_FMA(x, y, z) ((x) * (y) + (z))
#endif

BP_INLINE v16 v16_fma(v16 x, v16 y, v16 z) { return BP_FMA(x, y, z); }

/// mask ? a : b lane by lane (mask lanes all-ones or zero, as vector comparisons return).
BP_INLINE v16 v16_select(i16v mask, v16 a, v16 b) {
    return (v16)(((i16v)a & mask) | ((i16v)b & ~mask));
}

/// Correctly rounded square roots (vsqrtps / fsqrt; -0 gives -0, negatives NaN).
BP_INLINE v16 v16_sqrt(v16 x) { return __builtin_elementwise_sqrt(x); }

BP_INLINE v16 v16_abs(v16 x) { return (v16)((u16v)x & 0x7fffffffu); }

/// Lane-wise maximum and minimum that pass NaN in `x` through when `x` is NaN... callers that
/// care about NaN use comparisons and v16_select instead.
BP_INLINE v16 v16_max(v16 x, v16 y) { return v16_select(x > y, x, y); }
BP_INLINE v16 v16_min(v16 x, v16 y) { return v16_select(x < y, x, y); }

/// Sum of the 16 lanes, lane 0 first, one after another: the order of Swift's `SIMD.sum()`, which
/// the kernels used before they moved to C, so reductions keep their bits at avx2 and avx512.
/// (A per-row or per-call reduction: its 15 dependent adds are not where the time goes.)
BP_INLINE float v16_sum(v16 v) {
    float total = v[0];
    for (int i = 1; i < 16; i++) total += v[i];
    return total;
}

/// Largest lane (comparison order fixed; NaN lanes are skipped unless all are NaN).
BP_INLINE float v16_max_lane(v16 v) {
    float m = v[0];
    for (int i = 1; i < 16; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/// The first n (0...16) floats at p; the other lanes hold `padding`. Nothing past p + n is read
/// (n of 16 or more loads 16).
BP_INLINE v16 v16_load_first(const float *p, long n, float padding) {
#if BP_ISA_AVX512
    return (v16)_mm512_mask_loadu_ps(_mm512_set1_ps(padding), (__mmask16)((1u << n) - 1u), p);
#elif BP_ISA_AVX2
    // Two masked 8-lane loads (vmaskmovps: masked-off lanes are not read, so never fault), the
    // padding blended in: a lane-by-lane loop here cost the sparse product a third of its time.
    if (n >= 16) return v16_load(p);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n - 8), lane);
    const __m256 pad = _mm256_set1_ps(padding);
    const __m256 lo = _mm256_blendv_ps(pad, _mm256_maskload_ps(p, m0), _mm256_castsi256_ps(m0));
    const __m256 hi = _mm256_blendv_ps(pad, _mm256_maskload_ps(p + 8, m1), _mm256_castsi256_ps(m1));
    v16 v;
    __builtin_memcpy(&v, &lo, 32);
    __builtin_memcpy((float *)&v + 8, &hi, 32);
    return v;
#else
    v16 v = (v16)padding;
    for (long i = 0; i < n; i++) v[i] = p[i];
    return v;
#endif
}

/// Writes the first n (0...16) lanes of v at p, nothing past p + n.
BP_INLINE void v16_store_first(float *p, v16 v, long n) {
#if BP_ISA_AVX512
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
#elif BP_ISA_AVX2
    if (n >= 16) {
        v16_store(p, v);
        return;
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 lo, hi;
    __builtin_memcpy(&lo, &v, 32);
    __builtin_memcpy(&hi, (const float *)&v + 8, 32);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane), lo);
    _mm256_maskstore_ps(p + 8, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n - 8), lane), hi);
#else
    for (long i = 0; i < n; i++) p[i] = v[i];
#endif
}

#if BP_ISA_AVX2 && !BP_ISA_AVX512
/// Transposes 8 x 8 floats held in ymm registers: lane j of r[i] becomes lane i of r[j]. Unpack,
/// in-lane shuffle, 128-bit lane swap: 24 shuffles, 8 of them across lanes, where the portable
/// "unzip" of ext_vector_type values compiles to 48 on AVX2, 24 of them across lanes.
BP_INLINE void avx2_transpose8x8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x20);
        r[q + 4] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x31);
    }
}
#endif

#endif
