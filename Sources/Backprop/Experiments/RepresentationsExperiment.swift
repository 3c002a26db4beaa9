import Foundation

/// The course's "deep networks build complex representations from simpler ones", looked at
/// in a trained MNIST network: its first-layer weights drawn as 28×28 images (the simple
/// stroke and blob detectors), a 2-D PCA of each hidden layer's activations on the test set
/// coloured by class, and how well a linear classifier trained on each layer's frozen
/// activations does — from the raw pixels (layer 0) up the hidden layers.
public enum RepresentationsExperiment {
    /// The settings of one run.
    public struct Settings: Sendable {
        /// The hidden layer sizes of the network (three ReLU layers of 128 by default).
        public var hidden: [Int] = [128, 128, 128]
        /// Training images for the network (nil: all 60,000).
        public var trainCount: Int?
        /// Epochs the network trains for.
        public var epochs: Int
        /// Training images whose activations train the linear probes, and test images
        /// (all 10,000 when nil) that the probes and the PCA are measured on.
        public var probeTrainCount: Int
        /// Test images the probes and the PCA are measured on (nil: all 10,000).
        public var testCount: Int?
        /// Epochs each linear probe trains for.
        public var probeEpochs: Int = 10
        /// Test points drawn in each PCA scatter.
        public var scatterCount: Int = 2000
        /// The seed of the network and the probes.
        public var seed: UInt64 = 1
        /// How the network is trained. Coupled L2 pulls the weights of MNIST's always-blank
        /// border pixels, which no data gradient reaches, from their random initial values to
        /// zero, and smooths the rest, so the weight images show what was learned rather than
        /// the initialization (λ = 10⁻³ also gave the best probes of the four settings tried).
        public var optimizer = OptimizerSpecification(name: .adam, learningRate: 0.001, hyperParameters: [OptimizerName.weightDecayKey: 0.001])

        /// Settings with the given sizes; the others keep their defaults.
        ///
        /// - Parameters:
        ///   - trainCount: training images for the network (nil: all 60,000).
        ///   - epochs: epochs of the network.
        ///   - probeTrainCount: training images whose activations train the probes.
        public init(trainCount: Int?, epochs: Int, probeTrainCount: Int) {
            self.trainCount = trainCount
            self.epochs = epochs
            self.probeTrainCount = probeTrainCount
        }

        /// Default: the network trains on all 60,000 images for 5 epochs, the probes on the
        /// activations of 20,000 of them. Full: 20 epochs, probes on all 60,000.
        public static func standard(full: Bool) -> Settings {
            full ? Settings(trainCount: nil, epochs: 20, probeTrainCount: 60_000)
                : Settings(trainCount: nil, epochs: 5, probeTrainCount: 20_000)
        }
    }

    /// One representation: the raw input (layer 0) or a hidden layer's activations.
    public struct Layer: Sendable {
        /// 0 for the raw pixels, k for the k-th hidden layer's activations.
        public var index: Int
        /// The representation's width: 784 for the pixels, the layer's units otherwise.
        public var features: Int
        /// The linear probe's accuracy on the training activations it was fitted to.
        public var probeTrainAccuracy: Float
        /// The linear probe's accuracy on the test images' activations.
        public var probeTestAccuracy: Float
        /// PCA coordinates of the test images (first `scatterCount`) and the explained variance.
        public var projection: [[Double]]
        /// The fraction of the variance each principal component explains, largest first.
        public var explainedVariance: [Double]
    }

    /// Everything the figures and the report are drawn from.
    public struct Result: Sendable {
        /// The pixels (layer 0), then every hidden layer.
        public var layers: [Layer]
        /// The first layer's weight rows, each a 28×28 image.
        public var firstLayerWeights: [[Float]]
        /// The trained network's own test accuracy, beside the probes'.
        public var networkTestAccuracy: Float
        /// The labels of the test images in each ``Layer/projection``, for colouring the scatter.
        public var testLabels: [Int32]
    }

