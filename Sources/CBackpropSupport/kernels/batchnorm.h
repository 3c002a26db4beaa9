// Batch Normalization's passes (Ioffe & Szegedy 2015, Algorithm 1, its gradient, and Algorithm 2)
// over a row-major rows x cols batch, each column (feature) normalized over the rows (examples);
// contracts in include/bp_row_kernels.h, Swift's side in BatchNormKernels.swift. Part of the
// per-level kernel bodies: see kernels_<level>.c.
//
// The order of operations is the Swift loops' that these replaced: BP_FMA exactly where they
// wrote `addingProduct` (the squares and the dy * x-hat sums over whole 16-float vectors), the
// last cols % 16 columns with separate multiply and add, as their scalar tails did. The column
// statistics keep blocks of columns in registers down a band of rows (row_band, elementwise.h),
// which adds to each column in the same row order as a row-by-row loop: the same bits, without a
// load and a store of the sums per row.

/// Column blocks (in 16-float vectors) for the passes with two accumulators per column.
#if BP_VECTOR_FLOATS >= 16
#define ROW_BLOCK_VECTORS_2 4
#elif BP_VECTOR_FLOATS >= 8
#define ROW_BLOCK_VECTORS_2 2
#else
#define ROW_BLOCK_VECTORS_2 1
#endif

// squares[j ..< j + 16 nv] += c * c (fused) for the rows r0 ..< r1, c = x - mean stored in centered.
BP_INLINE void bn_centered_squares_block(const float *x, long r0, long r1, long cols, const float *mean,
                                         float *centered, float *squares, long j, const int nv) {
    v16 acc[ROW_BLOCK_VECTORS];
    for (int k = 0; k < nv; k++) acc[k] = v16_load(squares + j + 16 * k);
    for (long r = r0; r < r1; r++) {
        const float *xr = x + r * cols + j;
        float *cr = centered + r * cols + j;
        for (int k = 0; k < nv; k++) {
            const v16 c = v16_load(xr + 16 * k) - v16_load(mean + j + 16 * k);
            v16_store(cr + 16 * k, c);
            acc[k] = BP_FMA(c, c, acc[k]);
        }
    }
    for (int k = 0; k < nv; k++) v16_store(squares + j + 16 * k, acc[k]);
}

// In bands of rows, as ew_column_sums (same bits as a row-by-row loop).
static void bn_centered_squares(const float *x, long rows, long cols, const float *mean, float *centered,
                                float *squares) {
    ew_fill(squares, 0, cols);
    const long band = row_band(cols);
    for (long r0 = 0; r0 < rows; r0 += band) {
        const long r1 = row_band_end(r0, rows, band);
        long j = 0;
        for (; j + 16 * ROW_BLOCK_VECTORS <= cols; j += 16 * ROW_BLOCK_VECTORS) {
            bn_centered_squares_block(x, r0, r1, cols, mean, centered, squares, j, ROW_BLOCK_VECTORS);
        }
        for (; j + 16 <= cols; j += 16) bn_centered_squares_block(x, r0, r1, cols, mean, centered, squares, j, 1);
        if (j == cols) continue;
        // The last cols % 16 columns, unfused as the Swift tail was.
#if BP_ISA_AVX512
        const long w = cols - j;
        const v16 mu = v16_load_first(mean + j, w, 0);
        v16 acc = v16_load_first(squares + j, w, 0);
        for (long r = r0; r < r1; r++) {
            const v16 c = v16_load_first(x + r * cols + j, w, 0) - mu;
            v16_store_first(centered + r * cols + j, c, w);
            acc = acc + c * c;
        }
        v16_store_first(squares + j, acc, w);
#else
        for (; j < cols; j++) {
            float s = squares[j];
            for (long r = r0; r < r1; r++) {
                const float c = x[r * cols + j] - mean[j];
                centered[r * cols + j] = c;
                s = s + c * c;
            }
            squares[j] = s;
        }
#endif
    }
}

