import Foundation

/// The course's "DNNs for MNIST: depth improves the performance; saturating effects of
/// increasing the depth": test accuracy of fully connected ReLU networks of fixed width with
/// 1 to 8 hidden layers, each trained the same way, without and with Batch Normalization.
public enum DepthExperiment {
    /// The settings of one sweep.
    public struct Settings: Sendable {
        /// The numbers of hidden layers compared (default 1 through 8).
        public var depths: [Int] = Array(1...8)
        /// Units in every hidden layer.
        public var width: Int = 100
        /// Training images (nil: all 60,000).
        public var trainCount: Int?
        /// Epochs of Adam each network trains for.
        public var epochs: Int
        /// Examples per mini-batch.
        public var batchSize: Int = 128
        /// Adam's η, the same for every depth.
        public var learningRate: Float = 0.001
        /// One network per seed and setting; the figure shows the mean.
        public var seeds: [UInt64]

        /// Settings for a sweep over ``depths``; the other settings keep their defaults.
        ///
        /// - Parameters:
        ///   - trainCount: training images (nil: all 60,000).
        ///   - epochs: epochs per network.
        ///   - seeds: one network per seed for every depth, with and without BN.
        public init(trainCount: Int?, epochs: Int, seeds: [UInt64]) {
            self.trainCount = trainCount
            self.epochs = epochs
            self.seeds = seeds
        }

        /// Default: all 60,000 training images, 4 epochs, two seeds. Full: 20 epochs, three seeds.
        public static func standard(full: Bool) -> Settings {
            full ? Settings(trainCount: nil, epochs: 20, seeds: [1, 2, 3]) : Settings(trainCount: nil, epochs: 4, seeds: [1, 2])
        }
    }

    /// One trained network.
    public struct Result: Sendable {
        /// The number of hidden layers.
        public var depth: Int
        /// Whether the network has Batch Normalization in every hidden layer.
        public var batchNorm: Bool
        /// The seed of the network's initial weights.
        public var seed: UInt64
        /// Accuracy on the training images after the last epoch.
        public var trainAccuracy: Float
        /// Accuracy on the 10,000 test images after the last epoch.
        public var testAccuracy: Float
        /// The number of trainable parameters.
        public var parameters: Int
        /// Training time in seconds.
        public var seconds: Double
    }

    /// Trains every depth without and with BN for every seed.
    public static func results(_ s: Settings, progress: (String) -> Void = { _ in }) throws -> [Result] {
        let (train, test) = try MNISTExperimentRun.data(trainCount: s.trainCount)
        var results: [Result] = []
        for batchNorm in [false, true] {
            for depth in s.depths {
                for seed in s.seeds {
                    let sizes = [784] + Array(repeating: s.width, count: depth) + [10]
                    let architecture = try MultilayerPerceptronArchitecture(sizes: sizes, activation: .relu, batchNorm: batchNorm)
                    let (trainer, summary) = try MNISTExperimentRun.train(
                        architecture, optimizer: OptimizerSpecification(Adam(), learningRate: s.learningRate), train: train, test: test,
                        epochs: s.epochs, batchSize: s.batchSize, seed: seed)
                    let trainAccuracy = Evaluation.measure(trainer.model, on: train).accuracy
                    let r = Result(depth: depth, batchNorm: batchNorm, seed: seed, trainAccuracy: trainAccuracy,
                                   testAccuracy: summary.test?.accuracy ?? .nan, parameters: trainer.model.parameterCount,
                                   seconds: summary.seconds)
                    results.append(r)
                    progress(String(format: "depth: %d hidden layers%@, seed %d: test accuracy %.4f (%.0f s)", depth,
                                    batchNorm ? " + BN" : "", seed, r.testAccuracy, r.seconds))
                }
            }
        }
        return results
    }

    /// Mean over seeds of `value` for each depth of one setting.
    static func means(_ results: [Result], batchNorm: Bool, depths: [Int], _ value: (Result) -> Float) -> [Float] {
        depths.map { d in
            let chosen = results.filter { $0.depth == d && $0.batchNorm == batchNorm }.map(value)
            return chosen.reduce(0, +) / Float(max(chosen.count, 1))
        }
    }

