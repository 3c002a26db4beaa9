import Foundation

/// Ioffe & Szegedy's Figure 1: a 784-100-100-100-10 sigmoid network on MNIST, initialized with
/// small random Gaussian weights and trained with plain SGD on mini-batches of 60, with and
/// without Batch Normalization. (a) test accuracy against training steps; (b, c) the 15th,
/// 50th and 85th percentiles, over the test set, of the input to one typical sigmoid of the
/// last hidden layer as training goes on — drifting without BN, steady with it.
///
/// The paper gives neither the Gaussian's standard deviation nor the learning rate; the
/// defaults here (σ = 0.05 and η = 0.1 for both networks) are stated in the report. Of the
/// settings tried with 50,000 steps — (σ, η) = (0.05, 0.5), (0.01, 0.5), (0.05, 0.1) — this
/// one draws the paper's picture most clearly: the plain network climbs slowly, BN's at once.
public enum BatchNormExperiment {
    /// The settings of one run.
    public struct Settings: Sendable {
        /// Training steps of each network (the paper's Figure 1 runs 50,000).
        public var steps: Int
        /// Steps between two measurements of accuracy and sigmoid-input percentiles.
        public var interval: Int
        /// Examples per mini-batch: 60, as in the paper.
        public var batchSize: Int = 60
        /// η of plain SGD, the same for both networks (the paper does not give it).
        public var learningRate: Float = 0.1
        /// σ of the Gaussian that draws the initial weights (the paper says only "small").
        public var initialStandardDeviation: Float = 0.05
        /// Training images (nil: all 60,000) and test images used for the measurements.
        public var trainCount: Int? = nil
        /// Test images used for the measurements (nil: all 10,000).
        public var testCount: Int? = nil
        /// The seed of the initial weights and of the mini-batch order.
        public var seed: UInt64 = 1

        /// Settings with a step count and a measurement interval; the other settings keep their
        /// defaults (batches of 60, η = 0.1, σ = 0.05, all training and test images, seed 1).
        ///
        /// - Parameters:
        ///   - steps: training steps of each network.
        ///   - interval: steps between two measurements; step 0 is always measured.
        public init(steps: Int, interval: Int) {
            self.steps = steps
            self.interval = interval
        }

        /// 50,000 steps with `full`, as in the paper; 10,000 otherwise.
        public static func standard(full: Bool) -> Settings {
            full ? Settings(steps: 50_000, interval: 500) : Settings(steps: 10_000, interval: 250)
        }
    }

    /// One network's measurements.
    public struct Trace: Sendable {
        /// Whether this network has Batch Normalization before every hidden sigmoid.
        public var batchNorm: Bool
        /// The step of each measurement (0: before training).
        public var steps: [Int] = []
        /// Test accuracy at each of ``steps``.
        public var testAccuracy: [Float] = []
        /// [measurement][unit] → the 15th, 50th and 85th percentiles of that last-hidden-layer
        /// unit's sigmoid input over the test images.
        public var percentiles: [[[Float]]] = []
        /// Training time in seconds, without the measurements.
        public var seconds: Double = 0

        /// The unit whose median moves the most over training (largest minus smallest median
        /// across measurements), per unit.
        public var medianDrift: [Float] {
            guard let units = percentiles.first?.count else { return [] }
            return (0..<units).map { u in
                let medians = percentiles.map { $0[u][1] }
                return (medians.max() ?? 0) - (medians.min() ?? 0)
            }
        }

        /// A typical unit: the one whose median drift is the median over all units.
        public var typicalUnit: Int {
            let drift = medianDrift
            let order = drift.indices.sorted { drift[$0] < drift[$1] }
            return order.isEmpty ? 0 : order[order.count / 2]
        }

        /// The typical unit's three percentile curves: [15th], [50th], [85th] over measurements.
        public func curves(unit: Int) -> [[Float]] {
            (0..<3).map { k in percentiles.map { $0[unit][k] } }
        }
    }

    /// Records test accuracy and the last hidden layer's sigmoid-input percentiles.
    final class Recorder: TrainingCallback {
        let features: Tensor
        let labels: [Int32]
        let interval: Int
        var trace: Trace

        init(features: Tensor, labels: [Int32], interval: Int, batchNorm: Bool) {
            self.features = features
            self.labels = labels
            self.interval = interval
            self.trace = Trace(batchNorm: batchNorm)
        }

        func trainer(_ trainer: Trainer, didStep step: Int, loss: Float) {
            if step % interval == 0, let network = trainer.network { record(network, step: step) }
        }

