import ArgumentParser
import Backprop
import Foundation

/// `backprop experiment NAME`: reproduce a figure of the course into an output folder.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Reproduce one of the course's figures: PNG and SVG figures, CSV numbers and report.md.",
        discussion: "Experiments so far: nonlinearities (sigmoid, tanh, ReLU on two moons), momentum (Ruder's Fig. 2 and every optimizer on Beale's function and a saddle), sgd-fluctuation (Ruder's Fig. 1), depth (MNIST accuracy against 1 to 8 hidden layers, with and without BN), representations (first-layer weights, PCA of each hidden layer, linear probes), optimizers (all 11 on MNIST with tuned learning rates), batchnorm (Ioffe & Szegedy's Fig. 1)."
    )

    @Argument(help: "The experiment: nonlinearities, momentum, sgd-fluctuation, depth, representations, optimizers, batchnorm.")
    var name: String

    @Option(help: "Output folder (default: experiments/NAME).")
    var out: String?

    @Flag(help: "Run the paper-scale version.")
    var full = false

    func run() throws {
        let directory = out ?? "experiments/\(name)"
        do {
            // Flushed at once, so a long run shows its progress in a log file too.
            let progress: (String) -> Void = { print($0); fflush(nil) }
            let output: ExperimentOutput
            switch name.lowercased() {
            case "momentum": output = try MomentumExperiment.run(directory: directory, full: full)
            case "nonlinearities": output = try NonlinearitiesExperiment.run(directory: directory, full: full)
            case "sgd-fluctuation": output = try SGDFluctuationExperiment.run(directory: directory, full: full)
            case "depth": output = try DepthExperiment.run(directory: directory, full: full, progress: progress)
            case "representations": output = try RepresentationsExperiment.run(directory: directory, full: full, progress: progress)
            case "optimizers": output = try OptimizersExperiment.run(directory: directory, full: full, progress: progress)
            case "batchnorm": output = try BatchNormExperiment.run(directory: directory, full: full, progress: progress)
            default:
                throw CommandFailure("unknown experiment '\(name)'; available: nonlinearities, momentum, sgd-fluctuation, depth, representations, optimizers, batchnorm")
            }
            print("wrote \(output.path("report.md"))")
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
