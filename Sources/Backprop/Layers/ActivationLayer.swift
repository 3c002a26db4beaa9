/// A hidden non-linearity as a module: sigmoid, tanh, ReLU and the usual modern ones.
public final class ActivationLayer: Module {
    /// The function applied to every element.
    public let function: Activation
    /// Unused: an activation behaves the same in training and evaluation.
    public var isTraining = true

    /// A layer applying `function` elementwise.
    public init(_ function: Activation) {
        self.function = function
    }

    /// `function` applied to every element of `input`; inside a ``Sequential``, a ``Linear`` layer
    /// followed by this one runs as one fused operation.
    public func callAsFunction(_ input: Variable) -> Variable {
        input.activated(by: function)
    }

    /// The function's name, e.g. `relu`.
    public var summary: String { "\(function.rawValue)" }
}
