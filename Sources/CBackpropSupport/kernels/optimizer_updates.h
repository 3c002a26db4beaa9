// The optimizer rules' element-wise update loops, one entry per rule (contracts in
// include/bp_row_kernels.h; each rule's equations and defaults are documented in its Swift file
// under Sources/Backprop/Optimizers, which computes the scalar constants, bias corrections in
// double, and calls these). Also the weight-decay loops of Optimizer.step and gradient clipping's.
// Part of the per-level kernel bodies: see kernels_<level>.c.
//
// Every expression is the Swift loop's it replaced, operation for operation and with the same
// grouping ("a - b / c * d" is a - ((b / c) * d)); none of them uses a fused multiply-add, and
// division and square root are correctly rounded everywhere, so every level computes the same bits
// (and the same bits as the scalar expression element by element). Whole 16-float vectors first,
// then one partial vector whose missing lanes read as zero and are never stored, as Swift's
// `Lanes` helper did.

/// Runs the statements for i = 0, 16, 32, ... with w = 16 (a constant, so the loads and stores
/// below are plain vector ones), then once for the last n % 16 elements with w = n % 16.
#define OPT_FOR_EACH_VECTOR(n, ...)                 \
    do {                                            \
        long i = 0;                                 \
        for (; i + 16 <= (n); i += 16) {            \
            const long w = 16;                      \
            __VA_ARGS__                             \
        }                                           \
        if (i < (n)) {                              \
            const long w = (n) - i;                 \
            __VA_ARGS__                             \
        }                                           \
    } while (0)

BP_INLINE v16 opt_load(const float *p, long w) { return w == 16 ? v16_load(p) : v16_load_first(p, w, 0); }

BP_INLINE void opt_store(float *p, v16 v, long w) {
    if (w == 16) {
        v16_store(p, v);
    } else {
        v16_store_first(p, v, w);
    }
}

#define LD(p) opt_load((p) + i, w)
#define ST(p, v) opt_store((p) + i, (v), w)

/// Swift's Float.maximum(x, y) lane by lane: x when x > y or y is NaN, else y (so NaN in either
/// gives NaN, and of +0 and -0 the second).
BP_INLINE v16 opt_maximum(v16 x, v16 y) { return v16_select((x > y) | (y != y), x, y); }

/// |x| as the Swift loop wrote it, x < 0 ? -x : x (so -0 and NaN keep their sign).
BP_INLINE v16 opt_magnitude(v16 x) { return v16_select(x < 0, -x, x); }

static void opt_sgd(float *p, const float *g, long n, float eta) {
    const v16 e = v16_splat(eta);
    OPT_FOR_EACH_VECTOR(n, ST(p, LD(p) - e * LD(g)););
}

static void opt_momentum(float *p, const float *g, float *velocity, long n, float eta, float gamma) {
    const v16 e = v16_splat(eta), c = v16_splat(gamma);
    OPT_FOR_EACH_VECTOR(n, {
        const v16 v = c * LD(velocity) + e * LD(g);
        ST(velocity, v);
        ST(p, LD(p) - v);
    });
}

static void opt_nesterov(float *p, const float *g, float *velocity, long n, float eta, float gamma) {
    const v16 e = v16_splat(eta), c = v16_splat(gamma);
    OPT_FOR_EACH_VECTOR(n, {
        const v16 gv = LD(g);
        const v16 v = c * LD(velocity) + e * gv;
        ST(velocity, v);
        ST(p, LD(p) - (c * v + e * gv));
    });
}

static void opt_adagrad(float *p, const float *g, float *sum_g2, long n, float eta, float epsilon) {
    const v16 e = v16_splat(eta), eps = v16_splat(epsilon);
    OPT_FOR_EACH_VECTOR(n, {
        const v16 gv = LD(g);
        const v16 sum = LD(sum_g2) + gv * gv;
        ST(sum_g2, sum);
        ST(p, LD(p) - e / v16_sqrt(sum + eps) * gv);
    });
}

static void opt_adadelta(float *p, const float *g, float *mean_g2, float *mean_dx2, long n, float eta, float rho,
                         float keep, float epsilon) {
    const v16 e = v16_splat(eta), r = v16_splat(rho), k = v16_splat(keep), eps = v16_splat(epsilon);
    OPT_FOR_EACH_VECTOR(n, {
        const v16 gv = LD(g);
        const v16 eg2 = r * LD(mean_g2) + k * (gv * gv);
        const v16 edx2 = LD(mean_dx2);
        const v16 dx = e * (-(v16_sqrt(edx2 + eps) / v16_sqrt(eg2 + eps)) * gv);
        ST(mean_g2, eg2);
        ST(mean_dx2, r * edx2 + k * (dx * dx));
        ST(p, LD(p) + dx);
    });
}

static void opt_rmsprop(float *p, const float *g, float *mean_g2, long n, float eta, float rho, float keep,
                        float epsilon) {
    const v16 e = v16_splat(eta), r = v16_splat(rho), k = v16_splat(keep), eps = v16_splat(epsilon);
    OPT_FOR_EACH_VECTOR(n, {
        const v16 gv = LD(g);
        const v16 mean = r * LD(mean_g2) + k * (gv * gv);
        ST(mean_g2, mean);
        ST(p, LD(p) - e / v16_sqrt(mean + eps) * gv);
    });
}

/// One step of an exponential moving average, β·old + (1 − β)·x with keep = 1 − β precomputed
/// (the first and second moments of Adam, AdaMax, Nadam and AMSGrad).
BP_INLINE v16 opt_average(v16 beta, v16 old, v16 keep, v16 x) { return beta * old + keep * x; }

