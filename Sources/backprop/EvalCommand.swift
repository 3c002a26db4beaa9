import ArgumentParser
import Backprop
import Foundation

/// A model file and what it says about itself: a single network, an ensemble or a mixture of
/// experts, read through ``ModelFile`` — the one loader of every command — so a file is
/// accepted or refused the same way by eval, predict, info and export.
struct LoadedModel {
    var model: any Module
    var inputSize: Int
    var outputSize: Int
    var description: String
    var normalization: Normalization
    var configuration: TrainingConfiguration?
    var metrics: MetricsRecord?
    var optimizer: OptimizerState?
    var file: Safetensors
    var mixture: MixtureOfExperts?
    /// What the outputs are: classes (the default of files without a task entry), one
    /// two-class logit, or standardized regression values.
    var task: TrainingTask
    /// The classes a label may name (`0..<classCount`); nil for regression.
    var classCount: Int?

    init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure("\(path): no such file")
        }
        let loaded: ModelFile
        do { loaded = try ModelFile.read(path) } catch { throw CommandFailure("\(error)") }
        if let warning = loaded.warning { FileHandle.standardError.write(Data("\(warning)\n".utf8)) }
        model = loaded.model
        inputSize = loaded.inputSize
        outputSize = loaded.outputSize
        normalization = loaded.normalization
        configuration = loaded.configuration
        metrics = loaded.metrics
        optimizer = loaded.optimizer
        file = loaded.file
        task = loaded.task
        classCount = loaded.classCount
        switch loaded.description {
        case .ensemble(let architecture):
            // ModelFile refuses an ensemble of no members; `first` keeps this free of traps anyway.
            let sizes = architecture.members.first?.sizes ?? [], activation = architecture.members.first?.activation.rawValue ?? ""
            let combination = (loaded.model as? Ensemble).map { ", combined by \($0.combination)" } ?? ""
            description = "ensemble of \(architecture.members.count) × \(sizes.map(String.init).joined(separator: "-")) \(activation)\(architecture.bagging ? " (bagging)" : "")\(combination)"
        case .mixtureOfExperts(let architecture):
            mixture = loaded.model as? MixtureOfExperts
            description = "mixture of \(architecture.expertCount) experts \(architecture.expert.sizes.map(String.init).joined(separator: "-")), gate \(architecture.gate.sizes.map(String.init).joined(separator: "-"))\(architecture.topK.map { ", top-\($0) routing" } ?? "")"
        case .network(let architecture):
            description = "\(architecture.sizes.map(String.init).joined(separator: "-")), \(architecture.activation.rawValue) hidden units\(architecture.batchNorm ? ", batch normalization" : "")\(architecture.dropout > 0 ? ", dropout \(architecture.dropout)" : "")\(architecture.inputNoise > 0 ? ", input noise σ=\(architecture.inputNoise)" : "")"
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
        let task = loaded.task
        // A regression model re-reads its target columns: by name when the file had a header.
        let targets: CSV.TargetColumns? = task.isRegression
            ? task.targetNames.map { .named($0) } ?? .last(task.targetScaling?.mean.count ?? loaded.outputSize) : nil
        // A classifier's labels are read against its own classes (a label it cannot predict is
        // refused, naming the file and row; a test set need not hold every class).
        let data = try DatasetLoader.load(name, dataDirectory: dataDirectory, examples: examples,
                                          seed: loaded.configuration.map { $0.dataSeed ?? $0.seed } ?? 1, targets: name.lowercased().hasPrefix("csv:") ? targets : nil,
                                          classCount: task.isRegression ? nil : loaded.classCount)
        guard data.isRegression == task.isRegression else {
            throw CommandFailure("\(name) has \(data.isRegression ? "real-valued targets" : "class labels"), but the model is \(task.isRegression ? "a regression" : "a classifier")")
        }
        if task.loss == .binaryCrossEntropy && data.test.classCount != 2 {
            throw CommandFailure("the model has one sigmoid output for two classes; \(name) has \(data.test.classCount) classes")
        }
        guard data.test.featureCount == loaded.inputSize, task.outputCount(for: data.test) == loaded.outputSize else {
            throw CommandFailure("\(name) has \(data.test.featureCount) features and \(task.outputCount(for: data.test)) outputs to predict; the model has \(loaded.inputSize) inputs and \(loaded.outputSize) outputs")
        }
        let result = task.objective().measure(loaded.model, on: data.test, normalization: loaded.normalization)
        print("\(name) test set: \(result.count) examples")
        if task.isRegression {
            for line in EvaluationReport.summary(result, task: task, set: "test") { print(line) }
            return
        }
        print(String(format: "loss %.4f  accuracy %.2f%%  error %.2f%%", result.loss, 100 * result.accuracy, 100 * (1 - result.accuracy)))
        if let b = result.binary {
            print(String(format: "precision %.4f  recall %.4f  F1 %.4f  ROC AUC %.4f (class 1 positive)", b.precision, b.recall, b.f1, b.rocAUC))
        }
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
        print("task: \(TaskDescription.text(loaded.task))")
        print("parameters: \(loaded.model.parameterCount)")
        print(loaded.model.summary)
        print("tensors:")
        for (name, entry) in loaded.file.entries where !name.hasPrefix("optimizer.") {
            print("  \(name)  \(entry.dtype.rawValue) \(entry.shape)")
        }
        if let c = loaded.configuration {
            print("training: data set \(c.dataset ?? "?"), optimizer \(c.optimizer), schedule \(c.schedule), batch \(c.batchSize), epochs \(c.epochs), weight decay \(c.weightDecay)\(c.gradientTransformations.isEmpty ? "" : ", gradients: " + c.gradientTransformations.map(\.description).joined(separator: " → ")), seed \(c.seed)")
        }
        if let mixture = loaded.mixture, let name = loaded.configuration?.dataset,
           let data = try? DatasetLoader.load(name, dataDirectory: nil, examples: 1000, seed: loaded.configuration?.seed ?? 1) {
            print("expert usage on the \(name) test set:")
            print(mixture.usage(on: data.test, normalization: loaded.normalization))
        }
        if let metrics = loaded.metrics {
            var line = "metrics at epoch \(metrics.epoch), step \(metrics.step): "
            if loaded.task.isRegression {
                line += String(format: "train loss %.4g", metrics.trainLoss)
                if let v = metrics.validationLoss { line += String(format: ", validation MSE %.4g", v) }
                if let t = metrics.testLoss { line += String(format: ", test MSE %.4g", t) }
            } else {
                line += "train \(String(format: "%.2f%%", 100 * metrics.trainAccuracy))"
                if let v = metrics.validationAccuracy { line += String(format: ", validation %.2f%%", 100 * v) }
                if let t = metrics.testAccuracy { line += String(format: ", test %.2f%%", 100 * t) }
            }
            print(line)
        }
        if let state = loaded.optimizer {
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

/// The lines that report an evaluation, by task: accuracy for classifiers (with precision,
/// recall, F1 and ROC AUC for two classes), MSE, MAE and R² for regression.
enum EvaluationReport {
    static func summary(_ e: Evaluation, task: TrainingTask, set: String) -> [String] {
        if let r = e.regression {
            var lines = [String(format: "%@ MSE %.6g  MAE %.6g  R² %.4f", set, r.meanSquaredError, r.meanAbsoluteError, r.rSquared)]
            if r.rSquaredPerTarget.count > 1 {
                let names = task.targetNames ?? (0..<r.rSquaredPerTarget.count).map { "target \($0)" }
                lines.append("R² per target: " + zip(names, r.rSquaredPerTarget).map { String(format: "%@ %.4f", $0, $1) }.joined(separator: ", "))
            }
            return lines
        }
        var lines = [String(format: "%@ accuracy: %.2f%%", set, 100 * e.accuracy)]
        if let b = e.binary {
            lines.append(String(format: "precision %.4f  recall %.4f  F1 %.4f  ROC AUC %.4f (class 1 positive)", b.precision, b.recall, b.f1, b.rocAUC))
        }
        return lines
    }
}

/// How `info` names a task.
enum TaskDescription {
    static func text(_ task: TrainingTask) -> String {
        switch task.loss {
        case .crossEntropy: return "classification (softmax outputs, cross-entropy)"
        case .binaryCrossEntropy: return "two-class classification (one sigmoid output, binary cross-entropy)"
        case .meanSquaredError, .sumSquaredError:
            let names = task.targetNames.map { " " + $0.joined(separator: ", ") } ?? ""
            let count = task.targetScaling?.mean.count ?? 0
            return "regression of \(count) target(s)\(names) (linear outputs, \(task.loss == .meanSquaredError ? "mean" : "sum of") squared error; targets standardized: μ \(task.targetScaling?.mean ?? []), σ \(task.targetScaling?.standardDeviation ?? []))"
        }
    }
}
