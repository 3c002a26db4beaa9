/// Training with input noise (Bishop 1995; the course's "training with noise"): in training,
/// adds N(0, σ²) noise to every input of the layer; in evaluation, the identity. Placed first in
/// a network it perturbs the data; small σ acts like a Tikhonov regularizer.
public final class GaussianNoise: Module {
    /// σ, the noise's standard deviation.
    public let standardDeviation: Float
    /// The generator that draws the noise.
    public var generator: RandomGenerator
    /// Noise is added only in training mode; in evaluation mode the layer is the identity.
    public var isTraining = true

    /// A noise layer.
    ///
    /// - Parameters:
    ///   - standardDeviation: σ ≥ 0; 0 makes the layer the identity.
    ///   - seed: the seed of the layer's noise generator.
    public init(standardDeviation: Float, seed: UInt64 = 0) {
        precondition(standardDeviation >= 0, "GaussianNoise: σ \(standardDeviation) must be ≥ 0")
        self.standardDeviation = standardDeviation
        self.generator = RandomGenerator(seed: seed, stream: 0x6A55)
    }

    /// In training mode, `input` plus fresh N(0, σ²) noise in every element (the gradient passes
    /// through unchanged); in evaluation mode, `input` itself.
    public func callAsFunction(_ input: Variable) -> Variable {
        guard isTraining, standardDeviation > 0 else { return input }
        let noise = Tensor.normal(input.shape, standardDeviation: standardDeviation, using: &generator)
        return input.adding(constant: noise)
    }

    /// E.g. `GaussianNoise(σ: 0.1)`.
    public var summary: String { "GaussianNoise(σ: \(standardDeviation))" }
}
