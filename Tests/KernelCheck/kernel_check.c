// Runs every kernel of one level's table (bp_kernels.h) on fixed inputs and prints the results,
// one line per check: "NAME N v1 v2 ... vN" (floats as %.9g, integers as they are).
//
// Scripts/check-arm64-kernels.sh builds this for x86-64 and, cross-compiled, for arm64, runs the
// arm64 build under qemu-aarch64 at the neon level and the x86-64 build at baseline, and compares
// the two outputs (floats to a relative tolerance, integers exactly). So the NEON kernels are
// checked against the baseline on the same inputs without an arm64 machine.
//
// Usage: kernel_check LEVEL   (baseline, avx2, avx512 or neon)
#include "bp_kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;

static float next_float(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(rng_state >> 40) / (float)(1 << 24) - 0.5f;
}

static float *random_floats(long n, float zero_fraction) {
    float *p = aligned_alloc(64, (size_t)((n * 4 + 63) / 64 * 64 + 64));
    for (long i = 0; i < n; i++) {
        float r = next_float();
        p[i] = (r + 0.5f) < zero_fraction ? 0.0f : next_float() * 4.0f;
    }
    return p;
}

static void print_floats(const char *name, const float *v, long n) {
    printf("%s %ld", name, n);
    for (long i = 0; i < n; i++) printf(" %.9g", v[i]);
    printf("\n");
}

static void print_ints(const char *name, const int32_t *v, long n) {
    printf("%s %ld", name, n);
    for (long i = 0; i < n; i++) printf(" %d", v[i]);
    printf("\n");
}

static void check_gemm(const bp_kernels *k) {
    static const long shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 17, 65}, {60, 10, 100}, {61, 100, 97}, {129, 257, 300}};
    for (int s = 0; s < 6; s++) {
        for (int layout = 0; layout < 4; layout++) {
            const long m = shapes[s][0], n = shapes[s][1], depth = shapes[s][2];
            const int ta = layout & 2, tb = layout & 1;
            float *a = random_floats(m * depth, 0), *b = random_floats(depth * n, 0), *c = random_floats(m * n, 0);
            const long lda = ta ? m : depth, ldb = tb ? depth : n;
            const float beta = (s % 2) ? 0.75f : 0.0f;
            bp_gemm_problem p = {m, n, depth, s == 5 ? -0.5f : 1.0f, beta, a, ta ? 1 : lda, ta ? lda : 1,
                                 b, tb ? 1 : ldb, tb ? ldb : 1, c, n};
            float *ws = aligned_alloc(64, (size_t)(k->gemm_workspace_floats(&p, m, n) * 4 + 64) / 64 * 64);
            k->gemm_block(&p, 0, m, 0, n, ws);
            char name[64];
            snprintf(name, sizeof name, "gemm_%ldx%ldx%ld_%c%c", m, n, depth, ta ? 'T' : 'N', tb ? 'T' : 'N');
            print_floats(name, c, m * n);
            free(a); free(b); free(c); free(ws);
        }
    }
}