static void bn_normalize(long rows, long cols, float *normalized, const float *inv_std, const float *gamma,
                         const float *beta, float *y) {
    for (long r = 0; r < rows; r++) {
        float *cr = normalized + r * cols, *yr = y + r * cols;
        long j = 0;
        for (; j + 16 <= cols; j += 16) {
            const v16 xhat = v16_load(cr + j) * v16_load(inv_std + j);
            v16_store(cr + j, xhat);
            v16_store(yr + j, xhat * v16_load(gamma + j) + v16_load(beta + j));
        }
        for (; j < cols; j++) {
            const float xhat = cr[j] * inv_std[j];
            cr[j] = xhat;
            yr[j] = xhat * gamma[j] + beta[j];
        }
    }
}

/// inv_std[j] = 1 / sqrt(variance[j] + epsilon), correctly rounded square roots.
static void bn_inverse_standard_deviation(const float *variance, float epsilon, float *inv_std, long cols) {
    const v16 one = v16_splat(1), e = v16_splat(epsilon);
    long j = 0;
    for (; j + 16 <= cols; j += 16) v16_store(inv_std + j, one / v16_sqrt(v16_load(variance + j) + e));
    for (; j < cols; j++) inv_std[j] = 1 / __builtin_elementwise_sqrt(variance[j] + epsilon);
}

static void bn_forward_training(const float *x, long rows, long cols, const float *gamma, const float *beta,
                                float epsilon, float *y, float *normalized, float *mean, float *variance,
                                float *inv_std) {
    const float m = (float)rows;
    ew_column_sums(x, rows, cols, mean, 0);
    ew_scale(1 / m, mean, mean, cols);
    bn_centered_squares(x, rows, cols, mean, normalized, variance);
    for (long j = 0; j < cols; j++) variance[j] = variance[j] / m;
    bn_inverse_standard_deviation(variance, epsilon, inv_std, cols);
    bn_normalize(rows, cols, normalized, inv_std, gamma, beta, y);
}

static void bn_forward_inference(const float *x, long rows, long cols, const float *gamma, const float *beta,
                                 const float *running_mean, const float *running_variance, float epsilon,
                                 float *y, float *normalized, float *inv_std) {
    bn_inverse_standard_deviation(running_variance, epsilon, inv_std, cols);
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float *nr = normalized ? normalized + r * cols : 0;
        long j = 0;
        for (; j + 16 <= cols; j += 16) {
            const v16 t = (v16_load(xr + j) - v16_load(running_mean + j)) * v16_load(inv_std + j);
            if (nr) v16_store(nr + j, t);
            v16_store(yr + j, t * v16_load(gamma + j) + v16_load(beta + j));
        }
        for (; j < cols; j++) {
            const float t = (xr[j] - running_mean[j]) * inv_std[j];
            if (nr) nr[j] = t;
            yr[j] = t * gamma[j] + beta[j];
        }
    }
}

// sum_dy[j ..] += dy, sum_dy_xhat[j ..] += dy * x-hat (fused) for the rows r0 ..< r1, 16 nv columns.
BP_INLINE void bn_backward_sums_block(const float *dy, const float *normalized, long r0, long r1, long cols,
                                      float *sum_dy, float *sum_dy_xhat, long j, const int nv) {
    v16 s[ROW_BLOCK_VECTORS_2], sx[ROW_BLOCK_VECTORS_2];
    for (int k = 0; k < nv; k++) {
        s[k] = v16_load(sum_dy + j + 16 * k);
        sx[k] = v16_load(sum_dy_xhat + j + 16 * k);
    }
    for (long r = r0; r < r1; r++) {
        const float *dyr = dy + r * cols + j, *xr = normalized + r * cols + j;
        for (int k = 0; k < nv; k++) {
            const v16 d = v16_load(dyr + 16 * k);
            s[k] = d + s[k];
            sx[k] = BP_FMA(d, v16_load(xr + 16 * k), sx[k]);
        }
    }
    for (int k = 0; k < nv; k++) {
        v16_store(sum_dy + j + 16 * k, s[k]);
        v16_store(sum_dy_xhat + j + 16 * k, sx[k]);
    }
}

