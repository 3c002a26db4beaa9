// Row kernels (placeholder until ported).
#define BP_ROW_KERNELS_INIT { .reserved = 0 }
