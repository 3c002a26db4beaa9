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
    public var isTraining = true

    public init(_ probability: Float, seed: UInt64 = 0) {
        precondition(probability >= 0 && probability < 1, "Dropout: probability \(probability) must be in [0, 1)")
        self.probability = probability
        self.generator = RandomGenerator(seed: seed, stream: 0xD50)
    }

    public func callAsFunction(_ input: Variable) -> Variable {
        guard isTraining, probability > 0 else { return input }
        let mask = Tensor.dropoutMask(input.shape, dropProbability: probability, using: &generator)
        return input.masked(by: mask)
    }

    public var summary: String { "Dropout(p: \(probability))" }
}
