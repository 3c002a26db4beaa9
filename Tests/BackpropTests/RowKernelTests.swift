import Backprop
import Foundation
import Testing

// The row kernels (Sources/CBackpropSupport/kernels/elementwise.h, batchnorm.h,
// optimizer_updates.h) at every level this CPU supports, in one process: each against a scalar
// reference that performs the same operations in the same order (exact, bit for bit: fused
// multiply-adds where the kernel fuses, which the baseline level does not), or against a Double
// reference where the order is the kernel's own business (Batch Normalization), plus the avx2 and
// avx512 levels against each other.


/// Whether a level's multiply-adds are fused (one rounding).
private func fuses(_ level: CPULevel) -> Bool { level != .baseline }

/// c + a·b, with one rounding when `fused`.
private func multiplyAdd(_ a: Float, _ b: Float, _ c: Float, fused: Bool) -> Float {
    fused ? c.addingProduct(a, b) : c + a * b
}

private func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

/// Lengths around every vector and block boundary the kernels have (16, 32, 64 floats).
private let lengths = [0, 1, 2, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 129, 1000, 1037]

@Suite struct ElementwiseLevelTests {
    @Test("fill, scale, convertBytes and axpy match the scalar loop bit for bit", arguments: CPULevel.supported)
    func pointwise(level: CPULevel) {
        let kernels = KernelTable(level: level)!
        var mix = SplitMix(state: 1)
        for n in lengths {
            let x = mix.values(n), y0 = mix.values(n)
            var out = [Float](repeating: .nan, count: n)
            out.withUnsafeMutableBufferPointer { Elementwise.fill($0.baseAddress!, 0.25, count: n, kernels: kernels) }
            #expect(out == [Float](repeating: 0.25, count: n), "fill n=\(n)")

            out = [Float](repeating: .nan, count: n)
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { Elementwise.scale(-1.5, xp.baseAddress!, $0.baseAddress!, count: n, kernels: kernels) }
            }
            #expect(bits(out) == bits(x.map { $0 * -1.5 }), "scale n=\(n)")

            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            out = [Float](repeating: .nan, count: n)
            bytes.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer {
                    Elementwise.convertBytes(bp.baseAddress!, scale: 1 / 255, $0.baseAddress!, count: n, kernels: kernels)
                }
            }
            #expect(bits(out) == bits(bytes.map { Float($0) * (1 / 255) }), "convertBytes n=\(n)")

