#ifndef BP_ROW_KERNELS_H
#define BP_ROW_KERNELS_H

#include <stdint.h>

// Row kernels, one set per level (bodies in kernels/row_kernels.h and the headers it includes:
// kernels/elementwise.h, kernels/batchnorm.h, kernels/optimizer_updates.h): the fixed
// element-wise and reduction kernels behind Swift's `Elementwise`, Batch Normalization's passes
// behind `BatchNormKernels`, and one update loop per optimizer rule.
//
// Each body keeps the operation order of the Swift loop it replaced: a fused multiply-add
// (BP_FMA, one rounding on AVX2, AVX-512 and NEON, two on the SSE2 baseline) exactly where that
// loop wrote `addingProduct`, separate multiply and add everywhere else, sums in the same order.
// So the avx2 and avx512 levels give the same bits as each other, and the baseline level differs
// from them only in the rounding of those multiply-adds. The optimizer updates use no multiply-add
// at all: every level gives the same bits for them.
//
// Pointers may be equal where a comment says so (in place); otherwise arrays must not overlap.
// Counts may be zero.
typedef struct bp_row_kernels {
    // --- Element-wise and reductions (kernels/elementwise.h) ------------------------------------
    /// y[i] = (float)x[i] * scale.
    void (*convert_bytes)(const uint8_t *x, float scale, float *y, long n);
    /// p[i] = value.
    void (*fill)(float *p, float value, long n);
    /// y[i] += alpha * x[i]: fused in whole 16-float vectors, separate multiply and add in the
    /// last n % 16 elements (as the Swift loop did).
    void (*axpy)(float alpha, const float *x, float *y, long n);
    /// y[i] = x[i] * alpha (y may be x).
    void (*scale)(float alpha, const float *x, float *y, long n);
    /// Sum of x[0 ..< n]: two 16-lane float accumulators over 32-float steps (then one 16-float
    /// step), added and summed lane 0 to 15 in float, then the last n % 16 elements added in double.
    float (*sum)(const float *x, long n);
    /// Sum of x[i] * y[i]: two 16-lane accumulators of fused multiply-adds as in sum, the lanes
    /// summed 0 to 15, then the last n % 16 products added in float.
    float (*dot)(const float *x, const float *y, long n);
    /// out[j] = (accumulate ? out[j] : +0) + x[0, j] + x[1, j] + ... (row order) for a row-major
    /// rows x cols matrix.
    void (*column_sums)(const float *x, long rows, long cols, float *out, int accumulate);
    /// out[r] = sum(x + r * cols, cols).
    void (*row_sums)(const float *x, long rows, long cols, float *out);
    /// The index of the first NaN in x[0 ..< n] if there is one, else of the first largest element
    /// (n > 0).
    long (*max_index)(const float *x, long n);

    // --- Batch Normalization over the rows of a row-major rows x cols batch (kernels/batchnorm.h)
    /// Training forward: mean, biased variance, inv_std = 1 / sqrt(variance + epsilon),
    /// normalized = (x - mean) * inv_std, y = normalized * gamma + beta (rows > 0).
    void (*batchnorm_forward_training)(const float *x, long rows, long cols, const float *gamma,
                                       const float *beta, float epsilon, float *y, float *normalized,
                                       float *mean, float *variance, float *inv_std);
    /// squares[j] = sum over rows of (x - mean)^2 (fused in whole vectors), centered = x - mean.
    void (*batchnorm_centered_squares)(const float *x, long rows, long cols, const float *mean,
                                       float *centered, float *squares);
    /// normalized = centered * inv_std in place, y = normalized * gamma + beta.
    void (*batchnorm_normalize)(long rows, long cols, float *normalized, const float *inv_std,
                                const float *gamma, const float *beta, float *y);
    /// Inference forward with the running statistics; normalized may be NULL.
    void (*batchnorm_forward_inference)(const float *x, long rows, long cols, const float *gamma,
                                        const float *beta, const float *running_mean,
                                        const float *running_variance, float epsilon, float *y,
                                        float *normalized, float *inv_std);
    /// sum_dy[j] = sum of dy, sum_dy_xhat[j] = sum of dy * normalized (fused in whole vectors).
    void (*batchnorm_backward_sums)(const float *dy, const float *normalized, long rows, long cols,
                                    float *sum_dy, float *sum_dy_xhat);
    /// dx = k * dy - (k / m) * sum_dy - normalized * (k / m) * sum_dy_xhat, k = gamma * inv_std
    /// (dx = k * dy without through_statistics); the sums are overwritten with their (k / m)
    /// multiples. dx may be dy.
    void (*batchnorm_input_gradient)(const float *dy, const float *normalized, long rows, long cols,
                                     float m, const float *gamma, const float *inv_std,
                                     int through_statistics, float *dx, float *sum_dy, float *sum_dy_xhat);
    /// backward_sums, then beta_gradient += sum_dy and gamma_gradient += sum_dy_xhat (each may be
    /// NULL), then input_gradient with m = rows when dx is not NULL. dx may be dy.
    void (*batchnorm_backward)(const float *dy, const float *normalized, long rows, long cols,
                               const float *gamma, const float *inv_std, int through_statistics,
                               float *dx, float *gamma_gradient, float *beta_gradient,
                               float *sum_dy, float *sum_dy_xhat);

    // --- Optimizer updates (kernels/optimizer_updates.h): p the parameter, g the gradient, then
    //     the rule's state buffers in its stateNames order, all n floats, updated in place. The
    //     scalar constants are computed in Swift (bias corrections in double) and passed as they
    //     enter the loop. -------------------------------------------------------------------
    /// p -= eta * g.
    void (*sgd)(float *p, const float *g, long n, float eta);
    /// v = gamma * v + eta * g; p -= v.
    void (*momentum)(float *p, const float *g, float *v, long n, float eta, float gamma);
    /// v = gamma * v + eta * g; p -= gamma * v + eta * g.
    void (*nesterov)(float *p, const float *g, float *v, long n, float eta, float gamma);
    /// G += g * g; p -= eta / sqrt(G + epsilon) * g.
    void (*adagrad)(float *p, const float *g, float *sum_g2, long n, float eta, float epsilon);
    /// Zeiler's two running averages; keep = 1 - rho.
    void (*adadelta)(float *p, const float *g, float *mean_g2, float *mean_dx2, long n, float eta,
                     float rho, float keep, float epsilon);
    /// E = rho * E + keep * g * g; p -= eta / sqrt(E + epsilon) * g.
    void (*rmsprop)(float *p, const float *g, float *mean_g2, long n, float eta, float rho, float keep,
                    float epsilon);
    /// m, v as Adam; p -= step_size * m / (sqrt(v * inverse_c2) + epsilon), step_size = eta / c1.
    void (*adam)(float *p, const float *g, float *m, float *v, long n, float beta1, float keep1,
                 float beta2, float keep2, float step_size, float inverse_c2, float epsilon);
    /// m as Adam, u = max(beta2 * u, |g|); p -= rate * m / max(u, FLT_MIN), rate = eta / c1.
    void (*adamax)(float *p, const float *g, float *m, float *u, long n, float beta1, float keep1,
                   float beta2, float rate);
    /// m, v as Adam; p -= eta / (sqrt(v / c2) + epsilon) * (beta1 * m / c1 + keep1 * g / c1).
    void (*nadam)(float *p, const float *g, float *m, float *v, long n, float beta1, float keep1,
                  float beta2, float keep2, float c1, float c2, float eta, float epsilon);
    /// m, v as Adam, vhat = max(vhat, v); p -= eta / (sqrt(vhat) + epsilon) * m.
    void (*amsgrad)(float *p, const float *g, float *m, float *v, float *vhat, long n, float beta1,
                    float keep1, float beta2, float keep2, float eta, float epsilon);
    /// out = g + lambda * p (coupled weight decay's gradient).
    void (*coupled_decay)(const float *g, const float *p, float lambda, float *out, long n);
    /// p -= shrink * p (decoupled weight decay, shrink = eta * lambda).
    void (*decoupled_decay)(float *p, float shrink, long n);
    /// Sum of x[i]^2: one 16-lane fused accumulator over the whole vectors, its lanes summed 0 to
    /// 15 in double, plus the last n % 16 squares in double (gradient clipping's norm).
    double (*sum_squares)(const float *x, long n);
    /// Clamps x to [-limit, limit] in place (NaN stays); returns how many elements changed.
    long (*clip_by_value)(float *x, long n, float limit);
} bp_row_kernels;

#endif
