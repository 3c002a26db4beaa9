import Backprop
import Foundation
import Testing

// MARK: - Shared helpers for the kernel test suites

/// Deterministic SplitMix64 generator for the kernel sweeps.
struct KernelTestRNG {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [lower, upper).
    mutating func uniform(_ lower: Double, _ upper: Double) -> Float {
        Float(lower + (upper - lower) * Double(next() >> 11) / Double(1 << 53))
    }

    /// A random bit pattern read as a Float.
    mutating func bits() -> Float {
        Float(bitPattern: UInt32(truncatingIfNeeded: next() >> 32))
    }
}

/// Error of `y` against the reference `r` in units of the Float spacing at `r` (the spacing just
/// below |r| where r sits at a power of two; the subnormal spacing near zero).
func ulpError(_ y: Float, _ r: Double) -> Double {
    if y.isNaN || r.isNaN { return y.isNaN && r.isNaN ? 0 : .infinity }
    if y.isInfinite || r.isInfinite || abs(r) > Double(Float.greatestFiniteMagnitude) {
        let rf = Float(r)
        return y == rf ? 0 : .infinity
    }
    var f = Float(abs(r))
    if Double(f) > abs(r) { f = f.nextDown }
    let spacing = max(Double(f.ulp), Double(Float.leastNonzeroMagnitude))
    return abs(Double(y) - r) / spacing
}

/// Applies a buffer kernel to `inputs` and returns the outputs.
func applyKernel(
    _ inputs: [Float], _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
) -> [Float] {
    var out = [Float](repeating: .nan, count: inputs.count)
    inputs.withUnsafeBufferPointer { x in
        out.withUnsafeMutableBufferPointer { y in
            kernel(x.baseAddress!, y.baseAddress!, inputs.count)
        }
    }
    return out
}

/// Maximum ulp error (measured values are quoted in `VectorMath`'s doc comments; the tests
/// assert bounds slightly above them) of `kernel` over `inputs` against `reference`; also the worst input.
func maxULPError(
    _ inputs: [Float], _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
    reference: (Double) -> Double
) -> (error: Double, at: Float) {
    let out = applyKernel(inputs, kernel)
    var worst = (error: 0.0, at: Float.nan)
    for (x, y) in zip(inputs, out) {
        let e = ulpError(y, reference(Double(x)))
        if e > worst.error || e.isNaN { worst = (e, x) }
    }
    return worst
}

// MARK: - VectorMath

@Suite("VectorMath kernels")
struct VectorMathTests {
    typealias Kernel = @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void

    static let exp: Kernel = { VectorMath.exp($0, $1, count: $2) }
    static let expm1: Kernel = { VectorMath.expm1($0, $1, count: $2) }
    static let log: Kernel = { VectorMath.log($0, $1, count: $2) }
    static let log1p: Kernel = { VectorMath.log1p($0, $1, count: $2) }
    static let tanh: Kernel = { VectorMath.tanh($0, $1, count: $2) }
    static let sigmoid: Kernel = { VectorMath.sigmoid($0, $1, count: $2) }
    static let softplus: Kernel = { VectorMath.softplus($0, $1, count: $2) }

    static func sigmoidReference(_ x: Double) -> Double {
        x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
    }