            // axpy: fused over whole 16-float vectors (at levels with FMA), unfused in the tail.
            var y = y0
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { Elementwise.axpy(0.3, xp.baseAddress!, $0.baseAddress!, count: n, kernels: kernels) }
            }
            let full = n - n % 16
            let expected = (0..<n).map { i in i < full ? multiplyAdd(0.3, x[i], y0[i], fused: fuses(level)) : y0[i] + 0.3 * x[i] }
            #expect(bits(y) == bits(expected), "axpy n=\(n)")
        }
    }

    /// Swift's old loops: two 16-lane accumulators, lanes added 0 to 15, the tail in Double (sum)
    /// or Float (dot).
    static func referenceSum(_ x: [Float]) -> Float {
        var a0 = [Float](repeating: 0, count: 16), a1 = a0
        var i = 0
        while i + 32 <= x.count {
            for k in 0..<16 { a0[k] = a0[k] + x[i + k]; a1[k] = a1[k] + x[i + 16 + k] }
            i += 32
        }
        while i + 16 <= x.count {
            for k in 0..<16 { a0[k] = a0[k] + x[i + k] }
            i += 16
        }
        var lanes = a0[0] + a1[0]
        for k in 1..<16 { lanes += a0[k] + a1[k] }
        var total = Double(lanes)
        while i < x.count { total += Double(x[i]); i += 1 }
        return Float(total)
    }

    static func referenceDot(_ x: [Float], _ y: [Float], fused: Bool) -> Float {
        var a0 = [Float](repeating: 0, count: 16), a1 = a0
        var i = 0
        while i + 32 <= x.count {
            for k in 0..<16 {
                a0[k] = multiplyAdd(x[i + k], y[i + k], a0[k], fused: fused)
                a1[k] = multiplyAdd(x[i + 16 + k], y[i + 16 + k], a1[k], fused: fused)
            }
            i += 32
        }
        while i + 16 <= x.count {
            for k in 0..<16 { a0[k] = multiplyAdd(x[i + k], y[i + k], a0[k], fused: fused) }
            i += 16
        }
        var total = a0[0] + a1[0]
        for k in 1..<16 { total += a0[k] + a1[k] }
        while i < x.count { total += x[i] * y[i]; i += 1 }
        return total
    }

    @Test("sum, dot, column and row sums: the scalar loop's bits, and close to Double", arguments: CPULevel.supported)
    func reductions(level: CPULevel) {
        let kernels = KernelTable(level: level)!
        var mix = SplitMix(state: 2)
        for n in lengths {
            let x = mix.values(n), y = mix.values(n)
            let sum = x.withUnsafeBufferPointer { Elementwise.sum($0.baseAddress!, count: n, kernels: kernels) }
            #expect(sum.bitPattern == Self.referenceSum(x).bitPattern, "sum n=\(n)")
            let exactSum = x.reduce(0.0) { $0 + Double($1) }
            #expect(abs(Double(sum) - exactSum) <= 1e-5 * Double(max(n, 1)), "sum n=\(n) vs Double")
            let dot = x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { Elementwise.dot(xp.baseAddress!, $0.baseAddress!, count: n, kernels: kernels) }
            }
            #expect(dot.bitPattern == Self.referenceDot(x, y, fused: fuses(level)).bitPattern, "dot n=\(n)")
            let exactDot = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(Double(dot) - exactDot) <= 1e-5 * Double(max(n, 1)), "dot n=\(n) vs Double")
        }
        for columns in [1, 5, 16, 17, 31, 32, 48, 63, 64, 65, 80, 100, 129, 200] {
            for rows in [1, 3, 37] {
                let x = mix.values(rows * columns, scale: 2, offset: 0.5)
                let start = mix.values(columns)
                for accumulate in [false, true] {
                    var out = accumulate ? start : [Float](repeating: .nan, count: columns)
                    x.withUnsafeBufferPointer { xp in
                        out.withUnsafeMutableBufferPointer {
                            Elementwise.columnSums(xp.baseAddress!, rows: rows, columns: columns, into: $0.baseAddress!,
                                                   accumulate: accumulate, kernels: kernels)
                        }
                    }
                    var expected = accumulate ? start : [Float](repeating: 0, count: columns)
                    for r in 0..<rows { for j in 0..<columns { expected[j] = x[r * columns + j] + expected[j] } }
                    #expect(bits(out) == bits(expected), "columnSums \(rows)x\(columns) accumulate=\(accumulate)")
                }
                var sums = [Float](repeating: .nan, count: rows)
                x.withUnsafeBufferPointer { xp in
                    sums.withUnsafeMutableBufferPointer {
                        Elementwise.rowSums(xp.baseAddress!, rows: rows, columns: columns, into: $0.baseAddress!, kernels: kernels)
                    }
                }
                let expected = (0..<rows).map { Self.referenceSum(Array(x[$0 * columns..<($0 + 1) * columns])) }
                #expect(bits(sums) == bits(expected), "rowSums \(rows)x\(columns)")
            }
        }
    }

    static func referenceMaxIndex(_ x: [Float]) -> Int {
        var best = x[0], at = 0
        if best.isNaN { return 0 }
        for i in 1..<x.count {
            if x[i].isNaN { return i }
            if x[i] > best { best = x[i]; at = i }
        }
        return at
    }

    @Test("maxIndex: the first NaN, else the first of the largest (ties, ±0, infinities)", arguments: CPULevel.supported)
    func maxIndex(level: CPULevel) {
        let kernels = KernelTable(level: level)!
        var mix = SplitMix(state: 3)
        for n in lengths where n > 0 {
            for pattern in 0..<6 {
                // Few distinct values, so ties are common; then NaN, -0 and infinities placed around.
                var x = (0..<n).map { _ in (mix.next() * 3).rounded() }
                switch pattern {
                case 1: x[(n * 5) / 7] = .nan
                case 2: x[n - 1] = .nan; x[n / 2] = .nan
                case 3: x = x.map { $0 == 0 ? -0.0 : -$0.magnitude }; x[n / 3] = 0
                case 4: x[n / 2] = .infinity; x[n - 1] = .infinity
                case 5: x = [Float](repeating: -.infinity, count: n)
                default: break
                }
                let (value, index) = x.withUnsafeBufferPointer { Elementwise.maxIndex($0.baseAddress!, count: n, kernels: kernels) }
                let expected = Self.referenceMaxIndex(x)
                #expect(index == expected, "maxIndex n=\(n) pattern \(pattern)")
                #expect(value.bitPattern == x[expected].bitPattern, "maxIndex value n=\(n) pattern \(pattern)")
            }
        }
    }
}

