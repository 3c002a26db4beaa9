/// Modules applied one after another; children are named by their index, as in PyTorch.
///
/// When a ``Linear`` layer is directly followed by an ``ActivationLayer``, the two run as one
/// fused operation (bias and activation in the same pass over memory), while keeping their
/// separate names and indices so checkpoints still match PyTorch's `nn.Sequential`.
public final class Sequential: Module {
    /// The child modules, in order.
    public private(set) var layers: [any Module]

    /// The modules in order; child k's parameters are named `k.<name>`.
    public init(_ layers: [any Module]) {
        self.layers = layers
    }

    /// The modules in order, as a variadic list.
    public convenience init(_ layers: any Module...) {
        self.init(layers)
    }

    /// Setting it sets every child's mode.
    public var isTraining: Bool = true {
        didSet { for layer in layers { layer.isTraining = isTraining } }
    }

    /// The children applied in order, a ``Linear`` followed by an ``ActivationLayer`` fused into
    /// one operation.
    public func callAsFunction(_ input: Variable) -> Variable {
        var x = input
        var i = 0
        while i < layers.count {
            if let linear = layers[i] as? Linear, i + 1 < layers.count,
               let activation = layers[i + 1] as? ActivationLayer {
                x = linear(x, activation: activation.function)
                i += 2
            } else {
                x = layers[i](x)
                i += 1
            }
        }
        return x
    }

    /// Every child's parameters, prefixed by the child's index: `0.weight`, `0.bias`, `2.weight`, ….
    public func namedParameters() -> [(name: String, parameter: Variable)] {
        layers.enumerated().flatMap { index, layer in
            layer.namedParameters().map { ("\(index).\($0.name)", $0.parameter) }
        }
    }

    /// Every child's buffers, prefixed by the child's index (e.g. `1.running_mean`).
    public func namedBuffers() -> [(name: String, buffer: Variable)] {
        layers.enumerated().flatMap { index, layer in
            layer.namedBuffers().map { ("\(index).\($0.name)", $0.buffer) }
        }
    }

    /// One line per child, `(k) summary`.
    public var summary: String {
        layers.enumerated().map { "(\($0.offset)) \($0.element.summary)" }.joined(separator: "\n")
    }
}
