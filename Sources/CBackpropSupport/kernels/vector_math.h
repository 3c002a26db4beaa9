// Element-wise math and activations (placeholder until ported).
#define BP_MATH_KERNELS_INIT { .reserved = 0 }