@Suite struct BatchNormLevelTests {
    struct Batch {
        var rows: Int, columns: Int
        var x: [Float], gamma: [Float], beta: [Float], dy: [Float]
        var runningMean: [Float], runningVariance: [Float]
    }

    static func batch(rows: Int, columns: Int, seed: UInt64) -> Batch {
        var mix = SplitMix(state: seed)
        // An offset mean (|μ| ≫ σ for some features), which the two-pass variance handles.
        let x = (0..<rows * columns).map { i in Float(i % columns % 7) * 3 + mix.next() }
        return Batch(rows: rows, columns: columns, x: x, gamma: mix.values(columns, scale: 0.5, offset: 1),
                     beta: mix.values(columns), dy: mix.values(rows * columns),
                     runningMean: mix.values(columns, scale: 2), runningVariance: mix.values(columns, scale: 0.5, offset: 1))
    }

    struct Output: Equatable {
        var y: [Float], normalized: [Float], mean: [Float], variance: [Float], inverse: [Float]
        var dx: [Float], gammaGradient: [Float], betaGradient: [Float]
        var inferenceY: [Float], inferenceDx: [Float]
    }

    static func run(_ b: Batch, _ kernels: KernelTable) -> Output {
        let n = b.rows * b.columns, c = b.columns
        var y = [Float](repeating: .nan, count: n), xhat = y
        var mean = [Float](repeating: .nan, count: c), variance = mean, inverse = mean
        var scratch = [Float](repeating: .nan, count: 2 * c)
        var dx = [Float](repeating: .nan, count: n)
        var gammaGradient = [Float](repeating: 0.5, count: c), betaGradient = [Float](repeating: -0.25, count: c)
        var inferenceY = y, inferenceXhat = y, inferenceInverse = mean
        var inferenceDx = b.dy   // in place: dx = dy
        b.x.withUnsafeBufferPointer { x in
            BatchNormKernels.forwardTraining(
                x: x.baseAddress!, rows: b.rows, columns: c, gamma: b.gamma, beta: b.beta, epsilon: 1e-5,
                y: &y, normalized: &xhat, mean: &mean, variance: &variance, inverseStandardDeviation: &inverse,
                kernels: kernels)
            BatchNormKernels.forwardInference(
                x: x.baseAddress!, rows: b.rows, columns: c, gamma: b.gamma, beta: b.beta,
                runningMean: b.runningMean, runningVariance: b.runningVariance, epsilon: 1e-5,
                y: &inferenceY, normalized: &inferenceXhat, inverseStandardDeviation: &inferenceInverse, kernels: kernels)
        }
        scratch.withUnsafeMutableBufferPointer { s in
            BatchNormKernels.backward(
                dy: b.dy, normalized: xhat, rows: b.rows, columns: c, gamma: b.gamma, inverseStandardDeviation: inverse,
                throughStatistics: true, dx: &dx, gammaGradient: &gammaGradient, betaGradient: &betaGradient,
                sumDy: s.baseAddress!, sumDyXhat: s.baseAddress! + c, kernels: kernels)
            inferenceDx.withUnsafeMutableBufferPointer { d in
                BatchNormKernels.backward(
                    dy: d.baseAddress!, normalized: inferenceXhat, rows: b.rows, columns: c, gamma: b.gamma,
                    inverseStandardDeviation: inferenceInverse, throughStatistics: false, dx: d.baseAddress!,
                    gammaGradient: nil, betaGradient: nil, sumDy: s.baseAddress!, sumDyXhat: s.baseAddress! + c,
                    kernels: kernels)
            }
        }
        return Output(y: y, normalized: xhat, mean: mean, variance: variance, inverse: inverse, dx: dx,
                      gammaGradient: gammaGradient, betaGradient: betaGradient, inferenceY: inferenceY, inferenceDx: inferenceDx)
    }

