extension Variable {
    /// f applied elementwise; backward multiplies by f′ using whichever of input and output the
    /// derivative is cheaper from.
    public func activated(by function: Activation) -> Variable {
        let x = self
        if function == .identity { return x }
        var y = Tensor(uninitializedShape: x.shape)
        function.forward(x.value.pointer, y.mutablePointer(), count: y.count)
        return Variable(y, inputs: [x]) { out in
            guard var g = out.grad else { return }
            out.grad = nil
            let gp = g.mutablePointer()
            function.backward(x: x.value.pointer, y: out.value.pointer, dy: gp, dx: gp, count: g.count)
            x.accumulateGradient(g)
        }
    }

    /// σ(x) = 1 / (1 + e⁻ˣ) elementwise; its derivative σ(x)(1 − σ(x)) is computed from the output.
    public func sigmoid() -> Variable { activated(by: .sigmoid) }
    /// tanh(x) elementwise; its derivative 1 − tanh²(x) is computed from the output.
    public func tanh() -> Variable { activated(by: .tanh) }
    /// max(0, x) elementwise (NaN stays NaN); its derivative is 1 for x > 0 and 0 otherwise (0 at x = 0, as in
    /// PyTorch).
    public func relu() -> Variable { activated(by: .relu) }
}
