// The fixed element-wise and reduction kernels behind Swift's `Elementwise` (contracts in
// include/bp_row_kernels.h). Part of the per-level kernel bodies: see kernels_<level>.c.
//
// Each keeps the order of operations of the Swift loop it replaced (BP_FMA exactly where that
// wrote `addingProduct`, the same accumulators, lanes summed 0 to 15 by v16_sum as Swift's
// SIMD16.sum() did), so the avx2 and avx512 levels give the Swift loops' bits (as built with
// -march=native); the baseline level's multiply-adds round twice.

/// Vectors of 16 floats that one column block keeps in registers across the rows: 4 (64
/// columns) where there are registers for it, 2 on the 16-register SSE2 baseline.
#if BP_VECTOR_FLOATS >= 8
#define ROW_BLOCK_VECTORS 4
#else
#define ROW_BLOCK_VECTORS 2
#endif

static void ew_convert_bytes(const uint8_t *x, float scale, float *y, long n) {
    typedef uint8_t u8x16 __attribute__((ext_vector_type(16)));
    const v16 s = v16_splat(scale);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        u8x16 b;
        __builtin_memcpy(&b, x + i, sizeof b);
        v16_store(y + i, __builtin_convertvector(b, v16) * s);
    }
    for (; i < n; i++) y[i] = (float)x[i] * scale;
}

static void ew_fill(float *p, float value, long n) {
    const v16 v = v16_splat(value);
    long i = 0;
    for (; i + 16 <= n; i += 16) v16_store(p + i, v);
    for (; i < n; i++) p[i] = value;
}

static void ew_axpy(float alpha, const float *x, float *y, long n) {
    const v16 a = v16_splat(alpha);
    long i = 0;
    for (; i + 16 <= n; i += 16) v16_store(y + i, BP_FMA(a, v16_load(x + i), v16_load(y + i)));
    for (; i < n; i++) y[i] = y[i] + alpha * x[i];
}

static void ew_scale(float alpha, const float *x, float *y, long n) {
    const v16 a = v16_splat(alpha);
    long i = 0;
    for (; i + 16 <= n; i += 16) v16_store(y + i, v16_load(x + i) * a);
    for (; i < n; i++) y[i] = x[i] * alpha;
}

static float ew_sum(const float *x, long n) {
    v16 acc0 = v16_splat(0), acc1 = v16_splat(0);
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = acc0 + v16_load(x + i);
        acc1 = acc1 + v16_load(x + i + 16);
    }
    for (; i + 16 <= n; i += 16) acc0 = acc0 + v16_load(x + i);
    double total = (double)v16_sum(acc0 + acc1);
    for (; i < n; i++) total += (double)x[i];
    return (float)total;
}

static float ew_dot(const float *x, const float *y, long n) {
    v16 acc0 = v16_splat(0), acc1 = v16_splat(0);
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = BP_FMA(v16_load(x + i), v16_load(y + i), acc0);
        acc1 = BP_FMA(v16_load(x + i + 16), v16_load(y + i + 16), acc1);
    }
    for (; i + 16 <= n; i += 16) acc0 = BP_FMA(v16_load(x + i), v16_load(y + i), acc0);
    float total = v16_sum(acc0 + acc1);
    for (; i < n; i++) total += x[i] * y[i];
    return total;
}

/// Rows per band of the column passes (column sums here, Batch Normalization's statistics): each
/// band is walked in column blocks that stay in registers down its rows, then added to the running
/// sums. Every column still sees its rows' additions in row order, one after another, so the
/// result is the row-by-row loop's bit for bit. A band's rows are read side by side, so it is short
/// when rows are long: rows a multiple of 4 KB apart fall in the same L1 set (12 ways on Zen 4/5,
/// Intel's recent cores), and 8 rows of two arrays already overflow it (measured: 256 x 1024,
/// bands of 4 rows 1.5x faster than the row-by-row loop, of 8 rows barely faster).
BP_INLINE long row_band(long cols) { return cols <= 256 ? 16 : 4; }

BP_INLINE long row_band_end(long r0, long rows, long band) { return rows - r0 < band ? rows : r0 + band; }

