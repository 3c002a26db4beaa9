// Element-wise math, activations and the softmax family (contracts in include/bp_math_kernels.h;
// Swift callers and their documentation: VectorMath.swift, Activation.swift, Softmax.swift).
// Part of the per-level kernel bodies: see kernels_<level>.c.
//
// These were Swift SIMD16<Float> code, vectorized by -march=native; without that flag Swift's
// SIMD types compile to SSE2 and `addingProduct` to a libm fmaf call per lane. Here the same
// algorithms, constants and order of operations are written once on `v16` (kernels/vec.h) and
// compiled per level: BP_FMA where the Swift had `addingProduct`, plain * and + elsewhere
// (FP_CONTRACT is off), so the AVX2 and AVX-512 copies give the Swift code's bits, and the SSE2
// copy differs only by the rounding of its unfused multiply-adds.
//
// The functions are branch-free: range reduction (Cody-Waite for exp, exponent extraction for
// log), a minimax polynomial (the Cephes single-precision coefficients), reconstruction by
// writing exponent bits, and lane masks for the special values. Integer lane arithmetic that may
// wrap (garbage lanes of NaN inputs, later masked) is done unsigned, as Swift's &+ and &<< wrap.

// ---------------------------------------------------------------------------------------------
// Building blocks

BP_INLINE i16v vm_select_i(i16v mask, i16v a, i16v b) { return (a & mask) | (b & ~mask); }

BP_INLINE i16v vm_add_i(i16v a, int32_t b) { return (i16v)((u16v)a + (uint32_t)b); }

/// (a << 23) reinterpreted as floats: 2^(a - 127) for a in 1 ... 254.
BP_INLINE v16 vm_exponent_bits(i16v a) { return (v16)((u16v)a << 23); }

/// Exact conversion of small integers (|e| < 2^22) to float: add the bits of 1.5 * 2^23.
BP_INLINE v16 vm_int_to_float(i16v e) {
    const float shifter = 12582912.0f;
    return (v16)((u16v)e + (u16v)v16_splat(shifter)) - shifter;
}

/// Cody-Waite reduction x = n * ln 2 + r, |r| <= ln 2 / 2, for |x| < 2^21.
BP_INLINE void vm_reduce_ln2(v16 x, i16v *n, v16 *r) {
    // Adding 1.5 * 2^23 rounds to an integer and leaves it in the low mantissa bits.
    const float shifter = 12582912.0f;
    v16 t = BP_FMA(x, v16_splat(0.442695040888963407f), x) + shifter;  // x * log2(e) = x + x * 0.4427 (fused)
    v16 kf = t - shifter;
    v16 reduced = BP_FMA(kf, v16_splat(-0.693359375f), x);  // ln 2 high part (exact product)
    reduced = BP_FMA(kf, v16_splat(2.12194440e-4f), reduced);  // ln 2 low part
    *n = (i16v)((u16v)t - (u16v)v16_splat(shifter));
    *r = reduced;
}

/// e^r - 1 for |r| <= ln 2 / 2 (Cephes expf minimax coefficients).
BP_INLINE v16 vm_expm1_polynomial(v16 r) {
    v16 p = BP_FMA(v16_splat(1.9875691500e-4f), r, v16_splat(1.3981999507e-3f));
    p = BP_FMA(p, r, v16_splat(8.3334519073e-3f));
    p = BP_FMA(p, r, v16_splat(4.1665795894e-2f));
    p = BP_FMA(p, r, v16_splat(1.6666665459e-1f));
    p = BP_FMA(p, r, v16_splat(5.0000001201e-1f));
    return BP_FMA(r * r, p, r);
}

/// p * 2^n for n in [-151, 129] with a single rounding (two exact power-of-two factors, so
/// subnormal results and overflow to infinity come out right).
BP_INLINE v16 vm_scale_by_power_of_two(v16 p, i16v n) {
    i16v n1 = n >> 1;
    i16v n2 = (i16v)((u16v)n - (u16v)n1);
    v16 s1 = vm_exponent_bits(vm_add_i(n1, 127));
    v16 s2 = vm_exponent_bits(vm_add_i(n2, 127));
    return (p * s1) * s2;
}

// ---------------------------------------------------------------------------------------------
// Lane-wise functions (accuracy and special values: VectorMath.swift)

