/// The 2-class output layer: one sigmoid unit with binary cross-entropy, fused and computed on
/// the logit x in the stable form max(x, 0) − x·t + log(1 + e^{−|x|}); the gradient is σ(x) − t.
///
/// - Parameters:
///   - logits: any shape (typically [batch, 1]).
///   - targets: the same shape, values in [0, 1].
///   - reduction: ``Reduction/mean`` over elements (the default) or ``Reduction/sum``.
public func binaryCrossEntropy(logits: Variable, targets: Tensor, reduction: Reduction = .mean) -> Variable {
    precondition(targets.shape == logits.shape,
                 "binaryCrossEntropy: targets \(targets.shape) must match logits \(logits.shape)")
    let n = logits.value.count
    let scale: Float = reduction == .mean ? 1 / Float(Swift.max(n, 1)) : 1
    var gradient: Tensor? = GradientMode.isEnabled && logits.requiresGrad ? Tensor(uninitializedShape: logits.shape) : nil
    let loss = CrossEntropy.sigmoid(logits: logits.value.pointer, targets: targets.pointer, losses: nil,
                                    gradient: gradient?.mutablePointer(), count: n, scale: scale)
    return Variable(Tensor(scalar: loss), inputs: [logits]) { out in
        guard let g = out.grad, let gradient else { return }
        logits.accumulateGradient(g.scalar == 1 ? gradient : gradient * g.scalar)
    }
}
