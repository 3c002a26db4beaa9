import Foundation

/// What a training step minimizes: the loss of one batch under a model, and how many of the
/// batch's examples the model already gets right (for the progress line and the metrics log);
/// and how a model is scored on a whole data set (validation, test, `eval`).
///
/// The objective is the one place that knows how a model's output meets the data, so the
/// trainer's step is the same for every model: ``Trainer`` calls ``loss(of:batch:)``, then
/// `backward()`, the gradient transformations and the optimizer (llm.c's step: forward, zero
/// the gradients, backward, update).
///
/// The course pairs each output layer with its cost:
/// - ``SoftmaxCrossEntropyObjective``: K classes, softmax outputs, cross-entropy (the default).
/// - ``BinaryCrossEntropyObjective``: two classes, one sigmoid output, binary cross-entropy.
/// - ``SquaredErrorObjective``: regression, linear outputs, the mean (or the course's sum) of
///   squared errors.
/// - ``MixtureOfExpertsObjective``: the mixture likelihood with the gate's balancing losses.
public protocol TrainingObjective: Sendable {
    /// The batch's loss (a scalar, recorded for `backward()`) and the number of its rows
    /// predicted right (0 for regression).
    func loss(of model: any Module, batch: Batch) -> ObjectiveValue

    /// Whether this objective can train `model` (checked once, when a trainer is made).
    func accepts(_ model: any Module) -> Bool

    /// What the model learns, as its files record it.
    var task: TrainingTask { get }

    /// The model's loss and metrics on every example of `source` (evaluation mode, no gradients).
    func measure(_ model: any Module, on source: any ExampleSource, normalization: Normalization) -> Evaluation
}

extension TrainingObjective {
    /// Accepts every model.
    public func accepts(_ model: any Module) -> Bool { true }
}

/// One batch's loss and how many of its examples were predicted right.
public struct ObjectiveValue {
    /// The scalar to minimize, with its graph.
    public var loss: Variable
    /// Rows whose prediction is their label (0 for regression).
    public var correct: Int

    /// A value from a batch's loss and its count of right predictions.
    public init(loss: Variable, correct: Int) {
        self.loss = loss
        self.correct = correct
    }
}

/// The cost a network is trained on, as `--loss` names it.
public enum LossFunction: String, Sendable, Codable, CaseIterable {
    /// Softmax outputs, cross-entropy: K-class classification.
    case crossEntropy = "cross-entropy"
    /// One sigmoid output, binary cross-entropy: two classes.
    case binaryCrossEntropy = "bce"
    /// Linear outputs, squared error averaged over examples and targets: regression.
    case meanSquaredError = "mse"
    /// Linear outputs, the course's sum of squared errors E = Σₙ Σₖ (tₙₖ − vₙₖ)² over a batch.
    case sumSquaredError = "sse"

    /// Whether the outputs are real values rather than classes.
    public var isRegression: Bool { self == .meanSquaredError || self == .sumSquaredError }
}

/// What a model learns, recorded in its files (metadata key ``metadataKey``) so that `eval`,
/// `predict`, `info` and `export` treat its outputs right: the loss, and for regression the
/// scaling of its targets and their names.
public struct TrainingTask: Sendable, Equatable, Codable {
    /// The cost the network is trained on.
    public var loss: LossFunction
    /// Regression: the training set's target statistics; outputs are standardized targets.
    public var targetScaling: TargetScaling?
    /// Regression: the targets' column names, when the data named them.
    public var targetNames: [String]?

    /// The checkpoint metadata key under which the task is stored as JSON.
    public static let metadataKey = "task"

    /// A task from its parts.
    ///
    /// - Parameters:
    ///   - loss: the cost.
    ///   - targetScaling: regression: the training set's target statistics.
    ///   - targetNames: regression: the targets' column names.
    public init(loss: LossFunction, targetScaling: TargetScaling? = nil, targetNames: [String]? = nil) {
        self.loss = loss
        self.targetScaling = targetScaling
        self.targetNames = targetNames
    }

    /// K-class classification with softmax cross-entropy: what a file without a task entry holds.
    public static let classification = TrainingTask(loss: .crossEntropy)

    /// Whether the outputs are real values (``LossFunction/isRegression``).
    public var isRegression: Bool { loss.isRegression }

    /// The objective that trains this task.
    public func objective() -> any TrainingObjective {
        switch loss {
        case .crossEntropy: return SoftmaxCrossEntropyObjective()
        case .binaryCrossEntropy: return BinaryCrossEntropyObjective()
        case .meanSquaredError: return SquaredErrorObjective(reduction: .mean, targetScaling: targetScaling, targetNames: targetNames)
        case .sumSquaredError: return SquaredErrorObjective(reduction: .sum, targetScaling: targetScaling, targetNames: targetNames)
        }
    }