BP_INLINE v16 vm_exp(v16 x) {
    // Clamp so the exponent stays representable; comparisons are false for NaN, which passes.
    v16 xc = v16_select(x > 89.0f, v16_splat(89.0f), x);
    xc = v16_select(xc < -104.0f, v16_splat(-104.0f), xc);
    i16v n;
    v16 r;
    vm_reduce_ln2(xc, &n, &r);
    v16 p = vm_expm1_polynomial(r) + 1.0f;
    return vm_scale_by_power_of_two(p, n);
}

BP_INLINE v16 vm_expm1(v16 x) {
    v16 xc = v16_select(x > 89.0f, v16_splat(89.0f), x);
    xc = v16_select(xc < -30.0f, v16_splat(-30.0f), xc);
    i16v n;
    v16 r;
    vm_reduce_ln2(xc, &n, &r);
    v16 p = vm_expm1_polynomial(r);
    // e^x - 1 = 2^n * p + (2^n - 1) = 2 * (h * p + (h - 1/2)) with h = 2^(n-1), one fused
    // rounding; h - 1/2 is exact for n <= 24 (below n = -24 the result is -1 to rounding anyway).
    // For n > 24 use the equal 2 * (h * (p - 2^-n) + h), whose extra subtraction is far below an ulp.
    v16 h = vm_exponent_bits(vm_add_i(n, 126));
    i16v biased = (i16v)(127u - (u16v)n);  // 2^-n, floored at 2^-126 (n <= 129 after the clamp)
    v16 twoToMinusN = vm_exponent_bits(vm_select_i(biased < 1, (i16v)1, biased));
    i16v big = n > 24;
    v16 pAdjusted = v16_select(big, p - twoToMinusN, p);
    v16 offset = v16_select(big, h, h - 0.5f);
    v16 y = BP_FMA(h, pAdjusted, offset);
    y = y + y;
    // For |x| < ln 2 (n = 0 or +-1) a direct Taylor polynomial avoids the rounding of p being
    // doubled by the reconstruction; it also keeps the sign of zero.
    v16 q = BP_FMA(v16_splat(2.75573192e-6f), x, v16_splat(2.48015873e-5f));
    q = BP_FMA(q, x, v16_splat(1.98412698e-4f));
    q = BP_FMA(q, x, v16_splat(1.38888889e-3f));
    q = BP_FMA(q, x, v16_splat(8.33333333e-3f));
    q = BP_FMA(q, x, v16_splat(4.16666667e-2f));
    q = BP_FMA(q, x, v16_splat(1.66666667e-1f));
    q = BP_FMA(q, x, v16_splat(0.5f));
    v16 small = BP_FMA(x * x, q, x);
    v16 result = v16_select(v16_abs(x) < 0.693147182f, small, y);
    return v16_select(x == 0.0f, x, result);
}

BP_INLINE v16 vm_log(v16 x) {
    i16v isSubnormal = x < 0x1p-126f;  // below the smallest normal (and zero, negatives)
    v16 xs = v16_select(isSubnormal, x * 8388608.0f, x);  // x 2^23
    i16v bits = (i16v)xs;
    // xs = m * 2^e with m in [0.5, 1).
    i16v e = vm_add_i(bits >> 23, -126);
    e = vm_select_i(isSubnormal, vm_add_i(e, -23), e);
    v16 m = (v16)((bits & 0x007fffff) | 0x3f000000);
    // Move m into [sqrt(1/2), sqrt(2)): f = m - 1 or 2m - 1, both exact.
    i16v low = m < 0.707106781186547524f;
    e = vm_select_i(low, vm_add_i(e, -1), e);
    m = v16_select(low, m + m, m);
    v16 f = m - 1.0f;
    v16 ef = vm_int_to_float(e);

    v16 z = f * f;
    v16 p = BP_FMA(v16_splat(7.0376836292e-2f), f, v16_splat(-1.1514610310e-1f));
    p = BP_FMA(p, f, v16_splat(1.1676998740e-1f));
    p = BP_FMA(p, f, v16_splat(-1.2420140846e-1f));
    p = BP_FMA(p, f, v16_splat(1.4249322787e-1f));
    p = BP_FMA(p, f, v16_splat(-1.6668057665e-1f));
    p = BP_FMA(p, f, v16_splat(2.0000714765e-1f));
    p = BP_FMA(p, f, v16_splat(-2.4999993993e-1f));
    p = BP_FMA(p, f, v16_splat(3.3333331174e-1f));
    v16 y = (p * f) * z;
    y = BP_FMA(ef, v16_splat(-2.12194440e-4f), y);
    y = BP_FMA(z, v16_splat(-0.5f), y);
    v16 result = f + y;
    result = BP_FMA(ef, v16_splat(0.693359375f), result);

    result = v16_select(x == __builtin_inff(), v16_splat(__builtin_inff()), result);
    result = v16_select(x == 0.0f, v16_splat(-__builtin_inff()), result);
    return v16_select(~(x >= 0.0f), v16_splat(__builtin_nanf("")), result);
}

