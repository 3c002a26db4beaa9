#ifndef BP_ROW_KERNELS_H
#define BP_ROW_KERNELS_H

// Row kernels (softmax, cross-entropy, BatchNorm, reductions, optimizer updates), one set per
// level: filled in by kernels/row_kernels.h.
typedef struct bp_row_kernels {
    int reserved;
} bp_row_kernels;

#endif
