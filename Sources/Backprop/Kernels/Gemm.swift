/// Single-precision general matrix multiplication in pure Swift.
///
/// The implementation follows Goto/BLIS: B is packed in `kc × nc` blocks of `nr`-wide panels, A
/// is read in place (its bottom edge padded), a register-blocked micro-kernel on Swift SIMD types
/// computes `mr × nr` tiles of C, and the rectangle of C is split over a ``ThreadPool``. The
/// micro-kernel shape follows the vector ISA the package is compiled for (see ``CPUFeatures``).
public enum Gemm {
    /// A micro-kernel shape. Every shape runs on any x86-64 or arm64 CPU the package builds for
    /// (Swift SIMD types lower to whatever vectors exist), so tests can check all of them on one
    /// machine; only ``native`` is fast on a given machine.
    public enum Kernel: String, Sendable, CaseIterable {
        /// 8 × 32 tile with 16 `SIMD16<Float>` accumulators: needs 32 vector registers of 16 floats.
        case avx512
        /// 6 × 16 tile with 12 `SIMD8<Float>` accumulators: fits AVX2's 16 ymm registers.
        case avx2
        /// 8 × 8 tile with 16 `SIMD4<Float>` accumulators: NEON and other 128-bit vector units.
        case generic

        /// The shape for the instruction set this build targets. The `CPUFeatures` flags are
        /// compile-time constants, so this folds to a single case.
        public static var native: Kernel {
            if CPUFeatures.hasAVX512 { return .avx512 }
            if CPUFeatures.hasAVX2FMA { return .avx2 }
            return .generic
        }
    }

    /// Computes `C = alpha · op(A) · op(B) + beta · C` for row-major matrices.
    ///
    /// - op(A) is `m × k`: A is stored `m × k` (row `i` at `a + i * lda`) or, when `transposeA`,
    ///   `k × m` (row `p` at `a + p * lda`) and used transposed.
    /// - op(B) is `k × n`: B is stored `k × n` (row `p` at `b + p * ldb`) or, when `transposeB`,
    ///   `n × k` and used transposed.
    /// - C is `m × n`, row `i` at `c + i * ldc`. Only those `m × n` elements are written.
    /// - `beta == 0` overwrites C without reading it, so C may hold garbage such as NaN;
    ///   `beta == 1` accumulates (gradient accumulation); `k == 0` or `alpha == 0` just scales C
    ///   by `beta` and reads neither A nor B.
    /// - Leading dimensions may exceed the row widths (sub-matrices); each must be at least the
    ///   stored row width (and at least 1).
    /// - `pool`: threads to use; `nil` runs on the calling thread only. Small problems run on the
    ///   calling thread regardless, since waking workers would cost more than it saves.
    ///
    /// The result is deterministic for a given shape, kernel and thread count; the summation order
    /// over `k` differs from a naive loop (blocks of up to 256, FMA), so expect rounding
    /// differences of order `k · ε · Σ|a||b|`.
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, pool: ThreadPool? = .shared
    ) {
        sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
              a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, pool: pool,
              kernel: .native)
    }

    /// ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:pool:)`` with an explicit
    /// micro-kernel shape, so tests can exercise the shapes of other instruction sets.
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, pool: ThreadPool?, kernel: Kernel
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative shape m=\(m) n=\(n) k=\(k)")
        let aWidth = transposeA ? m : k
        let bWidth = transposeB ? k : n
        precondition(lda >= max(1, aWidth),
                     "sgemm: lda=\(lda) < \(transposeA ? "m" : "k")=\(aWidth) (A stored \(transposeA ? "k × m" : "m × k"), m=\(m) k=\(k))")
        precondition(ldb >= max(1, bWidth),
                     "sgemm: ldb=\(ldb) < \(transposeB ? "k" : "n")=\(bWidth) (B stored \(transposeB ? "n × k" : "k × n"), k=\(k) n=\(n))")
        precondition(ldc >= max(1, n), "sgemm: ldc=\(ldc) < n=\(n) (C is m × n, m=\(m))")
        guard m > 0, n > 0 else { return }
        guard k > 0, alpha != 0 else {
            scale(m: m, n: n, beta: beta, c: c, ldc: ldc)
            return
        }
        let operands = GemmOperands(
            m: m, n: n, k: k, alpha: alpha, beta: beta,
            a: a, aRowStride: transposeA ? 1 : lda, aDepthStride: transposeA ? lda : 1,
            b: b, bDepthStride: transposeB ? 1 : ldb, bColumnStride: transposeB ? ldb : 1,
            c: c, ldc: ldc)
        switch kernel {
        case .avx512: GemmDriver<AVX512Kernel>.multiply(operands, pool: pool)
        case .avx2: GemmDriver<AVX2Kernel>.multiply(operands, pool: pool)
        case .generic: GemmDriver<GenericKernel>.multiply(operands, pool: pool)
        }
    }

    /// `C = beta · C`, writing zeros (not `0 · NaN`) when beta is 0.
    private static func scale(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard beta != 1 else { return }
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else {
                for j in 0..<n { row[j] *= beta }
            }
        }
    }
}