BP_INLINE v16 vm_log1p(v16 x) {
    // log(1 + x) = log(w) + (x - (w - 1)) / w to first order, where w = fl(1 + x): the quotient
    // corrects the rounding of w (w - 1 is exact for w in [1/2, 2]).
    v16 w = 1.0f + x;
    v16 c = (x - (w - 1.0f)) / w;
    c = v16_select(~(c == c), v16_splat(0.0f), c);  // w = 0 or inf (or NaN: log(w) is NaN anyway)
    v16 y = vm_log(w) + c;
    return v16_select(x == 0.0f, x, y);
}

BP_INLINE v16 vm_tanh(v16 x) {
    // |x| < 0.625: odd minimax polynomial. Otherwise 1 - 2 / (e^(2|x|) + 1) with x's sign.
    v16 z = x * x;
    v16 p = BP_FMA(v16_splat(-5.70498872745e-3f), z, v16_splat(2.06390887954e-2f));
    p = BP_FMA(p, z, v16_splat(-5.37397155531e-2f));
    p = BP_FMA(p, z, v16_splat(1.33314422036e-1f));
    p = BP_FMA(p, z, v16_splat(-3.33332819422e-1f));
    v16 small = BP_FMA(p * z, x, x);

    v16 a = v16_abs(x);
    v16 e = vm_exp(a + a);
    v16 large = 1.0f - 2.0f / (e + 1.0f);
    v16 withSign = (v16)((u16v)large | ((u16v)x & 0x80000000u));
    v16 result = v16_select(a < 0.625f, small, withSign);
    return v16_select(x == 0.0f, x, result);
}

BP_INLINE v16 vm_sigmoid(v16 x) {
    // 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, e = e^-|x|: neither tail overflows.
    v16 e = vm_exp(-v16_abs(x));
    v16 numerator = v16_select(x >= 0.0f, v16_splat(1.0f), e);
    return numerator / (1.0f + e);
}

BP_INLINE v16 vm_softplus(v16 x) {
    // max(x, 0) + log1p(e^-|x|).
    v16 positivePart = v16_select(x < 0.0f, v16_splat(0.0f), x);
    return positivePart + vm_log1p(vm_exp(-v16_abs(x)));
}

// ---------------------------------------------------------------------------------------------
// Chunked loops

BP_INLINE v16 vm_load_n(const float *p, long n, float padding) {
    return n == 16 ? v16_load(p) : v16_load_first(p, n, padding);
}

BP_INLINE void vm_store_n(float *p, v16 v, long n) {
    if (n == 16) {
        v16_store(p, v);
    } else {
        v16_store_first(p, v, n);
    }
}

/// Runs the statements after `count` once per chunk of a `count`-element range with `c` (the
/// chunk's offset) and `n` (its length) in scope: n == 16 (a constant, so vm_load_n and
/// vm_store_n fold to full loads and stores) for the full chunks, then the 1 ... 15 of the tail.
#define VM_FOR_CHUNKS(count, ...)                                             \
    do {                                                                      \
        const long vm_count_ = (count);                                       \
        long vm_offset_ = 0;                                                  \
        for (; vm_offset_ + 16 <= vm_count_; vm_offset_ += 16) {              \
            const long c = vm_offset_, n = 16;                                \
            (void)n;                                                          \
            __VA_ARGS__                                                       \
        }                                                                     \
        if (vm_offset_ < vm_count_) {                                         \
            const long c = vm_offset_, n = vm_count_ - vm_offset_;            \
            __VA_ARGS__                                                       \
        }                                                                     \
    } while (0)