    static func softplusReference(_ x: Double) -> Double {
        max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x)))
    }

    /// `n` uniform points on [lower, upper] plus the endpoints.
    static func uniform(_ lower: Double, _ upper: Double, _ n: Int = 1_000_000, seed: UInt64 = 1) -> [Float] {
        var rng = KernelTestRNG(seed: seed)
        return (0..<n).map { _ in rng.uniform(lower, upper) } + [Float(lower), Float(upper)]
    }

    /// `n` random finite bit patterns (all magnitudes, both signs unless `positive`).
    static func randomFinite(_ n: Int = 1_000_000, positive: Bool = false, seed: UInt64 = 2) -> [Float] {
        var rng = KernelTestRNG(seed: seed)
        var out: [Float] = []
        out.reserveCapacity(n)
        while out.count < n {
            let v = rng.bits()
            guard v.isFinite else { continue }
            out.append(positive ? abs(v) : v)
        }
        return out
    }

    @Test func expAccuracy() {
        let worst = [
            maxULPError(Self.uniform(-104, 88.72), Self.exp, reference: Foundation.exp),
            maxULPError(Self.uniform(-1, 1, seed: 3), Self.exp, reference: Foundation.exp),
        ].max { $0.error < $1.error }!
        print("exp max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= 1.05)
    }

    @Test func expm1Accuracy() {
        let inputs = Self.uniform(-20, 88.72) + Self.uniform(-1, 1, seed: 4) + Self.uniform(-1e-3, 1e-3, 100_000, seed: 5)
        let worst = maxULPError(inputs, Self.expm1, reference: Foundation.expm1)
        print("expm1 max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= 1.3)
    }

    @Test func logAccuracy() {
        let inputs = Self.randomFinite(positive: true) + Self.uniform(0.5, 2, seed: 6)
            + Self.uniform(0.99, 1.01, 100_000, seed: 7)
        let worst = maxULPError(inputs.filter { $0 > 0 }, Self.log, reference: Foundation.log)
        print("log max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= 0.9)
    }

    @Test func log1pAccuracy() {
        var rng = KernelTestRNG(seed: 8)
        let logUniform = (0..<300_000).map { _ in Float(Foundation.exp(Double(rng.uniform(-30, 14)))) }
        let inputs = Self.uniform(-0.999999, 1) + logUniform + logUniform.map { -$0 }.filter { $0 > -1 }
        let worst = maxULPError(inputs, Self.log1p, reference: Foundation.log1p)
        print("log1p max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= 1.5)
    }

    @Test func tanhAccuracy() {
        let inputs = Self.uniform(-10, 10) + Self.uniform(-1, 1, seed: 9) + Self.randomFinite(200_000, seed: 10)
        let worst = maxULPError(inputs, Self.tanh, reference: Foundation.tanh)
        print("tanh max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= 1.4)
    }

    @Test func sigmoidAccuracy() {
        let inputs = Self.uniform(-104, 88) + Self.uniform(-5, 5, seed: 11) + Self.randomFinite(200_000, seed: 12)
        let worst = maxULPError(inputs, Self.sigmoid, reference: Self.sigmoidReference)
        print("sigmoid max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= 2.4)
    }

    @Test func softplusAccuracy() {
        let inputs = Self.uniform(-100, 100) + Self.uniform(-5, 5, seed: 13) + Self.randomFinite(200_000, seed: 14)
        let worst = maxULPError(inputs, Self.softplus, reference: Self.softplusReference)
        print("softplus max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= 1.95)
    }

    @Test func specialValues() {
        let inf = Float.infinity
        func run(_ kernel: Kernel, _ inputs: [Float]) -> [Float] { applyKernel(inputs, kernel) }
        func same(_ a: [Float], _ b: [Float]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { $0.isNaN ? $1.isNaN : ($0 == $1 && $0.sign == $1.sign) }
        }

        let e = run(Self.exp, [.nan, inf, -inf, 0, -0.0, 88.8, 89, 1000, -104, -1000, 88.72])
        #expect(same(Array(e[0..<10]), [.nan, inf, 0, 1, 1, inf, inf, inf, 0, 0]))
        #expect(e[10].isFinite && e[10] > 3.3e38)
        #expect(run(Self.exp, [-100])[0] > 0)  // subnormal, not flushed

        let m = run(Self.expm1, [.nan, inf, -inf, 0, -0.0, 100, -100, 1e-30, -1e-30])
        #expect(same(m, [.nan, inf, -1, 0, -0.0, inf, -1, 1e-30, -1e-30]))

        let l = run(Self.log, [.nan, inf, -inf, 0, -0.0, -1, 1, .leastNonzeroMagnitude, .greatestFiniteMagnitude])
        #expect(same(Array(l[0..<7]), [.nan, inf, .nan, -inf, -inf, .nan, 0]))
        #expect(ulpError(l[7], Foundation.log(Double(Float.leastNonzeroMagnitude))) <= 1)
        #expect(ulpError(l[8], Foundation.log(Double(Float.greatestFiniteMagnitude))) <= 1)

        let lp = run(Self.log1p, [.nan, inf, -inf, 0, -0.0, -1, -2, 1e-30])
        #expect(same(lp, [.nan, inf, .nan, 0, -0.0, -inf, .nan, 1e-30]))

        let t = run(Self.tanh, [.nan, inf, -inf, 0, -0.0, 9.1, -9.1, 50, -50, 1e30, -1e30])
        #expect(same(t, [.nan, 1, -1, 0, -0.0, 1, -1, 1, -1, 1, -1]))

        let s = run(Self.sigmoid, [.nan, inf, -inf, 0, 17, 1e30, -1e30, -200])
        #expect(same(s, [.nan, 1, 0, 0.5, 1, 1, 0, 0]))

        let sp = run(Self.softplus, [.nan, inf, -inf, 0, 20, 1e30, -1e30])
        #expect(same(Array(sp[0..<3]), [.nan, inf, 0]))
        #expect(ulpError(sp[3], Foundation.log(2)) <= 1)
        #expect(sp[4] == 20 && sp[5] == 1e30 && sp[6] == 0)
    }

    @Test(arguments: [0, 1, 15, 16, 17, 31, 33, 1000])
    func countsInPlaceAndBounds(count: Int) {
        let kernels: [Kernel] = [Self.exp, Self.expm1, Self.log, Self.log1p, Self.tanh, Self.sigmoid, Self.softplus]
        var rng = KernelTestRNG(seed: UInt64(count) + 100)
        let inputs = (0..<count).map { _ in rng.uniform(0.01, 5) }
        for kernel in kernels {
            // Out of place, with sentinels on both sides to catch stray writes.
            var buffer = [Float](repeating: 12345, count: count + 34)
            inputs.withUnsafeBufferPointer { x in
                buffer.withUnsafeMutableBufferPointer { b in kernel(x.baseAddress!, b.baseAddress! + 17, count) }
            }
            #expect(buffer[0..<17].allSatisfy { $0 == 12345 })
            #expect(buffer[(count + 17)...].allSatisfy { $0 == 12345 })
            let out = Array(buffer[17..<(17 + count)])

            // Each element equals the result of the same value computed alone (position independence).
            for i in Swift.stride(from: 0, to: count, by: max(1, count / 7)) {
                #expect(applyKernel([inputs[i]], kernel)[0] == out[i])
            }

            // In place gives the same bits.
            var inPlace = inputs
            inPlace.withUnsafeMutableBufferPointer { p in kernel(UnsafePointer(p.baseAddress!), p.baseAddress!, count) }
            #expect(inPlace == out)
        }
    }

    @Test func simdFormsMatchBufferForms() {
        var rng = KernelTestRNG(seed: 77)
        let v = SIMD16<Float>((0..<16).map { _ in rng.uniform(-3, 3) })
        let lanes = (0..<16).map { v[$0] }
        #expect(VectorMath.exp(v) == SIMD16(applyKernel(lanes, Self.exp)))
        #expect(VectorMath.tanh(v) == SIMD16(applyKernel(lanes, Self.tanh)))
        #expect(VectorMath.sigmoid(v) == SIMD16(applyKernel(lanes, Self.sigmoid)))
        #expect(VectorMath.softplus(v) == SIMD16(applyKernel(lanes, Self.softplus)))
        #expect(VectorMath.magnitude(v) == SIMD16(lanes.map { abs($0) }))
    }
}
