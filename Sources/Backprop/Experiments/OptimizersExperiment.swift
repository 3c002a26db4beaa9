import Foundation

/// Every optimizer on MNIST: the same 784-100-100-10 ReLU network from the same initialization
/// and the same mini-batches, each with its learning rate tuned on a small grid (short runs
/// scored by the loss on held-out training images, never the test set), then trained for the
/// run shown: training loss and test accuracy against steps, final accuracy and time.
public enum OptimizersExperiment {
    /// The learning rates tried for each optimizer: four values a factor of about 3 apart
    /// around the usual default.
    public static let grids: [OptimizerName: [Float]] = [
        .sgd: [0.03, 0.1, 0.3, 1],
        .momentum: [0.003, 0.01, 0.03, 0.1],
        .nesterov: [0.003, 0.01, 0.03, 0.1],
        .adagrad: [0.01, 0.03, 0.1, 0.3],
        .adadelta: [0.1, 0.3, 1, 3],
        .rmsprop: [0.0003, 0.001, 0.003, 0.01],
        .adam: [0.0003, 0.001, 0.003, 0.01],
        .adamax: [0.0007, 0.002, 0.006, 0.02],
        .nadam: [0.0003, 0.001, 0.003, 0.01],
        .amsgrad: [0.0003, 0.001, 0.003, 0.01],
        .adamw: [0.0003, 0.001, 0.003, 0.01],
    ]

    /// The settings of one comparison.
    public struct Settings: Sendable {
        /// The optimizers compared (default: all eleven).
        public var optimizers: [OptimizerName] = OptimizerName.allCases
        /// The hidden layer sizes of the network (784-100-100-10 by default).
        public var hidden: [Int] = [100, 100]
        /// Examples per mini-batch.
        public var batchSize: Int = 128
        /// Steps of each tuning run and of the run shown.
        public var tuningSteps: Int
        /// Steps of the run shown for every optimizer.
        public var steps: Int
        /// Steps between two test-set evaluations in the run shown.
        public var evaluationInterval: Int
        /// Training images (the last `validationCount` of MNIST's 60,000 are held out for tuning).
        public var trainCount: Int
        /// Training images held out to score the tuning runs.
        public var validationCount: Int = 5000
        /// Test images the accuracy curves are measured on (nil: all 10,000).
        public var testCount: Int? = nil
        /// The seed of the initial weights and the batch order, shared by all optimizers.
        public var seed: UInt64 = 1

        /// Settings with the given run lengths; the others keep their defaults.
        ///
        /// - Parameters:
        ///   - tuningSteps: steps of each tuning run.
        ///   - steps: steps of the run shown.
        ///   - evaluationInterval: steps between two test-set evaluations.
        ///   - trainCount: training images (at most 60,000 − ``validationCount``).
        public init(tuningSteps: Int, steps: Int, evaluationInterval: Int, trainCount: Int) {
            self.tuningSteps = tuningSteps
            self.steps = steps
            self.evaluationInterval = evaluationInterval
            self.trainCount = trainCount
        }

        /// Default: 500 tuning steps, 2,000 steps shown. Full: 2,000 and 10,000.
        public static func standard(full: Bool) -> Settings {
            full ? Settings(tuningSteps: 2000, steps: 10_000, evaluationInterval: 250, trainCount: 55_000)
                : Settings(tuningSteps: 500, steps: 2000, evaluationInterval: 100, trainCount: 55_000)
        }
    }

    /// One optimizer's tuning and run.
    public struct Run: Sendable {
        /// The optimizer.
        public var optimizer: OptimizerName
        /// Validation loss after the tuning run, per grid learning rate (infinite: diverged).
        public var tuning: [(learningRate: Float, validationLoss: Float)]
        /// The learning rate chosen from ``OptimizersExperiment/grids`` (the lowest validation loss).
        public var learningRate: Float
        /// The loss of every step's mini-batch.
        public var losses: [Float]
        /// Test accuracy at `evaluationSteps`.
        public var evaluationSteps: [Int]
        /// Test accuracy at each of ``evaluationSteps``.
        public var testAccuracy: [Float]
        /// The loss on the test images after the last step.
        public var finalTestLoss: Float
        /// Training time of the run shown, without the evaluations.
        public var seconds: Double
    }

