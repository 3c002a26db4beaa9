/// A linear probe: softmax regression trained on frozen features (a layer's activations),
/// measuring how linearly separable the classes are in that representation. Features are
/// standardized with the training features' statistics, then a single linear layer is trained
/// with Adam on the cross-entropy.
public enum LinearProbe {
    /// Train and test accuracy of softmax regression from `train`'s features to its labels.
    public static func accuracy(train: LabeledData, test: LabeledData, epochs: Int = 10, batchSize: Int = 128,
                                learningRate: Float = 0.003, seed: UInt64 = 1) throws -> (train: Float, test: Float) {
        precondition(train.featureCount == test.featureCount, "LinearProbe: \(train.featureCount) training features but \(test.featureCount) test features")
        let architecture = try MultilayerPerceptronArchitecture(sizes: [train.featureCount, train.classCount])
        let normalization = Normalization.standardizing(train)
        let (trainer, summary) = try MNISTExperimentRun.train(
            architecture, optimizer: OptimizerSpecification(Adam(), learningRate: learningRate), train: train, test: test, epochs: epochs,
            batchSize: batchSize, normalization: normalization, seed: seed)
        let trainAccuracy = Evaluation.measure(trainer.model, on: train, normalization: normalization).accuracy
        return (trainAccuracy, summary.test?.accuracy ?? .nan)
    }
}
