// Which kernel tables this build has, and which of them this CPU can run.
//
// As OpenBLAS's DYNAMIC_ARCH (driver/others/dynamic.c) and XNNPACK's configs: read the CPU's
// feature bits once, and for the ymm/zmm levels also ask the OS (xgetbv) whether it saves those
// registers on a context switch: a CPU with AVX-512 under an OS or hypervisor that does not
// enable its state must not run AVX-512 code. The choice among supported levels (the best, or
// BACKPROP_CPU) is Swift's (Backend.swift), made once per process.

#include "bp_kernels.h"
#include "kernels/tables.h"

#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

const bp_kernels *bp_kernels_for_level(int level) {
    switch (level) {
#if defined(__x86_64__)
    case BP_LEVEL_BASELINE: return &bp_kernels_baseline;
    case BP_LEVEL_AVX2: return &bp_kernels_avx2;
    case BP_LEVEL_AVX512: return &bp_kernels_avx512;
#elif defined(__aarch64__)
    case BP_LEVEL_NEON: return &bp_kernels_neon;
#else
    case BP_LEVEL_BASELINE: return &bp_kernels_baseline;
#endif
    default: return 0;
    }
}

#if defined(__x86_64__)
static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

int bp_cpu_supports(int level) {
#if defined(__x86_64__)
    if (level == BP_LEVEL_BASELINE) return 1;
    if (level != BP_LEVEL_AVX2 && level != BP_LEVEL_AVX512) return 0;
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    const unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return 0;  // SSE and AVX (ymm) state
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const int avx2 = (ebx >> 5) & 1;
    if (!avx2) return 0;
    if (level == BP_LEVEL_AVX2) return 1;
    const int f = (ebx >> 16) & 1, dq = (ebx >> 17) & 1, bw = (ebx >> 30) & 1, vl = (ebx >> 31) & 1;
    if (!(f && dq && bw && vl)) return 0;
    return (xcr0 & 0xe0) == 0xe0;  // opmask, upper halves of zmm0-15, zmm16-31
#elif defined(__aarch64__)
    return level == BP_LEVEL_NEON;
#else
    return level == BP_LEVEL_BASELINE;
#endif
}

int bp_best_level(void) {
#if defined(__aarch64__)
    return BP_LEVEL_NEON;
#else
    if (bp_cpu_supports(BP_LEVEL_AVX512)) return BP_LEVEL_AVX512;
    if (bp_cpu_supports(BP_LEVEL_AVX2)) return BP_LEVEL_AVX2;
    return BP_LEVEL_BASELINE;
#endif
}

void bp_cpu_model(char *buffer, long capacity) {
    if (capacity <= 0) return;
    buffer[0] = 0;
#if defined(__x86_64__)
    unsigned int regs[12];
    unsigned int top = __get_cpuid_max(0x80000000, 0);
    if (top < 0x80000004) return;
    for (unsigned int i = 0; i < 3; i++) {
        __get_cpuid(0x80000002 + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    }
    char text[49];
    memcpy(text, regs, 48);
    text[48] = 0;
    const char *start = text;
    while (*start == ' ') start++;
    long n = (long)strlen(start);
    while (n > 0 && start[n - 1] == ' ') n--;
    if (n > capacity - 1) n = capacity - 1;
    memcpy(buffer, start, (size_t)n);
    buffer[n] = 0;
#endif
}
