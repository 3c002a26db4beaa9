import Foundation

/// Small-sample MNIST for the regularization experiments: with a few thousand training images a
/// network over-fits within minutes on a CPU, so what a regularizer buys shows in the test error.
public struct SmallMNIST: Sendable {
    /// `trainCount` training images, the same number of each digit (drawn by `seed`).
    public var train: SubsetSource<ImageDataset>
    /// The first `testCount` images of the official test set.
    public var test: SubsetSource<ImageDataset>

    /// Loads the MNIST shipped with Backprop.
    ///
    /// - Throws: ``DataError`` when the bundled files are missing or damaged, or
    ///   `trainCount`/`testCount` are out of range (naming the count and what was expected).
    public init(trainCount: Int, testCount: Int = 10_000, seed: UInt64 = 1) throws(DataError) {
        let mnist = try MNIST.loadBundled()
        guard testCount >= 1, testCount <= mnist.test.count else {
            throw .invalidField(path: "mnist test set", field: "sample size", value: "\(testCount)", expected: "1 to \(mnist.test.count)")
        }
        var generator = RandomGenerator(seed: seed, stream: 0x5A11)
        var byClass = [[Int]](repeating: [], count: mnist.train.classCount)
        for i in generator.permutation(mnist.train.count) { byClass[Int(mnist.train.labels[i])].append(i) }
        let most = byClass.count * (byClass.map(\.count).min() ?? 0)
        guard trainCount >= byClass.count, trainCount <= most else {
            throw .invalidField(path: "mnist training set", field: "sample size", value: "\(trainCount)",
                                expected: "\(byClass.count) to \(most) (the same number of each digit)")
        }
        var chosen: [Int] = []
        for k in 0..<trainCount {
            let digit = k % byClass.count
            chosen.append(byClass[digit][k / byClass.count])
        }
        train = SubsetSource(mnist.train, indices: chosen.sorted())
        test = SubsetSource(mnist.test, indices: Array(0..<testCount))
    }

    /// Per-epoch curves of one training run.
    public struct Curves: Sendable {
        /// The legend entry of the run.
        public var label: String
        /// Error on the training images as seen in training (with noise, dropout or augmentation).
        public var trainError: [Float]
        /// Error on the test images after each epoch.
        public var testError: [Float]
        /// Training time in seconds.
        public var seconds: Double
        /// The test error after the last epoch (NaN before any epoch).
        public var finalTestError: Float { testError.last ?? .nan }
        /// The mean test error of the last `count` epochs, steadier than the last one alone.
        public func meanTestError(last count: Int) -> Float {
            let tail = testError.suffix(count)
            return tail.reduce(0, +) / Float(max(tail.count, 1))
        }
    }

    /// Trains `architecture` on the training images with the trainer (no validation split: the
    /// curves are the point, not model selection), evaluating on the test images every epoch.
    public func curves(_ label: String, architecture: MultilayerPerceptronArchitecture, configuration: TrainingConfiguration,
                       transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)? = nil) throws(TrainingError) -> Curves {
        let trainer = try Trainer(architecture: architecture, configuration: configuration, train: train, validation: nil,
                                  test: test, transform: transform, runDirectory: nil, reporter: ProgressReporter(quiet: true))
        let summary = try trainer.fit()
        return Curves(label: label, trainError: summary.history.map { 1 - $0.trainAccuracy },
                      testError: summary.history.map { 1 - ($0.testAccuracy ?? .nan) }, seconds: summary.seconds)
    }

    /// A panel of test-error curves against epochs. The axis stops at twice the worst final
    /// error, so the first epochs' large errors do not flatten the differences at the end.
    public static func testErrorPanel(_ runs: [Curves], title: String) -> Panel {
        let all = runs.flatMap(\.testError).filter(\.isFinite).map { 100 * Double($0) }
        let worstFinal = runs.compactMap { $0.testError.last }.filter(\.isFinite).map { 100 * Double($0) }.max() ?? 100
        let low = max(0, ((all.min() ?? 0) - 1).rounded(.down)), high = min(all.max() ?? 100, 2 * worstFinal)
        var panel = Panel(title: title, xLabel: "epoch", yLabel: "test error (%)",
                          yRange: high > low ? low...high : nil, legend: .topRight)
        for run in runs {
            panel.add(.line(x: Array(1...max(1, run.testError.count)), y: run.testError.map { 100 * $0 }, label: run.label))
        }
        return panel
    }

    /// A panel of training-error curves against epochs, on a linear axis cut at `top` percent
    /// so that the runs that reach zero show as zero and the early epochs do not flatten the rest.
    public static func trainErrorPanel(_ runs: [Curves], title: String, top: Double = 10) -> Panel {
        var panel = Panel(title: title, xLabel: "epoch", yLabel: "training error (%)", yRange: 0...top, legend: .topRight)
        for run in runs {
            panel.add(.line(x: Array(1...max(1, run.trainError.count)), y: run.trainError.map { 100 * $0 }, label: run.label))
        }
        return panel
    }

    /// Writes every run's per-epoch errors as curves.csv and links it from the report (the
    /// table is too long to show there).
    public static func writeCurves(_ runs: [Curves], to output: ExperimentOutput) throws(WriteError) {
        let epochs = runs.map(\.testError.count).max() ?? 0
        var lines = [(["epoch"] + runs.flatMap { ["\($0.label) train error", "\($0.label) test error"] }).joined(separator: ",")]
        for e in 0..<epochs {
            let cells = runs.flatMap { r in [r.trainError, r.testError].map { e < $0.count ? String(format: "%.4f", $0[e]) : "" } }
            lines.append((["\(e + 1)"] + cells).joined(separator: ","))
        }
        try AtomicFile.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: output.path("curves.csv"))
        output.add(text: "The curves' numbers, per epoch: [curves.csv](curves.csv).")
    }

    /// "label a.b%, …": each run's test error averaged over its last five epochs, for captions.
    public static func finalErrors(_ runs: [Curves]) -> String {
        runs.map { String(format: "%@ %.2f%%", $0.label, 100 * $0.meanTestError(last: 5)) }.joined(separator: "; ")
    }

    /// Adds the comparison of `runs` to the report: a figure NAME.png with test and training
    /// error against epochs (captioned with `caption` and the runs' final test errors), the
    /// summary table NAME.csv and the per-epoch curves.csv.
    public func addComparison(_ runs: [Curves], to output: ExperimentOutput, name: String, title: String,
                              trainingTitle: String, caption: String, epochs: Int) throws(WriteError) {
        var figure = Figure(width: 1300, height: 520, grid: (rows: 1, columns: 2), title: title)
        figure.add(Self.testErrorPanel(runs, title: "test error (\(test.count) test images)"))
        figure.add(Self.trainErrorPanel(runs, title: trainingTitle))
        try output.add(figure, name: name, caption: caption + " Test error of the last five epochs: \(Self.finalErrors(runs)).")
        let tail = 5
        let rows = runs.map { r in
            [r.label, String(format: "%.4f", r.finalTestError), String(format: "%.4f", r.meanTestError(last: tail)),
             String(format: "%.4f", r.testError.min() ?? .nan), String(format: "%.4f", r.trainError.last ?? .nan),
             String(format: "%.1f", r.seconds)]
        }
        try output.add(table: rows, header: ["training", "final test error", "mean test error of the last \(tail) epochs", "lowest test error",
                                             "final training error", "seconds"],
                       name: name, caption: "After \(epochs) epochs on \(train.count) images (seconds on this machine, shared with other work).")
        try Self.writeCurves(runs, to: output)
    }
}
