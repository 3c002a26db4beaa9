/// The softmax output layer with its cost, cross-entropy, fused:
/// E = −Σₙ Σₖ tₙₖ log softmax(aₙ)ₖ, whose gradient with respect to the logits a is simply
/// softmax(a) − t (divided by N for the mean). Fusing them avoids the log of a rounded
/// probability and the catastrophic cancellation of differentiating through softmax separately.
///
/// - Parameters:
///   - logits: [batch, classes], the output layer before softmax.
///   - labels: the class index of each example, in 0..<classes.
///   - reduction: ``Reduction/mean`` over examples (the default) or the course's
///     ``Reduction/sum``.
public func softmaxCrossEntropy(logits: Variable, labels: [Int32], reduction: Reduction = .mean) -> Variable {
    precondition(logits.value.rank == 2, "softmaxCrossEntropy: logits must be [batch, classes], got \(logits.shape)")
    let rows = logits.shape[0], cols = logits.shape[1]
    precondition(labels.count == rows, "softmaxCrossEntropy: \(labels.count) labels for a batch of \(rows)")
    let scale: Float = reduction == .mean ? 1 / Float(Swift.max(rows, 1)) : 1
    // Evaluation (no gradient wanted) skips writing the gradient: half the kernel's memory traffic.
    var gradient: Tensor? = GradientMode.isEnabled && logits.requiresGrad ? Tensor(uninitializedShape: logits.shape) : nil
    let gp = gradient?.mutablePointer()
    let loss: Float = labels.withUnsafeBufferPointer { lp in
        guard let base = lp.baseAddress else { return 0 }
        return CrossEntropy.softmax(logits: logits.value.pointer, labels: base, losses: nil,
                                    gradient: gp, rows: rows, cols: cols, scale: scale)
    }
    return Variable(Tensor(scalar: loss), inputs: [logits]) { out in
        guard let g = out.grad, let gradient else { return }
        logits.accumulateGradient(g.scalar == 1 ? gradient : gradient * g.scalar)
    }
}

/// Softmax cross-entropy against soft targets t (rows of probabilities, e.g. label smoothing or
/// a teacher's outputs): E = −Σₙ Σₖ tₙₖ log softmax(aₙ)ₖ.
public func softmaxCrossEntropy(logits: Variable, targets: Tensor, reduction: Reduction = .mean) -> Variable {
    precondition(logits.value.rank == 2 && targets.shape == logits.shape,
                 "softmaxCrossEntropy: targets \(targets.shape) must match logits \(logits.shape)")
    let rows = logits.shape[0], cols = logits.shape[1]
    let scale: Float = reduction == .mean ? 1 / Float(Swift.max(rows, 1)) : 1
    var gradient: Tensor? = GradientMode.isEnabled && logits.requiresGrad ? Tensor(uninitializedShape: logits.shape) : nil
    let loss = CrossEntropy.softmax(logits: logits.value.pointer, targets: targets.pointer, losses: nil,
                                    gradient: gradient?.mutablePointer(), rows: rows, cols: cols, scale: scale)
    return Variable(Tensor(scalar: loss), inputs: [logits]) { out in
        guard let g = out.grad, let gradient else { return }
        logits.accumulateGradient(g.scalar == 1 ? gradient : gradient * g.scalar)
    }
}

extension Tensor {
    /// Row-wise softmax of a [batch, classes] matrix (class probabilities from logits).
    public func softmaxRows() -> Tensor {
        let (r, c) = matrixDimensions("softmaxRows")
        var out = Tensor(uninitializedShape: shape)
        Softmax.forward(pointer, out.mutablePointer(), rows: r, cols: c)
        return out
    }

    /// Row-wise log-softmax of a [batch, classes] matrix.
    public func logSoftmaxRows() -> Tensor {
        let (r, c) = matrixDimensions("logSoftmaxRows")
        var out = Tensor(uninitializedShape: shape)
        LogSoftmax.forward(pointer, out.mutablePointer(), rows: r, cols: c)
        return out
    }
}