static void opt_adam(float *p, const float *g, float *first, float *second, long n, float beta1, float keep1,
                     float beta2, float keep2, float step_size, float inverse_c2, float epsilon) {
    const v16 b1 = v16_splat(beta1), k1 = v16_splat(keep1), b2 = v16_splat(beta2), k2 = v16_splat(keep2);
    const v16 s = v16_splat(step_size), ic2 = v16_splat(inverse_c2), eps = v16_splat(epsilon);
    OPT_FOR_EACH_VECTOR(n, {
        const v16 gv = LD(g);
        const v16 m = opt_average(b1, LD(first), k1, gv);
        const v16 v = opt_average(b2, LD(second), k2, gv * gv);
        ST(first, m);
        ST(second, v);
        const v16 v_hat = v * ic2;
        ST(p, LD(p) - s * m / (v16_sqrt(v_hat) + eps));
    });
}

static void opt_adamax(float *p, const float *g, float *first, float *norm, long n, float beta1, float keep1,
                       float beta2, float rate) {
    const v16 b1 = v16_splat(beta1), k1 = v16_splat(keep1), b2 = v16_splat(beta2), rt = v16_splat(rate);
    const v16 tiny = v16_splat(0x1p-126f);  // Float.leastNormalMagnitude
    OPT_FOR_EACH_VECTOR(n, {
        const v16 gv = LD(g);
        const v16 m = opt_average(b1, LD(first), k1, gv);
        const v16 u = opt_maximum(b2 * LD(norm), opt_magnitude(gv));
        ST(first, m);
        ST(norm, u);
        ST(p, LD(p) - rt * m / opt_maximum(u, tiny));
    });
}

static void opt_nadam(float *p, const float *g, float *first, float *second, long n, float beta1, float keep1,
                      float beta2, float keep2, float c1, float c2, float eta, float epsilon) {
    const v16 b1 = v16_splat(beta1), k1 = v16_splat(keep1), b2 = v16_splat(beta2), k2 = v16_splat(keep2);
    const v16 cv1 = v16_splat(c1), cv2 = v16_splat(c2), e = v16_splat(eta), eps = v16_splat(epsilon);
    OPT_FOR_EACH_VECTOR(n, {
        const v16 gv = LD(g);
        const v16 m = opt_average(b1, LD(first), k1, gv);
        const v16 v = opt_average(b2, LD(second), k2, gv * gv);
        ST(first, m);
        ST(second, v);
        const v16 m_hat = m / cv1, v_hat = v / cv2;
        const v16 direction = b1 * m_hat + k1 * gv / cv1;
        ST(p, LD(p) - e / (v16_sqrt(v_hat) + eps) * direction);
    });
}

static void opt_amsgrad(float *p, const float *g, float *first, float *second, float *maximum, long n, float beta1,
                        float keep1, float beta2, float keep2, float eta, float epsilon) {
    const v16 b1 = v16_splat(beta1), k1 = v16_splat(keep1), b2 = v16_splat(beta2), k2 = v16_splat(keep2);
    const v16 e = v16_splat(eta), eps = v16_splat(epsilon);
    OPT_FOR_EACH_VECTOR(n, {
        const v16 gv = LD(g);
        const v16 m = opt_average(b1, LD(first), k1, gv);
        const v16 v = opt_average(b2, LD(second), k2, gv * gv);
        const v16 v_hat = opt_maximum(LD(maximum), v);
        ST(first, m);
        ST(second, v);
        ST(maximum, v_hat);
        ST(p, LD(p) - e / (v16_sqrt(v_hat) + eps) * m);
    });
}

static void opt_coupled_decay(const float *g, const float *p, float lambda, float *out, long n) {
    const v16 l = v16_splat(lambda);
    OPT_FOR_EACH_VECTOR(n, ST(out, LD(g) + l * LD(p)););
}

static void opt_decoupled_decay(float *p, float shrink, long n) {
    const v16 s = v16_splat(shrink);
    OPT_FOR_EACH_VECTOR(n, {
        const v16 v = LD(p);
        ST(p, v - s * v);
    });
}

static double opt_sum_squares(const float *x, long n) {
    v16 partial = v16_splat(0);
    const long full = n - n % 16;
    for (long i = 0; i < full; i += 16) {
        const v16 v = v16_load(x + i);
        partial = BP_FMA(v, v, partial);
    }
    double tail = 0;
    for (long i = full; i < n; i++) tail += (double)x[i] * (double)x[i];
    double lanes = 0;
    for (int k = 0; k < 16; k++) lanes += (double)partial[k];
    return lanes + tail;
}

static long opt_clip_by_value(float *x, long n, float limit) {
    const v16 hi = v16_splat(limit), lo = v16_splat(-limit);
    i16v changed = (i16v)0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        const v16 v = v16_load(x + i);
        const i16v above = v > hi, below = v < lo;
        v16_store(x + i, v16_select(above, hi, v16_select(below, lo, v)));
        changed -= above | below;
    }
    long count = 0;
    for (int k = 0; k < 16; k++) count += changed[k];
    for (; i < n; i++) {
        const float v = x[i];
        if (v > limit) {
            x[i] = limit;
            count++;
        } else if (v < -limit) {
            x[i] = -limit;
            count++;
        }
    }
    return count;
}

#undef LD
#undef ST
#undef OPT_FOR_EACH_VECTOR
