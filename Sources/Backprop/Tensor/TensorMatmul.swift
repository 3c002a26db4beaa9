extension Tensor {
    /// The matrix product of two rank-2 tensors, optionally transposing either operand first
    /// (without copying it: the GEMM kernel reads the transposed layout directly).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA ta: Bool = false, transposeB tb: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul: needs matrices, got shapes \(a.shape) and \(b.shape)")
        let m = ta ? a.shape[1] : a.shape[0]
        let k = ta ? a.shape[0] : a.shape[1]
        let kb = tb ? b.shape[1] : b.shape[0]
        let n = tb ? b.shape[0] : b.shape[1]
        precondition(k == kb, "matmul: inner dimensions differ: \(a.shape)\(ta ? "ᵀ" : "") · \(b.shape)\(tb ? "ᵀ" : "")")
        var out = Tensor(uninitializedShape: [m, n])
        Gemm.sgemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 1,
                   a: a.pointer, lda: a.shape[1], b: b.pointer, ldb: b.shape[1],
                   beta: 0, c: out.mutablePointer(), ldc: n, pool: Backend.current.threads)
        return out
    }

    /// The matrix product `self · other`.
    public func matmul(_ other: Tensor) -> Tensor { Tensor.matmul(self, other) }
}