    static func expectClose(_ actual: [Float], _ expected: [Double], _ label: String, tolerance: Double = 2e-5,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, "\(label): count", sourceLocation: sourceLocation)
        var worst = 0.0, at = 0
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            let error = abs(Double(a) - e) / max(1, abs(e))
            if worst.isNaN { break }
            if error.isNaN || error > worst { worst = error; at = i }
        }
        #expect(worst <= tolerance, "\(label): element \(at) off by \(worst) (got \(actual[at]), expected \(expected[at]))",
                sourceLocation: sourceLocation)
    }

    static let shapes = [(2, 1), (3, 15), (37, 16), (5, 17), (37, 64), (8, 65), (60, 100), (4, 129)]

    @Test("forward (training, inference) and backward against Double", arguments: CPULevel.supported)
    func againstDouble(level: CPULevel) {
        let kernels = KernelTable(level: level)!
        for (shape, (rows, columns)) in Self.shapes.enumerated() {
            let b = Self.batch(rows: rows, columns: columns, seed: UInt64(10 + shape))
            let out = Self.run(b, kernels)
            let m = Double(rows)
            var mean = [Double](repeating: 0, count: columns), variance = mean
            for r in 0..<rows { for j in 0..<columns { mean[j] += Double(b.x[r * columns + j]) / m } }
            for r in 0..<rows { for j in 0..<columns { let d = Double(b.x[r * columns + j]) - mean[j]; variance[j] += d * d / m } }
            let inverse = variance.map { 1 / ($0 + 1e-5).squareRoot() }
            var xhat = [Double](repeating: 0, count: rows * columns), y = xhat, dx = xhat, inferenceY = xhat, inferenceDx = xhat
            var sumDy = [Double](repeating: 0, count: columns), sumDyXhat = sumDy
            for r in 0..<rows {
                for j in 0..<columns {
                    let i = r * columns + j
                    xhat[i] = (Double(b.x[i]) - mean[j]) * inverse[j]
                    y[i] = xhat[i] * Double(b.gamma[j]) + Double(b.beta[j])
                    sumDy[j] += Double(b.dy[i])
                    sumDyXhat[j] += Double(b.dy[i]) * xhat[i]
                    let runningInverse = 1 / (Double(b.runningVariance[j]) + 1e-5).squareRoot()
                    inferenceY[i] = (Double(b.x[i]) - Double(b.runningMean[j])) * runningInverse * Double(b.gamma[j]) + Double(b.beta[j])
                    inferenceDx[i] = Double(b.dy[i]) * Double(b.gamma[j]) * runningInverse
                }
            }
            for r in 0..<rows {
                for j in 0..<columns {
                    let i = r * columns + j
                    dx[i] = Double(b.gamma[j]) * inverse[j] / m * (m * Double(b.dy[i]) - sumDy[j] - xhat[i] * sumDyXhat[j])
                }
            }
            let label = "\(level) \(rows)x\(columns)"
            Self.expectClose(out.mean, mean, "\(label) mean")
            Self.expectClose(out.variance, variance, "\(label) variance")
            Self.expectClose(out.inverse, inverse, "\(label) 1/σ", tolerance: 1e-4)
            Self.expectClose(out.normalized, xhat, "\(label) x̂", tolerance: 1e-4)
            Self.expectClose(out.y, y, "\(label) y", tolerance: 1e-4)
            Self.expectClose(out.betaGradient, sumDy.map { $0 - 0.25 }, "\(label) dβ")
            Self.expectClose(out.gammaGradient, sumDyXhat.map { $0 + 0.5 }, "\(label) dγ", tolerance: 1e-4)
            Self.expectClose(out.dx, dx, "\(label) dx", tolerance: 1e-3)
            Self.expectClose(out.inferenceY, inferenceY, "\(label) inference y")
            Self.expectClose(out.inferenceDx, inferenceDx, "\(label) inference dx")
        }
    }

    @Test("avx2 and avx512 give the same bits (the same fused multiply-adds in the same order)")
    func avx2MatchesAvx512() throws {
        guard let avx2 = KernelTable(level: .avx2), let avx512 = KernelTable(level: .avx512) else { return }
        for (shape, (rows, columns)) in Self.shapes.enumerated() {
            let b = Self.batch(rows: rows, columns: columns, seed: UInt64(10 + shape))
            let one = Self.run(b, avx2), other = Self.run(b, avx512)
            #expect(bits(one.y) == bits(other.y) && bits(one.normalized) == bits(other.normalized)
                        && bits(one.variance) == bits(other.variance) && bits(one.dx) == bits(other.dx)
                        && bits(one.gammaGradient) == bits(other.gammaGradient) && bits(one.inferenceY) == bits(other.inferenceY)
                        && bits(one.inferenceDx) == bits(other.inferenceDx),
                    "\(rows)x\(columns)")
        }
    }
}

