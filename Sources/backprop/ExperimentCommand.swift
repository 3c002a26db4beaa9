import ArgumentParser
import Backprop
import Foundation

/// `backprop experiment NAME`: reproduce a figure of the course into an output folder.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Reproduce one of the course's figures: PNG and SVG figures, CSV numbers and report.md.",
        discussion: """
            Experiments: nonlinearities (sigmoid, tanh, ReLU on two moons), weight-decay (λ = 0, 40, 4000 and a sweep), \
            noise (input noise and dropout on small MNIST), mixtures (ensemble vs members, mixture of experts vs single nets), \
            depth (MNIST accuracy against 1 to 8 hidden layers, with and without BN), representations (first-layer \
            weights, PCA of each hidden layer, linear probes), sgd-fluctuation (Ruder's Fig. 1), momentum (Ruder's Fig. 2 \
            and every optimizer on Beale's function and a saddle), optimizers (all 11 on MNIST with tuned learning rates), \
            batchnorm (Ioffe & Szegedy's Fig. 1), augmentation (small MNIST with and without augmentation).
            `all` runs every experiment into OUT/NAME (default experiments/) and writes the index OUT/report.md and \
            OUT/index.html; `index` only rebuilds that index from the folders present.
            """
    )

    /// Every experiment, in the course's order (the index lists them in this order too).
    static let names = ["nonlinearities", "weight-decay", "noise", "mixtures", "depth", "representations",
                        "sgd-fluctuation", "momentum", "optimizers", "batchnorm", "augmentation"]

    @Argument(help: "The experiment: \(names.joined(separator: ", ")), or all, or index.")
    var name: String

    @Option(help: "Output folder (default: experiments/NAME; for all and index, the folder holding the experiments: experiments).")
    var out: String?

    @Flag(help: "Run the paper-scale version.")
    var full = false

    /// Runs experiment `name` into `directory`; nil for an unknown name.
    static func run(_ name: String, directory: String, full: Bool) throws -> ExperimentOutput? {
        // Flushed at once, so a long run shows its progress in a log file too.
        let progress: (String) -> Void = { print($0); fflush(nil) }
        switch name {
        case "momentum": return try MomentumExperiment.run(directory: directory, full: full)
        case "nonlinearities": return try NonlinearitiesExperiment.run(directory: directory, full: full)
        case "sgd-fluctuation": return try SGDFluctuationExperiment.run(directory: directory, full: full)
        case "weight-decay": return try WeightDecayExperiment.run(directory: directory, full: full)
        case "noise": return try NoiseExperiment.run(directory: directory, full: full)
        case "mixtures": return try MixturesExperiment.run(directory: directory, full: full)
        case "augmentation": return try AugmentationExperiment.run(directory: directory, full: full)
        case "depth": return try DepthExperiment.run(directory: directory, full: full, progress: progress)
        case "representations": return try RepresentationsExperiment.run(directory: directory, full: full, progress: progress)
        case "optimizers": return try OptimizersExperiment.run(directory: directory, full: full, progress: progress)
        case "batchnorm": return try BatchNormExperiment.run(directory: directory, full: full, progress: progress)
        default: return nil
        }
    }

    func run() throws {
        let key = name.lowercased()
        do {
            switch key {
            case "all":
                let root = out ?? "experiments"
                for experiment in Self.names {
                    let start = Date()
                    print("running \(experiment)…")
                    fflush(nil)
                    guard let output = try Self.run(experiment, directory: (root as NSString).appendingPathComponent(experiment), full: full) else {
                        throw CommandFailure("experiment '\(experiment)' is listed but not runnable")
                    }
                    print(String(format: "wrote %@ (%.0f s)", output.path("report.md"), Date().timeIntervalSince(start)))
                }
                try writeIndex(root: root)
            case "index":
                try writeIndex(root: out ?? "experiments")
            default:
                guard let output = try Self.run(key, directory: out ?? "experiments/\(key)", full: full) else {
                    throw CommandFailure("unknown experiment '\(name)'; available: \(Self.names.joined(separator: ", ")), all, index")
                }
                print("wrote \(output.path("report.md"))")
                // The default layout keeps the index of experiments/ current.
                if out == nil { try writeIndex(root: "experiments") }
            }
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    private func writeIndex(root: String) throws {
        let entries = try ExperimentIndex.write(root: root, order: Self.names)
        print("wrote \((root as NSString).appendingPathComponent("index.html")) and report.md: \(entries.count) experiments (\(entries.map(\.folder).joined(separator: ", ")))")
    }
}
