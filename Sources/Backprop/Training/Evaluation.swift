/// A model's loss and classification metrics on a data set.
public struct Evaluation: Sendable, Codable {
    /// Mean softmax cross-entropy.
    public var loss: Float
    public var confusion: ConfusionMatrix
    public var accuracy: Float { confusion.accuracy }
    /// The number of examples.
    public var count: Int { confusion.total }

    /// Evaluates `model` (in evaluation mode, without gradients) on every example of `source`.
    public static func measure(_ model: any Module, on source: any ExampleSource, normalization: Normalization = .none,
                               batchSize: Int = 1000) -> Evaluation {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.isTraining = wasTraining }
        var confusion = ConfusionMatrix(classCount: source.classCount)
        var totalLoss = 0.0
        var start = 0
        withoutGradient {
            while start < source.count {
                let end = min(start + batchSize, source.count)
                var (features, labels) = source.batch(ArraySlice(Array(start..<end)))
                normalization.apply(to: &features)
                let logits = model(Variable(features))
                totalLoss += Double(softmaxCrossEntropy(logits: logits, labels: labels, reduction: .sum).value.scalar)
                for (prediction, truth) in zip(logits.value.argmaxRows(), labels) {
                    confusion.record(truth: Int(truth), prediction: prediction)
                }
                start = end
            }
        }
        return Evaluation(loss: Float(totalLoss / Double(max(source.count, 1))), confusion: confusion)
    }
}