@Suite struct OptimizerLevelTests {
    /// One step of `name` on element i, in scalar Float with the C loop's (and the old Swift
    /// loop's) operations and grouping; `state` in stateNames order.
    static func referenceStep(_ name: OptimizerName, _ h: [String: Float], p: inout Float, g: Float,
                              state s: inout [Float], step t: Int, eta: Float) {
        func correction(_ beta: Float) -> Float { Float(1 - pow(Double(beta), Double(t))) }
        let b1 = h["beta1"] ?? 0, b2 = h["beta2"] ?? 0, eps = h["epsilon"] ?? 0
        switch name {
        case .sgd:
            p = p - eta * g
        case .momentum:
            let gamma = h["momentum"]!
            s[0] = gamma * s[0] + eta * g
            p = p - s[0]
        case .nesterov:
            let gamma = h["momentum"]!
            s[0] = gamma * s[0] + eta * g
            p = p - (gamma * s[0] + eta * g)
        case .adagrad:
            s[0] = s[0] + g * g
            p = p - eta / (s[0] + eps).squareRoot() * g
        case .adadelta:
            let rho = h["rho"]!, keep = 1 - rho
            s[0] = rho * s[0] + keep * (g * g)
            let dx = eta * (-((s[1] + eps).squareRoot() / (s[0] + eps).squareRoot()) * g)
            s[1] = rho * s[1] + keep * (dx * dx)
            p = p + dx
        case .rmsprop:
            let rho = h["rho"]!
            s[0] = rho * s[0] + (1 - rho) * (g * g)
            p = p - eta / (s[0] + eps).squareRoot() * g
        case .adam, .adamw:
            let stepSize = eta / correction(b1), inverseC2 = 1 / correction(b2)
            s[0] = b1 * s[0] + (1 - b1) * g
            s[1] = b2 * s[1] + (1 - b2) * (g * g)
            p = p - stepSize * s[0] / ((s[1] * inverseC2).squareRoot() + eps)
        case .adamax:
            let rate = eta / correction(b1)
            s[0] = b1 * s[0] + (1 - b1) * g
            s[1] = Float.maximum(b2 * s[1], g < 0 ? -g : g)
            p = p - rate * s[0] / Float.maximum(s[1], .leastNormalMagnitude)
        case .nadam:
            let c1 = correction(b1), c2 = correction(b2)
            s[0] = b1 * s[0] + (1 - b1) * g
            s[1] = b2 * s[1] + (1 - b2) * (g * g)
            let direction = b1 * (s[0] / c1) + (1 - b1) * g / c1
            p = p - eta / ((s[1] / c2).squareRoot() + eps) * direction
        case .amsgrad:
            s[0] = b1 * s[0] + (1 - b1) * g
            s[1] = b2 * s[1] + (1 - b2) * (g * g)
            s[2] = Float.maximum(s[2], s[1])
            p = p - eta / (s[2].squareRoot() + eps) * s[0]
        }
    }

    struct Case: CustomStringConvertible, Sendable {
        var level: CPULevel
        var name: OptimizerName
        var description: String { "\(level.rawValue) \(name.rawValue)" }
    }

    static let cases = CPULevel.supported.flatMap { level in OptimizerName.allCases.map { Case(level: level, name: $0) } }

    /// Three steps of the optimizer at `kernels` on parameters of several lengths (40 000 takes
    /// the parallel path), with each form of weight decay. Returns θ and every state buffer.
    static func run(_ name: OptimizerName, _ kernels: KernelTable, decay: WeightDecay,
                    length n: Int) throws -> (theta: [Float], state: [String: [Float]], rule: any OptimizerRule) {
        var mix = SplitMix(state: UInt64(n) &* 31 &+ UInt64(name.rawValue.count))
        let start = mix.values(n)
        let p = Variable(Tensor(shape: [n], scalars: start), requiresGrad: true, decays: true)
        let rule = try name.makeRule()
        let optimizer = Optimizer(groups: [ParameterGroup([("p", p)], weightDecay: decay)], rule: rule, learningRate: 0.01)
        optimizer.kernels = kernels
        for step in 0..<3 {
            // Some exact zeros and negative zeros among the gradients (AdaMax's |g| and max).
            let g = (0..<n).map { i -> Float in
                let v = mix.next()
                return i % 11 == 3 ? (step == 1 ? -0.0 : 0) : v
            }
            p.grad = Tensor(shape: [n], scalars: g)
            optimizer.step()
        }
        return (p.value.scalars, optimizer.state(of: "p") ?? [:], rule)
    }

