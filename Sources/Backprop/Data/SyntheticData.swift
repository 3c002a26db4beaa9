#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A labelled classification data set held in memory: one example per row of `features`.
public struct LabeledData: Sendable {
    /// [examples, features].
    public var features: Tensor
    /// The class of each example, in 0..<classCount.
    public var labels: [Int32]
    /// The number of classes.
    public var classCount: Int

    /// A data set from its parts.
    ///
    /// - Precondition: `features` is rank 2 with one row per label.
    public init(features: Tensor, labels: [Int32], classCount: Int) {
        precondition(features.rank == 2 && features.shape[0] == labels.count,
                     "LabeledData: \(labels.count) labels for features of shape \(features.shape)")
        self.features = features
        self.labels = labels
        self.classCount = classCount
    }

    /// The number of examples.
    public var count: Int { labels.count }
}

/// Small synthetic data sets for teaching and tests: two-dimensional classification problems
/// whose decision boundaries can be drawn, and a one-dimensional regression. Each is a pure
/// function of its seed.
public enum SyntheticData {
    /// Two interleaving half circles (scikit-learn's `make_moons` geometry): class 0 on the upper
    /// arc centred at (0, 0), class 1 on the lower arc centred at (1, 0.5), with Gaussian noise.
    public static func twoMoons(count: Int, noise: Float = 0.1, seed: UInt64 = 0) -> LabeledData {
        var g = RandomGenerator(seed: seed, stream: 1)
        var xs: [Float] = [], ys: [Int32] = []
        for i in 0..<count {
            let label = Int32(i % 2)
            let t = Float.pi * g.nextUniform()
            var x: Float, y: Float
            if label == 0 { x = cos(t); y = sin(t) } else { x = 1 - cos(t); y = 0.5 - sin(t) }
            let (n1, n2) = g.nextNormalPair()
            x += noise * n1
            y += noise * n2
            xs += [x, y]
            ys.append(label)
        }
        return LabeledData(features: Tensor(shape: [count, 2], scalars: xs), labels: ys, classCount: 2)
    }

    /// Two concentric circles: class 0 the outer (radius 1), class 1 the inner (radius `factor`).
    public static func circles(count: Int, noise: Float = 0.05, factor: Float = 0.5, seed: UInt64 = 0) -> LabeledData {
        var g = RandomGenerator(seed: seed, stream: 2)
        var xs: [Float] = [], ys: [Int32] = []
        for i in 0..<count {
            let label = Int32(i % 2)
            let r: Float = label == 0 ? 1 : factor
            let t = 2 * Float.pi * g.nextUniform()
            let (n1, n2) = g.nextNormalPair()
            xs += [r * cos(t) + noise * n1, r * sin(t) + noise * n2]
            ys.append(label)
        }
        return LabeledData(features: Tensor(shape: [count, 2], scalars: xs), labels: ys, classCount: 2)
    }

    /// `classes` interleaved spiral arms, each turning once and a half around the origin.
    public static func spirals(count: Int, classes: Int = 2, noise: Float = 0.05, seed: UInt64 = 0) -> LabeledData {
        precondition(classes >= 2, "spirals: need at least two classes")
        var g = RandomGenerator(seed: seed, stream: 3)
        var xs: [Float] = [], ys: [Int32] = []
        for i in 0..<count {
            let label = i % classes
            let r = g.nextUniform()
            let t = 3 * Float.pi * r + 2 * Float.pi * Float(label) / Float(classes)
            let (n1, n2) = g.nextNormalPair()
            xs += [r * cos(t) + noise * n1, r * sin(t) + noise * n2]
            ys.append(Int32(label))
        }
        return LabeledData(features: Tensor(shape: [count, 2], scalars: xs), labels: ys, classCount: classes)
    }

    /// The XOR problem: the four corners of the square {0, 1}², class = x₁ XOR x₂, repeated
    /// `repeats` times with optional noise.
    public static func xor(repeats: Int = 1, noise: Float = 0, seed: UInt64 = 0) -> LabeledData {
        var g = RandomGenerator(seed: seed, stream: 4)
        var xs: [Float] = [], ys: [Int32] = []
        for _ in 0..<repeats {
            for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let (n1, n2) = noise > 0 ? g.nextNormalPair() : (0, 0)
                xs += [Float(a) + noise * n1, Float(b) + noise * n2]
                ys.append(Int32(a ^ b))
            }
        }
        return LabeledData(features: Tensor(shape: [ys.count, 2], scalars: xs), labels: ys, classCount: 2)
    }

    /// Isotropic Gaussian blobs: `classes` centres evenly spaced on a circle of radius 2, each
    /// with standard deviation `spread`.
    public static func blobs(count: Int, classes: Int = 3, spread: Float = 0.5, seed: UInt64 = 0) -> LabeledData {
        var g = RandomGenerator(seed: seed, stream: 5)
        var xs: [Float] = [], ys: [Int32] = []
        for i in 0..<count {
            let label = i % classes
            let angle = 2 * Float.pi * Float(label) / Float(classes)
            let (n1, n2) = g.nextNormalPair()
            xs += [2 * cos(angle) + spread * n1, 2 * sin(angle) + spread * n2]
            ys.append(Int32(label))
        }
        return LabeledData(features: Tensor(shape: [count, 2], scalars: xs), labels: ys, classCount: classes)
    }

    /// A one-dimensional regression set: x uniform in `range`, y = sin(x) + noise, as column
    /// tensors [count, 1].
    public static func sine(count: Int, range: ClosedRange<Float> = -Float.pi...Float.pi,
                            noise: Float = 0, seed: UInt64 = 0) -> (x: Tensor, y: Tensor) {
        var g = RandomGenerator(seed: seed, stream: 6)
        var xs: [Float] = [], ys: [Float] = []
        for _ in 0..<count {
            let x = g.nextUniform(in: range)
            xs.append(x)
            ys.append(sin(x) + noise * g.nextNormal())
        }
        return (Tensor(shape: [count, 1], scalars: xs), Tensor(shape: [count, 1], scalars: ys))
    }
}
