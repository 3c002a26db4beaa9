/// What ``Trainer`` checks before it trains: that the model, the batches and the data fit
/// together, so a mismatch is an error naming it rather than a trap in a kernel.
extension Trainer {
    /// Whether any layer of `module` is a ``BatchNorm1d`` (inside sequences, mixtures, ensembles).
    static func containsBatchNorm(_ module: any Module) -> Bool {
        switch module {
        case is BatchNorm1d: return true
        case let sequential as Sequential: return sequential.layers.contains { containsBatchNorm($0) }
        case let mixture as MixtureOfExperts: return containsBatchNorm(mixture.gate) || mixture.experts.contains { containsBatchNorm($0) }
        case let ensemble as Ensemble: return ensemble.members.contains { containsBatchNorm($0) }
        default: return false
        }
    }

    /// Checks that `module` maps the source's examples to one output per class (one example
    /// in evaluation mode, which draws no random numbers and updates no statistics).
    static func checkOutputs(of module: any Module, on source: any ExampleSource, task: TrainingTask) throws(TrainingError) {
        let wasTraining = module.isTraining
        module.eval()
        defer { module.isTraining = wasTraining }
        // A first linear layer of the wrong width would stop in its matrix product: ask it first.
        if let sequential = module as? Sequential, let first = sequential.layers.lazy.compactMap({ $0 as? Linear }).first,
           first.weight.shape.count == 2, first.weight.shape[1] != source.featureCount {
            throw .invalidConfiguration("the data has \(source.featureCount) features but the model's input size is \(first.weight.shape[1])")
        }
        let (features, _) = source.batch(ArraySlice([0]))
        let shape = module(features).shape
        let needed = task.outputCount(for: source)
        guard shape == [1, needed] else {
            throw .invalidConfiguration("the model gives outputs of shape \(Array(shape.dropFirst())) for \(needed) \(task.isRegression ? "targets" : "classes")")
        }
    }

    /// Throws unless every training batch of `count` examples in batches of `batchSize` has at
    /// least 2 examples: training-mode BatchNorm divides by the batch's own standard deviation,
    /// which one example does not have (PyTorch refuses such a batch too).
    public static func checkBatchNormBatches(count: Int, batchSize: Int, dropLast: Bool) throws(TrainingError) {
        if batchSize < 2 || count < 2 {
            throw .invalidConfiguration("BatchNorm normalizes each batch by its own statistics, so training batches need at least 2 examples; got batches of \(min(batchSize, count))")
        }
        if !dropLast && count % batchSize == 1 {
            throw .invalidConfiguration("BatchNorm needs at least 2 examples per training batch, but \(count) examples in batches of \(batchSize) leave a last batch of 1 each epoch; drop it (dropLast, `--drop-last`) or choose another batch size")
        }
    }
}
