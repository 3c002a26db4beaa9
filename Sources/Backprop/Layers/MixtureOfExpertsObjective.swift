extension MixtureOfExperts {
    /// The objective a mixture of experts is trained on, gate and experts jointly by backprop:
    /// softmax cross-entropy of the combined output plus 0.1 × Shazeer's importance loss (so the
    /// gate keeps every expert in use) and, with top-k routing, 0.01 × the load-balancing loss.
    /// The CLI's `train --experts` and the mixtures experiment both minimize it.
    public func trainingLoss(_ features: Tensor, labels: [Int32]) -> Variable {
        let forward = forward(Variable(features))
        var loss = softmaxCrossEntropy(logits: forward.output, labels: labels) + forward.importanceLoss * 0.1
        if topK != nil { loss = loss + forward.loadBalancingLoss * 0.01 }
        return loss
    }
}
