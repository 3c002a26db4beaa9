/// A hidden non-linearity as a module: sigmoid, tanh, ReLU and the usual modern ones.
public final class ActivationLayer: Module {
    public let function: Activation
    public var isTraining = true

    public init(_ function: Activation) {
        self.function = function
    }

    public func callAsFunction(_ input: Variable) -> Variable {
        input.activated(by: function)
    }

    public var summary: String { "\(function.rawValue)" }
}
