/// Principal component analysis of the rows of a [examples, features] matrix: the directions
/// of largest variance, the leading eigenvectors of the sample covariance matrix. The
/// covariance comes from one matrix product; its leading eigenvectors from subspace iteration
/// on a block of a few more vectors than asked for, finished by a Rayleigh–Ritz step (Jacobi
/// rotations on the small projected matrix) — fast for 784 pixels, exact when the block spans
/// the whole space.
public struct PrincipalComponents: Sendable {
    /// The mean of each feature, subtracted before projecting.
    public let mean: [Double]
    /// The components, unit vectors of `mean.count` entries, by decreasing variance.
    public let components: [[Double]]
    /// The variance along each component (the covariance's eigenvalues, divisor n − 1).
    public let variances: [Double]
    /// The total variance (the covariance's trace).
    public let totalVariance: Double

    /// The leading `count` components of `data`'s rows.
    public init(_ data: Tensor, count: Int = 2, seed: UInt64 = 1) {
        precondition(data.rank == 2 && data.shape[0] >= 2, "PrincipalComponents: need a matrix of at least two rows, got \(data.shape)")
        let n = data.shape[0], d = data.shape[1]
        let k = min(count, d)
        let meanTensor = data.mean(alongAxis: 0)
        let centred = data - meanTensor
        let product = Tensor.matmul(centred, centred, transposeA: true).scalars
        let covariance = product.map { Double($0) / Double(n - 1) }
        let b = min(d, k + 8)
        var generator = RandomGenerator(seed: seed, stream: 0x9CA)
        var q = (0..<b).map { _ in (0..<d).map { _ in Double(generator.nextUniform() - 0.5) } }
        orthonormalize(&q, using: &generator)
        var ritz = [Double](repeating: 0, count: b)
        for iteration in 1...500 {
            q = q.map { multiply(covariance, $0, size: d) }
            orthonormalize(&q, using: &generator)
            if iteration % 10 == 0 {
                let values = projectedEigen(covariance, q, size: d).values.sorted(by: >)
                let converged = zip(values, ritz).prefix(k).allSatisfy { abs($0 - $1) <= 1e-9 * max(abs($0), 1e-30) }
                ritz = values
                if converged { break }
            }
        }
        let (values, vectors) = projectedEigen(covariance, q, size: d)
        let order = values.indices.sorted { values[$0] > values[$1] }.prefix(k)
        self.mean = meanTensor.scalars.map(Double.init)
        self.variances = order.map { max(values[$0], 0) }
        self.components = order.map { vectors[$0] }
        self.totalVariance = (0..<d).reduce(0) { $0 + covariance[$1 * d + $1] }
    }

    /// The fraction of the total variance along each component.
    public var explainedVarianceRatio: [Double] {
        variances.map { totalVariance > 0 ? $0 / totalVariance : 0 }
    }

    /// The coordinates of each row of `data` along the components.
    public func project(_ data: Tensor) -> [[Double]] {
        let d = mean.count
        precondition(data.rank == 2 && data.shape[1] == d, "PrincipalComponents: rows of \(d) features expected, got \(data.shape)")
        let x = data.scalars
        return (0..<data.shape[0]).map { r in
            components.map { v in
                var s = 0.0
                for c in 0..<d { s += (Double(x[r * d + c]) - mean[c]) * v[c] }
                return s
            }
        }
    }
}

/// The matrix-vector product of a row-major `size`×`size` matrix and `x`.
private func multiply(_ m: [Double], _ x: [Double], size d: Int) -> [Double] {
    (0..<d).map { i in
        var s = 0.0
        for j in 0..<d { s += m[i * d + j] * x[j] }
        return s
    }
}

/// Modified Gram–Schmidt on the vectors in place; a vector that (numerically) lies in the span
/// of the earlier ones — the data has lower rank than the block — is replaced by a random one.
private func orthonormalize(_ vectors: inout [[Double]], using generator: inout RandomGenerator) {
    for i in vectors.indices {
        for attempt in 0..<4 {
            let original = vectors[i].reduce(0) { $0 + $1 * $1 }.squareRoot()
            for j in 0..<i {
                let dot = zip(vectors[i], vectors[j]).reduce(0) { $0 + $1.0 * $1.1 }
                for t in vectors[i].indices { vectors[i][t] -= dot * vectors[j][t] }
            }
            let norm = vectors[i].reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 1e-10 * max(original, 1e-300) && norm > 0 {
                vectors[i] = vectors[i].map { $0 / norm }
                break
            }
            if attempt == 3 { vectors[i] = vectors[i].map { _ in 0 } }
            else { vectors[i] = vectors[i].map { _ in Double(generator.nextUniform() - 0.5) } }
        }
    }
}

/// Rayleigh–Ritz: the eigenpairs of the covariance restricted to the span of orthonormal `q`
/// (eigenvectors returned in the full space).
private func projectedEigen(_ covariance: [Double], _ q: [[Double]], size d: Int) -> (values: [Double], vectors: [[Double]]) {
    let b = q.count
    let cq = q.map { multiply(covariance, $0, size: d) }
    var h = [Double](repeating: 0, count: b * b)
    for i in 0..<b { for j in 0..<b { h[i * b + j] = zip(q[i], cq[j]).reduce(0) { $0 + $1.0 * $1.1 } } }
    for i in 0..<b { for j in (i + 1)..<max(i + 1, b) { let m = (h[i * b + j] + h[j * b + i]) / 2; h[i * b + j] = m; h[j * b + i] = m } }
    let (values, small) = symmetricEigen(h, size: b)
    let vectors = (0..<b).map { e in
        (0..<d).map { t in (0..<b).reduce(0.0) { $0 + small[$1 * b + e] * q[$1][t] } }
    }
    return (values, vectors)
}

/// Eigenvalues and eigenvectors (columns of the returned row-major matrix) of a symmetric
/// `size`×`size` matrix by cyclic Jacobi rotations.
func symmetricEigen(_ matrix: [Double], size d: Int) -> (values: [Double], vectors: [Double]) {
    var a = matrix
    var v = [Double](repeating: 0, count: d * d)
    for i in 0..<d { v[i * d + i] = 1 }
    let scale = a.reduce(0) { $0 + $1 * $1 }
    for _ in 0..<60 {
        var offDiagonal = 0.0
        for i in 0..<d { for j in (i + 1)..<max(i + 1, d) { offDiagonal += a[i * d + j] * a[i * d + j] } }
        if offDiagonal <= 1e-24 * max(scale, 1e-300) { break }
        for p in 0..<d {
            for q in (p + 1)..<max(p + 1, d) {
                let apq = a[p * d + q]
                if abs(apq) < 1e-300 { continue }
                // The rotation that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.4.1).
                let theta = (a[q * d + q] - a[p * d + p]) / (2 * apq)
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<d {
                    let akp = a[k * d + p], akq = a[k * d + q]
                    a[k * d + p] = c * akp - s * akq
                    a[k * d + q] = s * akp + c * akq
                }
                for k in 0..<d {
                    let apk = a[p * d + k], aqk = a[q * d + k]
                    a[p * d + k] = c * apk - s * aqk
                    a[q * d + k] = s * apk + c * aqk
                }
                for k in 0..<d {
                    let vkp = v[k * d + p], vkq = v[k * d + q]
                    v[k * d + p] = c * vkp - s * vkq
                    v[k * d + q] = s * vkp + c * vkq
                }
            }
        }
    }
    return ((0..<d).map { a[$0 * d + $0] }, v)
}
