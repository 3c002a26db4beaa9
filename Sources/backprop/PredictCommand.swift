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
        let (rows, truth) = try readInputs(featureCount: inputs)
        guard !rows.isEmpty else { throw CommandFailure("\(input): no examples") }
        var features = Tensor(shape: [rows.count, inputs], scalars: rows.flatMap { $0 })
        loaded.normalization.apply(to: &features)
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

    private func readInputs(featureCount: Int) throws -> ([[Float]], [Int]?) {
        let lower = input.lowercased()
        do {
            if lower.hasSuffix(".png") {
                let image = try PNGImage(contentsOf: input)
                let side = Int(Double(featureCount).squareRoot())
                guard side * side == featureCount else {
                    throw CommandFailure("the model takes \(featureCount) inputs, not a square image")
                }
                return ([image.digitFeatures(size: side)], nil)
            }
            if lower.hasSuffix(".csv") {
                let table = try CSV.read(contentsOf: input)
                let rows = (0..<table.rowCount).map { r in (0..<table.columnCount).map { table.column($0)[r] } }
                if table.columnCount == featureCount { return (rows, nil) }
                guard table.columnCount == featureCount + 1 else {
                    throw CommandFailure("\(input): \(table.columnCount) columns; the model takes \(featureCount) features (plus an optional label column)")
                }
                return (rows.map { Array($0.dropLast()) }, rows.map { Int($0[featureCount]) })
            }
            if lower.hasSuffix(".npy") {
                let array = try NumPyArray(contentsOf: input)
                let scale: Float = array.encoding.kind == .uint8 ? 1 / 255 : 1
                return (try split(array.floats().map { $0 * scale }, shape: array.shape, featureCount: featureCount), nil)
            }
            let array = try IDXArray(contentsOf: input)
            let scale: Float = array.elementType == .uint8 ? 1 / 255 : 1
            return (try split(array.floats().map { $0 * scale }, shape: array.shape, featureCount: featureCount), nil)
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
        return stride(from: 0, to: values.count, by: featureCount).map { Array(values[$0..<($0 + featureCount)]) }
    }
}
