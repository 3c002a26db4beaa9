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

/// The kernels of a level this machine supports (tests take their levels from `CPULevel.supported`).
func kernelTable(_ level: CPULevel) -> KernelTable {
    guard let kernels = KernelTable(level: level) else { fatalError("no kernels for \(level)") }
    return kernels
}

/// The bit patterns of `values` (for exact comparisons that NaN lanes do not defeat).
func bitPatterns(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

func bitPatterns(_ v: SIMD16<Float>) -> [UInt32] { (0..<16).map { v[$0].bitPattern } }

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
    typealias Kernel = (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void

    /// The buffer kernel of `function` at `level`, through the `kernels:` overloads.
    static func kernel(_ function: VectorMath.Function, _ level: CPULevel) -> Kernel {
        let k = kernelTable(level)
        switch function {
        case .exp: return { VectorMath.exp($0, $1, count: $2, kernels: k) }
        case .expm1: return { VectorMath.expm1($0, $1, count: $2, kernels: k) }
        case .log: return { VectorMath.log($0, $1, count: $2, kernels: k) }
        case .log1p: return { VectorMath.log1p($0, $1, count: $2, kernels: k) }
        case .tanh: return { VectorMath.tanh($0, $1, count: $2, kernels: k) }
        case .sigmoid: return { VectorMath.sigmoid($0, $1, count: $2, kernels: k) }
        case .softplus: return { VectorMath.softplus($0, $1, count: $2, kernels: k) }
        }
    }

    /// The public buffer form of `function` (the process's level).
    static func publicKernel(_ function: VectorMath.Function) -> Kernel {
        switch function {
        case .exp: return { VectorMath.exp($0, $1, count: $2) }
        case .expm1: return { VectorMath.expm1($0, $1, count: $2) }
        case .log: return { VectorMath.log($0, $1, count: $2) }
        case .log1p: return { VectorMath.log1p($0, $1, count: $2) }
        case .tanh: return { VectorMath.tanh($0, $1, count: $2) }
        case .sigmoid: return { VectorMath.sigmoid($0, $1, count: $2) }
        case .softplus: return { VectorMath.softplus($0, $1, count: $2) }
        }
    }

    /// The asserted bound on the max ulp error: slightly above the figure measured at the level
    /// (and quoted in `VectorMath`'s doc comments). Levels with FMA (avx2, avx512, neon) compute
    /// the same expression with the same roundings; the SSE2 baseline rounds each multiply-add twice.
    static func bound(_ level: CPULevel, fma: Double, baseline: Double) -> Double {
        level == .baseline ? baseline : fma
    }

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

    @Test(arguments: CPULevel.supported)
    func expAccuracy(_ level: CPULevel) {
        let kernel = Self.kernel(.exp, level)
        let worst = [
            maxULPError(Self.uniform(-104, 88.72), kernel, reference: Foundation.exp),
            maxULPError(Self.uniform(-1, 1, seed: 3), kernel, reference: Foundation.exp),
        ].max { $0.error < $1.error }!
        print("exp at \(level) max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= Self.bound(level, fma: 1.05, baseline: 1.0))
    }

    @Test(arguments: CPULevel.supported)
    func expm1Accuracy(_ level: CPULevel) {
        let inputs = Self.uniform(-20, 88.72) + Self.uniform(-1, 1, seed: 4) + Self.uniform(-1e-3, 1e-3, 100_000, seed: 5)
        let worst = maxULPError(inputs, Self.kernel(.expm1, level), reference: Foundation.expm1)
        print("expm1 at \(level) max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= Self.bound(level, fma: 1.3, baseline: 1.5))
    }

    @Test(arguments: CPULevel.supported)
    func logAccuracy(_ level: CPULevel) {
        let inputs = Self.randomFinite(positive: true) + Self.uniform(0.5, 2, seed: 6)
            + Self.uniform(0.99, 1.01, 100_000, seed: 7)
        let worst = maxULPError(inputs.filter { $0 > 0 }, Self.kernel(.log, level), reference: Foundation.log)
        print("log at \(level) max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= Self.bound(level, fma: 0.9, baseline: 0.9))
    }

    @Test(arguments: CPULevel.supported)
    func log1pAccuracy(_ level: CPULevel) {
        var rng = KernelTestRNG(seed: 8)
        let logUniform = (0..<300_000).map { _ in Float(Foundation.exp(Double(rng.uniform(-30, 14)))) }
        let inputs = Self.uniform(-0.999999, 1) + logUniform + logUniform.map { -$0 }.filter { $0 > -1 }
        let worst = maxULPError(inputs, Self.kernel(.log1p, level), reference: Foundation.log1p)
        print("log1p at \(level) max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= Self.bound(level, fma: 1.5, baseline: 1.5))
    }

    @Test(arguments: CPULevel.supported)
    func tanhAccuracy(_ level: CPULevel) {
        let inputs = Self.uniform(-10, 10) + Self.uniform(-1, 1, seed: 9) + Self.randomFinite(200_000, seed: 10)
        let worst = maxULPError(inputs, Self.kernel(.tanh, level), reference: Foundation.tanh)
        print("tanh at \(level) max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= Self.bound(level, fma: 1.4, baseline: 1.4))
    }

    @Test(arguments: CPULevel.supported)
    func sigmoidAccuracy(_ level: CPULevel) {
        let inputs = Self.uniform(-104, 88) + Self.uniform(-5, 5, seed: 11) + Self.randomFinite(200_000, seed: 12)
        let worst = maxULPError(inputs, Self.kernel(.sigmoid, level), reference: Self.sigmoidReference)
        print("sigmoid at \(level) max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= Self.bound(level, fma: 2.4, baseline: 2.4))
    }

    @Test(arguments: CPULevel.supported)
    func softplusAccuracy(_ level: CPULevel) {
        let inputs = Self.uniform(-100, 100) + Self.uniform(-5, 5, seed: 13) + Self.randomFinite(200_000, seed: 14)
        let worst = maxULPError(inputs, Self.kernel(.softplus, level), reference: Self.softplusReference)
        print("softplus at \(level) max ulp error \(worst.error) at \(worst.at)")
        #expect(worst.error <= Self.bound(level, fma: 1.95, baseline: 1.95))
    }

    @Test(arguments: CPULevel.supported)
    func specialValues(_ level: CPULevel) {
        let inf = Float.infinity
        func run(_ function: VectorMath.Function, _ inputs: [Float]) -> [Float] {
            applyKernel(inputs, Self.kernel(function, level))
        }
        func same(_ a: [Float], _ b: [Float]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { $0.isNaN ? $1.isNaN : ($0 == $1 && $0.sign == $1.sign) }
        }

        let e = run(.exp, [.nan, inf, -inf, 0, -0.0, 88.8, 89, 1000, -104, -1000, 88.72])
        #expect(same(Array(e[0..<10]), [.nan, inf, 0, 1, 1, inf, inf, inf, 0, 0]))
        #expect(e[10].isFinite && e[10] > 3.3e38)
        #expect(run(.exp, [-100])[0] > 0)  // subnormal, not flushed

        let m = run(.expm1, [.nan, inf, -inf, 0, -0.0, 100, -100, 1e-30, -1e-30])
        #expect(same(m, [.nan, inf, -1, 0, -0.0, inf, -1, 1e-30, -1e-30]))

        let l = run(.log, [.nan, inf, -inf, 0, -0.0, -1, 1, .leastNonzeroMagnitude, .greatestFiniteMagnitude])
        #expect(same(Array(l[0..<7]), [.nan, inf, .nan, -inf, -inf, .nan, 0]))
        #expect(ulpError(l[7], Foundation.log(Double(Float.leastNonzeroMagnitude))) <= 1)
        #expect(ulpError(l[8], Foundation.log(Double(Float.greatestFiniteMagnitude))) <= 1)

        let lp = run(.log1p, [.nan, inf, -inf, 0, -0.0, -1, -2, 1e-30])
        #expect(same(lp, [.nan, inf, .nan, 0, -0.0, -inf, .nan, 1e-30]))

        let t = run(.tanh, [.nan, inf, -inf, 0, -0.0, 9.1, -9.1, 50, -50, 1e30, -1e30])
        #expect(same(t, [.nan, 1, -1, 0, -0.0, 1, -1, 1, -1, 1, -1]))

        let s = run(.sigmoid, [.nan, inf, -inf, 0, 17, 1e30, -1e30, -200])
        #expect(same(s, [.nan, 1, 0, 0.5, 1, 1, 0, 0]))

        let sp = run(.softplus, [.nan, inf, -inf, 0, 20, 1e30, -1e30])
        #expect(same(Array(sp[0..<3]), [.nan, inf, 0]))
        #expect(ulpError(sp[3], Foundation.log(2)) <= 1)
        #expect(sp[4] == 20 && sp[5] == 1e30 && sp[6] == 0)
    }

    @Test(arguments: CPULevel.supported, [0, 1, 15, 16, 17, 31, 33, 1000])
    func countsInPlaceAndBounds(_ level: CPULevel, count: Int) {
        var rng = KernelTestRNG(seed: UInt64(count) + 100)
        let inputs = (0..<count).map { _ in rng.uniform(0.01, 5) }
        for function in VectorMath.Function.allCases {
            let kernel = Self.kernel(function, level)
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

    /// The public buffer forms run the process's level (`BACKPROP_CPU` or the best).
    @Test func publicFormsUseTheCurrentLevel() {
        var rng = KernelTestRNG(seed: 78)
        let x = (0..<100).map { _ in rng.uniform(-20, 20) }
        for function in VectorMath.Function.allCases {
            #expect(bitPatterns(applyKernel(x, Self.publicKernel(function)))
                    == bitPatterns(applyKernel(x, Self.kernel(function, KernelTable.current.level))), "\(function)")
        }
    }

    /// The SIMD16 forms store the lanes and run the buffer kernel: the same bits.
    @Test(arguments: CPULevel.supported)
    func simdFormsMatchBufferForms(_ level: CPULevel) {
        var rng = KernelTestRNG(seed: 77)
        let v = SIMD16<Float>((0..<16).map { _ in rng.uniform(-3, 3) })
        let lanes = (0..<16).map { v[$0] }
        let kernels = kernelTable(level)
        for function in VectorMath.Function.allCases {
            let expected = applyKernel(lanes, Self.kernel(function, level))
            #expect(bitPatterns(VectorMath.lanes(v, function, kernels: kernels)) == bitPatterns(expected), "\(function) at \(level)")
        }
        // The public forms at the process's level.
        let current = KernelTable.current.level
        func buffer(_ function: VectorMath.Function) -> [UInt32] {
            bitPatterns(applyKernel(lanes, Self.kernel(function, current)))
        }
        #expect(bitPatterns(VectorMath.exp(v)) == buffer(.exp))
        #expect(bitPatterns(VectorMath.expm1(v)) == buffer(.expm1))
        #expect(bitPatterns(VectorMath.log(v)) == buffer(.log))  // NaN lanes included: same NaN bits
        #expect(bitPatterns(VectorMath.log1p(v)) == buffer(.log1p))
        #expect(bitPatterns(VectorMath.tanh(v)) == buffer(.tanh))
        #expect(bitPatterns(VectorMath.sigmoid(v)) == buffer(.sigmoid))
        #expect(bitPatterns(VectorMath.softplus(v)) == buffer(.softplus))
        #expect(VectorMath.magnitude(v) == SIMD16(lanes.map { abs($0) }))
    }

    /// AVX2 and AVX-512 compute the same expressions with the same fused roundings: same bits.
    @Test(.enabled(if: CPULevel.avx2.isSupported && CPULevel.avx512.isSupported))
    func avx2AndAVX512GiveTheSameBits() {
        let inputs = Self.randomFinite(100_000, seed: 15) + Self.uniform(-30, 30, 100_000, seed: 16)
        for function in VectorMath.Function.allCases {
            let a = applyKernel(inputs, Self.kernel(function, .avx2))
            let b = applyKernel(inputs, Self.kernel(function, .avx512))
            // NaN lanes may carry different payloads (which operand's NaN an instruction passes on).
            #expect(zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }, "\(function)")
        }
    }
}
