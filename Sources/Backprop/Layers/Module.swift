/// A building block of a network: a differentiable function with named parameters and a
/// training/evaluation mode.
///
/// Names follow PyTorch's `state_dict` (`weight`, `bias`, `running_mean`; children of a
/// ``Sequential`` prefixed `0.`, `1.`, …) so checkpoints line up with the equivalent
/// `nn.Sequential`.
public protocol Module: AnyObject {
    /// Applies the module to a batch (rows are examples).
    func callAsFunction(_ input: Variable) -> Variable

    /// Trainable parameters, named, in a stable order.
    func namedParameters() -> [(name: String, parameter: Variable)]

    /// State that is saved but not trained (BatchNorm's running statistics), named.
    func namedBuffers() -> [(name: String, buffer: Variable)]

    /// Whether the module is in training mode (dropout active, batch statistics) or evaluation
    /// mode (identity dropout, running statistics).
    var isTraining: Bool { get set }

    /// A one-line description of the layer, for `info` and summaries.
    var summary: String { get }
}

extension Module {
    /// None: the default for modules without parameters (activations, dropout, noise).
    public func namedParameters() -> [(name: String, parameter: Variable)] { [] }
    /// None: the default for modules without buffers.
    public func namedBuffers() -> [(name: String, buffer: Variable)] { [] }

    /// The trainable parameters, in the order of ``namedParameters()``.
    public var parameters: [Variable] { namedParameters().map(\.parameter) }

    /// The number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Applies the module to a plain tensor, without recording gradients (inference).
    public func callAsFunction(_ input: Tensor) -> Tensor {
        withoutGradient { self(Variable(input)).value }
    }

    /// Switches to training mode.
    public func train() { isTraining = true }
    /// Switches to evaluation mode.
    public func eval() { isTraining = false }
}
