import ArgumentParser
import Backprop

/// `backprop`: define, train, evaluate and benchmark neural networks.
struct BackpropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backprop",
        abstract: "Define, train, evaluate and benchmark neural networks on the CPU.",
        discussion: """
            Examples:
              backprop train                         train the default network and print its test accuracy
              backprop train --dataset spirals --layers 2,64,64,3
              backprop bench gemm                    GEMM GFLOP/s against the measured peak and numpy
              backprop info --system                 this CPU, its instruction-set levels and the one in use

            Environment: BACKPROP_CPU=baseline|avx2|avx512|neon runs that level's kernels instead \
            of the best this CPU supports (refused, with the levels it has, when it cannot run \
            them); BACKPROP_THREADS sets the kernel threads.
            """,
        subcommands: [TrainCommand.self, EvalCommand.self, PredictCommand.self, InfoCommand.self, ExportCommand.self, ImportWeightsCommand.self, DataCommand.self, ExperimentCommand.self, BenchCommand.self]
    )
}

/// A failure while running a command (a missing or corrupt file, a bad name): printed as one
/// line on stderr with a non-zero exit, without the usage text that flag errors get.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