        func record(_ model: Sequential, step: Int) {
            let outputs = model.layerOutputs(features)
            guard let sigmoid = model.layers.lastIndex(where: { $0 is ActivationLayer }), sigmoid > 0,
                  let logits = outputs.last else { return }
            let correct = zip(logits.argmaxRows(), labels).filter { $0 == Int($1) }.count
            var input = outputs[sigmoid - 1]
            if sigmoid >= 2, let norm = model.layers[sigmoid - 1] as? BatchNorm1d {
                input = BatchNormExperiment.normalizedWithOwnStatistics(outputs[sigmoid - 2], norm)
            }
            let rows = input.shape[0], units = input.shape[1]
            let values = input.scalars
            var unitPercentiles: [[Float]] = []
            var column = [Float](repeating: 0, count: rows)
            for u in 0..<units {
                for r in 0..<rows { column[r] = values[r * units + u] }
                unitPercentiles.append(percentiles(column, [15, 50, 85]))
            }
            trace.steps.append(step)
            trace.testAccuracy.append(Float(correct) / Float(max(rows, 1)))
            trace.percentiles.append(unitPercentiles)
        }
    }
}

extension BatchNormExperiment {
    /// BN's output as in training (Algorithm 1) with the measured images as the batch: each
    /// unit standardized by its own mean and biased variance over them, then scaled by γ and
    /// shifted by β. This is the distribution the sigmoid sees while the network trains; the
    /// inference path would use running averages, which do not exist yet at step 0.
    public static func normalizedWithOwnStatistics(_ x: Tensor, _ norm: BatchNorm1d) -> Tensor {
        let rows = x.shape[0], units = x.shape[1]
        let values = x.scalars, gamma = norm.weight.value.scalars, beta = norm.bias.value.scalars
        var out = [Float](repeating: 0, count: values.count)
        for u in 0..<units {
            var mean = 0.0, square = 0.0
            for r in 0..<rows { let v = Double(values[r * units + u]); mean += v; square += v * v }
            mean /= Double(rows)
            let variance = max(square / Double(rows) - mean * mean, 0)
            let scale = Double(gamma[u]) / (variance + Double(norm.epsilon)).squareRoot()
            for r in 0..<rows { out[r * units + u] = Float((Double(values[r * units + u]) - mean) * scale) + beta[u] }
        }
        return Tensor(shape: [rows, units], scalars: out)
    }
}

extension BatchNormExperiment {
    /// Trains the network without and with BN under `settings`.
    public static func traces(_ settings: Settings, progress: (String) -> Void = { _ in }) throws -> [Trace] {
        let (train, test) = try MNISTExperimentRun.data(trainCount: settings.trainCount)
        let probe = SubsetSource(test, indices: Array(0..<min(settings.testCount ?? test.count, test.count)))
        let (features, labels) = MNISTExperimentRun.everything(probe)
        var traces: [Trace] = []
        for batchNorm in [false, true] {
            let architecture = try MultilayerPerceptronArchitecture(
                sizes: [784, 100, 100, 100, 10], activation: .sigmoid, batchNorm: batchNorm,
                initializer: .normal(standardDeviation: settings.initialStandardDeviation))
            let trainer = try MNISTExperimentRun.trainer(
                architecture, optimizer: OptimizerSpecification(SGD(), learningRate: settings.learningRate), train: train, test: nil,
                epochs: Int.max / 2, steps: settings.steps, batchSize: settings.batchSize, seed: settings.seed)
            let recorder = Recorder(features: features, labels: labels, interval: settings.interval, batchNorm: batchNorm)
            if let network = trainer.network { recorder.record(network, step: 0) }
            trainer.callbacks = [recorder]
            let start = Date()
            _ = try trainer.fit()
            recorder.trace.seconds = Date().timeIntervalSince(start)
            traces.append(recorder.trace)
            progress(String(format: "batchnorm: %@ BN, %d steps, test accuracy %.4f (%.0f s)", batchNorm ? "with" : "without",
                            settings.steps, recorder.trace.testAccuracy.last ?? .nan, recorder.trace.seconds))
        }
        return traces
    }

