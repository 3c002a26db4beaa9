import Testing
import Backprop

/// The kernels and parallel paths that make a training step fast give the same results as the
/// straightforward code they replace.
@Suite struct TrainingFastPathTests {
    @Test func vectorSquareRootIsCorrectlyRounded() {
        var generator = RandomGenerator(seed: 11)
        var values: [Float] = [0, 1, 2, 4, .infinity, .leastNonzeroMagnitude, .leastNormalMagnitude,
                               .greatestFiniteMagnitude, 1e-40, 0x1p-100, 0x1p-101, 3.999999]
        for _ in 0..<200_000 {
            values.append(Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()) % 0x7F80_0000))
        }
        while values.count % 16 != 0 { values.append(9) }
        var mismatches = 0
        for start in stride(from: 0, to: values.count, by: 16) {
            var v = SIMD16<Float>()
            for l in 0..<16 { v[l] = values[start + l] }
            let root = Elementwise.squareRoot(v)
            for l in 0..<16 where root[l] != values[start + l].squareRoot() { mismatches += 1 }
        }
        #expect(mismatches == 0)
        let special = Elementwise.squareRoot(SIMD16<Float>(repeating: -1))
        #expect(special[0].isNaN)
        #expect(Elementwise.squareRoot(SIMD16<Float>(repeating: .nan))[3].isNaN)
        let negativeZero = Elementwise.squareRoot(SIMD16<Float>(repeating: -0.0))[5]
        #expect(negativeZero == 0 && negativeZero.sign == .minus)
    }

    @Test func byteConversionMatchesScalar() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        var out = [Float](repeating: -1, count: 1000)
        bytes.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { Elementwise.convertBytes(b.baseAddress!, scale: 1 / 255, $0.baseAddress!, count: 1000) }
        }
        #expect(out == bytes.map { Float($0) * (1 / 255) })
    }

    @Test func imageBatchGatherMatchesPixels() {
        let pixels = (0..<(7 * 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let data = ImageDataset(pixels: pixels, labels: (0..<7).map { Int32($0 % 3) }, height: 4, width: 5, classCount: 3)
        let indices: ArraySlice<Int> = [6, 0, 3, 3]
        let (features, labels) = data.batch(indices)
        #expect(features.shape == [4, 20])
        #expect(labels == [0, 0, 0, 0])
        let expected = indices.flatMap { i in (0..<20).map { Float(pixels[i * 20 + $0]) * (1 / 255) } }
        #expect(features.scalars == expected)
        // A long batch taken from the middle of an index array (the slice's indices do not
        // start at 0), so rows are read several ahead of the one being converted.
        let order = (0..<40).map { ($0 * 5 + 3) % 7 }
        let slice = order[9..<37]
        let (long, _) = data.batch(slice)
        let expectedLong: [Float] = slice.flatMap { i in (0..<20).map { Float(pixels[i * 20 + $0]) * (1 / 255) } }
        #expect(long.scalars == expectedLong)
    }

    /// Runs three steps of `rule` on a large parameter with a given pool; returns θ and state.
    static func steps(_ rule: any OptimizerRule, decay: WeightDecay, threads: Int, count: Int = 100_003) -> ([Float], [String: [Float]]) {
        let backend = Backend(threads: ThreadPool(threadCount: threads))
        return Backend.$current.withValue(backend) {
            var generator = RandomGenerator(seed: 5)
            let p = Variable(.uniform([count], in: -1...1, using: &generator), requiresGrad: true, decays: true)
            let optimizer = Optimizer(groups: [ParameterGroup([("p", p)], weightDecay: decay)], rule: rule, learningRate: 0.01)
            for _ in 0..<3 {
                p.grad = .uniform([count], in: -1...1, using: &generator)
                optimizer.step()
                optimizer.zeroGrad()
            }
            return (p.value.scalars, optimizer.state(of: "p") ?? [:])
        }
    }

    @Test(arguments: [WeightDecay.none, .coupled(0.1), .decoupled(0.1)])
    func parallelOptimizerStepIsBitIdentical(decay: WeightDecay) throws {
        for name in OptimizerName.allCases {
            let rule = try name.makeRule()
            #expect(rule.isElementwise)
            let serial = Self.steps(rule, decay: decay, threads: 1)
            let parallel = Self.steps(rule, decay: decay, threads: 3)
            #expect(serial.0 == parallel.0, "\(rule.name) θ")
            #expect(serial.1 == parallel.1, "\(rule.name) state")
            // 4 · 8192 + 1 elements on 2 threads: 4 ranges whose even share (8192) is already a
            // multiple of 16, so a share rounded down would leave the last element untouched.
            let oddSerial = Self.steps(rule, decay: decay, threads: 1, count: 4 * 8192 + 1)
            let oddParallel = Self.steps(rule, decay: decay, threads: 2, count: 4 * 8192 + 1)
            #expect(oddSerial.0 == oddParallel.0, "\(rule.name) θ, \(4 * 8192 + 1) elements")
        }
    }
    /// Gradients of a linear layer whose input needs a gradient too (so dW and dX run side by
    /// side on a two-thread pool), bit for bit against one thread.
    @Test func linearBackwardOnTwoThreadsMatchesOne() {
        func gradients(threads: Int) -> [[Float]] {
            Backend.$current.withValue(Backend(threads: ThreadPool(threadCount: threads))) {
                var generator = RandomGenerator(seed: 3)
                let x = Variable(.uniform([64, 300], in: -1...1, using: &generator), requiresGrad: true)
                let w = Variable(.uniform([200, 300], in: -1...1, using: &generator), requiresGrad: true)
                let b = Variable(.uniform([200], in: -1...1, using: &generator), requiresGrad: true)
                let seed = Tensor.uniform([64, 200], in: -1...1, using: &generator)
                linear(x, weight: w, bias: b, activation: .tanh).backward(seed: seed)
                return [x.grad?.scalars ?? [], w.grad?.scalars ?? [], b.grad?.scalars ?? []]
            }
        }
        let one = gradients(threads: 1), two = gradients(threads: 2)
        #expect(one[0].count == 64 * 300 && one[1].count == 200 * 300)
        #expect(one == two)
    }
}
