/// A model's loss and metrics on a data set: for classification the confusion matrix (and, for
/// two classes with one output, precision, recall, F1 and ROC AUC); for regression MSE, MAE and R².
public struct Evaluation: Sendable, Codable {
    /// The objective's loss per example: mean softmax or binary cross-entropy; for regression
    /// the mean squared error in the data's units (= ``RegressionMetrics/meanSquaredError``).
    public var loss: Float
    /// Classification: truth against prediction (empty for regression).
    public var confusion: ConfusionMatrix
    /// Two classes with one sigmoid output.
    public var binary: BinaryMetrics? = nil
    /// Regression.
    public var regression: RegressionMetrics? = nil
    /// The examples scored.
    public var examples: Int? = nil
    /// The fraction classified right (0 for regression: see ``regression``).
    public var accuracy: Float { confusion.accuracy }
    /// The number of examples.
    public var count: Int { examples ?? confusion.total }

    /// An evaluation from its parts (``measure(_:on:normalization:batchSize:)`` computes them from a
    /// model and a data set).
    public init(loss: Float, confusion: ConfusionMatrix, binary: BinaryMetrics? = nil, regression: RegressionMetrics? = nil,
                examples: Int? = nil) {
        self.loss = loss
        self.confusion = confusion
        self.binary = binary
        self.regression = regression
        self.examples = examples
    }

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

    /// Two classes scored from one output per example, the logit v of P(class 1) = σ(v):
    /// mean binary cross-entropy, the confusion matrix of v > 0, and ``BinaryMetrics``.
    public static func measureBinary(_ model: any Module, on source: any ExampleSource, normalization: Normalization = .none,
                                     batchSize: Int = 1000) -> Evaluation {
        var confusion = ConfusionMatrix(classCount: 2)
        var totalLoss = 0.0
        var scores: [Float] = [], truths: [Bool] = []
        forEachBatch(model, source, normalization, batchSize) { outputs, labels, _ in
            let targets = Tensor(shape: [labels.count, 1], scalars: labels.map { Float($0) })
            totalLoss += Double(binaryCrossEntropy(logits: Variable(outputs), targets: targets, reduction: .sum).value.scalar)
            for (v, t) in zip(outputs.scalars, labels) {
                confusion.record(truth: Int(t), prediction: v > 0 ? 1 : 0)
                scores.append(v)
                truths.append(t == 1)
            }
        }
        return Evaluation(loss: Float(totalLoss / Double(max(source.count, 1))), confusion: confusion,
                          binary: BinaryMetrics(confusion: confusion, scores: scores, truths: truths), examples: source.count)
    }

    /// Regression scored in the data's units: outputs mapped back through `targetScaling`,
    /// against the source's targets.
    public static func measureRegression(_ model: any Module, on source: any ExampleSource, normalization: Normalization = .none,
                                         targetScaling: TargetScaling? = nil, batchSize: Int = 1000) -> Evaluation {
        var accumulator = RegressionMetrics.Accumulator(targets: source.targetCount)
        forEachBatch(model, source, normalization, batchSize) { outputs, _, indices in
            let predictions = targetScaling?.restored(outputs) ?? outputs
            if let targets = source.targets(indices) { accumulator.add(predictions: predictions, targets: targets) }
        }
        let metrics = accumulator.metrics
        return Evaluation(loss: metrics.meanSquaredError, confusion: ConfusionMatrix(classCount: 0), regression: metrics,
                          examples: source.count)
    }

    /// The model's outputs on `source` in batches (evaluation mode, no gradients).
    private static func forEachBatch(_ model: any Module, _ source: any ExampleSource, _ normalization: Normalization,
                                     _ batchSize: Int, _ body: (Tensor, [Int32], ArraySlice<Int>) -> Void) {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.isTraining = wasTraining }
        var start = 0
        withoutGradient {
            while start < source.count {
                let end = min(start + batchSize, source.count)
                let indices = ArraySlice(Array(start..<end))
                var (features, labels) = source.batch(indices)
                normalization.apply(to: &features)
                body(model(Variable(features)).value, labels, indices)
                start = end
            }
        }
    }
}

/// Two-class metrics with class 1 as the positive class.
public struct BinaryMetrics: Sendable, Codable, Equatable {
    /// TP / (TP + FP): of the examples called positive, the fraction that are (0 when none is called).
    public var precision: Float
    /// TP / (TP + FN): of the positives, the fraction found (0 when there are none).
    public var recall: Float
    /// The harmonic mean of precision and recall (0 when both are 0).
    public var f1: Float
    /// The area under the ROC curve: the probability that a random positive scores above a
    /// random negative, ties counting one half (Mann–Whitney U / (P·N)); NaN without both classes.
    public var rocAUC: Float