    /// The number of outputs a network needs for `source`: its classes, 1 for two classes
    /// with one sigmoid, or its targets.
    public func outputCount(for source: any ExampleSource) -> Int {
        switch loss {
        case .crossEntropy: return source.classCount
        case .binaryCrossEntropy: return 1
        case .meanSquaredError, .sumSquaredError: return source.targetCount
        }
    }

    /// The model's outputs as the user's values: class probabilities (softmax, or the sigmoid
    /// of the one output for two classes), or regression values in the data's units.
    public func predictions(_ outputs: Tensor) -> Tensor {
        switch loss {
        case .crossEntropy: return outputs.softmaxRows()
        case .binaryCrossEntropy: return outputs.map { 1 / (1 + Foundation.exp(-$0)) }
        case .meanSquaredError, .sumSquaredError: return targetScaling?.restored(outputs) ?? outputs
        }
    }
}

/// The number of rows of `outputs` ([batch, classes]) whose largest entry is at their label.
func correctPredictions(_ outputs: Tensor, _ labels: [Int32]) -> Int {
    zip(outputs.argmaxRows(), labels).reduce(0) { $0 + ($1.0 == Int($1.1) ? 1 : 0) }
}

/// Softmax cross-entropy of the model's outputs (logits, [batch, classes]) against class labels,
/// averaged over the batch: the course's output layer and cost for K classes.
public struct SoftmaxCrossEntropyObjective: TrainingObjective {
    /// The objective; it has no settings.
    public init() {}

    /// Softmax cross-entropy of `model(batch.features)` against `batch.labels`, with the rows
    /// whose largest logit is their label counted right.
    public func loss(of model: any Module, batch: Batch) -> ObjectiveValue {
        let logits = model(Variable(batch.features))
        let loss = softmaxCrossEntropy(logits: logits, labels: batch.labels)
        return ObjectiveValue(loss: loss, correct: correctPredictions(logits.value, batch.labels))
    }

    /// ``TrainingTask/classification``.
    public var task: TrainingTask { .classification }

    /// The mean cross-entropy, the accuracy and the confusion matrix on `source`.
    public func measure(_ model: any Module, on source: any ExampleSource, normalization: Normalization) -> Evaluation {
        Evaluation.measure(model, on: source, normalization: normalization)
    }
}

/// Two classes with one output: the sigmoid of the logit v is P(class 1), trained on binary
/// cross-entropy −[t log σ(v) + (1 − t) log(1 − σ(v))] averaged over the batch (computed from
/// the logit, stable for any v). An example is predicted class 1 when v > 0 (σ(v) > ½).
public struct BinaryCrossEntropyObjective: TrainingObjective {
    /// The objective; it has no settings.
    public init() {}

    /// Binary cross-entropy of the one output's logit against the 0/1 labels; a row counts right
    /// when its logit is positive exactly when its label is 1.
    public func loss(of model: any Module, batch: Batch) -> ObjectiveValue {
        let logits = model(Variable(batch.features))
        let targets = Tensor(shape: [batch.labels.count, 1], scalars: batch.labels.map { Float($0) })
        let loss = binaryCrossEntropy(logits: logits, targets: targets)
        let correct = zip(logits.value.scalars, batch.labels).reduce(0) { $0 + (($1.0 > 0) == ($1.1 == 1) ? 1 : 0) }
        return ObjectiveValue(loss: loss, correct: correct)
    }

    /// Every model but a ``MixtureOfExperts`` (whose objective is ``MixtureOfExpertsObjective``).
    public func accepts(_ model: any Module) -> Bool { !(model is MixtureOfExperts) }

    /// A task with ``LossFunction/binaryCrossEntropy``.
    public var task: TrainingTask { TrainingTask(loss: .binaryCrossEntropy) }

    /// The loss and accuracy, plus precision, recall, F1 and ROC AUC (``BinaryMetrics``).
    public func measure(_ model: any Module, on source: any ExampleSource, normalization: Normalization) -> Evaluation {
        Evaluation.measureBinary(model, on: source, normalization: normalization)
    }
}

