/// Everything an ``Optimizer`` needs to continue exactly where it stopped: the step count, the
/// learning rate, and each parameter's step count and state buffers, by parameter name.
///
/// Floats are stored as their values (`[Float]`), so an in-memory copy restores bit for bit;
/// `JSONEncoder` also round-trips them exactly (Swift prints the shortest decimal that reads
/// back as the same `Float`), as long as they are finite.
public struct OptimizerState: Codable, Sendable, Equatable {
    /// One parameter's saved state.
    public struct Parameter: Codable, Sendable, Equatable {
        /// The parameter's shape when saved, checked on load.
        public var shape: [Int]
        /// How many updates this parameter has had (its t for bias correction).
        public var step: Int
        /// The rule's buffers by ``OptimizerRule/stateNames``.
        public var buffers: [String: [Float]]
    }

    /// The rule's name.
    public var algorithm: String
    /// The rule's hyper-parameters when saved (informational; the loading optimizer keeps its
    /// own).
    public var hyperParameters: [String: Float]
    /// Calls to ``Optimizer/step()`` so far.
    public var stepCount: Int
    /// The optimizer's learning rate when saved.
    public var learningRate: Float
    /// Per-parameter state, by parameter name.
    public var parameters: [String: Parameter]
}
