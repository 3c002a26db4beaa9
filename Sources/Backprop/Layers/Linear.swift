/// A fully connected layer: y = x·Wᵀ + b, with W of shape [outputs, inputs] (PyTorch's layout,
/// so the weight is the slides' W¹ acting on a column vector, and a batch multiplies by Wᵀ).
///
/// Default initialization: Glorot uniform weights (use ``Initializer/recommended(for:)`` for
/// the activation that follows) and zero biases.
public final class Linear: Module {
    /// [outputs, inputs].
    public let weight: Variable
    /// [outputs], or nil without bias.
    public let bias: Variable?
    /// Unused: a linear layer behaves the same in training and evaluation.
    public var isTraining = true

    /// The number of input features, the weight's second dimension.
    public var inputSize: Int { weight.shape[1] }
    /// The number of outputs, the weight's first dimension.
    public var outputSize: Int { weight.shape[0] }

    /// A layer of `inputs` → `outputs` with freshly initialized weights.
    ///
    /// - Parameters:
    ///   - inputs: features in; positive.
    ///   - outputs: features out; positive.
    ///   - bias: whether the layer has a bias (initialized to 0).
    ///   - initializer: how the weight is drawn (Glorot uniform by default).
    ///   - generator: the random source; advanced by the draw.
    public init(_ inputs: Int, _ outputs: Int, bias: Bool = true,
                initializer: Initializer = .glorotUniform, generator: inout RandomGenerator) {
        precondition(inputs > 0 && outputs > 0, "Linear: sizes must be positive, got \(inputs)→\(outputs)")
        weight = Variable(initializer.make([outputs, inputs], using: &generator), requiresGrad: true, decays: true)
        self.bias = bias ? Variable(.zeros([outputs]), requiresGrad: true) : nil
    }

    /// A layer with the given parameters (for loading and tests).
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "Linear: weight must be a matrix, got \(weight.shape)")
        if let bias {
            precondition(bias.shape == [weight.shape[0]], "Linear: bias shape \(bias.shape) does not match weight \(weight.shape)")
        }
        self.weight = Variable(weight, requiresGrad: true, decays: true)
        self.bias = bias.map { Variable($0, requiresGrad: true) }
    }

    /// x·Wᵀ + b for a [batch, inputs] input: [batch, outputs].
    public func callAsFunction(_ input: Variable) -> Variable {
        linear(input, weight: weight, bias: bias, activation: .identity)
    }

    /// The layer followed by an activation, fused into one operation.
    public func callAsFunction(_ input: Variable, activation: Activation) -> Variable {
        linear(input, weight: weight, bias: bias, activation: activation)
    }

    /// `weight`, then `bias` if the layer has one.
    public func namedParameters() -> [(name: String, parameter: Variable)] {
        var list = [(name: "weight", parameter: weight)]
        if let bias { list.append((name: "bias", parameter: bias)) }
        return list
    }

    /// E.g. `Linear(784 → 100)` or `Linear(784 → 100, no bias)`.
    public var summary: String { "Linear(\(inputSize) → \(outputSize)\(bias == nil ? ", no bias" : ""))" }
}
