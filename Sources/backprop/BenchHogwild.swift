import ArgumentParser
import Backprop
import Foundation

/// `backprop bench hogwild`: lock-free parallel SGD on a sparse logistic regression against one
/// thread and against the same threads taking a lock per update.
struct BenchHogwild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hogwild",
        abstract: "Time Hogwild! (lock-free SGD across threads) on a sparse problem against 1 thread and a locked update.",
        discussion: """
            Logistic regression on synthetic sparse examples (each with --non-zeros of \
            --features features). Prints seconds per epoch and the final loss and accuracy for \
            1 thread, --threads threads without locks (Hogwild!) and --threads threads with one \
            lock around each update. On a machine whose cores other processes use, the times \
            are contended.
            """
    )

    @Option(help: "Examples.") var examples = 200_000
    @Option(help: "Features.") var features = 100_000
    @Option(name: .customLong("non-zeros"), help: "Non-zero features per example.") var nonZeros = 20
    @Option(help: "Passes over the examples.") var epochs = 3
    @Option(help: "Threads for the parallel runs (default: all processors).") var threads: Int?

    func run() throws {
        guard #available(macOS 15.0, *) else { throw CommandFailure("bench hogwild needs macOS 15 or Linux") }
        let count = threads ?? ProcessInfo.processInfo.activeProcessorCount
        guard count >= 1, examples >= 1, features >= 1, nonZeros >= 1, nonZeros <= features, epochs >= 1 else {
            throw ValidationError("need positive --threads, --examples, --features, --epochs and 1 ≤ --non-zeros ≤ --features")
        }
        let data = SparseExamples.synthetic(count: examples, features: features, nonZeros: nonZeros, seed: 1)
        print("backprop bench hogwild: \(examples) examples, \(features) features, \(nonZeros) non-zeros each, \(epochs) epochs")
        let busy0 = TrainingBenchmark.machineBusySeconds(), cpu0 = TrainingBenchmark.processCPUSeconds()
        let wall0 = TrainingBenchmark.monotonicSeconds()
        var baseline = 0.0
        for (name, threadCount, locked) in [("serial", 1, false), ("hogwild", count, false), ("locked", count, true)] {
            let start = TrainingBenchmark.monotonicSeconds()
            let w = Hogwild.train(data, threads: threadCount, epochs: epochs, learningRate: 0.5, seed: 2, locked: locked)
            let seconds = (TrainingBenchmark.monotonicSeconds() - start) / Double(epochs)
            if name == "serial" { baseline = seconds }
            let (loss, accuracy) = data.evaluate(w)
            print(name.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: " %2d thread(s)  %.3f s/epoch  ×%.2f vs serial  loss %.4f  accuracy %.2f%%",
                         threadCount, seconds, baseline / seconds, loss, 100 * accuracy))
        }
        let wall = TrainingBenchmark.monotonicSeconds() - wall0
        if let busy0, let busy1 = TrainingBenchmark.machineBusySeconds() {
            let other = max(0, busy1 - busy0 - (TrainingBenchmark.processCPUSeconds() - cpu0)) / wall
            print(String(format: "other processes used %.2f cores meanwhile%@", other, other > 0.1 ? " (times contended)" : ""))
        }
    }
}
