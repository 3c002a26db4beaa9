/// Dropout (Srivastava et al. 2014), one way of training with noise: in training each input is
/// zeroed with probability `p` and the survivors scaled by 1/(1−p) (inverted dropout); in
/// evaluation the layer is the identity.
///
/// The layer owns its random generator, seeded at construction, so a run is reproducible and
/// its state can be checkpointed.
public final class Dropout: Module {
    /// The probability of dropping each input.
    public let probability: Float
    /// The generator that draws the masks.
    public var generator: RandomGenerator
    /// Dropout acts only in training mode; in evaluation mode the layer is the identity.
    public var isTraining = true

    /// A dropout layer.
    ///
    /// - Parameters:
    ///   - probability: p, in [0, 1); 0 makes the layer the identity.
    ///   - seed: the seed of the layer's mask generator.
    public init(_ probability: Float, seed: UInt64 = 0) {
        precondition(probability >= 0 && probability < 1, "Dropout: probability \(probability) must be in [0, 1)")
        self.probability = probability
        self.generator = RandomGenerator(seed: seed, stream: 0xD50)
    }

    /// In training mode, `input` with each element zeroed with probability p and the others
    /// multiplied by 1/(1 − p), so the expected value is unchanged; in evaluation mode (or with
    /// p = 0), `input` itself.
    public func callAsFunction(_ input: Variable) -> Variable {
        guard isTraining, probability > 0 else { return input }
        let mask = Tensor.dropoutMask(input.shape, dropProbability: probability, using: &generator)
        return input.masked(by: mask)
    }

    /// E.g. `Dropout(p: 0.5)`.
    public var summary: String { "Dropout(p: \(probability))" }
}
