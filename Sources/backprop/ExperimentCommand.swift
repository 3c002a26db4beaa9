import ArgumentParser
import Backprop
import Foundation

/// `backprop experiment NAME`: reproduce a figure of the course into an output folder.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Reproduce one of the course's figures: PNG and SVG figures, CSV numbers and report.md.",
        discussion: "Experiments so far: nonlinearities (sigmoid, tanh, ReLU on two moons), momentum (Ruder's Fig. 2 and every optimizer on Beale's function and a saddle), sgd-fluctuation (Ruder's Fig. 1)."
    )

    @Argument(help: "The experiment: nonlinearities, momentum, sgd-fluctuation.")
    var name: String

    @Option(help: "Output folder (default: experiments/NAME).")
    var out: String?

    @Flag(help: "Run the paper-scale version.")
    var full = false

    func run() throws {
        let directory = out ?? "experiments/\(name)"
        do {
            switch name.lowercased() {
            case "momentum":
                let output = try MomentumExperiment.run(directory: directory, full: full)
                print("wrote \(output.path("report.md"))")
            case "nonlinearities":
                let output = try NonlinearitiesExperiment.run(directory: directory, full: full)
                print("wrote \(output.path("report.md"))")
            case "sgd-fluctuation":
                let output = try SGDFluctuationExperiment.run(directory: directory, full: full)
                print("wrote \(output.path("report.md"))")
            default:
                throw CommandFailure("unknown experiment '\(name)'; available: nonlinearities, momentum, sgd-fluctuation")
            }
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
