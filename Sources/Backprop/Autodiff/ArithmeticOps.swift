extension Tensor {
    /// Reduces a gradient computed at a broadcast result's shape back to an operand's shape:
    /// the adjoint of broadcasting is summation over the broadcast dimensions.
    func reduced(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let n = target.reduce(1, *)
        if n == 1 { return Tensor(shape: target, scalars: [sum()]) }
        if rank == 2, target == [shape[1]] || target == [1, shape[1]] {
            return sum(alongAxis: 0).reshaped(target)
        }
        if rank == 2, target == [shape[0], 1] {
            return sum(alongAxis: 1).reshaped(target)
        }
        preconditionFailure("reduced(toShape:): cannot reduce \(shape) to \(target)")
    }
}

extension Variable {
    /// The elementwise sum, broadcasting as ``Tensor``'s `+` does; the gradient of a broadcast
    /// operand is summed over the rows or columns it was repeated along.
    public static func + (a: Variable, b: Variable) -> Variable {
        Variable(a.value + b.value, inputs: [a, b]) { out in
            guard let g = out.grad else { return }
            if a.requiresGrad { a.accumulateGradient(g.reduced(toShape: a.shape)) }
            if b.requiresGrad { b.accumulateGradient(g.reduced(toShape: b.shape)) }
        }
    }

    /// The elementwise difference, broadcasting as ``Tensor``'s `-` does; ∂/∂a = 1, ∂/∂b = −1.
    public static func - (a: Variable, b: Variable) -> Variable {
        Variable(a.value - b.value, inputs: [a, b]) { out in
            guard let g = out.grad else { return }
            if a.requiresGrad { a.accumulateGradient(g.reduced(toShape: a.shape)) }
            if b.requiresGrad { b.accumulateGradient((-g).reduced(toShape: b.shape)) }
        }
    }

    /// The elementwise product, broadcasting as ``Tensor``'s `*` does; ∂/∂a = b, ∂/∂b = a.
    public static func * (a: Variable, b: Variable) -> Variable {
        Variable(a.value * b.value, inputs: [a, b]) { out in
            guard let g = out.grad else { return }
            if a.requiresGrad { a.accumulateGradient((g * b.value).reduced(toShape: a.shape)) }
            if b.requiresGrad { b.accumulateGradient((g * a.value).reduced(toShape: b.shape)) }
        }
    }

    /// The elementwise quotient, broadcasting as ``Tensor``'s `/` does; ∂/∂a = 1/b,
    /// ∂/∂b = −a/b² (infinite or NaN where b is 0).
    public static func / (a: Variable, b: Variable) -> Variable {
        Variable(a.value / b.value, inputs: [a, b]) { out in
            guard let g = out.grad else { return }
            if a.requiresGrad { a.accumulateGradient((g / b.value).reduced(toShape: a.shape)) }
            if b.requiresGrad {
                // d(a/b)/db = -a / b²
                b.accumulateGradient((-(g * a.value) / b.value.squared()).reduced(toShape: b.shape))
            }
        }
    }

    /// The negation; its gradient is the negated incoming gradient.
    public static prefix func - (a: Variable) -> Variable {
        Variable(-a.value, inputs: [a]) { out in
            if let g = out.grad { a.accumulateGradient(-g) }
        }
    }

    /// Every element times the constant `s`; the gradient is scaled by `s`.
    public static func * (a: Variable, s: Float) -> Variable {
        Variable(a.value * s, inputs: [a]) { out in
            if let g = out.grad { a.accumulateGradient(g * s) }
        }
    }

    /// Every element times the constant `s`.
    public static func * (s: Float, a: Variable) -> Variable { a * s }

    /// Adds the constant `s` to every element; the gradient passes through unchanged.
    public static func + (a: Variable, s: Float) -> Variable {
        Variable(a.value + s, inputs: [a]) { out in
            if let g = out.grad { a.accumulateGradient(g) }
        }
    }

    /// Subtracts the constant `s` from every element.
    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }

    /// Elementwise square.
    public func squared() -> Variable {
        let x = self
        return Variable(x.value.squared(), inputs: [x]) { out in
            if let g = out.grad { x.accumulateGradient(g * x.value * 2) }
        }
    }

    /// The sum of all elements, as a one-element variable.
    public func sum() -> Variable {
        let x = self
        return Variable(Tensor(shape: [], scalars: [x.value.sum()]), inputs: [x]) { out in
            if let g = out.grad { x.accumulateGradient(Tensor(shape: x.shape, repeating: g.scalar)) }
        }
    }

    /// The mean of all elements, as a one-element variable.
    public func mean() -> Variable {
        let n = Float(value.count)
        return sum() * (1 / n)
    }

    /// The same elements with another shape.
    public func reshaped(_ shape: [Int]) -> Variable {
        let x = self
        return Variable(x.value.reshaped(shape), inputs: [x]) { out in
            if let g = out.grad { x.accumulateGradient(g.reshaped(x.shape)) }
        }
    }

    /// The matrix product `a · b` (either operand optionally transposed).
    public static func matmul(_ a: Variable, _ b: Variable, transposeA ta: Bool = false, transposeB tb: Bool = false) -> Variable {
        Variable(Tensor.matmul(a.value, b.value, transposeA: ta, transposeB: tb), inputs: [a, b]) { out in
            guard let g = out.grad else { return }
            // C = op(A)·op(B):  dop(A) = G·op(B)ᵀ,  dop(B) = op(A)ᵀ·G.
            if a.requiresGrad {
                let da = ta ? Tensor.matmul(b.value, g, transposeA: tb, transposeB: true)
                            : Tensor.matmul(g, b.value, transposeB: !tb)
                a.accumulateGradient(da)
            }
            if b.requiresGrad {
                let db = tb ? Tensor.matmul(g, a.value, transposeA: true, transposeB: ta)
                            : Tensor.matmul(a.value, g, transposeA: !ta)
                b.accumulateGradient(db)
            }
        }
    }
}
