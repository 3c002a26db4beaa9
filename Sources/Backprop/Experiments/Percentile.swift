/// The `p`-th percentile (0…100) of `values`, interpolating linearly between the two nearest
/// order statistics — NumPy's default (`method="linear"`): rank h = (n − 1)·p/100, value
/// x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]) of the sorted values. NaN for an empty array.
public func percentile(_ values: [Float], _ p: Double) -> Float {
    percentiles(values, [p])[0]
}

/// Several percentiles of `values`, sorting once.
public func percentiles(_ values: [Float], _ ps: [Double]) -> [Float] {
    guard !values.isEmpty else { return ps.map { _ in .nan } }
    let sorted = values.sorted()
    return ps.map { p in
        precondition(p >= 0 && p <= 100, "percentile: p = \(p) is outside 0…100")
        let h = Double(sorted.count - 1) * p / 100
        let lower = Int(h.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = Float(h - Double(lower))
        return sorted[lower] + fraction * (sorted[upper] - sorted[lower])
    }
}
