import ArgumentParser
import Backprop
import Foundation

/// `backprop train`: train a fully connected classifier and report honest held-out accuracy.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a fully connected classifier and print its test accuracy.",
        discussion: """
            Synthetic 2-D data sets (moons, circles, spirals, xor, blobs) are generated from the seed: \
            the training set from it, the test set from the next seed, so test accuracy is measured on \
            points the network never saw.
            """
    )

    @Option(help: "Data set: moons, circles, spirals, xor or blobs.")
    var dataset: String = "moons"

    @Option(help: "Examples in the training set (the test set has the same size).")
    var examples: Int = 1000

    @Option(help: "Layer sizes from input to output, e.g. 2,32,32,2 (default: 2,32,32,classes).")
    var layers: String?

    @Option(help: "Hidden non-linearity: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var activation: String = "relu"

    @Option(help: "Passes over the training set.")
    var epochs: Int = 100

    @Option(help: "Examples per mini-batch (1: stochastic; 0: the whole training set).")
    var batchSize: Int = 32

    @Option(help: "Learning rate η of SGD with momentum 0.9.")
    var lr: Float = 0.05

    @Option(help: "Random seed for data, initialization and shuffling.")
    var seed: UInt64 = 1

    @Option(help: "Worker threads for the kernels (default: all processors).")
    var threads: Int?

    func validate() throws {
        guard examples > 0 else { throw ValidationError("--examples must be positive, got \(examples)") }
        guard epochs > 0 else { throw ValidationError("--epochs must be positive, got \(epochs)") }
        guard batchSize >= 0 else { throw ValidationError("--batch-size must be ≥ 0, got \(batchSize)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
    }

    func run() throws {
        let backend = threads.map { Backend(threads: ThreadPool(threadCount: $0)) } ?? .cpu
        try Backend.$current.withValue(backend) { try train() }
    }

    private func makeData(seed: UInt64) throws -> LabeledData {
        switch dataset.lowercased() {
        case "moons": return SyntheticData.twoMoons(count: examples, noise: 0.2, seed: seed)
        case "circles": return SyntheticData.circles(count: examples, noise: 0.1, seed: seed)
        case "spirals": return SyntheticData.spirals(count: examples, classes: 3, noise: 0.05, seed: seed)
        case "xor": return SyntheticData.xor(repeats: max(1, examples / 4), noise: 0.15, seed: seed)
        case "blobs": return SyntheticData.blobs(count: examples, classes: 3, spread: 0.7, seed: seed)
        default:
            throw ValidationError("unknown --dataset '\(dataset)'; expected moons, circles, spirals, xor or blobs")
        }
    }

    private func train() throws {
        let trainSet = try makeData(seed: seed)
        let testSet = try makeData(seed: seed &+ 1)
        let sizes = try layers.map { try MultilayerPerceptron.parseSizes($0) } ?? [2, 32, 32, trainSet.classCount]
        guard sizes.first == trainSet.features.shape[1], sizes.last == trainSet.classCount else {
            throw ValidationError("--layers \(sizes.map(String.init).joined(separator: ",")) must start with \(trainSet.features.shape[1]) inputs and end with \(trainSet.classCount) classes for \(dataset)")
        }
        let spec = try MultilayerPerceptron(sizes: sizes, activation: MultilayerPerceptron.parseActivation(activation))
        let model = spec.build(seed: seed)
        print("\(dataset): \(trainSet.count) training and \(testSet.count) test examples; network \(sizes.map(String.init).joined(separator: "-")) \(spec.activation.rawValue), \(model.parameterCount) parameters")

        let n = trainSet.count
        let batch = batchSize == 0 ? n : min(batchSize, n)
        var order = RandomGenerator(seed: seed, stream: 77)
        var velocity = model.parameters.map { Tensor.zeros($0.shape) }
        let start = Date()
        for epoch in 1...epochs {
            let permutation = order.permutation(n)
            var total: Float = 0
            var steps = 0
            for first in stride(from: 0, to: n, by: batch) {
                let indices = permutation[first..<min(first + batch, n)]
                let x = Variable(trainSet.features.gatheringRows(indices))
                let labels = indices.map { trainSet.labels[$0] }
                let loss = softmaxCrossEntropy(logits: model(x), labels: labels)
                loss.backward()
                for (k, p) in model.parameters.enumerated() {
                    guard let g = p.grad else { continue }
                    velocity[k] = velocity[k] * 0.9 + g * lr   // Ruder's momentum: v = γv + η∇J
                    p.value -= velocity[k]
                    p.grad = nil
                }
                total += loss.value.scalar
                steps += 1
            }
            if epoch == 1 || epoch % max(1, epochs / 10) == 0 || epoch == epochs {
                let accuracy = Self.accuracy(model, trainSet)
                print(String(format: "epoch %4d/%d  loss %.4f  train accuracy %.2f%%", epoch, epochs, total / Float(steps), 100 * accuracy))
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let testAccuracy = Self.accuracy(model, testSet)
        print(String(format: "trained in %.2f s", seconds))
        print(String(format: "test accuracy: %.2f%%", 100 * testAccuracy))
    }

    static func accuracy(_ model: Sequential, _ data: LabeledData) -> Float {
        model.eval()
        defer { model.train() }
        let predicted = model(data.features).argmaxRows()
        return Float(zip(predicted, data.labels).filter { $0 == Int($1) }.count) / Float(data.count)
    }
}
