import ArgumentParser
import Backprop

/// `backprop bench …`: speed measurements, each printed against a baseline measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Backprop's speed against baselines run in the same process.",
        subcommands: [BenchGemm.self, BenchElementwise.self, BenchSparse.self, BenchTrain.self, BenchDistributed.self, BenchHogwild.self]
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

struct BenchSparse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sparse",
        abstract: "Dense vs sparse-input first layer on MNIST batches, piece by piece.")

    @Option(help: "Threads (default: all of ThreadPool.shared).")
    var threads: Int?

    func run() throws {
        let images = try MNIST.loadBundled().train
        let pool = threads.map { ThreadPool(threadCount: $0) } ?? .shared
        for line in SparseInputBenchmark.run(images: images, threads: pool) { print(line) }
    }
}
