/// How per-example losses combine into the scalar that is differentiated.
public enum Reduction: String, Sendable, Codable, CaseIterable {
    /// The average over examples (over elements, for mean squared error): independent of the
    /// batch size, so learning rates transfer between batch sizes.
    case mean
    /// The plain sum, the course's E = −Σₙ Σₖ tₙₖ log vₙₖ convention.
    case sum
}