/// y[i] = f(x[i]) with a zero-padded vector tail.
#define VM_MAP_KERNEL(name, f)                                                   \
    static void name(const float *x, float *y, long count) {                     \
        VM_FOR_CHUNKS(count, vm_store_n(y + c, f(vm_load_n(x + c, n, 0.0f)), n);); \
    }

VM_MAP_KERNEL(vm_map_exp, vm_exp)
VM_MAP_KERNEL(vm_map_expm1, vm_expm1)
VM_MAP_KERNEL(vm_map_log, vm_log)
VM_MAP_KERNEL(vm_map_log1p, vm_log1p)
VM_MAP_KERNEL(vm_map_tanh, vm_tanh)
VM_MAP_KERNEL(vm_map_sigmoid, vm_sigmoid)
VM_MAP_KERNEL(vm_map_softplus, vm_softplus)

// ---------------------------------------------------------------------------------------------
// Activations (table and semantics: Activation.swift). Each buffer kernel switches on the
// activation once and runs a loop instantiated for that case: act_forward and act_derivative
// are inlined with a constant `a`, so their switch folds away.

#define ACT_LEAKY_RELU_SLOPE BP_LEAKY_RELU_SLOPE  // Activation.leakyReLUSlope
#define ACT_ELU_ALPHA BP_ELU_ALPHA                // Activation.eluAlpha
#define ACT_GELU_K 0.797884560802865355f  // sqrt(2 / pi)
#define ACT_GELU_C 0.044715f

/// 2u, the logistic argument of the tanh-form GELU: 2k x + (2k c x) x^2, one fused rounding.
BP_INLINE v16 act_gelu_argument(v16 x) {
    const float k2 = 2.0f * ACT_GELU_K;
    const float k2c = k2 * ACT_GELU_C;
    return BP_FMA(k2c * x, x * x, k2 * x);
}

BP_INLINE v16 act_forward(int a, v16 x) {
    switch (a) {
    case BP_ACTIVATION_SIGMOID: return vm_sigmoid(x);
    case BP_ACTIVATION_TANH: return vm_tanh(x);
    case BP_ACTIVATION_RELU: return v16_select(x <= 0.0f, v16_splat(0.0f), x);  // NaN passes through
    case BP_ACTIVATION_LEAKY_RELU: return v16_select(x <= 0.0f, x * ACT_LEAKY_RELU_SLOPE, x);
    case BP_ACTIVATION_ELU: return v16_select(x <= 0.0f, ACT_ELU_ALPHA * vm_expm1(x), x);
    case BP_ACTIVATION_GELU: {
        v16 s = vm_sigmoid(act_gelu_argument(x));
        return v16_select(s == 0.0f, v16_splat(0.0f), x * s);  // -inf * 0
    }
    case BP_ACTIVATION_SOFTPLUS: return vm_softplus(x);
    default: return x;  // identity
    }
}

/// f'(x) given y = f(x) (each case reads whichever is cheaper).
BP_INLINE v16 act_derivative(int a, v16 x, v16 y) {
    switch (a) {
    case BP_ACTIVATION_SIGMOID: return y * (1.0f - y);
    case BP_ACTIVATION_TANH: return 1.0f - y * y;
    case BP_ACTIVATION_RELU: return v16_select(y > 0.0f, v16_splat(1.0f), v16_splat(0.0f));
    case BP_ACTIVATION_LEAKY_RELU: return v16_select(x > 0.0f, v16_splat(1.0f), v16_splat(ACT_LEAKY_RELU_SLOPE));
    case BP_ACTIVATION_ELU: return v16_select(x > 0.0f, v16_splat(1.0f), ACT_ELU_ALPHA * vm_exp(x));
    case BP_ACTIVATION_GELU: {
        v16 s = vm_sigmoid(act_gelu_argument(x));
        v16 t = s * (1.0f - s);
        v16 slope = (2.0f * ACT_GELU_K) * (1.0f + (3.0f * ACT_GELU_C) * x * x);
        v16 term = v16_select(t == 0.0f, v16_splat(0.0f), x * t * slope);  // +-inf * 0
        return s + term;
    }
    case BP_ACTIVATION_SOFTPLUS: return vm_sigmoid(x);
    default: return v16_splat(1.0f);  // identity
    }
}

BP_INLINE void act_forward_loop(int a, const float *x, float *y, long count) {
    VM_FOR_CHUNKS(count, vm_store_n(y + c, act_forward(a, vm_load_n(x + c, n, 0.0f)), n););
}