static void check_sparse(const bp_kernels *k) {
    const long rows = 37, cols = 45;
    float *a = random_floats(rows * cols, 0.8f);
    float *t = random_floats(cols * rows, 0);
    k->transpose(a, rows, cols, cols, t, rows, 0);
    print_floats("transpose", t, cols * rows);
    k->transpose(a, rows, cols, cols, t, rows, 1);
    print_floats("transpose_accumulate", t, cols * rows);
    int32_t counts[37];
    for (long i = 0; i < rows; i++) counts[i] = (int32_t)k->count_nonzeros(a + i * cols, cols);
    print_ints("count_nonzeros", counts, rows);

    int32_t *starts = malloc(sizeof(int32_t) * 64), *ends = malloc(sizeof(int32_t) * 64);
    int32_t *indices = malloc(sizeof(int32_t) * rows * cols);
    float *values = malloc(sizeof(float) * rows * cols);
    int ok = k->compress_rows(a, 0, rows, cols, cols, cols, starts, ends, indices, values, rows * cols);
    printf("compress_rows_ok 1 %d\n", ok);
    print_ints("compress_rows_ends", ends, rows);
    for (long i = 0; i < rows; i++) {
        print_ints("compress_rows_indices", indices + starts[i], ends[i] - starts[i]);
        print_floats("compress_rows_values", values + starts[i], ends[i] - starts[i]);
    }
    // The sparse product of the compressed rows with a dense 45 x 100 panel set.
    const long n = 100, width = 128;
    float *panel = random_floats(cols * width, 0);
    float *c = random_floats(rows * n, 0);
    int32_t *cursors = malloc(sizeof(int32_t) * 64);
    k->sparse_panel_product(starts, ends, indices, values, cursors, 0, rows, cols, panel, width, n, c, n, 0);
    print_floats("sparse_panel_product", c, rows * n);
    k->sparse_panel_product(starts, ends, indices, values, cursors, 0, rows, cols, panel, width, n, c, n, 1);
    print_floats("sparse_panel_product_accumulate", c, rows * n);

    k->compress_columns(a, rows, 0, cols, cols, rows, starts, ends, indices, values);
    print_ints("compress_columns_ends", ends, cols);
    for (long j = 0; j < cols; j++) {
        print_ints("compress_columns_indices", indices + starts[j], ends[j] - starts[j]);
        print_floats("compress_columns_values", values + starts[j], ends[j] - starts[j]);
    }
    free(a); free(t); free(starts); free(ends); free(indices); free(values); free(panel); free(c); free(cursors);
}

static float *positive_floats(long n) {
    float *p = random_floats(n, 0);
    for (long i = 0; i < n; i++) p[i] = p[i] * p[i] + 1e-3f;
    return p;
}

static void check_math(const bp_kernels *k) {
    const long n = 1000;  // 62 whole vectors and a ragged tail
    float *x = random_floats(n, 0), *y = random_floats(n, 0), *dy = random_floats(n, 0), *dx = random_floats(n, 0);
    for (long i = 0; i < n; i++) x[i] *= 10;  // [-20, 20]
    float *positive = positive_floats(n);
    void (*const unary[])(const float *, float *, long) = {k->math.exp, k->math.expm1, k->math.tanh, k->math.sigmoid,
                                                            k->math.softplus};
    const char *names[] = {"exp", "expm1", "tanh", "sigmoid", "softplus"};
    for (int f = 0; f < 5; f++) {
        unary[f](x, y, n);
        print_floats(names[f], y, n);
    }
    k->math.log(positive, y, n);
    print_floats("log", y, n);
    k->math.log1p(positive, y, n);
    print_floats("log1p", y, n);
    for (int a = 0; a <= BP_ACTIVATION_SOFTPLUS; a++) {
        char name[48];
        k->math.activation_forward(a, x, y, n);
        snprintf(name, sizeof name, "activation%d_forward", a);
        print_floats(name, y, n);
        k->math.activation_backward(a, x, y, dy, dx, n);
        snprintf(name, sizeof name, "activation%d_backward", a);
        print_floats(name, dx, n);
        // Bias forms over 40 rows of 25 columns.
        float *z = random_floats(n, 0), *bias = random_floats(25, 0), *bias_gradient = random_floats(25, 0);
        k->math.activation_bias_forward(a, z, bias, y, 40, 25);
        snprintf(name, sizeof name, "activation%d_bias_forward", a);
        print_floats(name, y, n);
        k->math.activation_bias_backward(a, z, y, dy, dx, bias_gradient, 40, 25);
        snprintf(name, sizeof name, "activation%d_bias_backward", a);
        print_floats(name, dx, n);
        print_floats("bias_gradient", bias_gradient, 25);
        free(z); free(bias); free(bias_gradient);
    }
    const long rows = 37, cols = 27;
    k->math.softmax_forward(x, y, rows, cols);
    print_floats("softmax", y, rows * cols);
    k->math.softmax_backward(y, dy, dx, rows, cols);
    print_floats("softmax_backward", dx, rows * cols);
    k->math.log_softmax_forward(x, y, rows, cols);
    print_floats("log_softmax", y, rows * cols);
    k->math.log_softmax_backward(y, dy, dx, rows, cols);
    print_floats("log_softmax_backward", dx, rows * cols);
    int32_t labels[37];
    long labels64[37];
    for (long r = 0; r < rows; r++) labels64[r] = labels[r] = (int32_t)((r * 7) % cols);
    float losses[37];
    float total = k->math.cross_entropy_labels32(x, labels, losses, dx, rows, cols, 0.5f);
    print_floats("cross_entropy_labels32", dx, rows * cols);
    print_floats("cross_entropy_losses", losses, rows);
    print_floats("cross_entropy_total", &total, 1);
    total = k->math.cross_entropy_labels64(x, labels64, losses, dx, rows, cols, 0.5f);
    print_floats("cross_entropy_labels64", dx, rows * cols);
    k->math.softmax_forward(dy, y, rows, cols);  // soft targets: rows of probabilities
    total = k->math.cross_entropy_targets(x, y, losses, dx, rows, cols, 1.0f);
    print_floats("cross_entropy_targets", dx, rows * cols);
    print_floats("cross_entropy_targets_total", &total, 1);
    k->math.sigmoid(dy, y, n);
    total = k->math.cross_entropy_sigmoid(x, y, 0, dx, n, 0.25f);
    print_floats("cross_entropy_sigmoid", dx, n);
    print_floats("cross_entropy_sigmoid_total", &total, 1);
    free(x); free(y); free(dy); free(dx); free(positive);
}

