#ifndef BP_MATH_KERNELS_H
#define BP_MATH_KERNELS_H

/// Leaky ReLU's slope for x <= 0 and ELU's saturation alpha: compiled into every level's
/// kernels, and the values Swift's `Activation.leakyReLUSlope` and `Activation.eluAlpha` read.
#define BP_LEAKY_RELU_SLOPE 0.01f
#define BP_ELU_ALPHA 1.0f

#include <stdint.h>

// Element-wise math, activations and the softmax family, one set per instruction-set level
// (bodies: kernels/vector_math.h; Swift callers: VectorMath.swift, Activation.swift,
// Softmax.swift, which document accuracy and special values). Every kernel works on 16-float
// chunks and sends a buffer's last count % 16 elements (a row's last cols % 16) through the same
// vector code on a padded register, so an element's result never depends on its position. The
// levels compute the same expressions in the same order; AVX2 and AVX-512 give the same bits,
// the SSE2 baseline (no FMA: a multiply and an add where the others fuse) differs by rounding.
// Reductions (row sums) use one fixed order, independent of level width and thread count.

/// The activations, numbered as Swift's `Activation` cases.
enum {
    BP_ACTIVATION_IDENTITY = 0,
    BP_ACTIVATION_SIGMOID = 1,
    BP_ACTIVATION_TANH = 2,
    BP_ACTIVATION_RELU = 3,
    BP_ACTIVATION_LEAKY_RELU = 4,  ///< slope 0.01 for x <= 0 (Activation.leakyReLUSlope)
    BP_ACTIVATION_ELU = 5,         ///< alpha 1 (Activation.eluAlpha)
    BP_ACTIVATION_GELU = 6,        ///< tanh form, as x * sigmoid(2u)
    BP_ACTIVATION_SOFTPLUS = 7,
    BP_ACTIVATION_COUNT = 8
};

typedef struct bp_math_kernels {
    // --- Lane-wise functions: y[i] = f(x[i]) for i < count. x == y allowed (otherwise the
    //     buffers must not overlap). ------------------------------------------------------
    void (*exp)(const float *x, float *y, long count);
    void (*expm1)(const float *x, float *y, long count);
    void (*log)(const float *x, float *y, long count);
    void (*log1p)(const float *x, float *y, long count);
    void (*tanh)(const float *x, float *y, long count);
    void (*sigmoid)(const float *x, float *y, long count);
    void (*softplus)(const float *x, float *y, long count);

    // --- Activations (`activation`: a BP_ACTIVATION_ constant) -------------------------------
    /// y[i] = f(x[i]); x == y allowed.
    void (*activation_forward)(int activation, const float *x, float *y, long count);
    /// dx[i] = dy[i] * f'(x[i]) given y = f(x); dx may be dy (or x, y): each chunk is read
    /// before it is written.
    void (*activation_backward)(int activation, const float *x, const float *y, const float *dy, float *dx,
                                long count);
    /// Row-major rows x cols: z[r, c] += bias[c] (bias may be NULL: no add), y[r, c] = f(z[r, c]);
    /// y may be z.
    void (*activation_bias_forward)(int activation, float *z, const float *bias, float *y, long rows, long cols);
    /// dz[r, c] = dy[r, c] * f'(z[r, c]) given y = f(z), and bias_gradient[c] += dz[r, c] row by
    /// row in float (bias_gradient may be NULL); dz may be dy.
    void (*activation_bias_backward)(int activation, const float *z, const float *y, const float *dy, float *dz,
                                     float *bias_gradient, long rows, long cols);

    // --- Softmax family over row-major rows x cols (in place allowed) ------------------------
    void (*softmax_forward)(const float *x, float *y, long rows, long cols);
    /// dx = y * (dy - <dy, y>) per row; dx may be dy.
    void (*softmax_backward)(const float *y, const float *dy, float *dx, long rows, long cols);
    void (*log_softmax_forward)(const float *x, float *y, long rows, long cols);
    /// dx = dy - e^y * sum(dy) per row; dx may be dy.
    void (*log_softmax_backward)(const float *y, const float *dy, float *dx, long rows, long cols);

    // --- Cross-entropy on logits: losses[r] (unscaled) when non-NULL, scale * d loss / d logits
    //     into gradient when non-NULL (it may be the logits), returns scale * sum of the losses
    //     (accumulated in double, row by row). Labels must lie in 0 ..< cols (the caller checks).
    float (*cross_entropy_labels32)(const float *logits, const int32_t *labels, float *losses, float *gradient,
                                    long rows, long cols, float scale);
    float (*cross_entropy_labels64)(const float *logits, const long *labels, float *losses, float *gradient,
                                    long rows, long cols, float scale);
    /// Soft targets (rows x cols).
    float (*cross_entropy_targets)(const float *logits, const float *targets, float *losses, float *gradient,
                                   long rows, long cols, float scale);
    /// Binary cross-entropy on logits, element-wise over count values (the sum accumulates one
    /// 16-lane chunk at a time, in double).
    float (*cross_entropy_sigmoid)(const float *logits, const float *targets, float *losses, float *gradient,
                                   long count, float scale);
} bp_math_kernels;

#endif