BP_INLINE void act_backward_loop(int a, const float *x, const float *y, const float *dy, float *dx, long count) {
    VM_FOR_CHUNKS(count, {
        v16 xv = vm_load_n(x + c, n, 0.0f);
        v16 yv = vm_load_n(y + c, n, 0.0f);
        vm_store_n(dx + c, vm_load_n(dy + c, n, 0.0f) * act_derivative(a, xv, yv), n);
    });
}

BP_INLINE void act_bias_forward_loop(int a, float *z, const float *bias, float *y, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        float *zr = z + r * cols;
        float *yr = y + r * cols;
        if (bias) {
            VM_FOR_CHUNKS(cols, {
                v16 v = vm_load_n(zr + c, n, 0.0f) + vm_load_n(bias + c, n, 0.0f);
                vm_store_n(zr + c, v, n);
                vm_store_n(yr + c, act_forward(a, v), n);
            });
        } else {
            act_forward_loop(a, zr, yr, cols);
        }
    }
}

BP_INLINE void act_bias_backward_loop(int a, const float *z, const float *y, const float *dy, float *dz,
                                      float *bias_gradient, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        const long o = r * cols;
        if (bias_gradient) {
            VM_FOR_CHUNKS(cols, {
                v16 zv = vm_load_n(z + o + c, n, 0.0f);
                v16 yv = vm_load_n(y + o + c, n, 0.0f);
                v16 g = vm_load_n(dy + o + c, n, 0.0f) * act_derivative(a, zv, yv);
                vm_store_n(dz + o + c, g, n);
                vm_store_n(bias_gradient + c, vm_load_n(bias_gradient + c, n, 0.0f) + g, n);
            });
        } else {
            act_backward_loop(a, z + o, y + o, dy + o, dz + o, cols);
        }
    }
}

/// Calls `loop` with the activation as a constant, one instantiation per case.
#define ACT_DISPATCH(a, loop, ...)                                                        \
    switch (a) {                                                                          \
    case BP_ACTIVATION_SIGMOID: loop(BP_ACTIVATION_SIGMOID, __VA_ARGS__); break;          \
    case BP_ACTIVATION_TANH: loop(BP_ACTIVATION_TANH, __VA_ARGS__); break;                \
    case BP_ACTIVATION_RELU: loop(BP_ACTIVATION_RELU, __VA_ARGS__); break;                \
    case BP_ACTIVATION_LEAKY_RELU: loop(BP_ACTIVATION_LEAKY_RELU, __VA_ARGS__); break;    \
    case BP_ACTIVATION_ELU: loop(BP_ACTIVATION_ELU, __VA_ARGS__); break;                  \
    case BP_ACTIVATION_GELU: loop(BP_ACTIVATION_GELU, __VA_ARGS__); break;                \
    case BP_ACTIVATION_SOFTPLUS: loop(BP_ACTIVATION_SOFTPLUS, __VA_ARGS__); break;        \
    default: loop(BP_ACTIVATION_IDENTITY, __VA_ARGS__); break;                            \
    }

static void act_forward_kernel(int a, const float *x, float *y, long count) {
    if (a == BP_ACTIVATION_IDENTITY) {
        if (y != x && count > 0) memmove(y, x, (size_t)count * sizeof(float));
        return;
    }
    ACT_DISPATCH(a, act_forward_loop, x, y, count)
}

static void act_backward_kernel(int a, const float *x, const float *y, const float *dy, float *dx, long count) {
    if (a == BP_ACTIVATION_IDENTITY) {
        if (dx != dy && count > 0) memmove(dx, dy, (size_t)count * sizeof(float));
        return;
    }
    ACT_DISPATCH(a, act_backward_loop, x, y, dy, dx, count)
}

static void act_bias_forward_kernel(int a, float *z, const float *bias, float *y, long rows, long cols) {
    ACT_DISPATCH(a, act_bias_forward_loop, z, bias, y, rows, cols)
}

static void act_bias_backward_kernel(int a, const float *z, const float *y, const float *dy, float *dz,
                                     float *bias_gradient, long rows, long cols) {
    ACT_DISPATCH(a, act_bias_backward_loop, z, y, dy, dz, bias_gradient, rows, cols)
}