// In bands of rows, as ew_column_sums (same bits as a row-by-row loop).
static void bn_backward_sums(const float *dy, const float *normalized, long rows, long cols, float *sum_dy,
                             float *sum_dy_xhat) {
    ew_fill(sum_dy, 0, cols);
    ew_fill(sum_dy_xhat, 0, cols);
    const long band = row_band(cols);
    for (long r0 = 0; r0 < rows; r0 += band) {
        const long r1 = row_band_end(r0, rows, band);
        long j = 0;
        for (; j + 16 * ROW_BLOCK_VECTORS_2 <= cols; j += 16 * ROW_BLOCK_VECTORS_2) {
            bn_backward_sums_block(dy, normalized, r0, r1, cols, sum_dy, sum_dy_xhat, j, ROW_BLOCK_VECTORS_2);
        }
        for (; j + 16 <= cols; j += 16) bn_backward_sums_block(dy, normalized, r0, r1, cols, sum_dy, sum_dy_xhat, j, 1);
        if (j == cols) continue;
        // The last cols % 16 columns, unfused as the Swift tail was.
#if BP_ISA_AVX512
        const long w = cols - j;
        v16 s = v16_load_first(sum_dy + j, w, 0), sx = v16_load_first(sum_dy_xhat + j, w, 0);
        for (long r = r0; r < r1; r++) {
            const v16 d = v16_load_first(dy + r * cols + j, w, 0);
            s = d + s;
            sx = sx + d * v16_load_first(normalized + r * cols + j, w, 0);
        }
        v16_store_first(sum_dy + j, s, w);
        v16_store_first(sum_dy_xhat + j, sx, w);
#else
        for (; j < cols; j++) {
            float s = sum_dy[j], sx = sum_dy_xhat[j];
            for (long r = r0; r < r1; r++) {
                s = dy[r * cols + j] + s;
                sx = sx + dy[r * cols + j] * normalized[r * cols + j];
            }
            sum_dy[j] = s;
            sum_dy_xhat[j] = sx;
        }
#endif
    }
}

// Per column k = gamma * inv_std and dx = k * dy - (k / m) * sum_dy - x-hat * (k / m) * sum_dy_xhat,
// the sums first scaled by k / m in place. The last cols % 16 columns keep the Swift tail's own
// grouping: (dy * gamma) * inv_std - ((k / m) sum_dy + x-hat * (k / m) sum_dy_xhat).
static void bn_input_gradient(const float *dy, const float *normalized, long rows, long cols, float m,
                              const float *gamma, const float *inv_std, int through_statistics, float *dx,
                              float *sum_dy, float *sum_dy_xhat) {
    for (long j = 0; j < cols; j++) {
        const float k = gamma[j] * inv_std[j];
        sum_dy[j] = sum_dy[j] * (k / m);
        sum_dy_xhat[j] = sum_dy_xhat[j] * (k / m);
    }
    for (long r = 0; r < rows; r++) {
        const float *dyr = dy + r * cols, *xr = normalized + r * cols;
        float *dxr = dx + r * cols;
        long j = 0;
        for (; j + 16 <= cols; j += 16) {
            const v16 k = v16_load(gamma + j) * v16_load(inv_std + j);
            v16 v = v16_load(dyr + j) * k;
            if (through_statistics) {
                v = v - v16_load(sum_dy + j);
                v = v - v16_load(xr + j) * v16_load(sum_dy_xhat + j);
            }
            v16_store(dxr + j, v);
        }
        for (; j < cols; j++) {
            float v = dyr[j] * gamma[j] * inv_std[j];
            if (through_statistics) v = v - (sum_dy[j] + xr[j] * sum_dy_xhat[j]);
            dxr[j] = v;
        }
    }
}

static void bn_backward(const float *dy, const float *normalized, long rows, long cols, const float *gamma,
                        const float *inv_std, int through_statistics, float *dx, float *gamma_gradient,
                        float *beta_gradient, float *sum_dy, float *sum_dy_xhat) {
    bn_backward_sums(dy, normalized, rows, cols, sum_dy, sum_dy_xhat);
    if (beta_gradient) ew_axpy(1, sum_dy, beta_gradient, cols);
    if (gamma_gradient) ew_axpy(1, sum_dy_xhat, gamma_gradient, cols);
    if (dx) {
        bn_input_gradient(dy, normalized, rows, cols, (float)rows, gamma, inv_std, through_statistics, dx, sum_dy,
                          sum_dy_xhat);
    }
}
