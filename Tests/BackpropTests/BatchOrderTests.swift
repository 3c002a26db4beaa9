import Testing
import Backprop

@Suite struct BatchOrderTests {
    @Test func sequentialBatchesOfEverySize() throws {
        let n = 10
        // Mini-batch, B = 3: 3 + 3 + 3 + 1, or 3 full batches with drop-last.
        let plan = try BatchOrder.sequential.plan(epoch: 0, count: n, batchSize: 3)
        #expect(plan.map(Array.init) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]])
        #expect(plan.contiguousRange(1) == 3..<6)
        let dropped = try BatchOrder.sequential.plan(epoch: 0, count: n, batchSize: 3, dropLast: true)
        #expect(dropped.count == 3)
        #expect(dropped.ranges.last == 6..<9)
        // Batch gradient descent, B = N: one batch of everything.
        let whole = try BatchOrder.sequential.plan(epoch: 0, count: n, batchSize: n, dropLast: true)
        #expect(whole.count == 1 && Array(whole[0]) == Array(0..<n))
        // Stochastic, B = 1: N batches of one.
        let single = try BatchOrder.sequential.plan(epoch: 0, count: n, batchSize: 1)
        #expect(single.count == n && single.allSatisfy { $0.count == 1 })
        // B > N: one short batch, or none with drop-last.
        #expect(try BatchOrder.sequential.plan(epoch: 0, count: n, batchSize: 64).count == 1)
        #expect(try BatchOrder.sequential.plan(epoch: 0, count: n, batchSize: 64, dropLast: true).isEmpty)
    }

    @Test func shuffledVisitsEveryIndexOncePerEpochInANewOrder() throws {
        let order = BatchOrder.shuffled(seed: 17)
        let n = 100
        var epochs: [[Int]] = []
        for epoch in 0..<5 {
            let plan = try order.plan(epoch: epoch, count: n, batchSize: 7)
            let visited = plan.flatMap { Array($0) }
            #expect(visited.sorted() == Array(0..<n))
            epochs.append(visited)
        }
        #expect(Set(epochs).count == 5)
        #expect(epochs[0] != Array(0..<n))
    }

    /// Epoch e's order depends only on (seed, e): a run resumed at epoch 3 sees what an
    /// uninterrupted one saw, and another seed sees something else.
    @Test func shuffledOrderIsReproduciblePerSeedAndEpoch() throws {
        let a = BatchOrder.shuffled(seed: 5)
        let fresh = try a.indices(epoch: 3, count: 50)
        for epoch in 0..<3 { _ = try a.indices(epoch: epoch, count: 50) }
        #expect(try a.indices(epoch: 3, count: 50) == fresh)
        #expect(try BatchOrder.shuffled(seed: 5).indices(epoch: 3, count: 50) == fresh)
        #expect(try BatchOrder.shuffled(seed: 6).indices(epoch: 3, count: 50) != fresh)
    }

    @Test func curriculumIsAStableSortByKey() throws {
        // Keys 3, 1, 2, 1, 3: ascending, ties in index order → 1, 3, 2, 0, 4.
        let order = BatchOrder.curriculum(keys: [3, 1, 2, 1, 3])
        #expect(try order.indices(epoch: 0, count: 5) == [1, 3, 2, 0, 4])
        #expect(try order.indices(epoch: 7, count: 5) == [1, 3, 2, 0, 4])   // fixed across epochs
        let plan = try order.plan(epoch: 0, count: 5, batchSize: 2)
        #expect(plan.map(Array.init) == [[1, 3], [2, 0], [4]])
        #expect(plan.contiguousRange(0) == nil)
        let lengths = ["ccc", "a", "bb", "dddd"].map(\.count)
        #expect(try BatchOrder.curriculum(keys: lengths).indices(epoch: 0, count: 4) == [1, 2, 0, 3])
    }

    @Test func badInputThrows() {
        #expect(throws: BatchOrderError.invalidBatchSize(0)) {
            try BatchOrder.sequential.plan(epoch: 0, count: 4, batchSize: 0)
        }
        #expect(throws: BatchOrderError.curriculumLength(3, expected: 4)) {
            try BatchOrder.curriculum([0, 1, 2]).indices(epoch: 0, count: 4)
        }
        #expect(throws: BatchOrderError.notAPermutation(1)) {
            try BatchOrder.curriculum([0, 1, 1]).indices(epoch: 0, count: 3)
        }
    }

    /// Batch, mini-batch and stochastic gradient descent are the same loop with a different
    /// batch size: all three fit y = 2x − 1 (exact data) with the same code.
    @Test(arguments: [32, 8, 1])
    func oneLoopServesAllThreeVariants(batchSize: Int) throws {
        let n = 32
        let xs = (0..<n).map { Float($0) / Float(n) * 2 - 1 }
        let ys = xs.map { 2 * $0 - 1 }
        let model = Linear(weight: Tensor([[0]]), bias: Tensor([0]))
        let optimizer = try Optimizer.make(named: "momentum", parameters: model.namedParameters(), learningRate: 0.05)
        let order = BatchOrder.shuffled(seed: 1)
        for epoch in 0..<400 {
            for batch in try order.plan(epoch: epoch, count: n, batchSize: batchSize) {
                let x = Tensor(shape: [batch.count, 1], scalars: batch.map { xs[$0] })
                let y = Tensor(shape: [batch.count, 1], scalars: batch.map { ys[$0] })
                meanSquaredError(model(Variable(x)), y).backward()
                optimizer.step()
                optimizer.zeroGrad()
            }
        }
        #expect(abs(model.weight.value.scalar - 2) < 1e-3, "B = \(batchSize): w = \(model.weight.value.scalar)")
        #expect(abs((model.bias?.value.scalar ?? 0) + 1) < 1e-3, "B = \(batchSize)")
    }
}
