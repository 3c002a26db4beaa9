import ArgumentParser
import Backprop

/// `backprop bench …`: speed measurements, each printed against a baseline measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Backprop's speed against baselines run in the same process.",
        subcommands: [BenchGemm.self, BenchElementwise.self, BenchTrain.self, BenchDistributed.self, BenchHogwild.self]
    )
}

/// `backprop bench elementwise`: the vector math kernels against scalar libm loops.
struct BenchElementwise: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elementwise",
        abstract: "Time exp, log, tanh and sigmoid over 1M floats against a scalar libm loop."
    )

    func run() throws {
        for line in ElementwiseBenchmark.run() { print(line) }
    }
}
