import Testing
import Backprop

@Suite struct TensorTests {
    @Test func creationFillsEveryElement() {
        #expect(Tensor.zeros([2, 3]).scalars == [0, 0, 0, 0, 0, 0])
        #expect(Tensor.ones([3]).scalars == [1, 1, 1])
        #expect(Tensor.filled([2, 2], with: 7).scalars == [7, 7, 7, 7])
        let t = Tensor([[1, 2, 3], [4, 5, 6]])
        #expect(t.shape == [2, 3])
        #expect(t[1, 2] == 6)
        #expect(t.count == 6 && t.rank == 2)
        #expect(Tensor(scalar: 3).shape == [])
    }

    @Test func validatingInitializerThrowsTypedErrors() {
        #expect(throws: TensorError.countMismatch(expected: 6, actual: 5, shape: [2, 3])) {
            try Tensor(validatingShape: [2, 3], scalars: [1, 2, 3, 4, 5])
        }
        #expect(throws: TensorError.self) { try Tensor(validatingShape: [-1, 3], scalars: []) }
    }

    @Test func storageIsAlignedForVectorLoads() {
        for n in [1, 3, 17, 1000] {
            let t = Tensor.zeros([n])
            let address = t.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) }
            #expect(address % 64 == 0)
        }
    }

    @Test func copiesAreIndependentAfterMutation() {
        var a = Tensor([1, 2, 3])
        let b = a
        #expect(a.sharesStorage(with: b))
        a[0] = 10
        #expect(!a.sharesStorage(with: b))
        #expect(b.scalars == [1, 2, 3])
        #expect(a.scalars == [10, 2, 3])
    }

    @Test func rowSlicesShareStorageUntilWritten() {
        let data = Tensor(shape: [4, 2], scalars: [0, 1, 2, 3, 4, 5, 6, 7])
        var batch = data.rows(1..<3)
        #expect(batch.shape == [2, 2])
        #expect(batch.scalars == [2, 3, 4, 5])
        #expect(batch.sharesStorage(with: data))
        batch[0, 0] = 99
        #expect(data.scalars == [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(batch.scalars == [99, 3, 4, 5])
        #expect(data.gatheringRows([3, 0]).scalars == [6, 7, 0, 1])
    }

    @Test func reshapeAndTranspose() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(t.reshaped([3, 2]).shape == [3, 2])
        #expect(t.reshaped([-1]).shape == [6])
        #expect(t.transposed.shape == [3, 2])
        #expect(t.transposed.scalars == [1, 4, 2, 5, 3, 6])
        // A transpose larger than one tile, against the definition.
        var g = RandomGenerator(seed: 3)
        let big = Tensor.uniform([37, 70], using: &g)
        let bt = big.transposed
        for (i, j) in [(0, 0), (36, 69), (5, 40), (33, 2)] { #expect(bt[j, i] == big[i, j]) }
    }

    @Test func elementwiseArithmeticBroadcastsRowsColumnsAndScalars() {
        let m = Tensor([[1, 2, 3], [4, 5, 6]])
        #expect((m + m).scalars == [2, 4, 6, 8, 10, 12])
        #expect((m - Tensor([1, 1, 1])).scalars == [0, 1, 2, 3, 4, 5])
        #expect((Tensor([1, 2, 3]) * m).scalars == [1, 4, 9, 4, 10, 18])
        #expect((m / Tensor(shape: [2, 1], scalars: [1, 2])).scalars == [1, 2, 3, 2, 2.5, 3])
        #expect((m * 2).scalars == [2, 4, 6, 8, 10, 12])
        #expect((1 - m).scalars == [0, -1, -2, -3, -4, -5])
        #expect((m + Tensor(scalar: 1)).scalars == [2, 3, 4, 5, 6, 7])
        // Long rows exercise the 16-wide vector path and its scalar tail.
        var g = RandomGenerator(seed: 1)
        let a = Tensor.uniform([3, 37], using: &g), r = Tensor.uniform([37], using: &g)
        let s = a + r
        for i in 0..<3 { for j in 0..<37 { #expect(s[i, j] == a[i, j] + r[j]) } }
    }

    @Test func reductionsAndArgmax() {
        let m = Tensor([[1, 5, 3], [4, 2, 6]])
        #expect(m.sum() == 21)
        #expect(m.mean() == 3.5)
        #expect(m.max() == 6)
        #expect(m.sum(alongAxis: 0).scalars == [5, 7, 9])
        #expect(m.sum(alongAxis: 1).scalars == [9, 12])
        #expect(m.mean(alongAxis: 1).scalars == [3, 4])
        #expect(m.max(alongAxis: 0).scalars == [4, 5, 6])
        #expect(m.max(alongAxis: 1).scalars == [5, 6])
        #expect(m.argmaxRows() == [1, 2])
        #expect(Tensor([[2, 2, 1]]).argmaxRows() == [0])
    }

    @Test func matmulMatchesTheDefinitionInEveryLayout() {
        var g = RandomGenerator(seed: 11)
        let a = Tensor.uniform([5, 7], in: -1...1, using: &g)
        let b = Tensor.uniform([7, 3], in: -1...1, using: &g)
        func reference(_ x: Tensor, _ y: Tensor) -> [Float] {
            var out = [Float](repeating: 0, count: x.shape[0] * y.shape[1])
            for i in 0..<x.shape[0] { for j in 0..<y.shape[1] {
                var s = 0.0
                for k in 0..<x.shape[1] { s += Double(x[i, k]) * Double(y[k, j]) }
                out[i * y.shape[1] + j] = Float(s)
            } }
            return out
        }
        let expected = reference(a, b)
        let variants = [
            Tensor.matmul(a, b),
            Tensor.matmul(a.transposed, b, transposeA: true),
            Tensor.matmul(a, b.transposed, transposeB: true),
            Tensor.matmul(a.transposed, b.transposed, transposeA: true, transposeB: true),
        ]
        for c in variants {
            #expect(c.shape == [5, 3])
            for (x, y) in zip(c.scalars, expected) { #expect(abs(x - y) <= 1e-5) }
        }
    }
}