/// Regression with linear outputs: squared error between the outputs and the (standardized)
/// targets, its mean over every element of the batch (`.mean`, `--loss mse`) or the course's
/// sum (`.sum`, `--loss sse`). Scored in the data's own units: MSE, MAE and R².
public struct SquaredErrorObjective: TrainingObjective {
    /// ``Reduction/mean`` (`--loss mse`) or the course's ``Reduction/sum`` (`--loss sse`).
    public var reduction: Reduction
    /// Applied to the batch's targets before the loss, and undone on outputs when scoring.
    public var targetScaling: TargetScaling?
    /// The targets' column names, recorded in the task.
    public var targetNames: [String]?

    /// A squared-error objective.
    ///
    /// - Parameters:
    ///   - reduction: mean or sum over the batch's elements.
    ///   - targetScaling: standardizes the targets the loss sees; nil uses them as they are.
    ///   - targetNames: the targets' names, for the task.
    public init(reduction: Reduction = .mean, targetScaling: TargetScaling? = nil, targetNames: [String]? = nil) {
        self.reduction = reduction
        self.targetScaling = targetScaling
        self.targetNames = targetNames
    }

    /// The squared error between `model(batch.features)` and the batch's (standardized) targets;
    /// `correct` is 0.
    ///
    /// - Precondition: the batch has targets (``Trainer`` checks that the source has them).
    public func loss(of model: any Module, batch: Batch) -> ObjectiveValue {
        guard let targets = batch.targets else {
            preconditionFailure("SquaredErrorObjective: a batch without targets (Trainer checks the source has them)")
        }
        let outputs = model(Variable(batch.features))
        let loss = meanSquaredError(outputs, targetScaling?.standardized(targets) ?? targets, reduction: reduction)
        return ObjectiveValue(loss: loss, correct: 0)
    }

    /// Every model but a ``MixtureOfExperts``.
    public func accepts(_ model: any Module) -> Bool { !(model is MixtureOfExperts) }

    /// Regression with this objective's reduction, scaling and target names.
    public var task: TrainingTask {
        TrainingTask(loss: reduction == .mean ? .meanSquaredError : .sumSquaredError, targetScaling: targetScaling,
                     targetNames: targetNames)
    }

    /// MSE, MAE and R² in the data's own units (the scaling undone).
    public func measure(_ model: any Module, on source: any ExampleSource, normalization: Normalization) -> Evaluation {
        Evaluation.measureRegression(model, on: source, normalization: normalization, targetScaling: targetScaling)
    }
}

/// The objective a ``MixtureOfExperts`` trains on, gate and experts jointly by backprop: softmax
/// cross-entropy of the combined output, plus `importanceWeight` × Shazeer's importance loss (the
/// gate keeps every expert in use) and, with top-k routing, `loadBalancingWeight` × the
/// load-balancing loss.
public struct MixtureOfExpertsObjective: TrainingObjective {
    /// The weight of Shazeer's importance loss (``importanceLoss(gates:)``).
    public var importanceWeight: Float
    /// The weight of the load-balancing loss, added only with top-k routing.
    public var loadBalancingWeight: Float

    /// An objective with the given weights (Shazeer et al.'s 0.1 and 0.01 by default).
    public init(importanceWeight: Float = 0.1, loadBalancingWeight: Float = 0.01) {
        self.importanceWeight = importanceWeight
        self.loadBalancingWeight = loadBalancingWeight
    }

    /// The mixture's softmax cross-entropy plus the weighted balancing losses.
    ///
    /// - Precondition: `model` is a ``MixtureOfExperts`` (``Trainer`` checks ``accepts(_:)``).
    public func loss(of model: any Module, batch: Batch) -> ObjectiveValue {
        guard let mixture = model as? MixtureOfExperts else {
            preconditionFailure("MixtureOfExpertsObjective trains a MixtureOfExperts, not \(type(of: model)) (Trainer checks accepts(_:))")
        }
        let forward = mixture.forward(Variable(batch.features))
        var loss = softmaxCrossEntropy(logits: forward.output, labels: batch.labels) + forward.importanceLoss * importanceWeight
        if mixture.topK != nil { loss = loss + forward.loadBalancingLoss * loadBalancingWeight }
        return ObjectiveValue(loss: loss, correct: correctPredictions(forward.output.value, batch.labels))
    }

    /// Only a ``MixtureOfExperts``.
    public func accepts(_ model: any Module) -> Bool { model is MixtureOfExperts }

    /// ``TrainingTask/classification``.
    public var task: TrainingTask { .classification }

    /// The mixture's cross-entropy, accuracy and confusion matrix on `source`.
    public func measure(_ model: any Module, on source: any ExampleSource, normalization: Normalization) -> Evaluation {
        Evaluation.measure(model, on: source, normalization: normalization)
    }
}
