import ArgumentParser
import Backprop
import Foundation

/// A model file and what it says about itself: a single network, an ensemble or a mixture of experts.
struct LoadedModel {
    var model: any Module
    var inputSize: Int
    var outputSize: Int
    var description: String
    var normalization: Normalization
    var configuration: TrainingConfiguration?
    var file: Safetensors
    var mixture: MixtureOfExperts?

    init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure("\(path): no such file")
        }
        do {
            let file: Safetensors
            do { file = try Safetensors(contentsOf: path) } catch { throw CheckpointError.data(error) }
            if file.metadata[EnsembleArchitecture.metadataKey] != nil {
                let (model, architecture, _) = try Ensemble.load(from: path)
                let m = architecture.members[0]
                self.model = model
                inputSize = m.sizes.first ?? 0
                outputSize = m.sizes.last ?? 0
                description = "ensemble of \(architecture.members.count) × \(m.sizes.map(String.init).joined(separator: "-")) \(m.activation.rawValue)\(architecture.bagging ? " (bagging)" : ""), combined by \(model.combination)"
            } else if file.metadata[MixtureOfExpertsArchitecture.metadataKey] != nil {
                let (model, architecture, _) = try MixtureOfExperts.load(from: path)
                self.model = model
                mixture = model
                inputSize = architecture.expert.sizes.first ?? 0
                outputSize = architecture.expert.sizes.last ?? 0
                description = "mixture of \(architecture.expertCount) experts \(architecture.expert.sizes.map(String.init).joined(separator: "-")), gate \(architecture.gate.sizes.map(String.init).joined(separator: "-"))\(architecture.topK.map { ", top-\($0) routing" } ?? "")"
            } else {
                let (model, architecture, _) = try Checkpoint.loadModel(path)
                self.model = model
                inputSize = architecture.sizes.first ?? 0
                outputSize = architecture.sizes.last ?? 0
                description = "\(architecture.sizes.map(String.init).joined(separator: "-")), \(architecture.activation.rawValue) hidden units\(architecture.batchNorm ? ", batch normalization" : "")\(architecture.dropout > 0 ? ", dropout \(architecture.dropout)" : "")\(architecture.inputNoise > 0 ? ", input noise σ=\(architecture.inputNoise)" : "")"
            }
            self.file = file
            normalization = (try? Checkpoint.decode(Normalization.self, file, key: Checkpoint.Key.normalization, path: path)) ?? .none
            configuration = try? Checkpoint.decode(TrainingConfiguration.self, file, key: Checkpoint.Key.configuration, path: path)
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

/// `backprop eval`: a trained model's loss, accuracy and confusion matrix on a test set.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a trained model: test loss, accuracy, per-class precision and recall, confusion matrix."
    )

    @Argument(help: "A model.safetensors or checkpoint.safetensors written by backprop train.")
    var checkpoint: String

    @Option(help: "Data set to evaluate on (default: the one the model was trained on).")
    var dataset: String?

    @Option(name: .customLong("data-dir"), help: "Directory holding data sets.")
    var dataDirectory: String?

    @Option(help: "Examples per generated 2-D data set.")
    var examples: Int = 1000

    func run() throws {
        let loaded = try LoadedModel(path: checkpoint)
        guard let name = dataset ?? loaded.configuration?.dataset else {
            throw CommandFailure("\(checkpoint) does not record its data set; give --dataset")
        }
        let data = try DatasetLoader.load(name, dataDirectory: dataDirectory, examples: examples,
                                          seed: loaded.configuration?.seed ?? 1)
        guard data.test.featureCount == loaded.inputSize, data.test.classCount == loaded.outputSize else {
            throw CommandFailure("\(name) has \(data.test.featureCount) features and \(data.test.classCount) classes; the model expects \(loaded.inputSize) and \(loaded.outputSize)")
        }
        let result = Evaluation.measure(loaded.model, on: data.test, normalization: loaded.normalization)
        print("\(name) test set: \(result.count) examples")
        print(String(format: "loss %.4f  accuracy %.2f%%  error %.2f%%", result.loss, 100 * result.accuracy, 100 * (1 - result.accuracy)))
        print(result.confusion.table)
    }
}

