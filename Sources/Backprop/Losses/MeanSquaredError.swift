/// The regression cost for a linear output layer: squared error between prediction v and target
/// t, E = Σₙ Σₖ (tₙₖ − vₙₖ)² (the sum; the course's slide prints it with a stray minus sign — a
/// cost to minimize is non-negative), or its mean over all elements. Gradient: 2(v − t), divided
/// by the element count for the mean.
public func meanSquaredError(_ prediction: Variable, _ target: Tensor, reduction: Reduction = .mean) -> Variable {
    precondition(target.shape == prediction.shape,
                 "meanSquaredError: target \(target.shape) must match prediction \(prediction.shape)")
    let n = prediction.value.count
    let scale: Float = reduction == .mean ? 1 / Float(Swift.max(n, 1)) : 1
    let difference = prediction.value - target
    let loss = Elementwise.dot(difference.pointer, difference.pointer, count: n) * scale
    return Variable(Tensor(scalar: loss), inputs: [prediction]) { out in
        guard let g = out.grad else { return }
        prediction.accumulateGradient(difference * (2 * scale * g.scalar))
    }
}