    /// Records each step's loss and, every `interval` steps, the test accuracy and the time
    /// spent measuring it.
    final class Recorder: TrainingCallback {
        let test: any ExampleSource
        let interval: Int
        var losses: [Float] = []
        var steps: [Int] = []
        var accuracy: [Float] = []
        var lastTestLoss: Float = .nan
        var evaluationSeconds = 0.0

        init(test: any ExampleSource, interval: Int) {
            self.test = test
            self.interval = interval
        }

        func trainer(_ trainer: Trainer, didStep step: Int, loss: Float) {
            losses.append(loss)
            if step % interval == 0 { record(trainer.model, step: step) }
        }

        func record(_ model: any Module, step: Int) {
            let start = Date()
            let e = Evaluation.measure(model, on: test)
            steps.append(step)
            accuracy.append(e.accuracy)
            lastTestLoss = e.loss
            evaluationSeconds += Date().timeIntervalSince(start)
        }
    }

    /// Tunes and trains every optimizer in ``Settings/optimizers``.
    ///
    /// - Parameters:
    ///   - s: the settings.
    ///   - progress: called with a line per tuning run and per finished run.
    /// - Returns: one run per optimizer, in the order of `s.optimizers`.
    /// - Throws: when MNIST cannot be read.
    public static func runs(_ s: Settings, progress: (String) -> Void = { _ in }) throws -> [Run] {
        let (all, fullTest) = try MNISTExperimentRun.data()
        let train = SubsetSource(all.base, indices: Array(0..<min(s.trainCount, all.count - s.validationCount)))
        let validation = SubsetSource(all.base, indices: Array((all.count - s.validationCount)..<all.count))
        let test = SubsetSource(fullTest, indices: Array(0..<min(s.testCount ?? fullTest.count, fullTest.count)))
        let architecture = try MultilayerPerceptronArchitecture(sizes: [784] + s.hidden + [10], activation: .relu)
        var runs: [Run] = []
        for name in s.optimizers {
            var tuning: [(learningRate: Float, validationLoss: Float)] = []
            for lr in grids[name] ?? [] {
                var loss = Float.infinity
                do {
                    let (trainer, _) = try MNISTExperimentRun.train(architecture, optimizer: OptimizerSpecification(name: name, learningRate: lr), train: train,
                                                                    test: nil, epochs: Int.max / 2, steps: s.tuningSteps,
                                                                    batchSize: s.batchSize, seed: s.seed)
                    loss = Evaluation.measure(trainer.model, on: validation).loss
                } catch TrainingError.nonFiniteLoss {
                    // Diverged: this learning rate is out.
                }
                tuning.append((lr, loss.isFinite ? loss : .infinity))
            }
            guard let chosen = tuning.min(by: { $0.validationLoss < $1.validationLoss }) else { continue }
            let recorder = Recorder(test: test, interval: s.evaluationInterval)
            let trainer = try MNISTExperimentRun.trainer(architecture, optimizer: OptimizerSpecification(name: name, learningRate: chosen.learningRate),
                                                         train: train, test: nil, epochs: Int.max / 2, steps: s.steps,
                                                         batchSize: s.batchSize, seed: s.seed)
            recorder.record(trainer.model, step: 0)
            recorder.evaluationSeconds = 0
            trainer.callbacks = [recorder]
            let summary = try trainer.fit()
            if recorder.steps.last != summary.steps { recorder.record(trainer.model, step: summary.steps) }
            let run = Run(optimizer: name, tuning: tuning, learningRate: chosen.learningRate, losses: recorder.losses,
                          evaluationSteps: recorder.steps, testAccuracy: recorder.accuracy, finalTestLoss: recorder.lastTestLoss,
                          seconds: summary.seconds - recorder.evaluationSeconds)
            runs.append(run)
            progress(String(format: "optimizers: %@ lr %g: test accuracy %.4f (%.1f s)", name.rawValue, Double(chosen.learningRate),
                            run.testAccuracy.last ?? .nan, run.seconds))
        }
        return runs
    }

    /// The mean of each window of `width` consecutive values ending at every `width`-th step:
    /// (step, mean) pairs, to draw the noisy per-step loss as a readable curve.
    public static func windowMeans(_ values: [Float], width: Int) -> (steps: [Int], means: [Float]) {
        let w = max(1, width)
        var steps: [Int] = [], means: [Float] = []
        var start = 0
        while start + w <= values.count {
            steps.append(start + w)
            means.append(values[start..<(start + w)].reduce(0, +) / Float(w))
            start += w
        }
        return (steps, means)
    }