static void check_rows(const bp_kernels *k) {
    const long rows = 45, cols = 37, n = rows * cols;
    float *x = random_floats(n, 0), *y = random_floats(n, 0), *out = random_floats(cols + rows, 0);
    uint8_t bytes[300];
    for (int i = 0; i < 300; i++) bytes[i] = (uint8_t)(i * 37);
    k->rows.convert_bytes(bytes, 1.0f / 255, y, 300);
    print_floats("convert_bytes", y, 300);
    k->rows.axpy(0.75f, x, y, n);
    print_floats("axpy", y, n);
    k->rows.scale(-1.5f, x, y, n);
    print_floats("scale", y, n);
    float sums[2] = {k->rows.sum(x, n), k->rows.dot(x, y, n)};
    print_floats("sum_dot", sums, 2);
    k->rows.column_sums(x, rows, cols, out, 0);
    print_floats("column_sums", out, cols);
    k->rows.row_sums(x, rows, cols, out);
    print_floats("row_sums", out, rows);
    printf("max_index 1 %ld\n", k->rows.max_index(x, n));

    float *gamma = positive_floats(cols), *beta = random_floats(cols, 0), *normalized = random_floats(n, 0);
    float *mean = random_floats(cols, 0), *variance = random_floats(cols, 0), *inv_std = random_floats(cols, 0);
    k->rows.batchnorm_forward_training(x, rows, cols, gamma, beta, 1e-5f, y, normalized, mean, variance, inv_std);
    print_floats("batchnorm_forward", y, n);
    print_floats("batchnorm_mean", mean, cols);
    print_floats("batchnorm_variance", variance, cols);
    float *dx = random_floats(n, 0), *dgamma = random_floats(cols, 0), *dbeta = random_floats(cols, 0);
    float *sum_dy = random_floats(cols, 0), *sum_dy_xhat = random_floats(cols, 0);
    // dy independent of x (dy = x would be projected out almost exactly: a cancellation test).
    float *dyb = random_floats(n, 0);
    k->rows.batchnorm_backward(dyb, normalized, rows, cols, gamma, inv_std, 1, dx, dgamma, dbeta, sum_dy, sum_dy_xhat);
    free(dyb);
    print_floats("batchnorm_backward", dx, n);
    print_floats("batchnorm_gamma_gradient", dgamma, cols);
    k->rows.batchnorm_forward_inference(x, rows, cols, gamma, beta, mean, variance, 1e-5f, y, normalized, inv_std);
    print_floats("batchnorm_inference", y, n);

    // Each optimizer rule, three steps from the same start.
    float *g = random_floats(n, 0);
    float *p = malloc(sizeof(float) * n), *s1 = malloc(sizeof(float) * n), *s2 = malloc(sizeof(float) * n),
          *s3 = malloc(sizeof(float) * n);
    for (int rule = 0; rule < 10; rule++) {
        memcpy(p, x, sizeof(float) * n);
        memset(s1, 0, sizeof(float) * n); memset(s2, 0, sizeof(float) * n); memset(s3, 0, sizeof(float) * n);
        for (int step = 0; step < 3; step++) {
            switch (rule) {
            case 0: k->rows.sgd(p, g, n, 0.1f); break;
            case 1: k->rows.momentum(p, g, s1, n, 0.1f, 0.9f); break;
            case 2: k->rows.nesterov(p, g, s1, n, 0.1f, 0.9f); break;
            case 3: k->rows.adagrad(p, g, s1, n, 0.1f, 1e-8f); break;
            case 4: k->rows.adadelta(p, g, s1, s2, n, 1.0f, 0.95f, 0.05f, 1e-6f); break;
            case 5: k->rows.rmsprop(p, g, s1, n, 0.01f, 0.9f, 0.1f, 1e-8f); break;
            case 6: k->rows.adam(p, g, s1, s2, n, 0.9f, 0.1f, 0.999f, 0.001f, 0.01f, 1000.0f, 1e-8f); break;
            case 7: k->rows.adamax(p, g, s1, s2, n, 0.9f, 0.1f, 0.999f, 0.002f); break;
            case 8: k->rows.nadam(p, g, s1, s2, n, 0.9f, 0.1f, 0.999f, 0.001f, 0.1f, 0.001f, 0.002f, 1e-8f); break;
            case 9: k->rows.amsgrad(p, g, s1, s2, s3, n, 0.9f, 0.1f, 0.999f, 0.001f, 0.001f, 1e-8f); break;
            }
        }
        char name[32];
        snprintf(name, sizeof name, "optimizer%d", rule);
        print_floats(name, p, n);
    }
    k->rows.coupled_decay(g, x, 0.01f, y, n);
    print_floats("coupled_decay", y, n);
    memcpy(p, x, sizeof(float) * n);
    k->rows.decoupled_decay(p, 0.001f, n);
    print_floats("decoupled_decay", p, n);
    float norm = (float)k->rows.sum_squares(x, n);
    print_floats("sum_squares", &norm, 1);
    memcpy(p, x, sizeof(float) * n);
    printf("clip_by_value 1 %ld\n", k->rows.clip_by_value(p, n, 1.0f));
    print_floats("clipped", p, n);
    free(x); free(y); free(out); free(gamma); free(beta); free(normalized); free(mean); free(variance); free(inv_std);
    free(dx); free(dgamma); free(dbeta); free(sum_dy); free(sum_dy_xhat); free(g); free(p); free(s1); free(s2); free(s3);
}

int main(int argc, char **argv) {
    static const char *names[] = {"baseline", "avx2", "avx512", "neon"};
    if (argc != 2) {
        fprintf(stderr, "usage: kernel_check baseline|avx2|avx512|neon\n");
        return 2;
    }
    int level = -1;
    for (int i = 0; i < BP_LEVEL_COUNT; i++) if (strcmp(argv[1], names[i]) == 0) level = i;
    const bp_kernels *k = level >= 0 ? bp_kernels_for_level(level) : 0;
    if (!k || !bp_cpu_supports(level)) {
        fprintf(stderr, "kernel_check: level %s is not available on this build or CPU\n", argv[1]);
        return 2;
    }
    check_gemm(k);
    check_sparse(k);
    check_math(k);
    check_rows(k);
    return 0;
}
