import Testing
import Backprop

@Suite struct RandomGeneratorTests {
    /// The reference outputs of O'Neill's pcg32 demo (`pcg32_srandom(42, 54)`), published with
    /// the PCG paper's C implementation: the generator is PCG-XSH-RR 64/32 and nothing else.
    @Test func matchesThePCG32ReferenceSequence() {
        var g = RandomGenerator(seed: 42, stream: 54)
        let first = (0..<6).map { _ in g.next32() }
        #expect(first == [0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e])
    }

    @Test func stateRoundTripsExactly() {
        var g = RandomGenerator(seed: 9)
        _ = (0..<10).map { _ in g.next32() }
        var restored = RandomGenerator(state: g.state, increment: g.increment)
        for _ in 0..<100 { #expect(g.next32() == restored.next32()) }
    }

    @Test func uniformIsInRangeAndNormalHasTheRightMoments() {
        var g = RandomGenerator(seed: 5)
        let n = 200_000
        var sum = 0.0, sumSquares = 0.0
        for _ in 0..<n {
            let u = g.nextUniform()
            #expect(u >= 0 && u < 1)
            let z = Double(g.nextNormal())
            sum += z
            sumSquares += z * z
        }
        let mean = sum / Double(n), variance = sumSquares / Double(n) - mean * mean
        // Standard errors: 1/√n ≈ 0.0022 for the mean, √(2/n) ≈ 0.0032 for the variance.
        #expect(abs(mean) < 0.012)
        #expect(abs(variance - 1) < 0.016)
    }

    @Test func integersBelowABoundAreUnbiasedAndPermutationsArePermutations() {
        var g = RandomGenerator(seed: 1)
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<60_000 { counts[g.nextInt(below: 6)] += 1 }
        for c in counts { #expect(abs(c - 10_000) < 500) }
        let p = g.permutation(100)
        #expect(p.sorted() == Array(0..<100))
        #expect(p != Array(0..<100))
    }

    @Test func sameSeedSameTensors() {
        var a = RandomGenerator(seed: 77), b = RandomGenerator(seed: 77)
        #expect(Tensor.normal([10, 10], using: &a) == Tensor.normal([10, 10], using: &b))
        var c = RandomGenerator(seed: 78)
        #expect(Tensor.normal([10, 10], using: &a) != Tensor.normal([10, 10], using: &c))
    }
}
