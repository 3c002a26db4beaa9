/// What a training step minimizes: the loss of one batch under a model, and how many of the
/// batch's examples the model already gets right (for the progress line and the metrics log).
///
/// The objective is the one place that knows how a model's output meets the data, so the
/// trainer's step is the same for every model: ``Trainer`` calls ``loss(of:features:labels:)``,
/// then `backward()`, the gradient transformations and the optimizer (llm.c's step: forward,
/// zero the gradients, backward, update).
///
/// - ``SoftmaxCrossEntropyObjective``: K-class classification, a network whose outputs are
///   logits (the default for every ``MultilayerPerceptron``).
/// - ``MixtureOfExpertsObjective``: the mixture likelihood with the gate's balancing losses
///   (the default for a ``MixtureOfExperts``).
public protocol TrainingObjective: Sendable {
    /// The batch's loss (a scalar, recorded for `backward()`) and the number of rows of
    /// `features` whose prediction equals their label.
    ///
    /// - Parameters:
    ///   - model: the model in training mode.
    ///   - features: [batch, inputs].
    ///   - labels: one class per row.
    func loss(of model: any Module, features: Tensor, labels: [Int32]) -> ObjectiveValue

    /// Whether this objective can train `model` (checked once, when a trainer is made).
    func accepts(_ model: any Module) -> Bool
}

/// One batch's loss and how many of its examples were predicted right.
public struct ObjectiveValue {
    /// The scalar to minimize, with its graph.
    public var loss: Variable
    /// Rows whose argmax output is their label.
    public var correct: Int

    public init(loss: Variable, correct: Int) {
        self.loss = loss
        self.correct = correct
    }
}

/// The number of rows of `outputs` ([batch, classes]) whose largest entry is at their label.
func correctPredictions(_ outputs: Tensor, _ labels: [Int32]) -> Int {
    zip(outputs.argmaxRows(), labels).reduce(0) { $0 + ($1.0 == Int($1.1) ? 1 : 0) }
}

/// Softmax cross-entropy of the model's outputs (logits, [batch, classes]) against class labels,
/// averaged over the batch: the course's output layer and cost for K classes.
public struct SoftmaxCrossEntropyObjective: TrainingObjective {
    public init() {}

    public func loss(of model: any Module, features: Tensor, labels: [Int32]) -> ObjectiveValue {
        let logits = model(Variable(features))
        let loss = softmaxCrossEntropy(logits: logits, labels: labels)
        return ObjectiveValue(loss: loss, correct: correctPredictions(logits.value, labels))
    }

    public func accepts(_ model: any Module) -> Bool { true }
}

/// The objective a ``MixtureOfExperts`` trains on, gate and experts jointly by backprop: softmax
/// cross-entropy of the combined output, plus `importanceWeight` × Shazeer's importance loss (the
/// gate keeps every expert in use) and, with top-k routing, `loadBalancingWeight` × the
/// load-balancing loss.
public struct MixtureOfExpertsObjective: TrainingObjective {
    public var importanceWeight: Float
    public var loadBalancingWeight: Float

    public init(importanceWeight: Float = 0.1, loadBalancingWeight: Float = 0.01) {
        self.importanceWeight = importanceWeight
        self.loadBalancingWeight = loadBalancingWeight
    }

    public func loss(of model: any Module, features: Tensor, labels: [Int32]) -> ObjectiveValue {
        guard let mixture = model as? MixtureOfExperts else {
            preconditionFailure("MixtureOfExpertsObjective trains a MixtureOfExperts, not \(type(of: model)) (Trainer checks accepts(_:))")
        }
        let forward = mixture.forward(Variable(features))
        var loss = softmaxCrossEntropy(logits: forward.output, labels: labels) + forward.importanceLoss * importanceWeight
        if mixture.topK != nil { loss = loss + forward.loadBalancingLoss * loadBalancingWeight }
        return ObjectiveValue(loss: loss, correct: correctPredictions(forward.output.value, labels))
    }

    public func accepts(_ model: any Module) -> Bool { model is MixtureOfExperts }
}