    /// Metrics from their values.
    public init(precision: Float, recall: Float, f1: Float, rocAUC: Float) {
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.rocAUC = rocAUC
    }

    /// From the confusion matrix of a threshold and each example's score (higher: more positive).
    public init(confusion: ConfusionMatrix, scores: [Float], truths: [Bool]) {
        let tp = Float(confusion.counts[1][1]), fp = Float(confusion.counts[0][1]), fn = Float(confusion.counts[1][0])
        precision = tp + fp > 0 ? tp / (tp + fp) : 0
        recall = tp + fn > 0 ? tp / (tp + fn) : 0
        f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        rocAUC = Self.areaUnderROC(scores: scores, truths: truths)
    }

    /// Mann–Whitney: rank the scores (ties get their average rank); AUC = (R₊ − P(P+1)/2) / (P·N)
    /// with R₊ the sum of the positives' ranks.
    public static func areaUnderROC(scores: [Float], truths: [Bool]) -> Float {
        let positives = truths.filter { $0 }.count, negatives = truths.count - positives
        guard positives > 0, negatives > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let averageRank = Double(i + j) / 2 + 1
            for k in i...j where truths[order[k]] { rankSum += averageRank }
            i = j + 1
        }
        let p = Double(positives), n = Double(negatives)
        return Float((rankSum - p * (p + 1) / 2) / (p * n))
    }
}

/// Regression metrics over every target of every example, in the data's units.
public struct RegressionMetrics: Sendable, Codable, Equatable {
    /// Mean of (v − t)² over examples and targets.
    public var meanSquaredError: Float
    /// Mean of |v − t| over examples and targets.
    public var meanAbsoluteError: Float
    /// 1 − Σ(v − t)² / Σ(t − t̄)² per target (t̄ that target's mean), averaged over targets: 1 for
    /// a perfect fit, 0 for predicting the mean, negative for worse. NaN for a constant target.
    public var rSquared: Float
    /// R² of each target.
    public var rSquaredPerTarget: [Float]

    /// Metrics from their values.
    public init(meanSquaredError: Float, meanAbsoluteError: Float, rSquared: Float, rSquaredPerTarget: [Float]) {
        self.meanSquaredError = meanSquaredError
        self.meanAbsoluteError = meanAbsoluteError
        self.rSquared = rSquared
        self.rSquaredPerTarget = rSquaredPerTarget
    }

    /// Sums in float64 over batches of predictions and targets ([rows, targets] each).
    public struct Accumulator: Sendable {
        var count = 0
        var squared: [Double], absolute: [Double], sum: [Double], sumSquares: [Double]

        /// An accumulator for `targets` outputs per example, with nothing added yet.
        public init(targets: Int) {
            squared = Array(repeating: 0, count: targets)
            absolute = squared
            sum = squared
            sumSquares = squared
        }

        /// Adds a batch of predictions and their targets, both [rows, targets].
        ///
        /// - Precondition: the shapes are equal, and have this accumulator's target count.
        public mutating func add(predictions: Tensor, targets: Tensor) {
            precondition(predictions.shape == targets.shape && targets.rank == 2 && targets.shape[1] == sum.count,
                         "RegressionMetrics: predictions \(predictions.shape), targets \(targets.shape)")
            let width = sum.count
            for (i, (v, t)) in zip(predictions.scalars, targets.scalars).enumerated() {
                let k = i % width, e = Double(v) - Double(t)
                squared[k] += e * e
                absolute[k] += abs(e)
                sum[k] += Double(t)
                sumSquares[k] += Double(t) * Double(t)
            }
            count += targets.shape[0]
        }

        /// The metrics of everything added so far (R² is NaN for a target that was constant).
        public var metrics: RegressionMetrics {
            let n = Double(max(count, 1)), elements = n * Double(max(sum.count, 1))
            let perTarget = (0..<sum.count).map { k -> Float in
                let total = sumSquares[k] - sum[k] * sum[k] / n
                return total > 0 ? Float(1 - squared[k] / total) : .nan
            }
            return RegressionMetrics(meanSquaredError: Float(squared.reduce(0, +) / elements),
                                     meanAbsoluteError: Float(absolute.reduce(0, +) / elements),
                                     rSquared: perTarget.isEmpty ? .nan : perTarget.reduce(0, +) / Float(perTarget.count),
                                     rSquaredPerTarget: perTarget)
        }
    }
}
