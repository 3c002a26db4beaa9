import Foundation

/// Examples with real-valued targets, for regression: features [examples, features] and
/// targets [examples, targets], both in memory.
public struct RegressionData: Sendable, Equatable {
    /// [examples, features].
    public var features: Tensor
    /// [examples, targets]: real values, one row per example.
    public var targets: Tensor

    /// Examples from their features and targets, row by row.
    ///
    /// - Precondition: both rank 2 with the same number of rows.
    public init(features: Tensor, targets: Tensor) {
        precondition(features.rank == 2 && targets.rank == 2 && features.shape[0] == targets.shape[0],
                     "RegressionData: features \(features.shape) and targets \(targets.shape) must be [n, ·] each")
        self.features = features
        self.targets = targets
    }
}

extension RegressionData: ExampleSource {
    /// The number of examples.
    public var count: Int { features.shape[0] }
    /// The number of features.
    public var featureCount: Int { features.shape[1] }
    /// None: the examples carry targets, not classes.
    public var classCount: Int { 0 }
    /// 0 for every example: regression examples have no class.
    public func label(_ index: Int) -> Int32 { 0 }
    /// The number of targets per example.
    public var targetCount: Int { targets.shape[1] }

    /// Copies the feature rows `indices`, in order, into `destination`.
    public func gatherFeatures(_ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        gatherRows(of: features, indices, into: destination)
    }

    /// Copies the target rows `indices`, in order, into `destination`.
    public func gatherTargets(_ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        gatherRows(of: targets, indices, into: destination)
    }
}

/// Targets standardized with training-set statistics, t' = (t − μ)/σ per target, so a
/// regression's outputs start at the scale of its initial weights whatever the units of the
/// data; predictions map back with t = μ + σ·t'. Stored in the model file, so `predict` and
/// `eval` answer in the data's own units.
public struct TargetScaling: Sendable, Equatable, Codable {
    /// Each target's mean over the training set, μ.
    public var mean: [Float]
    /// Each target's standard deviation over the training set, σ (> 0).
    public var standardDeviation: [Float]

    /// Statistics from their values.
    ///
    /// - Precondition: as many deviations as means.
    public init(mean: [Float], standardDeviation: [Float]) {
        precondition(mean.count == standardDeviation.count, "TargetScaling: \(mean.count) means, \(standardDeviation.count) deviations")
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// The per-target mean and (population) standard deviation of `source`'s targets, in
    /// float64; a constant target gets σ = 1.
    public static func measuring(_ source: any ExampleSource) -> TargetScaling {
        let t = source.targetCount
        var sum = [Double](repeating: 0, count: t), squares = [Double](repeating: 0, count: t)
        var start = 0
        while start < source.count {
            let end = min(start + 1024, source.count)
            let rows = source.targets(ArraySlice(Array(start..<end)))?.scalars ?? []
            for (i, v) in rows.enumerated() {
                sum[i % t] += Double(v)
                squares[i % t] += Double(v) * Double(v)
            }
            start = end
        }
        let n = Double(max(source.count, 1))
        let mean = sum.map { $0 / n }
        let deviation = zip(squares, mean).map { q, m -> Float in
            let s = (max(q / n - m * m, 0)).squareRoot()
            return s > 0 && s.isFinite ? Float(s) : 1
        }
        return TargetScaling(mean: mean.map { Float($0) }, standardDeviation: deviation)
    }

    /// Whether two target scalings agree to float rounding (or are both absent).
    public static func agree(_ a: TargetScaling?, _ b: TargetScaling?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        func close(_ x: [Float], _ y: [Float]) -> Bool {
            x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= 1e-5 * max(abs($0), abs($1), 1) }
        }
        return close(a.mean, b.mean) && close(a.standardDeviation, b.standardDeviation)
    }

    /// (t − μ)/σ row by row, for [rows, targets].
    public func standardized(_ targets: Tensor) -> Tensor {
        map(targets) { value, k in (value - mean[k]) / standardDeviation[k] }
    }

    /// μ + σ·t', the inverse of ``standardized(_:)``.
    public func restored(_ outputs: Tensor) -> Tensor {
        map(outputs) { value, k in mean[k] + standardDeviation[k] * value }
    }

    private func map(_ table: Tensor, _ transform: (Float, Int) -> Float) -> Tensor {
        precondition(table.rank == 2 && table.shape[1] == mean.count,
                     "TargetScaling: \(table.shape) for \(mean.count) targets")
        let width = mean.count
        return Tensor(shape: table.shape, scalars: table.scalars.enumerated().map { transform($0.element, $0.offset % width) })
    }
}

extension SyntheticData {
    /// The course's picture of regression in one dimension: x uniform in [−π, π], target
    /// sin(x) plus Gaussian noise of standard deviation `noise`.
    public static func sine(count: Int, noise: Float = 0.1, seed: UInt64 = 0) -> RegressionData {
        var generator = RandomGenerator(seed: seed, stream: 0x5111)
        var xs: [Float] = [], ts: [Float] = []
        for _ in 0..<count {
            let x = Float.pi * (2 * generator.nextUniform() - 1)
            xs.append(x)
            ts.append(Foundation.sin(x) + noise * generator.nextNormal())
        }
        return RegressionData(features: Tensor(shape: [count, 1], scalars: xs), targets: Tensor(shape: [count, 1], scalars: ts))
    }
}
