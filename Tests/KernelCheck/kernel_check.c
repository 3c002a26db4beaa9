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
    return 0;
}
