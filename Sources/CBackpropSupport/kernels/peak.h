// The FMA throughput probe (PeakFlops.measure): PEAK_CHAINS independent chains of `c = c·x + y`
// on native-width vectors and nothing else, so its rate is the core's FMA peak at this level.
//
// Why so many chains: a chain issues one FMA per latency, so the probe needs latency × pipes
// chains in flight: 4 × 2 = 8 on Zen 3/4/5 and Skylake-X, up to 4 × 4 on some arm64 cores. The
// old Swift probe had 12 chains of 16-float values, which on AVX2 are 24 ymm registers for a
// 16-register file: its spills capped it at 67.7 GFLOP/s on a Zen 3 core where OpenBLAS reached
// 81. Here each chain is one native register: 16 chains with 32 registers (AVX-512, NEON), 12
// with 16 (AVX2, SSE2), which leaves room for x and y and still covers the 8 needed.

#if BP_VECTOR_FLOATS == 16
typedef float peak_vec __attribute__((ext_vector_type(16)));
#elif BP_VECTOR_FLOATS == 8
typedef float peak_vec __attribute__((ext_vector_type(8)));
#else
typedef float peak_vec __attribute__((ext_vector_type(4)));
#endif

#if BP_ISA_AVX512 || BP_ISA_NEON
#define PEAK_CHAINS 16
#else
#define PEAK_CHAINS 12
#endif

__attribute__((noinline)) static float peak_fma_loop(long iterations, float seed) {
    const peak_vec x = (peak_vec)(0.999999f + seed * 1e-30f);
    const peak_vec y = (peak_vec)(1e-7f + seed * 1e-30f);
    peak_vec c[PEAK_CHAINS];
#pragma clang loop unroll(full)
    for (int i = 0; i < PEAK_CHAINS; i++) c[i] = (peak_vec)(float)i;
    for (long it = 0; it < iterations; it++) {
#pragma clang loop unroll(full)
        for (int i = 0; i < PEAK_CHAINS; i++) c[i] = BP_FMA(c[i], x, y);
    }
    peak_vec sum = (peak_vec)0;
#pragma clang loop unroll(full)
    for (int i = 0; i < PEAK_CHAINS; i++) sum += c[i];
    float total = 0;
    for (int i = 0; i < BP_VECTOR_FLOATS; i++) total += sum[i];
    return total * 1e-30f;
}
