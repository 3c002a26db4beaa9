// System headers every level's kernels use, included before the level's target region: their
// own functions (the intrinsics) carry their own target attributes.
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif
#include "bp_kernels.h"
#include "tables.h"
