import ArgumentParser
import Backprop
import Foundation

/// `backprop export`: a model in formats other tools read — ONNX for inference runtimes, NumPy
/// for array code.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a model as ONNX (for ONNX Runtime and other runtimes) and/or NumPy arrays.",
        discussion: """
            --onnx writes an ONNX model (opset \(ONNXExport.opsetVersion)) with input '\(ONNXExport.inputName)' \
            [batch, features] — raw features: the model's input standardization is part of the graph — and \
            output '\(ONNXExport.outputName)' [batch, classes]: class probabilities (softmax rows), the \
            numbers `backprop predict` prints; a two-class model with one sigmoid output (--loss bce) gives \
            [batch, 1], P(class 1); a regression model (--loss mse/sse) has output '\(ONNXExport.valuesOutputName)' \
            [batch, targets], its values in the data's units (the target standardization is part of the graph). \
            Networks, ensembles (averaged probabilities or outputs) and mixtures of experts (dense or top-k) \
            are exported as their computation graphs.
            --npz writes the model's tensors under their PyTorch state-dict names: PATH ending in .npz \
            gives one archive for numpy.load; any other PATH is a folder of NAME.npy files.
            """
    )

    @Argument(help: "A model.safetensors or checkpoint.safetensors written by backprop train or import-weights.")
    var checkpoint: String

    @Option(help: "Write an ONNX model to this file.")
    var onnx: String?

    @Option(help: "Write the tensors as a NumPy .npz archive (PATH.npz) or a folder of .npy files.")
    var npz: String?

    func validate() throws {
        guard onnx != nil || npz != nil else { throw ValidationError("nothing to export: give --onnx FILE and/or --npz PATH") }
    }

    func run() throws {
        let loaded = try LoadedModel(path: checkpoint)
        if let onnx {
            do {
                try ONNXExport.write(loaded.model, inputSize: loaded.inputSize, normalization: loaded.normalization,
                                     task: loaded.task, description: loaded.description, to: onnx)
            } catch {
                throw CommandFailure("\(error)")
            }
            let meaning = loaded.task.isRegression ? "regression values" : loaded.task.loss == .binaryCrossEntropy ? "P(class 1)" : "class probabilities"
            print("\(onnx): ONNX opset \(ONNXExport.opsetVersion), \(loaded.description); output '\(ONNXExport.outputName(for: loaded.task))' = \(meaning)")
        }
        if let npz {
            let tensors = loaded.file.entries.filter { !$0.name.hasPrefix("optimizer.") }
            do {
                if npz.hasSuffix(".npz") {
                    try NumPyArchive(arrays: tensors.map { ($0.name, NumPyArray($0.entry)) }).write(to: npz)
                } else {
                    try FileManager.default.createDirectory(atPath: npz, withIntermediateDirectories: true)
                    for (name, entry) in tensors {
                        guard !name.contains("/"), name != ".", name != ".." else {
                            throw CommandFailure("\(checkpoint): tensor name '\(name)' cannot be a file name")
                        }
                        try NumPyArray(entry).write(to: (npz as NSString).appendingPathComponent(name + ".npy"))
                    }
                }
            } catch let error as CommandFailure {
                throw error
            } catch {
                throw CommandFailure("\(error)")
            }
            print("\(npz): \(tensors.count) arrays")
        }
    }
}
