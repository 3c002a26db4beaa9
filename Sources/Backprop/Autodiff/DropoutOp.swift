extension Variable {
    /// Elementwise product with a fixed mask (inverted dropout: kept entries are scaled by
    /// 1/(1−p) in the mask itself, so evaluation needs no rescaling). The gradient is the same
    /// mask times the output gradient.
    public func masked(by mask: Tensor) -> Variable {
        precondition(mask.shape == shape, "masked(by:): mask \(mask.shape) differs from input \(shape)")
        let x = self
        return Variable(x.value * mask, inputs: [x]) { out in
            if let g = out.grad { x.accumulateGradient(g * mask) }
        }
    }

    /// Adds a constant tensor (noise) whose value does not depend on any parameter: the
    /// gradient passes through unchanged.
    public func adding(constant noise: Tensor) -> Variable {
        precondition(noise.shape == shape, "adding(constant:): noise \(noise.shape) differs from input \(shape)")
        let x = self
        return Variable(x.value + noise, inputs: [x]) { out in
            if let g = out.grad { x.accumulateGradient(g) }
        }
    }
}

extension Tensor {
    /// An inverted-dropout mask: each entry is 0 with probability `p`, else 1/(1−p).
    public static func dropoutMask(_ shape: [Int], dropProbability p: Float,
                                   using generator: inout RandomGenerator) -> Tensor {
        precondition(p >= 0 && p < 1, "dropoutMask: probability \(p) must be in [0, 1)")
        let keep = 1 / (1 - p)
        var mask = Tensor(uninitializedShape: shape)
        mask.withUnsafeMutableBufferPointer { b in
            for i in b.indices { b[i] = generator.nextUniform() < p ? 0 : keep }
        }
        return mask
    }
}
