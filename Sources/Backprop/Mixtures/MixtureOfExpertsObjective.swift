extension MixtureOfExperts {
    /// The objective a mixture of experts is trained on (``MixtureOfExpertsObjective``'s
    /// defaults): softmax cross-entropy of the combined output plus 0.1 × Shazeer's importance
    /// loss and, with top-k routing, 0.01 × the load-balancing loss. `train --experts` and the
    /// mixtures experiment minimize it through ``Trainer``.
    public func trainingLoss(_ features: Tensor, labels: [Int32]) -> Variable {
        let batch = Batch(features: features, labels: labels, indices: ArraySlice(0..<labels.count), globalCount: labels.count)
        return MixtureOfExpertsObjective().loss(of: self, batch: batch).loss
    }
}