/// `backprop info`: what a model file holds.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a model or checkpoint: architecture, parameters, training configuration, metrics; or, with --system, this machine's CPU and the kernel level in use."
    )

    @Argument(help: "A .safetensors file written by backprop train.")
    var checkpoint: String?

    @Flag(help: "Describe this machine instead: CPU model, the instruction-set levels it supports and the one in use (BACKPROP_CPU or the best), vector width, GEMM tile, threads.")
    var system = false

    func validate() throws {
        if system && checkpoint != nil { throw ValidationError("--system takes no file: run `backprop info FILE` and `backprop info --system` separately") }
        if !system && checkpoint == nil { throw ValidationError("give a .safetensors file, or --system for this machine") }
    }

    func run() throws {
        guard let checkpoint else {
            print(SystemReport.text)
            return
        }
        let loaded = try LoadedModel(path: checkpoint)
        print("network: \(loaded.description)")
        print("parameters: \(loaded.model.parameterCount)")
        print(loaded.model.summary)
        print("tensors:")
        for (name, entry) in loaded.file.entries where !name.hasPrefix("optimizer.") {
            print("  \(name)  \(entry.dtype.rawValue) \(entry.shape)")
        }
        if let c = loaded.configuration {
            print("training: data set \(c.dataset ?? "?"), optimizer \(c.optimizer), schedule \(c.schedule), batch \(c.batchSize), epochs \(c.epochs), weight decay \(c.weightDecay), seed \(c.seed)")
        }
        if let mixture = loaded.mixture, let name = loaded.configuration?.dataset,
           let data = try? DatasetLoader.load(name, dataDirectory: nil, examples: 1000, seed: loaded.configuration?.seed ?? 1) {
            print("expert usage on the \(name) test set:")
            print(mixture.usage(on: data.test, normalization: loaded.normalization))
        }
        if let metrics = try? Checkpoint.decode(MetricsRecord.self, loaded.file, key: Checkpoint.Key.metrics, path: checkpoint) {
            var line = "metrics at epoch \(metrics.epoch), step \(metrics.step): train \(String(format: "%.2f%%", 100 * metrics.trainAccuracy))"
            if let v = metrics.validationAccuracy { line += String(format: ", validation %.2f%%", 100 * v) }
            if let t = metrics.testAccuracy { line += String(format: ", test %.2f%%", 100 * t) }
            print(line)
        }
        if loaded.file.entries.contains(where: { $0.name.hasPrefix("optimizer.") }),
           let state = try? Checkpoint.decode(OptimizerState.self, loaded.file, key: Checkpoint.Key.optimizer, path: checkpoint) {
            print("optimizer state: \(state.algorithm), \(state.stepCount) steps, η = \(state.learningRate)")
        }
    }
}

/// What `backprop info --system` prints: the machine and the kernels this process runs.
enum SystemReport {
    static var text: String {
        let kernels = KernelTable.current
        let requested = ProcessInfo.processInfo.environment["BACKPROP_CPU"].map { "BACKPROP_CPU=\($0)" } ?? "the best this CPU supports"
        var lines = ["cpu: \(CPULevel.cpuModel)"]
        #if arch(x86_64)
        lines.append("architecture: x86-64")
        #elseif arch(arm64)
        lines.append("architecture: arm64")
        #endif
        lines.append("levels supported: " + CPULevel.supported.map { "\($0.rawValue) (\($0.instructionSets))" }.joined(separator: ", "))
        lines.append("level in use: \(kernels.level.rawValue) (\(requested))")
        lines.append("vector width: \(kernels.vectorWidth) floats")
        lines.append("gemm tile: \(kernels.gemmTile.rows) x \(kernels.gemmTile.columns)")
        lines.append("threads: \(ThreadPool.shared.threadCount) (of \(ProcessInfo.processInfo.activeProcessorCount) active processors)")
        return lines.joined(separator: "\n")
    }
}