    /// Trains both networks and writes the figure (`batchnorm.png` and `.svg`), the numbers
    /// (CSV) and `report.md` into `directory`.
    ///
    /// - Parameters:
    ///   - directory: the output folder, created if needed.
    ///   - full: the paper-scale run (50,000 steps) when `settings` is nil.
    ///   - settings: the run's settings; nil takes ``Settings/standard(full:)``.
    ///   - progress: called with a line per finished network.
    /// - Returns: the written output, whose report lists the files.
    /// - Throws: when MNIST cannot be read or a file cannot be written.
    public static func run(directory: String, full: Bool = false, settings: Settings? = nil,
                           progress: (String) -> Void = { _ in }) throws -> ExperimentOutput {
        let s = settings ?? .standard(full: full)
        let output = try ExperimentOutput(directory: directory, title: "Batch Normalization (Ioffe & Szegedy, Fig. 1)")
        let traces = try traces(s, progress: progress)
        let plain = traces[0], normalized = traces[1]

        var figure = Figure(width: 1500, height: 500, grid: (rows: 1, columns: 3),
                            title: "784-100-100-100-10 sigmoid network on MNIST, SGD, batch \(s.batchSize)")
        var accuracy = Panel(title: "(a) test accuracy", xLabel: "training step", yLabel: "test accuracy", legend: .bottomRight)
        accuracy.add(.line(x: plain.steps, y: plain.testAccuracy, label: "without BN"))
        accuracy.add(.line(x: normalized.steps, y: normalized.testAccuracy, label: "with BN"))
        let lowest = (plain.testAccuracy + normalized.testAccuracy).filter { $0 > 0.5 }.min() ?? 0.5
        accuracy.yRange = Double(max(0, lowest - 0.02))...1.0
        figure.add(accuracy)
        let typical = traces.map(\.typicalUnit)
        for (k, trace) in traces.enumerated() {
            let unit = typical[k]
            let curves = trace.curves(unit: unit)
            var panel = Panel(title: "(\(k == 0 ? "b" : "c")) \(trace.batchNorm ? "with" : "without") BN, unit \(unit)",
                              xLabel: "training step", yLabel: "input to the sigmoid", legend: .topRight)
            panel.add(.band(x: trace.steps, lower: curves[0], upper: curves[2], color: Color.blue, opacity: 0.2))
            panel.add(.line(x: trace.steps, y: curves[2], label: "85th", color: Color.blue, width: 1.5, style: .dashed))
            panel.add(.line(x: trace.steps, y: curves[1], label: "50th", color: Color.blue, width: 2.5))
            panel.add(.line(x: trace.steps, y: curves[0], label: "15th", color: Color.blue, width: 1.5, style: .dotted))
            figure.add(panel)
        }
        let trainDescription = s.trainCount.map { "the first \($0) training images" } ?? "the 60,000 training images"
        try output.add(figure, name: "batchnorm", caption: String(
            format: "(a) Test accuracy of the same network trained without and with Batch Normalization (BN before every hidden sigmoid) over %d SGD steps (η = %g, mini-batches of %d from %@, weights ~ N(0, %g²), biases 0); final test accuracy %.4f without BN and %.4f with BN. (b, c) The 15th, 50th and 85th percentiles over the test images of the input to one typical sigmoid of the last hidden layer (the unit whose median moves by the median amount among the 100), measured every %d steps: with BN, the sigmoid input is computed as in training (Algorithm 1, the measured images as the batch). Without BN the distribution drifts and widens as the earlier layers change; with BN its median stays put and its spread grows only slowly, as γ is learned.",
            s.steps, Double(s.learningRate), s.batchSize, trainDescription, Double(s.initialStandardDeviation),
            plain.testAccuracy.last ?? .nan, normalized.testAccuracy.last ?? .nan, s.interval))

        var rows: [[String]] = []
        for (k, trace) in traces.enumerated() {
            let curves = trace.curves(unit: typical[k])
            for (i, step) in trace.steps.enumerated() {
                rows.append([trace.batchNorm ? "BN" : "plain", "\(step)", "\(trace.testAccuracy[i])",
                             "\(curves[0][i])", "\(curves[1][i])", "\(curves[2][i])"])
            }
        }
        try output.add(table: rows, header: ["network", "step", "test accuracy", "p15", "p50", "p85"], name: "batchnorm",
                       caption: "Test accuracy and the typical unit's sigmoid-input percentiles at every measurement (first 40 rows shown).")
        var summary: [[String]] = []
        for (k, trace) in traces.enumerated() {
            let drift = trace.medianDrift.sorted()
            let after = zip(trace.steps, trace.testAccuracy).filter { $0.0 >= min(10_000, s.steps) }.map(\.1)
            summary.append([trace.batchNorm ? "with BN" : "without BN", "\(trace.testAccuracy.last ?? .nan)",
                            "\(after.min() ?? .nan)", "\(typical[k])", "\(drift[drift.count / 2])", "\(drift.last ?? .nan)",
                            String(format: "%.0f", trace.seconds)])
        }
        try output.add(table: summary, header: ["network", "final test accuracy", "lowest test accuracy from step 10000 (or the last)",
                                                "typical unit", "median drift of a unit's median", "largest drift", "seconds"],
                       name: "summary", caption: "Final accuracy and how far the last hidden layer's sigmoid inputs move: per unit, the largest minus the smallest median over training; the median and largest over the 100 units.")
        try output.writeReport()
        return output
    }
}