    /// The smallest (`pick` = min) or largest (max) `value` over seeds for each depth of one setting.
    static func extremes(_ results: [Result], batchNorm: Bool, depths: [Int], _ value: (Result) -> Float,
                         _ pick: (Float, Float) -> Float) -> [Float] {
        depths.map { d in
            let values = results.filter { $0.depth == d && $0.batchNorm == batchNorm }.map(value)
            return values.dropFirst().reduce(values.first ?? .nan, pick)
        }
    }

    /// Trains every depth with and without BN and writes the figure, the CSV and `report.md`
    /// into `directory`.
    ///
    /// - Parameters:
    ///   - directory: the output folder, created if needed.
    ///   - full: 20 epochs and three seeds instead of 4 and two, when `settings` is nil.
    ///   - settings: the sweep's settings; nil takes ``Settings/standard(full:)``.
    ///   - progress: called with a line per trained network.
    /// - Returns: the written output.
    /// - Throws: when MNIST cannot be read or a file cannot be written.
    public static func run(directory: String, full: Bool = false, settings: Settings? = nil,
                           progress: (String) -> Void = { _ in }) throws -> ExperimentOutput {
        let s = settings ?? .standard(full: full)
        let output = try ExperimentOutput(directory: directory, title: "Depth: MNIST accuracy against the number of hidden layers")
        let results = try results(s, progress: progress)

        var figure = Figure(width: 1200, height: 500, grid: (rows: 1, columns: 2),
                            title: "784-(\(s.width) x L)-10 ReLU networks on MNIST")
        var test = Panel(title: "test accuracy", xLabel: "hidden layers L", yLabel: "test accuracy", legend: .best)
        var train = Panel(title: "training accuracy", xLabel: "hidden layers L", yLabel: "training accuracy", legend: .best)
        for batchNorm in [false, true] {
            let label = batchNorm ? "with BN" : "without BN"
            if s.seeds.count > 1 {
                // The spread over seeds: differences inside the band are noise.
                test.add(.band(x: s.depths, lower: extremes(results, batchNorm: batchNorm, depths: s.depths, \.testAccuracy, min),
                               upper: extremes(results, batchNorm: batchNorm, depths: s.depths, \.testAccuracy, max)))
                train.add(.band(x: s.depths, lower: extremes(results, batchNorm: batchNorm, depths: s.depths, \.trainAccuracy, min),
                                upper: extremes(results, batchNorm: batchNorm, depths: s.depths, \.trainAccuracy, max)))
            }
            test.add(.line(x: s.depths, y: means(results, batchNorm: batchNorm, depths: s.depths, \.testAccuracy),
                           label: label, marker: .circle))
            train.add(.line(x: s.depths, y: means(results, batchNorm: batchNorm, depths: s.depths, \.trainAccuracy),
                            label: label, marker: .circle))
        }
        figure.add(test)
        figure.add(train)
        let plain = means(results, batchNorm: false, depths: s.depths, \.testAccuracy)
        let normalized = means(results, batchNorm: true, depths: s.depths, \.testAccuracy)
        func best(_ values: [Float]) -> String {
            guard let i = values.indices.max(by: { values[$0] < values[$1] }) else { return "none" }
            return String(format: "%.2f%% at L = %d", 100 * values[i], s.depths[i])
        }
        let data = s.trainCount.map { "the first \($0) training images" } ?? "all 60,000 training images"
        try output.add(figure, name: "depth", caption: String(
            format: "Each network: width %d, ReLU, He-normal initialization, Adam (η = %g), batch %d, %d epochs on %@, %@; accuracy measured on the 10,000 test images (left) and on the training images (right)%@. Best test accuracy without BN %@, with BN %@; L = 1: %.2f%% / %.2f%%.",
            s.width, Double(s.learningRate), s.batchSize, s.epochs, data,
            s.seeds.count == 1 ? "one seed" : "mean of \(s.seeds.count) seeds",
            s.seeds.count == 1 ? "" : "; the bands span the seeds' lowest to highest",
            best(plain), best(normalized), 100 * plain[0], 100 * normalized[0]))
        let rows = results.map { r in
            ["\(r.depth)", r.batchNorm ? "yes" : "no", "\(r.seed)", "\(r.parameters)", "\(r.trainAccuracy)",
             "\(r.testAccuracy)", String(format: "%.1f", r.seconds)]
        }
        try output.add(table: rows, header: ["hidden layers", "batch norm", "seed", "parameters", "train accuracy", "test accuracy", "seconds"],
                       name: "depth", caption: "Every network trained.")
        try output.writeReport()
        return output
    }
}