// out[j ..< j + 16 nv] += x[r, j ...] for r in r0 ..< r1, in row order.
BP_INLINE void ew_column_sums_block(const float *x, long r0, long r1, long cols, float *out, long j, const int nv) {
    v16 acc[ROW_BLOCK_VECTORS];
    for (int k = 0; k < nv; k++) acc[k] = v16_load(out + j + 16 * k);
    for (long r = r0; r < r1; r++) {
        const float *xr = x + r * cols + j;
        for (int k = 0; k < nv; k++) acc[k] = v16_load(xr + 16 * k) + acc[k];
    }
    for (int k = 0; k < nv; k++) v16_store(out + j + 16 * k, acc[k]);
}

static void ew_column_sums(const float *x, long rows, long cols, float *out, int accumulate) {
    if (!accumulate) ew_fill(out, 0, cols);
    const long band = row_band(cols);
    for (long r0 = 0; r0 < rows; r0 += band) {
        const long r1 = row_band_end(r0, rows, band);
        long j = 0;
        for (; j + 16 * ROW_BLOCK_VECTORS <= cols; j += 16 * ROW_BLOCK_VECTORS) {
            ew_column_sums_block(x, r0, r1, cols, out, j, ROW_BLOCK_VECTORS);
        }
        for (; j + 16 <= cols; j += 16) ew_column_sums_block(x, r0, r1, cols, out, j, 1);
        if (j == cols) continue;
#if BP_ISA_AVX512
        const long w = cols - j;
        v16 acc = v16_load_first(out + j, w, 0);
        for (long r = r0; r < r1; r++) acc = v16_load_first(x + r * cols + j, w, 0) + acc;
        v16_store_first(out + j, acc, w);
#else
        for (; j < cols; j++) {
            float s = out[j];
            for (long r = r0; r < r1; r++) s = x[r * cols + j] + s;
            out[j] = s;
        }
#endif
    }
}

static void ew_row_sums(const float *x, long rows, long cols, float *out) {
    for (long r = 0; r < rows; r++) out[r] = ew_sum(x + r * cols, cols);
}

// The first NaN wins; otherwise the first of the largest. Whole vectors keep each lane's first
// largest and its index (a strict >, so later equal values do not replace it); the lanes are then
// combined by value and, among equal values (+0 and -0 included), the smallest index, which is
// the first of the largest overall. A vector holding a NaN sends the search to the scalar loop
// from that vector, which returns the first NaN (none came before it).
static long ew_max_index(const float *x, long n) {
    long i = 0;
    if (n >= 32) {
        v16 best = v16_load(x);
        const i16v lane = (i16v){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
        i16v at = lane;
        int nan = 0;
        if (!__builtin_reduce_or(best != best)) {
            for (i = 16; i + 16 <= n; i += 16) {
                const v16 v = v16_load(x + i);
                if (__builtin_reduce_or(v != v)) {
                    nan = 1;
                    break;
                }
                const i16v greater = v > best;
                best = v16_select(greater, v, best);
                at = (greater & (lane + (int32_t)i)) | (~greater & at);
            }
        } else {
            nan = 1;
        }
        if (!nan) {
            float value = best[0];
            long index = at[0];
            for (int k = 1; k < 16; k++) {
                if (best[k] > value || (best[k] == value && at[k] < index)) {
                    value = best[k];
                    index = at[k];
                }
            }
            // The rest, one at a time, against the best so far (strict >: earlier wins ties).
            for (; i < n; i++) {
                const float v = x[i];
                if (v != v) return i;
                if (v > value) {
                    value = v;
                    index = i;
                }
            }
            return index;
        }
        // i is the start of the vector holding the first NaN (0 if the first one does).
        for (;; i++) {
            if (x[i] != x[i]) return i;
        }
    }
    float best = x[0];
    long at = 0;
    if (best != best) return 0;
    for (i = 1; i < n; i++) {
        const float v = x[i];
        if (v != v) return i;
        if (v > best) {
            best = v;
            at = i;
        }
    }
    return at;
}
