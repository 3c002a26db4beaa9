import ArgumentParser
import Backprop
import Foundation

/// `backprop predict`: class probabilities for new inputs.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify inputs with a trained model and print class probabilities.",
        discussion: """
            INPUT is a PNG image of a digit (resized to the model's input, inverted if its \
            background is light), an IDX file (.gz or not; bytes are scaled to [0, 1]), a .npy array \
            ([n, features] or [n, h, w]; uint8 scaled to [0, 1]), or a CSV file of feature rows \
            (an extra last column is taken as the true label and shown).
            """
    )

    @Argument(help: "A model.safetensors or checkpoint.safetensors written by backprop train.")
    var checkpoint: String

    @Argument(help: "The input file.")
    var input: String

    @Option(help: "Print at most this many examples.")
    var limit: Int = 10

    @Option(help: "Show this many most probable classes per example.")
    var top: Int = 3

    func run() throws {
        let loaded = try LoadedModel(path: checkpoint)
        let inputs = loaded.inputSize
        // A CSV row may carry the truth after its features: a regression's targets, or a class label.
        let extra = loaded.task.isRegression ? loaded.outputSize : 1
        let classes = loaded.classCount ?? 0
        let (rows, truth, targets) = try readInputs(featureCount: inputs, extraColumns: extra, labelled: !loaded.task.isRegression,
                                                    classes: classes, targetNames: loaded.task.targetNames)
        guard !rows.isEmpty else { throw CommandFailure("\(input): no examples") }
        var features = Tensor(shape: [rows.count, inputs], scalars: rows.flatMap { $0 })
        loaded.normalization.apply(to: &features)
        if loaded.task.isRegression || loaded.task.loss == .binaryCrossEntropy {
            try printValues(loaded.task.predictions(loaded.model(features)), task: loaded.task, count: rows.count,
                            truth: loaded.task.isRegression ? targets : truth.map { $0.map(Float.init) })
            return
        }
        let probabilities = loaded.model(features).softmaxRows()
        let predicted = probabilities.argmaxRows()
        for i in 0..<min(limit, rows.count) {
            let ranked = (0..<probabilities.shape[1]).sorted { probabilities[i, $0] > probabilities[i, $1] }.prefix(top)
            let shown = ranked.map { String(format: "%d: %.4f", $0, probabilities[i, $0]) }.joined(separator: "  ")
            let label = truth.map { "  (label \($0[i]))" } ?? ""
            print("example \(i): class \(predicted[i])   \(shown)\(label)")
        }
        if let truth {
            let correct = zip(predicted, truth).filter { $0 == $1 }.count
            print(String(format: "accuracy on %d labelled examples: %.2f%%", rows.count, 100 * Float(correct) / Float(rows.count)))
        } else if rows.count > limit {
            print("(\(rows.count - limit) more examples not shown; --limit to see them)")
        }
    }

    /// A regression's values (in the data's units), or a two-class model's P(class 1); a CSV
    /// input's extra columns are the true targets (or label), scored as eval would.
    private func printValues(_ values: Tensor, task: TrainingTask, count: Int, truth: [Float]?) throws {
        let width = values.shape[1]
        for i in 0..<min(limit, count) {
            let shown = (0..<width).map { String(format: "%.6g", values[i, $0]) }.joined(separator: "  ")
            if task.isRegression {
                let known = truth.map { t in "  (target " + (0..<width).map { String(format: "%.6g", t[i * width + $0]) }.joined(separator: "  ") + ")" } ?? ""
                let names = task.targetNames.map { "  [" + $0.joined(separator: ", ") + "]" } ?? ""
                print("example \(i): \(shown)\(names)\(known)")
            } else {
                let known = truth.map { String(format: "  (label %.0f)", $0[i]) } ?? ""
                print(String(format: "example %d: class %d   P(class 1) %.4f%@", i, values[i, 0] > 0.5 ? 1 : 0, values[i, 0], known))
            }
        }
        if let truth {
            if task.isRegression {
                var metrics = RegressionMetrics.Accumulator(targets: width)
                metrics.add(predictions: values, targets: Tensor(shape: [count, width], scalars: truth))
                let m = metrics.metrics
                print(String(format: "on %d examples with targets: MSE %.6g  MAE %.6g  R² %.4f", count, m.meanSquaredError, m.meanAbsoluteError, m.rSquared))
            } else {
                let correct = (0..<count).filter { (values[$0, 0] > 0.5 ? 1 : 0) == Int(truth[$0]) }.count
                print(String(format: "accuracy on %d labelled examples: %.2f%%", count, 100 * Float(correct) / Float(count)))
            }
        } else if count > limit {
            print("(\(count - limit) more examples not shown; --limit to see them)")
        }
    }

    private func readInputs(featureCount: Int, extraColumns: Int, labelled: Bool, classes: Int,
                            targetNames: [String]? = nil) throws -> ([[Float]], [Int]?, [Float]?) {
        let lower = input.lowercased()
        do {
            if lower.hasSuffix(".png") {
                let image = try PNGImage(contentsOf: input)
                let side = Int(Double(featureCount).squareRoot())
                guard side * side == featureCount else {
                    throw CommandFailure("the model takes \(featureCount) inputs, not a square image")
                }
                return ([image.digitFeatures(size: side)], nil, nil)
            }
            if lower.hasSuffix(".csv") {
                let table = try CSV.read(contentsOf: input)
                // A regression file with a header: its target columns by the names the model was
                // trained with (features are the other columns, in order), as train and eval read it.
                if !labelled, let names = targetNames, table.columnNames != nil, table.columnCount == featureCount + names.count {
                    let (data, _) = try CSV.regression(table, path: input, targets: .named(names))
                    let rows = (0..<data.count).map { r in (0..<featureCount).map { data.features[r, $0] } }
                    return (rows, nil, data.targets.scalars)
                }
                let rows = (0..<table.rowCount).map { r in (0..<table.columnCount).map { table.column($0)[r] } }
                if table.columnCount == featureCount { return (rows, nil, nil) }
                guard table.columnCount == featureCount + extraColumns else {
                    let what = labelled ? "an optional label column" : "\(extraColumns) optional target column(s)"
                    throw CommandFailure("\(input): \(table.columnCount) columns; the model takes \(featureCount) features (plus \(what))")
                }
                let features = rows.map { Array($0.prefix(featureCount)) }
                guard labelled else {
                    return (features, nil, rows.flatMap { $0.dropFirst(featureCount) })
                }
                // Labels through the reader train and eval use, bounded by the model's classes.
                let data = try CSV.labeled(table, path: input, label: .last, classCount: classes)
                return (features, data.labels.map(Int.init), nil)
            }
            if lower.hasSuffix(".npy") {
                let array = try NumPyArray(contentsOf: input)
                let scale: Float = array.encoding.kind == .uint8 ? 1 / 255 : 1
                return (try split(array.floats().map { $0 * scale }, shape: array.shape, featureCount: featureCount), nil, nil)
            }
            let array = try IDXArray(contentsOf: input)
            let scale: Float = array.elementType == .uint8 ? 1 / 255 : 1
            return (try split(array.floats().map { $0 * scale }, shape: array.shape, featureCount: featureCount), nil, nil)
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    private func split(_ values: [Float], shape: [Int], featureCount: Int) throws -> [[Float]] {
        let perExample = shape.count <= 1 ? values.count : shape.dropFirst().reduce(1, *)
        guard perExample == featureCount else {
            throw CommandFailure("\(input): examples of shape \(Array(shape.dropFirst())) (\(perExample) values); the model takes \(featureCount)")
        }
        // NaN or ±inf would come out as NaN probabilities reported as class 0 (CSV refuses them).
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw CommandFailure("\(input): value \(values[bad]) at example \(bad / featureCount), feature \(bad % featureCount) is not a finite number")
        }
        return stride(from: 0, to: values.count, by: featureCount).map { Array(values[$0..<($0 + featureCount)]) }
    }
}