    @Test("every rule, every level, every weight decay: the scalar update's bits", arguments: cases)
    func againstScalar(_ c: Case) throws {
        let kernels = KernelTable(level: c.level)!
        for decay in [WeightDecay.none, .coupled(0.05), .decoupled(0.05)] {
            for n in [1, 15, 16, 17, 37, 100, 40_000] {
                let (theta, state, rule) = try Self.run(c.name, kernels, decay: decay, length: n)
                // The same three steps, element by element.
                var mix = SplitMix(state: UInt64(n) &* 31 &+ UInt64(c.name.rawValue.count))
                var p = mix.values(n)
                var s = [[Float]](repeating: [Float](repeating: 0, count: rule.stateNames.count), count: n)
                for step in 0..<3 {
                    let eta: Float = 0.01
                    for i in 0..<n {
                        let v = mix.next()
                        var g = i % 11 == 3 ? (step == 1 ? -0.0 : 0) : v
                        switch decay {
                        case .coupled(let lambda): g = g + lambda * p[i]
                        case .decoupled(let lambda): let shrink = eta * lambda; p[i] = p[i] - shrink * p[i]
                        case .none: break
                        }
                        Self.referenceStep(c.name, rule.hyperParameters, p: &p[i], g: g, state: &s[i], step: step + 1, eta: eta)
                    }
                }
                #expect(bits(theta) == bits(p), "\(c) \(decay) n=\(n): θ")
                for (k, stateName) in rule.stateNames.enumerated() {
                    #expect(bits(state[stateName] ?? []) == bits(s.map { $0[k] }), "\(c) \(decay) n=\(n): \(stateName)")
                }
            }
        }
    }

    @Test("avx2 and avx512 give the same bits for every rule", arguments: OptimizerName.allCases)
    func avx2MatchesAvx512(_ name: OptimizerName) throws {
        guard let avx2 = KernelTable(level: .avx2), let avx512 = KernelTable(level: .avx512) else { return }
        for decay in [WeightDecay.none, .coupled(0.05), .decoupled(0.05)] {
            let one = try Self.run(name, avx2, decay: decay, length: 1037)
            let other = try Self.run(name, avx512, decay: decay, length: 1037)
            #expect(bits(one.theta) == bits(other.theta), "\(name) \(decay)")
            #expect(one.state.mapValues(bits) == other.state.mapValues(bits), "\(name) \(decay)")
        }
    }
}

@Suite struct GradientClippingLevelTests {
    @Test("the global norm against Double, and clipping by value", arguments: CPULevel.supported)
    func clipping(level: CPULevel) {
        let kernels = KernelTable(level: level)!
        var mix = SplitMix(state: 4)
        let variables = [1, 16, 17, 100, 1037].map { n -> Variable in
            let v = Variable(Tensor(shape: [n], repeating: 0), requiresGrad: true)
            v.grad = Tensor(shape: [n], scalars: mix.values(n, scale: 3))
            return v
        }
        let all = variables.flatMap { $0.grad!.scalars }
        let exact = all.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let norm = GradientClipping.globalNorm(variables, kernels: kernels)
        #expect(abs(Double(norm) - exact) <= 1e-6 * exact)
        let clamped = GradientClipping.clipByValue(variables, limit: 2, kernels: kernels)
        #expect(clamped == all.filter { $0 > 2 || $0 < -2 }.count)
        #expect(variables.flatMap { $0.grad!.scalars } == all.map { Swift.min(Swift.max($0, -2), 2) })
        let before = GradientClipping.clipByGlobalNorm(variables, maxNorm: 1, kernels: kernels)
        #expect(before > 1)
        #expect(abs(GradientClipping.globalNorm(variables, kernels: kernels) - 1) <= 1e-5)
    }
}
