import Backprop
import Foundation
import Testing

@Suite("Activation kernels")
struct ActivationKernelTests {
    /// The activation in Double, as the reference for values and finite differences.
    static func reference(_ a: Activation, _ x: Double) -> Double {
        switch a {
        case .identity: return x
        case .sigmoid: return x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
        case .tanh: return Foundation.tanh(x)
        case .relu: return max(x, 0)
        case .leakyReLU: return x > 0 ? x : Double(Activation.leakyReLUSlope) * x
        case .elu: return x > 0 ? x : Double(Activation.eluAlpha) * Foundation.expm1(x)
        case .gelu:
            // x·σ(2u) = ½x(1 + tanh u) without the cancellation for negative x.
            let u = 0.797884560802865355 * (x + 0.044715 * x * x * x)
            return x * (u >= 0 ? 1 / (1 + Foundation.exp(-2 * u)) : Foundation.exp(2 * u) / (1 + Foundation.exp(2 * u)))
        case .softplus: return max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x)))
        }
    }

    /// Central finite difference of the Double reference.
    static func numericDerivative(_ a: Activation, _ x: Double) -> Double {
        let h = 1e-6 * max(1, abs(x))
        return (reference(a, x + h) - reference(a, x - h)) / (2 * h)
    }

    /// Test points avoiding the kinks of the piecewise activations.
    static func points(_ n: Int, seed: UInt64, range: Double = 8) -> [Float] {
        var rng = KernelTestRNG(seed: seed)
        return (0..<n).map { _ in
            var v = rng.uniform(-range, range)
            if abs(v) < 1e-3 { v += 0.01 }
            return v
        }
    }

    /// Relative tolerance for `f(x)` in Float: a few ulp, plus for GELU the conditioning of
    /// σ(2u) in its exponentially small tail (u is rounded to Float before the exponential).
    static func tolerance(_ a: Activation, _ x: Float) -> Double {
        guard a == .gelu else { return 4e-7 }
        let u = 0.797884560802865355 * (Double(x) + 0.044715 * Double(x) * Double(x) * Double(x))
        return 4e-7 + 2.4e-7 * abs(2 * u)
    }

    static func forward(_ a: Activation, _ x: [Float], _ level: CPULevel) -> [Float] {
        let kernels = kernelTable(level)
        return applyKernel(x) { a.forward($0, $1, count: $2, kernels: kernels) }
    }

    static func backward(_ a: Activation, _ x: [Float], _ dy: [Float], _ level: CPULevel) -> [Float] {
        let kernels = kernelTable(level)
        let y = forward(a, x, level)
        var dx = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                dy.withUnsafeBufferPointer { dyp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        a.backward(x: xp.baseAddress!, y: yp.baseAddress!, dy: dyp.baseAddress!,
                                   dx: dxp.baseAddress!, count: x.count, kernels: kernels)
                    }
                }
            }
        }
        return dx
    }

    @Test(arguments: CPULevel.supported, Activation.allCases)
    func forwardMatchesReference(_ level: CPULevel, _ a: Activation) {
        let x = Self.points(100_000, seed: 1, range: 20) + [0, -0.0, 1e-8, -1e-8, 30, -30, 90, -90]
        let y = Self.forward(a, x, level)
        var worst = 0.0
        for (xi, yi) in zip(x, y) {
            let r = Self.reference(a, Double(xi))
            let tolerance = Self.tolerance(a, xi)
            // Results below the normal range are compared in absolute terms.
            let error = abs(Double(yi) - r) / max(abs(r), 1e-30)
            if abs(r) > 1e-30 { worst = max(worst, error / tolerance * 4e-7) }
            #expect(abs(Double(yi) - r) <= tolerance * abs(r) + 1e-37, "\(a)(\(xi)) = \(yi), want \(r)")
            // The scalar form agrees too.
            let s = a(xi)
            #expect(abs(Double(s) - r) <= tolerance * abs(r) + 1e-37, "scalar \(a)(\(xi)) = \(s), want \(r)")
        }
        print("\(a) forward at \(level) max relative error \(worst) (GELU: relative to its tail allowance)")
    }

    @Test(arguments: CPULevel.supported, Activation.allCases)
    func backwardMatchesFiniteDifferencesAndFormula(_ level: CPULevel, _ a: Activation) {
        let x = Self.points(20_000, seed: 2)
        var rng = KernelTestRNG(seed: 3)
        let dy = x.map { _ in rng.uniform(-2, 2) }
        let dx = Self.backward(a, x, dy, level)
        for i in x.indices {
            let fd = Self.numericDerivative(a, Double(x[i])) * Double(dy[i])
            // y-based formulas (sigmoid, tanh) carry the rounding of y: ~1e-7 absolute in f′.
            #expect(abs(Double(dx[i]) - fd) <= 2e-6 * abs(Double(dy[i])) + 1e-6 * abs(fd),
                    "\(a)′(\(x[i])): kernel \(dx[i] / dy[i]), finite difference \(fd / Double(dy[i]))")
            let scalar = Double(a.derivative(x[i])) * Double(dy[i])
            #expect(abs(Double(dx[i]) - scalar) <= 2e-6 * abs(Double(dy[i])) + 1e-6 * abs(scalar))
        }
    }

    @Test(arguments: CPULevel.supported, Activation.allCases)
    func largeInputsSaturateWithoutNaN(_ level: CPULevel, _ a: Activation) {
        let x: [Float] = [1e4, -1e4, 1e30, -1e30, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        let y = Self.forward(a, x, level)
        let dx = Self.backward(a, x, [Float](repeating: 1, count: x.count), level)
        for i in x.indices {
            #expect(!y[i].isNaN, "\(a)(\(x[i])) is NaN")
            #expect(!dx[i].isNaN, "\(a)′(\(x[i])) is NaN")
            #expect(!a(x[i]).isNaN && !a.derivative(x[i]).isNaN)
            if x[i].isFinite && a != .identity && a != .relu && a != .leakyReLU && a != .elu && a != .gelu && a != .softplus {
                #expect(y[i].isFinite)
            }
        }
        #expect(Self.forward(a, [.nan], level)[0].isNaN, "\(a)(NaN) should be NaN")
    }

    @Test func kinksAndConstants() {
        #expect(Activation.relu(0) == 0 && Activation.relu.derivative(0) == 0)
        #expect(Activation.leakyReLU(-2) == -0.02 && Activation.leakyReLU.derivative(-2) == 0.01)
        #expect(Activation.elu.derivative(0) == 1 && Activation.elu(-1e4) == -1)
        #expect(Activation.sigmoid(0) == 0.5 && Activation.tanh(0) == 0 && Activation.gelu(0) == 0)
        // GELU (tanh form) against the exact erf form: within 5e-4.
        for x in Swift.stride(from: -6.0, through: 6.0, by: 0.01) {
            let exact = 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))
            #expect(abs(Double(Activation.gelu(Float(x))) - exact) < 5e-4)
        }
    }

    @Test func codableAndRawValues() throws {
        let data = try JSONEncoder().encode(Activation.allCases)
        #expect(try JSONDecoder().decode([Activation].self, from: data) == Activation.allCases)
        #expect(Activation(rawValue: "leakyReLU") == .leakyReLU)
        #expect(Activation.allCases.count == 8)
    }

    @Test(arguments: CPULevel.supported, [0, 1, 15, 16, 17, 1000])
    func countsAndInPlace(_ level: CPULevel, count: Int) {
        let kernels = kernelTable(level)
        for a in Activation.allCases {
            let x = Self.points(count, seed: UInt64(count) + 10)
            let y = Self.forward(a, x, level)
            for i in x.indices { #expect(y[i] == Self.forward(a, [x[i]], level)[0]) }
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { p in
                a.forward(UnsafePointer(p.baseAddress!), p.baseAddress!, count: count, kernels: kernels)
            }
            #expect(inPlace == y)

            // Backward with dx aliasing dy.
            let dy = x.map { $0 * 0.5 + 1 }
            let expected = Self.backward(a, x, dy, level)
            var g = dy
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    g.withUnsafeMutableBufferPointer { gp in
                        a.backward(x: xp.baseAddress!, y: yp.baseAddress!, dy: UnsafePointer(gp.baseAddress!),
                                   dx: gp.baseAddress!, count: count, kernels: kernels)
                    }
                }
            }
            #expect(g == expected)
        }
    }

    @Test(arguments: CPULevel.supported, [(1, 1), (3, 15), (4, 16), (5, 17), (7, 40)])
    func fusedBiasForwardAndBackward(_ level: CPULevel, shape: (Int, Int)) {
        let (rows, cols) = shape
        let kernels = kernelTable(level)
        for a in Activation.allCases {
            let n = rows * cols
            let product = Self.points(n, seed: UInt64(n) + 20, range: 3)
            let bias = Self.points(cols, seed: UInt64(cols) + 30, range: 1)
            var rng = KernelTestRNG(seed: 40)
            let dy = (0..<n).map { _ in rng.uniform(-1, 1) }

            for useBias in [true, false] {
                var z = product
                var y = [Float](repeating: .nan, count: n)
                bias.withUnsafeBufferPointer { b in
                    z.withUnsafeMutableBufferPointer { zp in
                        y.withUnsafeMutableBufferPointer { yp in
                            a.biasForward(z: zp.baseAddress!, bias: useBias ? b.baseAddress! : nil, y: yp.baseAddress!,
                                          rows: rows, cols: cols, kernels: kernels)
                        }
                    }
                }
                let expectedZ = (0..<n).map { product[$0] + (useBias ? bias[$0 % cols] : 0) }
                #expect(z == expectedZ)
                #expect(y == Self.forward(a, expectedZ, level))

                var dz = [Float](repeating: .nan, count: n)
                var biasGradient = [Float](repeating: 0.25, count: cols)  // accumulates onto this
                z.withUnsafeBufferPointer { zp in
                    y.withUnsafeBufferPointer { yp in
                        dy.withUnsafeBufferPointer { dyp in
                            dz.withUnsafeMutableBufferPointer { dzp in
                                biasGradient.withUnsafeMutableBufferPointer { bg in
                                    a.biasBackward(z: zp.baseAddress!, y: yp.baseAddress!, dy: dyp.baseAddress!,
                                                   dz: dzp.baseAddress!, biasGradient: useBias ? bg.baseAddress! : nil,
                                                   rows: rows, cols: cols, kernels: kernels)
                                }
                            }
                        }
                    }
                }
                #expect(dz == Self.backward(a, expectedZ, dy, level))
                for c in 0..<cols {
                    var sum: Float = 0.25
                    for r in 0..<rows { sum += dz[r * cols + c] }
                    #expect(abs(biasGradient[c] - (useBias ? sum : 0.25)) <= 1e-5 * Float(rows))
                }
            }
        }
    }

    /// The SIMD16 forms store the lanes and run the buffer kernels of the process's level: the
    /// same bits as the public buffer forms.
    @Test func simdFormsMatchBufferKernels() {
        let x = Self.points(16, seed: 50)
        let v = SIMD16<Float>(x)
        for a in Activation.allCases {
            let y = applyKernel(x) { a.forward($0, $1, count: $2) }
            #expect(a(v) == SIMD16(y))
            #expect(y == Self.forward(a, x, KernelTable.current.level))
            let d = a.derivative(x: v, y: a(v))
            var dx = [Float](repeating: .nan, count: 16)
            a.backward(x: x, y: y, dy: [Float](repeating: 1, count: 16), dx: &dx, count: 16)
            #expect(d == SIMD16(dx))
        }
    }

    /// AVX2 and AVX-512 compute the same expressions with the same fused roundings: same bits.
    @Test(.enabled(if: CPULevel.avx2.isSupported && CPULevel.avx512.isSupported), arguments: Activation.allCases)
    func avx2AndAVX512GiveTheSameBits(_ a: Activation) {
        let x = Self.points(10_000, seed: 60, range: 30) + [.nan, .infinity, -.infinity, 0, -0.0]
        var rng = KernelTestRNG(seed: 61)
        let dy = x.map { _ in rng.uniform(-2, 2) }
        func same(_ u: [Float], _ w: [Float]) -> Bool {
            zip(u, w).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
        }
        #expect(same(Self.forward(a, x, .avx2), Self.forward(a, x, .avx512)))
        #expect(same(Self.backward(a, x, dy, .avx2), Self.backward(a, x, dy, .avx512)))
    }
}