// ---------------------------------------------------------------------------------------------
// Softmax, log-softmax and cross-entropy (semantics: Softmax.swift). Rows are independent and
// each is reduced in one fixed order: 16-lane accumulators over its chunks, then v16_sum.

/// log(s) of one value through the vector kernel, so scalar and vector paths round alike.
BP_INLINE float sm_scalar_log(float s) { return vm_log(v16_splat(s))[0]; }

/// Largest entry of a row (-inf for an empty row; NaN entries are skipped).
BP_INLINE float sm_row_max(const float *x, long cols) {
    v16 m = v16_splat(-__builtin_inff());
    VM_FOR_CHUNKS(cols, {
        v16 v = vm_load_n(x + c, n, -__builtin_inff());
        m = v16_select(v > m, v, m);
    });
    return v16_max_lane(m);
}

/// Writes e^(x - shift) to y (if non-NULL) and returns the row's sum of them.
BP_INLINE float sm_exponentiate(const float *x, float shift, float *y, long cols) {
    v16 acc = v16_splat(0.0f);
    VM_FOR_CHUNKS(cols, {
        v16 e = vm_exp(vm_load_n(x + c, n, -__builtin_inff()) - shift);
        acc += e;
        if (y) vm_store_n(y + c, e, n);
    });
    return v16_sum(acc);
}

BP_INLINE void sm_scale(float *y, float factor, long cols) {
    VM_FOR_CHUNKS(cols, vm_store_n(y + c, vm_load_n(y + c, n, 0.0f) * factor, n););
}

static void sm_softmax_forward(const float *x, float *y, long rows, long cols) {
    if (cols <= 0) return;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = sm_row_max(xr, cols);
        float sum = sm_exponentiate(xr, m, yr, cols);
        sm_scale(yr, 1.0f / sum, cols);
    }
}

static void sm_softmax_backward(const float *y, const float *dy, float *dx, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        const long o = r * cols;
        v16 acc = v16_splat(0.0f);
        VM_FOR_CHUNKS(cols, acc += vm_load_n(dy + o + c, n, 0.0f) * vm_load_n(y + o + c, n, 0.0f););
        const float d = v16_sum(acc);
        VM_FOR_CHUNKS(cols, {
            v16 g = vm_load_n(y + o + c, n, 0.0f) * (vm_load_n(dy + o + c, n, 0.0f) - d);
            vm_store_n(dx + o + c, g, n);
        });
    }
}

static void sm_log_softmax_forward(const float *x, float *y, long rows, long cols) {
    if (cols <= 0) return;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        const float m = sm_row_max(xr, cols);
        const float logSum = sm_scalar_log(sm_exponentiate(xr, m, NULL, cols));
        VM_FOR_CHUNKS(cols, vm_store_n(yr + c, (vm_load_n(xr + c, n, 0.0f) - m) - logSum, n););
    }
}

static void sm_log_softmax_backward(const float *y, const float *dy, float *dx, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        const long o = r * cols;
        v16 acc = v16_splat(0.0f);
        VM_FOR_CHUNKS(cols, acc += vm_load_n(dy + o + c, n, 0.0f););
        const float s = v16_sum(acc);
        VM_FOR_CHUNKS(cols, {
            v16 p = vm_exp(vm_load_n(y + o + c, n, 0.0f));
            vm_store_n(dx + o + c, vm_load_n(dy + o + c, n, 0.0f) - p * s, n);
        });
    }
}

/// Softmax cross-entropy with integer labels of type label_type.
#define SM_CROSS_ENTROPY_LABELS(name, label_type)                                                      \
    static float name(const float *logits, const label_type *labels, float *losses, float *gradient,   \
                      long rows, long cols, float scale) {                                             \
        double total = 0;                                                                              \
        for (long r = 0; r < rows; r++) {                                                              \
            const long o = r * cols;                                                                   \
            const float *x = logits + o;                                                               \
            const long label = (long)labels[r];                                                        \
            const float picked = x[label]; /* before the gradient, which may be the logits */         \
            const float m = sm_row_max(x, cols);                                                       \
            const float s = sm_exponentiate(x, m, gradient ? gradient + o : NULL, cols);              \
            const float loss = sm_scalar_log(s) - (picked - m);                                        \
            if (losses) losses[r] = loss;                                                              \
            total += (double)loss;                                                                     \
            if (gradient) {                                                                            \
                float *g = gradient + o;                                                               \
                sm_scale(g, scale / s, cols);                                                          \
                g[label] -= scale;                                                                     \
            }                                                                                          \
        }                                                                                              \
        return (float)(total * (double)scale);                                                        \
    }

