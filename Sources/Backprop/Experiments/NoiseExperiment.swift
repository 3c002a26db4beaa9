import Foundation

/// The course's "training with noise": the same network on small-sample MNIST trained plainly,
/// with Gaussian noise added to every input image in training, and with dropout on the hidden
/// units — test error after every epoch. The plain network fits its few thousand images
/// perfectly and its test error stalls; both kinds of noise keep it from memorizing them.
public enum NoiseExperiment {
    /// The compared settings: label, input-noise σ (pixels in [0, 1]) and hidden dropout p.
    public static let variants: [(label: String, inputNoise: Float, dropout: Float)] = [
        ("no noise", 0, 0), ("input noise σ = 0.4", 0.4, 0), ("dropout p = 0.5", 0, 0.5),
    ]

    /// Test-error curves of every variant, all from the same initialization seed and batch order.
    public static func curves(data: SmallMNIST, hidden: [Int] = [512, 512], epochs: Int, seed: UInt64 = 1) throws -> [SmallMNIST.Curves] {
        var configuration = TrainingConfiguration()
        configuration.epochs = epochs
        configuration.batchSize = 64
        configuration.optimizer = OptimizerSpecification(Adam(), learningRate: 0.001)
        configuration.seed = seed
        return try variants.map { v in
            let architecture = try MultilayerPerceptronArchitecture(sizes: [784] + hidden + [10], activation: .relu,
                                                        dropout: v.dropout, inputNoise: v.inputNoise)
            return try data.curves(v.label, architecture: architecture, configuration: configuration)
        }
    }

    /// Runs the experiment into `directory`. `full` uses more images and epochs; the other
    /// arguments override the sizes (the tests run it tiny).
    public static func run(directory: String, full: Bool = false, trainCount: Int? = nil, epochs: Int? = nil,
                           testCount: Int = 10_000, hidden: [Int] = [512, 512]) throws -> ExperimentOutput {
        let output = try ExperimentOutput(directory: directory, title: "Training with noise: input noise and dropout")
        let trainCount = trainCount ?? (full ? 5000 : 1000), epochs = epochs ?? (full ? 100 : 60)
        let data = try SmallMNIST(trainCount: trainCount, testCount: testCount)
        let runs = try curves(data: data, hidden: hidden, epochs: epochs)
        let shape = (["784"] + hidden.map(String.init) + ["10"]).joined(separator: "-") + " ReLU"
        try data.addComparison(runs, to: output, name: "noise", title: "\(shape) on \(trainCount) MNIST images: with and without noise",
                               trainingTitle: "training error (as trained, with its noise)",
                               caption: "Adam (η = 0.001, batch 64), the same initialization and batch order for all three; test error after every epoch. Without noise the network soon fits its \(trainCount) images exactly and its test error stops improving; noise on the inputs (Gaussian, added afresh to every image in every batch) and dropout on the hidden units keep the training error above zero for longer.", epochs: epochs)
        try output.writeReport()
        return output
    }
}