    /// The hidden activations of `model` for `features`: the output of every non-linearity.
    static func hiddenActivations(_ model: Sequential, _ features: Tensor) -> [Tensor] {
        let outputs = model.layerOutputs(features)
        return model.layers.indices.filter { model.layers[$0] is ActivationLayer }.map { outputs[$0] }
    }

    /// Trains the network, then a linear probe and a PCA on each representation.
    ///
    /// - Parameters:
    ///   - s: the settings.
    ///   - progress: called with a line per trained network or probe.
    /// - Returns: every layer's measurements.
    /// - Throws: when MNIST cannot be read.
    public static func result(_ s: Settings, progress: (String) -> Void = { _ in }) throws -> Result {
        let (train, test) = try MNISTExperimentRun.data(trainCount: s.trainCount)
        let architecture = try MultilayerPerceptronArchitecture(sizes: [784] + s.hidden + [10], activation: .relu)
        let (trainer, summary) = try MNISTExperimentRun.train(architecture, optimizer: s.optimizer, train: train, test: test,
                                                              epochs: s.epochs, batchSize: 128, seed: s.seed)
        guard let model = trainer.network else { throw TrainingError.invalidConfiguration("the representations experiment trains a network") }
        progress(String(format: "representations: network test accuracy %.4f (%.0f s)", summary.test?.accuracy ?? .nan, summary.seconds))
        let probeTrain = MNISTExperimentRun.everything(SubsetSource(train.base, indices: Array(0..<min(s.probeTrainCount, train.base.count))))
        let probeTest = MNISTExperimentRun.everything(SubsetSource(test, indices: Array(0..<min(s.testCount ?? test.count, test.count))))
        let trainRepresentations = [probeTrain.features] + hiddenActivations(model, probeTrain.features)
        let testRepresentations = [probeTest.features] + hiddenActivations(model, probeTest.features)
        var layers: [Layer] = []
        let shown = min(s.scatterCount, probeTest.labels.count)
        for (index, (trainFeatures, testFeatures)) in zip(trainRepresentations, testRepresentations).enumerated() {
            let probe = try LinearProbe.accuracy(train: LabeledData(features: trainFeatures, labels: probeTrain.labels, classCount: 10),
                                                 test: LabeledData(features: testFeatures, labels: probeTest.labels, classCount: 10),
                                                 epochs: s.probeEpochs, seed: s.seed)
            let pca = PrincipalComponents(testFeatures, count: 2)
            let projection = pca.project(testFeatures.rows(0..<shown))
            layers.append(Layer(index: index, features: testFeatures.shape[1], probeTrainAccuracy: probe.train,
                                probeTestAccuracy: probe.test, projection: projection, explainedVariance: pca.explainedVarianceRatio))
            progress(String(format: "representations: layer %d linear probe test accuracy %.4f", index, probe.test))
        }
        var weights: [[Float]] = []
        if let first = model.layers.first as? Linear {
            let w = first.weight.value
            let columns = w.shape[1]
            let scalars = w.scalars
            weights = (0..<w.shape[0]).map { Array(scalars[($0 * columns)..<(($0 + 1) * columns)]) }
        }
        return Result(layers: layers, firstLayerWeights: weights, networkTestAccuracy: summary.test?.accuracy ?? .nan,
                      testLabels: Array(probeTest.labels.prefix(shown)))
    }