SM_CROSS_ENTROPY_LABELS(sm_cross_entropy_labels32, int32_t)
SM_CROSS_ENTROPY_LABELS(sm_cross_entropy_labels64, long)

static float sm_cross_entropy_targets(const float *logits, const float *targets, float *losses, float *gradient,
                                      long rows, long cols, float scale) {
    if (cols <= 0) return 0;
    double total = 0;
    for (long r = 0; r < rows; r++) {
        const long o = r * cols;
        const float *x = logits + o;
        const float *t = targets + o;
        const float m = sm_row_max(x, cols);
        v16 sumE = v16_splat(0.0f), sumT = v16_splat(0.0f), sumTX = v16_splat(0.0f);
        VM_FOR_CHUNKS(cols, {
            v16 shifted = vm_load_n(x + c, n, -__builtin_inff()) - m;
            v16 tv = vm_load_n(t + c, n, 0.0f);
            v16 e = vm_exp(shifted);
            sumE += e;
            sumT += tv;
            sumTX += v16_select(tv == 0.0f, v16_splat(0.0f), tv * shifted);  // t = 0 where x = -inf
            if (gradient) vm_store_n(gradient + o + c, e, n);
        });
        const float s = v16_sum(sumE);
        const float st = v16_sum(sumT);
        const float loss = st * sm_scalar_log(s) - v16_sum(sumTX);
        if (losses) losses[r] = loss;
        total += (double)loss;
        if (gradient) {
            float *g = gradient + o;
            const float factor = scale * st / s;
            VM_FOR_CHUNKS(cols, {
                v16 tv = vm_load_n(t + c, n, 0.0f);
                vm_store_n(g + c, vm_load_n(g + c, n, 0.0f) * factor - scale * tv, n);
            });
        }
    }
    return (float)(total * (double)scale);
}

static float sm_cross_entropy_sigmoid(const float *logits, const float *targets, float *losses, float *gradient,
                                      long count, float scale) {
    double total = 0;
    const i16v lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    VM_FOR_CHUNKS(count, {
        v16 x = vm_load_n(logits + c, n, 0.0f);
        v16 t = vm_load_n(targets + c, n, 0.0f);
        v16 e = vm_exp(-v16_abs(x));
        // max(x, 0) - x t as x (1 - t) for x >= 0 and -x t for x < 0: for t in [0, 1] both terms
        // of the sum are non-negative, so nothing cancels.
        v16 w = v16_select(x >= 0.0f, t - 1.0f, t);
        v16 loss = BP_FMA(-x, w, vm_log1p(e));
        if (n < 16) loss = v16_select(lane >= (int32_t)n, v16_splat(0.0f), loss);
        if (losses) vm_store_n(losses + c, loss, n);
        total += (double)v16_sum(loss);
        if (gradient) {
            v16 s = v16_select(x >= 0.0f, v16_splat(1.0f), e) / (1.0f + e);
            vm_store_n(gradient + c, scale * (s - t), n);
        }
    });
    return (float)(total * (double)scale);
}

#define BP_MATH_KERNELS_INIT                                                                      \
    {                                                                                             \
        .exp = vm_map_exp, .expm1 = vm_map_expm1, .log = vm_map_log, .log1p = vm_map_log1p,      \
        .tanh = vm_map_tanh, .sigmoid = vm_map_sigmoid, .softplus = vm_map_softplus,              \
        .activation_forward = act_forward_kernel, .activation_backward = act_backward_kernel,     \
        .activation_bias_forward = act_bias_forward_kernel,                                       \
        .activation_bias_backward = act_bias_backward_kernel,                                     \
        .softmax_forward = sm_softmax_forward, .softmax_backward = sm_softmax_backward,           \
        .log_softmax_forward = sm_log_softmax_forward,                                            \
        .log_softmax_backward = sm_log_softmax_backward,                                          \
        .cross_entropy_labels32 = sm_cross_entropy_labels32,                                      \
        .cross_entropy_labels64 = sm_cross_entropy_labels64,                                      \
        .cross_entropy_targets = sm_cross_entropy_targets,                                        \
        .cross_entropy_sigmoid = sm_cross_entropy_sigmoid,                                        \
    }
