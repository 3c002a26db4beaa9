/// A node of the computation graph: a tensor value and, once ``backward(seed:)`` has run,
/// the gradient of the result with respect to it.
///
/// Backprop differentiates define-by-run, like micrograd and PyTorch: every operation on
/// variables computes its value at once and, when a gradient is wanted, records its inputs and a
/// small closure that turns the gradient of its output into gradients of its inputs.
/// ``backward(seed:)`` walks that record in reverse topological order.
///
/// Parameters are leaf variables that ``requiresGrad``; their ``grad`` accumulates over calls to
/// ``backward(seed:)`` until an optimizer zeroes it. Gradients of intermediate results are freed
/// as soon as they have been propagated, and so is the graph, so the buffers go back to the pool.
public final class Variable {
    /// The value. Optimizers update parameters by writing it.
    public var value: Tensor
    /// The accumulated gradient, or nil before any backward pass reached this variable.
    public var grad: Tensor?
    /// Whether gradients flow to this variable.
    public let requiresGrad: Bool
    /// Whether weight decay applies (true for weight matrices, false for biases and
    /// normalization parameters, as is conventional).
    public var decays: Bool

    /// The inputs of the operation that produced this variable, while the graph is alive.
    var inputs: [Variable]
    /// Propagates `self.grad` to `inputs`; nil for leaves.
    var backwardFunction: ((Variable) -> Void)?

    /// A leaf variable: an input (no gradient) or a parameter (`requiresGrad: true`).
    public init(_ value: Tensor, requiresGrad: Bool = false, decays: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.decays = decays
        self.inputs = []
        self.backwardFunction = nil
    }

    /// The result of a differentiable operation.
    ///
    /// This is the extension point for custom operations: give the output's value, the inputs,
    /// and a closure that reads `output.grad` and accumulates into the inputs' gradients with
    /// ``accumulateGradient(_:)`` or ``withGradientBuffer(_:)``. When no input needs a gradient,
    /// or inside ``withoutGradient(_:)``, nothing is recorded.
    public init(_ value: Tensor, inputs: [Variable], backward: @escaping (_ output: Variable) -> Void) {
        self.value = value
        self.decays = false
        let needed = GradientMode.isEnabled && inputs.contains { $0.requiresGrad }
        self.requiresGrad = needed
        self.inputs = needed ? inputs : []
        self.backwardFunction = needed ? backward : nil
    }

    /// The shape of ``value``.
    public var shape: [Int] { value.shape }

    /// Whether no operation's backward step is recorded here: true for variables made with
    /// ``init(_:requiresGrad:decays:)`` (inputs and parameters), for results of operations that
    /// recorded nothing (no input ``requiresGrad``, or inside ``withoutGradient(_:)``), and for
    /// results whose graph a ``backward(seed:)`` through them has already freed; false for a
    /// result whose graph is still alive, that gradients flow back through.
    public var isLeaf: Bool { backwardFunction == nil }

    // MARK: Gradient accumulation, for operations' backward closures

    /// Adds `g` to ``grad`` (or sets it, the first time).
    public func accumulateGradient(_ g: Tensor) {
        precondition(g.shape == value.shape,
                     "accumulateGradient: gradient shape \(g.shape) differs from value shape \(value.shape)")
        guard requiresGrad else { return }
        if var existing = grad {
            grad = nil   // keep the buffer uniquely referenced so += does not copy
            existing += g
            grad = existing
        } else {
            grad = g
        }
    }

    /// Calls `body` with a writable gradient buffer and whether it already holds a gradient
    /// (`accumulate == true`: add to it) or is fresh (`false`: overwrite every element).
    /// Lets kernels write gradients in place, e.g. a GEMM with beta = 1.
    public func withGradientBuffer(_ body: (_ buffer: UnsafeMutablePointer<Float>, _ accumulate: Bool) -> Void) {
        guard requiresGrad else { return }
        if var g = grad {
            grad = nil
            body(g.mutablePointer(), true)
            grad = g
        } else {
            var g = Tensor(uninitializedShape: value.shape)
            body(g.mutablePointer(), false)
            grad = g
        }
    }

    // MARK: Backward pass

    /// Back-propagates from this variable: sets its gradient to `seed` (ones, for a scalar
    /// loss) and accumulates gradients into every parameter it depends on.
    ///
    /// - Precondition: `self` has one element, or `seed` has its shape.
    public func backward(seed: Tensor? = nil) {
        precondition(seed != nil || value.count == 1,
                     "backward: a seed gradient is needed for a non-scalar of shape \(value.shape)")
        if let seed {
            precondition(seed.shape == value.shape, "backward: seed shape \(seed.shape) differs from \(value.shape)")
        }
        guard requiresGrad else { return }
        let order = topologicalOrder()
        accumulateGradient(seed ?? Tensor(shape: value.shape, repeating: 1))
        for node in order.reversed() {
            guard let propagate = node.backwardFunction else { continue }
            if node.grad != nil { propagate(node) }
            // Free the graph and the intermediate gradient: their buffers return to the pool.
            node.backwardFunction = nil
            node.inputs = []
            node.grad = nil
        }
    }

    /// Nodes reachable from `self`, each after all of its inputs (iterative DFS, so deep
    /// graphs cannot overflow the stack).
    private func topologicalOrder() -> [Variable] {
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (node, next) = stack.popLast() {
            if next < node.inputs.count {
                stack.append((node, next + 1))
                let child = node.inputs[next]
                if child.requiresGrad, visited.insert(ObjectIdentifier(child)).inserted {
                    stack.append((child, 0))
                }
            } else {
                order.append(node)
            }
        }
        return order
    }
}

extension Variable: CustomStringConvertible {
    /// The value's description, and `requiresGrad` for a variable that requires a gradient.
    public var description: String { "Variable(\(value.description)\(requiresGrad ? ", requiresGrad" : ""))" }
}