    /// Runs the comparison and writes the figures, the CSV and `report.md` into `directory`.
    ///
    /// - Parameters:
    ///   - directory: the output folder, created if needed.
    ///   - full: longer tuning and runs (2,000 and 10,000 steps) when `settings` is nil.
    ///   - settings: the comparison's settings; nil takes ``Settings/standard(full:)``.
    ///   - progress: called with a line per tuning run and per finished run.
    /// - Returns: the written output.
    /// - Throws: when MNIST cannot be read or a file cannot be written.
    public static func run(directory: String, full: Bool = false, settings: Settings? = nil,
                           progress: (String) -> Void = { _ in }) throws -> ExperimentOutput {
        let s = settings ?? .standard(full: full)
        let output = try ExperimentOutput(directory: directory, title: "Every optimizer on MNIST")
        let runs = try runs(s, progress: progress)
        let name = "784-" + s.hidden.map(String.init).joined(separator: "-") + "-10 ReLU"
        var figure = Figure(width: 1400, height: 620, grid: (rows: 1, columns: 2),
                            title: "\(name) on MNIST, tuned learning rates")
        var loss = Panel(title: "training loss, \(max(1, s.steps / 40))-step means (key on the right)", xLabel: "step",
                         yLabel: "cross-entropy", yScale: .log, legend: .none)
        var accuracy = Panel(title: "test accuracy", xLabel: "step", yLabel: "test accuracy", legend: .bottomRight)
        let lowest = runs.compactMap { $0.testAccuracy.dropFirst().first }.min() ?? 0.8
        accuracy.yRange = Double(max(0, min(lowest, 0.9) - 0.01))...1.0
        for (k, run) in runs.enumerated() {
            // Ten palette colours; the eleventh optimizer is black, and the Adam family dashed.
            let color = k < Color.categorical.count ? Color.categorical[k] : Color.black
            let style: LineStyle = [.nadam, .amsgrad, .adamw].contains(run.optimizer) ? .dashed : .solid
            let label = String(format: "%@ (η = %g)", run.optimizer.rawValue, Double(run.learningRate))
            let smoothed = windowMeans(run.losses, width: max(1, s.steps / 40))
            loss.add(.line(x: smoothed.steps, y: smoothed.means, color: color, width: 1.5, style: style))
            accuracy.add(.line(x: run.evaluationSteps, y: run.testAccuracy, label: label, color: color, width: 1.5, style: style))
        }
        figure.add(loss)
        figure.add(accuracy)
        let best = runs.max { ($0.testAccuracy.last ?? 0) < ($1.testAccuracy.last ?? 0) }
        try output.add(figure, name: "optimizers", caption: String(
            format: "All %d optimizers train the same network from the same initialization on the same %d-example mini-batches of %d training images for %d steps, each at the learning rate from its grid with the lowest loss on %d held-out training images after %d steps. Left: the training loss of each step's mini-batch, averaged over windows; right: accuracy on %d test images every %d steps. Best final test accuracy: %@ %.2f%%.",
            runs.count, s.batchSize, s.trainCount, s.steps, s.validationCount, s.tuningSteps, s.testCount ?? 10_000,
            s.evaluationInterval, best?.optimizer.rawValue ?? "none", 100 * (best?.testAccuracy.last ?? .nan)))
        let rows = runs.map { r in
            [r.optimizer.rawValue, String(format: "%g", Double(r.learningRate)),
             r.tuning.map { String(format: "%g: %.4f", Double($0.learningRate), $0.validationLoss) }.joined(separator: "; "),
             String(format: "%.4f", r.testAccuracy.last ?? .nan), String(format: "%.4f", r.finalTestLoss), String(format: "%.1f", r.seconds)]
        }
        try output.add(table: rows, header: ["optimizer", "chosen learning rate", "grid (lr: validation loss after tuning)",
                                             "final test accuracy", "final test loss", "training seconds"],
                       name: "optimizers", caption: "Final test accuracy, the learning rate chosen and the training time of the run shown (evaluations excluded; measured on a shared 2-core machine, so only rough).")
        var curves: [[String]] = []
        for r in runs {
            for (step, a) in zip(r.evaluationSteps, r.testAccuracy) { curves.append([r.optimizer.rawValue, "\(step)", "\(a)"]) }
        }
        try output.add(table: curves, header: ["optimizer", "step", "test accuracy"], name: "accuracy",
                       caption: "Test accuracy at every evaluation (first 40 rows shown).")
        try output.writeReport()
        return output
    }
}
