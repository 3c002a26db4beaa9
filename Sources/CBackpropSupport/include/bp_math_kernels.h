#ifndef BP_MATH_KERNELS_H
#define BP_MATH_KERNELS_H

// Element-wise math and activations, one set per level: filled in by kernels/vector_math.h.
typedef struct bp_math_kernels {
    int reserved;
} bp_math_kernels;

#endif
