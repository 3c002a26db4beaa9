#!/usr/bin/env python3
"""numpy side of `backprop bench gemm`: times float32 matmul on the shapes given on the command line.

Usage: gemm_numpy.py MIN_SECONDS M,N,K,LAYOUT [M,N,K,LAYOUT ...]
       gemm_numpy.py --serve
         reads "M,N,K,LAYOUT MIN_SECONDS" lines from stdin and answers each with one result line, so
         the Swift bench can alternate its own figures with numpy's shape by shape (both sides then
         meet the same moments of a shared machine); ends at end of input.
LAYOUT is NN, NT, TN or TT. Transposed operands are numpy views (`a.T @ b`), which is how numpy
users write them; OpenBLAS receives them as transposed GEMMs without copies.

Prints one JSON object per line, parsed by the Swift bench:
  {"kind": "info", ...}                      numpy / BLAS build and, when threadpoolctl is
                                              installed, the OpenBLAS core type and thread count
  {"kind": "result", "m":..., "n":..., "k":..., "layout": "NN", "median_gflops":..., "best_gflops":...}
Thread count comes from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, set by the caller before numpy loads.
"""
import json
import os
import statistics
import sys
import time


def blas_info(np):
    info = {"kind": "info", "numpy": np.__version__,
            "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
            "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE")}
    try:
        import threadpoolctl
        pools = threadpoolctl.threadpool_info()
        blas = [p for p in pools if p.get("user_api") == "blas"]
        if blas:
            info["blas"] = {key: blas[0].get(key) for key in
                            ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
    except ImportError:
        info["blas"] = "threadpoolctl not installed (pip install threadpoolctl shows the OpenBLAS core type)"
    try:
        config = np.show_config(mode="dicts")
        deps = config.get("Build Dependencies", {}).get("blas", {})
        info["blas_build"] = {key: deps.get(key) for key in ("name", "version", "openblas configuration")}
    except Exception:  # older numpy: show_config has no dict mode
        pass
    return info


def time_shape(np, m, n, k, layout, min_seconds):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((k, m) if layout[0] == "T" else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if layout[1] == "T" else (k, n), dtype=np.float32)
    op_a = a.T if layout[0] == "T" else a
    op_b = b.T if layout[1] == "T" else b
    c = np.empty((m, n), dtype=np.float32)

    def run():
        np.matmul(op_a, op_b, out=c)

    for _ in range(3):
        run()
    start = time.perf_counter()
    run()
    single = max(time.perf_counter() - start, 1e-7)
    # Batch tiny problems so each sample lasts >= 1 ms; take >= 7 samples and >= min_seconds total.
    batch = max(1, int(1e-3 / single))
    samples = max(7, int(min_seconds / (single * batch)))
    per_run = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(batch):
            run()
        per_run.append((time.perf_counter() - start) / batch)
    flops = 2.0 * m * n * k
    return {"kind": "result", "m": m, "n": n, "k": k, "layout": layout,
            "median_gflops": flops / statistics.median(per_run) / 1e9,
            "best_gflops": flops / min(per_run) / 1e9}


def serve(np):
    print(json.dumps(blas_info(np)), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if len(parts) != 2:
            continue
        m, n, k, layout = parts[0].split(",")
        print(json.dumps(time_shape(np, int(m), int(n), int(k), layout, float(parts[1]))), flush=True)


def main():
    import numpy as np
    if sys.argv[1:] == ["--serve"]:
        serve(np)
        return
    min_seconds = float(sys.argv[1])
    print(json.dumps(blas_info(np)), flush=True)
    for spec in sys.argv[2:]:
        m, n, k, layout = spec.split(",")
        print(json.dumps(time_shape(np, int(m), int(n), int(k), layout, min_seconds)), flush=True)


if __name__ == "__main__":
    main()
