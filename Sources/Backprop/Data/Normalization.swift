/// How features are normalized after they are gathered into a batch.
public enum Normalization: Sendable, Equatable, Codable {
    /// As the source gives them (image bytes already arrive scaled to [0, 1]).
    case none
    /// (x − μ)/σ per feature, with μ and σ measured on the training set only (never on
    /// validation or test data, which would leak their statistics into training).
    case standardize(mean: [Float], standardDeviation: [Float])

    /// Per-feature mean and standard deviation of a source (features with σ = 0 get σ = 1, so
    /// constant pixels such as MNIST's borders map to 0 rather than NaN).
    public static func standardizing(_ source: some ExampleSource, batchSize: Int = 1024) -> Normalization {
        let f = source.featureCount
        var sum = [Double](repeating: 0, count: f), sumSquares = [Double](repeating: 0, count: f)
        var buffer = [Float](repeating: 0, count: batchSize * f)
        var start = 0
        while start < source.count {
            let end = min(start + batchSize, source.count)
            let indices = ArraySlice(Array(start..<end))
            buffer.withUnsafeMutableBufferPointer { source.gatherFeatures(indices, into: $0) }
            for r in 0..<(end - start) {
                for k in 0..<f {
                    let v = Double(buffer[r * f + k])
                    sum[k] += v
                    sumSquares[k] += v * v
                }
            }
            start = end
        }
        let n = Double(max(source.count, 1))
        let mean = sum.map { Float($0 / n) }
        let std = zip(sum, sumSquares).map { s, q -> Float in
            let variance = max(q / n - (s / n) * (s / n), 0)
            return variance > 1e-12 ? Float(variance.squareRoot()) : 1
        }
        return .standardize(mean: mean, standardDeviation: std)
    }

    /// Applies the normalization to a [batch, features] tensor in place.
    public func apply(to features: inout Tensor) {
        guard case let .standardize(mean, std) = self else { return }
        precondition(features.rank == 2 && features.shape[1] == mean.count,
                     "Normalization: features \(features.shape) do not match \(mean.count) statistics")
        let scale = Tensor(std.map { 1 / $0 })
        features = (features - Tensor(mean)) * scale
    }
}
