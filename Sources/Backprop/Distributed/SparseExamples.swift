#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Examples with few non-zero features each (compressed rows), labels ±1: the kind of problem
/// Hogwild! is for (text classification, click prediction), where two examples rarely share a
/// feature and so rarely write the same weight.
public struct SparseExamples: Sendable {
    /// Example i's non-zeros are positions rowStarts[i] ..< rowStarts[i + 1] of `indices`/`values`.
    public var rowStarts: [Int]
    /// The feature index of every non-zero, example by example.
    public var indices: [Int32]
    /// The value of every non-zero, in the order of ``indices``.
    public var values: [Float]
    /// +1 or −1.
    public var labels: [Float]
    /// The number of features (every index lies in 0..<featureCount).
    public var featureCount: Int

    /// The number of examples.
    public var count: Int { labels.count }

    /// Examples from their compressed rows, taken as given (not validated): `rowStarts` should
    /// have `labels.count + 1` non-decreasing entries from 0 to `indices.count`, `values` as many
    /// entries as `indices`, and every index should lie in 0..<featureCount.
    public init(rowStarts: [Int], indices: [Int32], values: [Float], labels: [Float], featureCount: Int) {
        self.rowStarts = rowStarts
        self.indices = indices
        self.values = values
        self.labels = labels
        self.featureCount = featureCount
    }

    /// A separable-with-noise problem: each example has `nonZeros` distinct features drawn
    /// uniformly with N(0, 1) values; the label is the sign of a hidden N(0, 1) weight vector's
    /// score, flipped with probability `flip`.
    public static func synthetic(count: Int, features: Int, nonZeros: Int, flip: Float = 0.02, seed: UInt64) -> SparseExamples {
        precondition(count >= 0 && features >= 1 && nonZeros >= 1 && nonZeros <= features,
                     "SparseExamples.synthetic: need count ≥ 0 and 1 ≤ nonZeros ≤ features")
        var generator = RandomGenerator(seed: seed)
        let truth = (0..<features).map { _ in generator.nextNormal() }
        var rowStarts = [0], indices: [Int32] = [], values: [Float] = [], labels: [Float] = []
        rowStarts.reserveCapacity(count + 1)
        indices.reserveCapacity(count * nonZeros)
        values.reserveCapacity(count * nonZeros)
        for _ in 0..<count {
            var chosen = Set<Int>()
            while chosen.count < nonZeros { chosen.insert(generator.nextInt(below: features)) }
            var score: Float = 0
            for j in chosen.sorted() {
                let x = generator.nextNormal()
                indices.append(Int32(j))
                values.append(x)
                score += truth[j] * x
            }
            var label: Float = score >= 0 ? 1 : -1
            if generator.nextUniform() < flip { label = -label }
            labels.append(label)
            rowStarts.append(indices.count)
        }
        return SparseExamples(rowStarts: rowStarts, indices: indices, values: values, labels: labels, featureCount: features)
    }

    /// Mean logistic loss log(1 + exp(−y·w·x)) and accuracy of weights `w`.
    public func evaluate(_ w: [Float]) -> (loss: Float, accuracy: Float) {
        var loss = 0.0, correct = 0
        for i in 0..<count {
            var score: Float = 0
            for k in rowStarts[i]..<rowStarts[i + 1] { score += w[Int(indices[k])] * values[k] }
            let margin = Double(labels[i] * score)
            loss += margin > 0 ? log1p(exp(-margin)) : -margin + log1p(exp(margin))
            if margin > 0 { correct += 1 }
        }
        return (Float(loss / Double(max(count, 1))), Float(correct) / Float(max(count, 1)))
    }
}