    /// Runs the experiment and writes the weight images, the PCA scatters, the probe accuracies
    /// and `report.md` into `directory`.
    ///
    /// - Parameters:
    ///   - directory: the output folder, created if needed.
    ///   - full: 20 epochs and probes on all 60,000 images when `settings` is nil.
    ///   - settings: the run's settings; nil takes ``Settings/standard(full:)``.
    ///   - progress: called with a line per trained network or probe.
    /// - Returns: the written output.
    /// - Throws: when MNIST cannot be read or a file cannot be written.
    public static func run(directory: String, full: Bool = false, settings: Settings? = nil,
                           progress: (String) -> Void = { _ in }) throws -> ExperimentOutput {
        let s = settings ?? .standard(full: full)
        let output = try ExperimentOutput(directory: directory, title: "Representations in a deep network")
        let r = try result(s, progress: progress)
        let name = "784-" + s.hidden.map(String.init).joined(separator: "-") + "-10 ReLU"
        let data = s.trainCount.map { "the first \($0) training images" } ?? "all 60,000 training images"

        let shownWeights = Array(r.firstLayerWeights.prefix(64))
        let perRow = 8
        var weights = Figure(width: 760, height: 820, title: "First-layer weights")
        var mosaic = Panel(legend: .none)
        mosaic.add(.images(shownWeights, imageColumns: 28, imageRows: 28, columns: perRow, gap: 3, colorMap: .diverging))
        weights.add(mosaic)
        try output.add(weights, name: "weights", caption: String(
            format: "The incoming weights of the first %d of the first hidden layer's %d units, each drawn as a 28×28 image, of the \(name) network (red positive, blue negative, each scaled to its own largest magnitude) after training on %@ for %d epochs with %@ (test accuracy %.2f%%): stroke- and blob-like patterns of both signs, some localized, many spread over the digit area — simple features that later layers combine (an almost blank unit has died: no gradient reached it, and the decay emptied it).",
            shownWeights.count, r.firstLayerWeights.count, data, s.epochs, s.optimizer.description, 100 * r.networkTestAccuracy))

        var scatter = Figure(width: 1200, height: 1100, grid: (rows: 2, columns: 2),
                             title: "Test images on each layer's first two principal components")
        let classNames = (0..<10).map(String.init)
        for layer in r.layers {
            let title = String(format: "%@ (%d): linear probe %.1f%%", layer.index == 0 ? "pixels" : "hidden layer \(layer.index)",
                               layer.features, 100 * layer.probeTestAccuracy)
            var panel = Panel(title: title, xLabel: "PC 1", yLabel: "PC 2", legend: layer.index == 0 ? .best : .none)
            panel.add(.scatter(x: layer.projection.map { $0[0] }, y: layer.projection.map { $0[1] },
                               classes: r.testLabels.map(Int.init), classNames: layer.index == 0 ? classNames : nil, size: 3))
            scatter.add(panel)
        }
        try output.add(scatter, name: "pca", caption: "The first \(r.testLabels.count) test images projected on the first two principal components of the raw pixels and of each hidden layer's activations (PCA on all test images), coloured by digit. Going up the network, the classes separate into clusters.")

        var probe = Figure(width: 900, height: 520, title: "Linear classifier on each layer's activations")
        let categories = r.layers.map { $0.index == 0 ? "pixels" : "layer \($0.index)" }
        let lowest = r.layers.map { min($0.probeTestAccuracy, $0.probeTrainAccuracy) }.min() ?? 0.8
        var panel = Panel(yLabel: "accuracy", yRange: Double(max(0, lowest - 0.03))...1.0, legend: .topLeft)
        panel.add(.bars(r.layers.map(\.probeTestAccuracy), categories: categories, label: "test", showsValues: true))
        panel.add(.bars(r.layers.map(\.probeTrainAccuracy), categories: categories, label: "train", showsValues: true))
        probe.add(panel)
        try output.add(probe, name: "probe", caption: String(
            format: "Softmax regression (Adam, %d epochs, standardized features) trained on the activations of %d training images and measured on the test images, per layer. Input pixels: %.2f%%; last hidden layer: %.2f%%.",
            s.probeEpochs, s.probeTrainCount, 100 * (r.layers.first?.probeTestAccuracy ?? .nan), 100 * (r.layers.last?.probeTestAccuracy ?? .nan)))
        let rows = r.layers.map { l in
            ["\(l.index)", "\(l.features)", "\(l.probeTrainAccuracy)", "\(l.probeTestAccuracy)",
             "\(l.explainedVariance.first ?? .nan)", "\(l.explainedVariance.dropFirst().first ?? .nan)"]
        }
        try output.add(table: rows, header: ["layer", "features", "probe train accuracy", "probe test accuracy",
                                             "PC1 variance fraction", "PC2 variance fraction"],
                       name: "layers", caption: "Per layer: linear-probe accuracy and the variance the two principal components explain.")
        try output.writeReport()
        return output
    }
}
