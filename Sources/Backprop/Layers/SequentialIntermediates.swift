extension Sequential {
    /// The output of every child layer for `input`, in evaluation mode and without gradients:
    /// element i is what layer i returns (so a hidden non-linearity's input is the element
    /// before it). Used to look inside a trained network — its hidden representations, the
    /// distribution a sigmoid sees.
    public func layerOutputs(_ input: Tensor) -> [Tensor] {
        let wasTraining = isTraining
        eval()
        defer { isTraining = wasTraining }
        return withoutGradient {
            var x = Variable(input)
            var outputs: [Tensor] = []
            outputs.reserveCapacity(layers.count)
            for layer in layers {
                x = layer(x)
                outputs.append(x.value)
            }
            return outputs
        }
    }
}
