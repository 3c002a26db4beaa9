import Backprop
import Foundation
import Testing

@Suite("Softmax and cross-entropy kernels")
struct SoftmaxKernelTests {
    static func randomMatrix(_ rows: Int, _ cols: Int, seed: UInt64, range: Double = 5) -> [Float] {
        var rng = KernelTestRNG(seed: seed)
        return (0..<(rows * cols)).map { _ in rng.uniform(-range, range) }
    }

    static func softmaxReference(_ row: ArraySlice<Float>) -> [Double] {
        let m = Double(row.max()!)
        let e = row.map { Foundation.exp(Double($0) - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    static func logSumExp(_ row: [Double]) -> Double {
        let m = row.max()!
        return m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
    }

    static func run(
        _ x: [Float], rows: Int, cols: Int,
        _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void
    ) -> [Float] {
        applyKernel(x) { xp, yp, _ in kernel(xp, yp, rows, cols) }
    }

    static func softmax(_ x: [Float], _ rows: Int, _ cols: Int, _ level: CPULevel) -> [Float] {
        let kernels = kernelTable(level)
        return run(x, rows: rows, cols: cols) { Softmax.forward($0, $1, rows: $2, cols: $3, kernels: kernels) }
    }

    static func logSoftmax(_ x: [Float], _ rows: Int, _ cols: Int, _ level: CPULevel) -> [Float] {
        let kernels = kernelTable(level)
        return run(x, rows: rows, cols: cols) { LogSoftmax.forward($0, $1, rows: $2, cols: $3, kernels: kernels) }
    }

    @Test(arguments: CPULevel.supported, [(1, 1), (2, 15), (3, 16), (4, 17), (5, 100), (2, 1000)])
    func softmaxMatchesReferenceAndSumsToOne(_ level: CPULevel, shape: (Int, Int)) {
        let (rows, cols) = shape
        let x = Self.randomMatrix(rows, cols, seed: UInt64(rows * cols))
        let y = Self.softmax(x, rows, cols, level)
        let ly = Self.logSoftmax(x, rows, cols, level)
        for r in 0..<rows {
            let slice = r * cols..<(r + 1) * cols
            let ref = Self.softmaxReference(x[slice])
            let lse = Self.logSumExp(x[slice].map(Double.init))
            #expect(abs(y[slice].reduce(0.0) { $0 + Double($1) } - 1) < 1e-5)
            for (k, i) in slice.enumerated() {
                #expect(abs(Double(y[i]) - ref[k]) <= 4e-6 * ref[k] + 1e-12)
                #expect(abs(Double(ly[i]) - (Double(x[i]) - lse)) <= 2e-6 * max(1, abs(Double(x[i]) - lse)))
            }
        }
    }

    @Test(arguments: CPULevel.supported)
    func shiftInvarianceAndHugeLogits(_ level: CPULevel) {
        let rows = 3, cols = 37
        let x = Self.randomMatrix(rows, cols, seed: 9)
        let y = Self.softmax(x, rows, cols, level)
        for shift: Float in [1e4, -1e4, 30] {
            let shifted = x.map { $0 + shift }
            let ys = Self.softmax(shifted, rows, cols, level)
            for i in y.indices { #expect(abs(ys[i] - y[i]) <= 1e-3 * y[i] + 1e-7) }  // shifting ±1e4 rounds x by up to 5e-4
        }
        // Logits of ±1e4 give finite probabilities and losses.
        var rng = KernelTestRNG(seed: 10)
        let huge = (0..<(rows * cols)).map { _ in rng.uniform(-1, 1) < 0 ? Float(-1e4) : Float(1e4) * rng.uniform(0.99, 1) }
        #expect(Self.softmax(huge, rows, cols, level).allSatisfy { $0.isFinite })
        #expect(Self.logSoftmax(huge, rows, cols, level).allSatisfy { $0.isFinite })
        let labels: [Int32] = [0, 5, 36]
        var losses = [Float](repeating: .nan, count: rows)
        var gradient = [Float](repeating: .nan, count: rows * cols)
        let total = CrossEntropy.softmax(logits: huge, labels: labels, losses: &losses, gradient: &gradient,
                                         rows: rows, cols: cols, scale: 1, kernels: kernelTable(level))
        #expect(total.isFinite && losses.allSatisfy { $0.isFinite } && gradient.allSatisfy { $0.isFinite })
    }

    @Test(arguments: CPULevel.supported)
    func negativeInfinityEntries(_ level: CPULevel) {
        let x: [Float] = [0, -.infinity, 1, -.infinity, -.infinity, -.infinity]
        let y = Self.softmax(x, 2, 3, level)
        #expect(y[1] == 0 && abs(y[0] + y[2] - 1) < 1e-6)
        #expect(y[3...].allSatisfy { $0.isNaN })  // an all-−∞ row is documented as NaN
        let ly = Self.logSoftmax(x, 2, 3, level)
        #expect(ly[1] == -.infinity && ly[0].isFinite && ly[2].isFinite)
        // +∞ or NaN in a row: NaN in the whole row (documented); other rows unaffected.
        for bad: Float in [.infinity, .nan] {
            let z: [Float] = [0, bad, 1, 0, 1, 2]
            let p = Self.softmax(z, 2, 3, level)
            #expect(p[0..<3].allSatisfy { $0.isNaN } && p[3...].allSatisfy { $0.isFinite })
            #expect(Self.logSoftmax(z, 2, 3, level)[0..<3].allSatisfy { $0.isNaN })
        }
    }

    @Test(arguments: CPULevel.supported, [0, 1, 15, 16, 17, 100])
    func inPlaceAndEmpty(_ level: CPULevel, cols: Int) {
        let rows = 3
        let kernels = kernelTable(level)
        let x = Self.randomMatrix(rows, cols, seed: UInt64(cols) + 40)
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { p in
            Softmax.forward(UnsafePointer(p.baseAddress!), p.baseAddress!, rows: rows, cols: cols, kernels: kernels)
        }
        #expect(inPlace == Self.softmax(x, rows, cols, level))
        inPlace = x
        inPlace.withUnsafeMutableBufferPointer { p in
            LogSoftmax.forward(UnsafePointer(p.baseAddress!), p.baseAddress!, rows: rows, cols: cols, kernels: kernels)
        }
        #expect(inPlace == Self.logSoftmax(x, rows, cols, level))
    }

    @Test(arguments: CPULevel.supported)
    func backwardMatchesFiniteDifferences(_ level: CPULevel) {
        let rows = 2, cols = 19
        let kernels = kernelTable(level)
        let x = Self.randomMatrix(rows, cols, seed: 50, range: 2)
        let dy = Self.randomMatrix(rows, cols, seed: 51, range: 1)
        for log in [false, true] {
            let y = log ? Self.logSoftmax(x, rows, cols, level) : Self.softmax(x, rows, cols, level)
            var dx = [Float](repeating: .nan, count: x.count)
            if log {
                LogSoftmax.backward(y: y, dy: dy, dx: &dx, rows: rows, cols: cols, kernels: kernels)
            } else {
                Softmax.backward(y: y, dy: dy, dx: &dx, rows: rows, cols: cols, kernels: kernels)
            }
            // dx may be dy.
            var inPlace = dy
            inPlace.withUnsafeMutableBufferPointer { g in
                if log {
                    LogSoftmax.backward(y: y, dy: UnsafePointer(g.baseAddress!), dx: g.baseAddress!, rows: rows, cols: cols,
                                        kernels: kernels)
                } else {
                    Softmax.backward(y: y, dy: UnsafePointer(g.baseAddress!), dx: g.baseAddress!, rows: rows, cols: cols,
                                     kernels: kernels)
                }
            }
            #expect(inPlace == dx)
            // L(x) = Σ dy·f(x) in Double.
            func loss(_ xd: [Double], _ r: Int) -> Double {
                let row = Array(xd[r * cols..<(r + 1) * cols])
                let lse = Self.logSumExp(row)
                return (0..<cols).reduce(0.0) { acc, k in
                    let v = log ? row[k] - lse : Foundation.exp(row[k] - lse)
                    return acc + Double(dy[r * cols + k]) * v
                }
            }
            for i in x.indices {
                var xp = x.map(Double.init), xm = xp
                xp[i] += 1e-5
                xm[i] -= 1e-5
                let fd = (loss(xp, i / cols) - loss(xm, i / cols)) / 2e-5
                #expect(abs(Double(dx[i]) - fd) < 2e-6 + 1e-5 * abs(fd))
            }
        }
    }

    /// Reference softmax cross-entropy in Double for one row.
    static func crossEntropyReference(_ row: [Double], targets: [Double]) -> Double {
        let lse = Self.logSumExp(row)
        return zip(row, targets).reduce(0.0) { $0 - ($1.1 == 0 ? 0 : $1.1 * ($1.0 - lse)) }
    }

    @Test(arguments: CPULevel.supported, [(1, 1), (3, 10), (4, 16), (5, 17), (2, 300)])
    func crossEntropyWithLabels(_ level: CPULevel, shape: (Int, Int)) {
        let (rows, cols) = shape
        let kernels = kernelTable(level)
        let x = Self.randomMatrix(rows, cols, seed: UInt64(rows + cols), range: 6)
        var rng = KernelTestRNG(seed: 60)
        let labels = (0..<rows).map { _ in Int(rng.next() % UInt64(cols)) }
        let scale = 1 / Float(rows)
        var losses = [Float](repeating: .nan, count: rows)
        var gradient = [Float](repeating: .nan, count: rows * cols)
        let total = CrossEntropy.softmax(logits: x, labels: labels, losses: &losses, gradient: &gradient,
                                         rows: rows, cols: cols, scale: scale, kernels: kernels)
        var expectedTotal = 0.0
        for r in 0..<rows {
            let row = x[r * cols..<(r + 1) * cols].map(Double.init)
            let onehot = (0..<cols).map { $0 == labels[r] ? 1.0 : 0.0 }
            let ref = Self.crossEntropyReference(row, targets: onehot)
            expectedTotal += ref
            #expect(abs(Double(losses[r]) - ref) <= 2e-6 * max(1, ref))
            let p = Self.softmaxReference(x[r * cols..<(r + 1) * cols])
            for c in 0..<cols {
                // Formula, and finite differences of the Double loss.
                let g = Double(scale) * (p[c] - onehot[c])
                #expect(abs(Double(gradient[r * cols + c]) - g) <= 1e-6 * Double(scale) + 4e-6 * abs(g))
                var xp = row, xm = row
                xp[c] += 1e-6
                xm[c] -= 1e-6
                let fd = Double(scale) * (Self.crossEntropyReference(xp, targets: onehot) - Self.crossEntropyReference(xm, targets: onehot)) / 2e-6
                #expect(abs(Double(gradient[r * cols + c]) - fd) <= 2e-6)
            }
        }
        #expect(abs(Double(total) - expectedTotal * Double(scale)) <= 2e-6 * max(1, expectedTotal))

        // Int32 labels, loss only, no gradient; and gradient in place over a copy of the logits.
        let labels32 = labels.map(Int32.init)
        let total32 = CrossEntropy.softmax(logits: x, labels: labels32, losses: nil, gradient: nil,
                                           rows: rows, cols: cols, scale: scale, kernels: kernels)
        #expect(total32 == total)
        var inPlace = x
        var inPlaceLosses = [Float](repeating: .nan, count: rows)
        let inPlaceTotal = inPlace.withUnsafeMutableBufferPointer { p in
            CrossEntropy.softmax(logits: UnsafePointer(p.baseAddress!), labels: labels32, losses: &inPlaceLosses,
                                 gradient: p.baseAddress!, rows: rows, cols: cols, scale: scale, kernels: kernels)
        }
        #expect(inPlace == gradient)
        #expect(inPlaceLosses == losses && inPlaceTotal == total)
    }

    @Test(arguments: CPULevel.supported)
    func crossEntropyWithSoftTargets(_ level: CPULevel) {
        let rows = 4, cols = 21
        let x = Self.randomMatrix(rows, cols, seed: 70, range: 6)
        var rng = KernelTestRNG(seed: 71)
        var t = (0..<(rows * cols)).map { _ in rng.uniform(0, 1) < 0.3 ? 0 : rng.uniform(0, 1) }
        // Row 3 sums to 2 (unnormalized targets are allowed), with a −∞ logit where t = 0.
        var xs = x
        for r in 0..<3 {
            let s = t[r * cols..<(r + 1) * cols].reduce(0, +)
            for c in 0..<cols { t[r * cols + c] /= s }
        }
        let s3 = t[3 * cols..<4 * cols].reduce(0, +)
        for c in 0..<cols { t[3 * cols + c] *= 2 / s3 }
        t[3 * cols + 4] = 0
        xs[3 * cols + 4] = -.infinity

        var losses = [Float](repeating: .nan, count: rows)
        var gradient = [Float](repeating: .nan, count: rows * cols)
        let total = CrossEntropy.softmax(logits: xs, targets: t, losses: &losses, gradient: &gradient,
                                         rows: rows, cols: cols, scale: 0.5, kernels: kernelTable(level))
        var expected = 0.0
        for r in 0..<rows {
            let row = xs[r * cols..<(r + 1) * cols].map(Double.init)
            let tr = t[r * cols..<(r + 1) * cols].map(Double.init)
            let ref = Self.crossEntropyReference(row, targets: tr)
            expected += ref
            #expect(abs(Double(losses[r]) - ref) <= 4e-6 * max(1, ref))
            let p = Self.softmaxReference(xs[r * cols..<(r + 1) * cols])
            let st = tr.reduce(0, +)
            for c in 0..<cols {
                let g = 0.5 * (p[c] * st - tr[c])
                #expect(abs(Double(gradient[r * cols + c]) - g) <= 1e-6 + 4e-6 * abs(g))
                guard row[c].isFinite else { continue }
                var xp = row, xm = row
                xp[c] += 1e-6
                xm[c] -= 1e-6
                let fd = 0.5 * (Self.crossEntropyReference(xp, targets: tr) - Self.crossEntropyReference(xm, targets: tr)) / 2e-6
                #expect(abs(Double(gradient[r * cols + c]) - fd) <= 2e-6)
            }
        }
        #expect(abs(Double(total) - 0.5 * expected) <= 4e-6 * max(1, expected))
    }

    static func bceReference(_ x: Double, _ t: Double) -> Double {
        max(x, 0) - x * t + Foundation.log1p(Foundation.exp(-abs(x)))
    }

    @Test(arguments: CPULevel.supported, [0, 1, 15, 16, 17, 1000])
    func binaryCrossEntropyOnLogits(_ level: CPULevel, count: Int) {
        var rng = KernelTestRNG(seed: UInt64(count) + 80)
        var x = (0..<count).map { _ in rng.uniform(-30, 30) }
        let specials: [Float] = [1e4, -1e4, 88, -88, 100, -100, 0, 1e-20]
        for (i, v) in specials.enumerated() where i < count { x[i] = v }
        let t = (0..<count).map { i in i % 3 == 0 ? Float(1) : (i % 3 == 1 ? 0 : rng.uniform(0, 1)) }
        var losses = [Float](repeating: .nan, count: count)
        var gradient = [Float](repeating: .nan, count: count)
        let scale: Float = 0.25
        let total = CrossEntropy.sigmoid(logits: x, targets: t, losses: &losses, gradient: &gradient,
                                         count: count, scale: scale, kernels: kernelTable(level))
        var expected = 0.0
        for i in 0..<count {
            let xd = Double(x[i]), td = Double(t[i])
            let ref = Self.bceReference(xd, td)
            expected += ref
            #expect(losses[i].isFinite)
            #expect(abs(Double(losses[i]) - ref) <= 4e-7 * ref + 1e-37, "bce(\(x[i]), \(t[i]))")
            let sig = xd >= 0 ? 1 / (1 + Foundation.exp(-xd)) : Foundation.exp(xd) / (1 + Foundation.exp(xd))
            let g = Double(scale) * (sig - td)
            #expect(abs(Double(gradient[i]) - g) <= 1e-7 + 1e-6 * abs(g))
            if abs(xd) < 20 {
                let fd = Double(scale) * (Self.bceReference(xd + 1e-6, td) - Self.bceReference(xd - 1e-6, td)) / 2e-6
                #expect(abs(Double(gradient[i]) - fd) <= 1e-6)
            }
        }
        #expect(abs(Double(total) - Double(scale) * expected) <= 1e-6 * max(1, Double(scale) * expected))
        // x = ±1e4: loss is |x|·|t − [x > 0]| to rounding.
        if count > 1 {
            #expect(losses[0] == 0)  // x = 1e4, t = 1
            #expect(losses[1] == 0)  // x = −1e4, t = 0
        }
    }

    /// The public entry points run the process's level.
    @Test func publicFormsUseTheCurrentLevel() {
        let rows = 3, cols = 21
        let level = KernelTable.current.level
        let x = Self.randomMatrix(rows, cols, seed: 90)
        #expect(Self.run(x, rows: rows, cols: cols) { Softmax.forward($0, $1, rows: $2, cols: $3) } == Self.softmax(x, rows, cols, level))
        #expect(Self.run(x, rows: rows, cols: cols) { LogSoftmax.forward($0, $1, rows: $2, cols: $3) }
                == Self.logSoftmax(x, rows, cols, level))
        let labels: [Int] = [0, 20, 7]
        var g1 = [Float](repeating: 0, count: rows * cols), g2 = g1
        let t1 = CrossEntropy.softmax(logits: x, labels: labels, losses: nil, gradient: &g1, rows: rows, cols: cols, scale: 1)
        let t2 = CrossEntropy.softmax(logits: x, labels: labels, losses: nil, gradient: &g2, rows: rows, cols: cols, scale: 1,
                                      kernels: kernelTable(level))
        #expect(t1 == t2 && g1 == g2)
    }

    /// AVX2 and AVX-512 give the same bits (same expressions and fused roundings, same fixed
    /// reduction order).
    @Test(.enabled(if: CPULevel.avx2.isSupported && CPULevel.avx512.isSupported))
    func avx2AndAVX512GiveTheSameBits() {
        let rows = 5, cols = 77
        let x = Self.randomMatrix(rows, cols, seed: 91, range: 20)
        let dy = Self.randomMatrix(rows, cols, seed: 92, range: 1)
        let t = Self.randomMatrix(rows, cols, seed: 93, range: 1).map { abs($0) }
        let labels: [Int32] = [0, 76, 3, 40, 16]
        func all(_ level: CPULevel) -> [Float] {
            let k = kernelTable(level)
            var out = Self.softmax(x, rows, cols, level) + Self.logSoftmax(x, rows, cols, level)
            var dx = [Float](repeating: 0, count: rows * cols)
            Softmax.backward(y: Array(out[0..<(rows * cols)]), dy: dy, dx: &dx, rows: rows, cols: cols, kernels: k)
            out += dx
            LogSoftmax.backward(y: Array(out[(rows * cols)..<(2 * rows * cols)]), dy: dy, dx: &dx, rows: rows, cols: cols, kernels: k)
            out += dx
            var losses = [Float](repeating: 0, count: rows * cols)
            out.append(CrossEntropy.softmax(logits: x, labels: labels, losses: &losses, gradient: &dx, rows: rows, cols: cols,
                                            scale: 0.2, kernels: k))
            out += losses + dx
            out.append(CrossEntropy.softmax(logits: x, targets: t, losses: &losses, gradient: &dx, rows: rows, cols: cols,
                                            scale: 0.2, kernels: k))
            out += losses + dx
            out.append(CrossEntropy.sigmoid(logits: x, targets: t, losses: &losses, gradient: &dx, count: rows * cols,
                                            scale: 0.2, kernels: k))
            return out + losses + dx
        }
        #expect(all(.avx2).map(\.bitPattern) == all(.avx512).map(\.bitPattern))
    }
}
