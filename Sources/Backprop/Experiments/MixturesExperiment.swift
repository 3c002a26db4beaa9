import Foundation

/// The course's "mixture of models" and "mixture of experts" on small-sample MNIST: an
/// ensemble's averaged prediction against each of its independently trained members, and a
/// mixture of experts (a gate weighting small expert networks, all trained jointly) against a
/// single network the size of one expert and one with as many parameters as the mixture.
public enum MixturesExperiment {
    /// Settings that the default, `--full` and the tests vary.
    public struct Settings: Sendable {
        /// Training images, balanced over the digits (small, so that regularization matters).
        public var trainCount = 2000
        /// Test images the errors are measured on.
        public var testCount = 10_000
        /// Epochs for every model.
        public var epochs = 15
        /// Members of the ensemble.
        public var members = 5
        /// Hidden units of each ensemble member (784-`memberHidden`-10).
        public var memberHidden = 100
        /// Experts of the mixture.
        public var experts = 4
        /// Hidden units of each expert.
        public var expertHidden = 32
        /// The default settings: 2,000 training images, 5 members of 100 hidden units, 4 experts of
        /// 32, 15 epochs.
        public init() {}
    }

    /// One trained model's outcome.
    public struct Row: Sendable {
        /// The model's name in the table and the figure.
        public var model: String
        /// The number of trainable parameters.
        public var parameters: Int
        /// The error on the test images.
        public var testError: Float
        /// What the row shows (e.g. the members' range).
        public var note: String
    }

    /// What ``measure(_:seed:)`` found.
    public struct Outcome: Sendable {
        /// Members' rows, then the ensemble's.
        public var ensemble: [Row]
        /// The mixture's test error per epoch, and the two single networks' (same epochs).
        public var mixtureCurves: [SmallMNIST.Curves]
        /// The mixture and the single networks after the last epoch.
        public var experts: [Row]
    }

    static let optimizer = OptimizerSpecification(Adam(), learningRate: 0.001)
    static let batchSize = 64

    /// Trains the ensemble's members, the mixture of experts and the two single networks that
    /// it is compared with.
    ///
    /// - Parameters:
    ///   - s: the settings.
    ///   - seed: the seed of every model's initial weights and batch order.
    /// - Returns: the rows and curves the figure is drawn from.
    /// - Throws: when MNIST cannot be read.
    public static func measure(_ s: Settings, seed: UInt64 = 1) throws -> Outcome {
        let data = try SmallMNIST(trainCount: s.trainCount, testCount: s.testCount)

        // Mixture of models: members differ only in their initialization and data order.
        let member = try MultilayerPerceptronArchitecture(sizes: [784, s.memberHidden, 10])
        let ensemble = try EnsembleArchitecture(member: member, count: s.members).build(seed: seed)
        let settings = EnsembleTrainingConfiguration(epochs: s.epochs, batchSize: batchSize, optimizer: optimizer, seed: seed,
                                                     bagging: false, parallel: true)
        let reports = try ensemble.train(on: data.train, configuration: settings)
        var ensembleRows: [Row] = []
        for (k, model) in ensemble.members.enumerated() {
            ensembleRows.append(Row(model: "member \(k + 1)", parameters: model.parameterCount,
                                    testError: 1 - Evaluation.measure(model, on: data.test).accuracy,
                                    note: String(format: "seed %llu; final training error %.4f", reports[k].seed, 1 - reports[k].trainAccuracy)))
        }
        ensembleRows.append(Row(model: "ensemble of \(s.members)", parameters: ensemble.parameterCount,
                                testError: 1 - Evaluation.measure(ensemble, on: data.test).accuracy,
                                note: "average of the members' class probabilities"))

        // Mixture of experts against single networks, trained for the same epochs.
        let architecture = try MixtureOfExpertsArchitecture(inputSize: 784, outputSize: 10, expertCount: s.experts,
                                                            expertHidden: [s.expertHidden])
        var mixtureConfiguration = TrainingConfiguration()
        mixtureConfiguration.epochs = s.epochs
        mixtureConfiguration.batchSize = batchSize
        mixtureConfiguration.optimizer = optimizer
        mixtureConfiguration.seed = seed
        let trainer = try Trainer(model: .mixtureOfExperts(architecture), configuration: mixtureConfiguration,
                                  train: data.train, validation: nil, test: nil, runDirectory: nil,
                                  reporter: ProgressReporter(quiet: true))
        guard let mixture = trainer.model as? MixtureOfExperts else {
            throw TrainingError.invalidConfiguration("the mixtures experiment trains a mixture of experts")
        }
        var moe = SmallMNIST.Curves(label: "\(s.experts) experts 784-\(s.expertHidden)-10 + gate",
                                    trainError: [], testError: [], seconds: 0)
        let curve = TestErrorCurve(test: data.test)
        trainer.callbacks = [curve]
        let start = Date()
        _ = try trainer.fit()
        moe.testError = curve.errors
        moe.seconds = Date().timeIntervalSince(start)
        let usage = mixture.usage(on: data.test)

        var configuration = TrainingConfiguration()
        configuration.epochs = s.epochs
        configuration.batchSize = batchSize
        configuration.optimizer = optimizer
        configuration.seed = seed
        let small = try MultilayerPerceptronArchitecture(sizes: [784, s.expertHidden, 10])
        // A single hidden layer with about the mixture's parameter count.
        let matchedWidth = max(1, (mixture.parameterCount - 10) / (784 + 1 + 10))
        let matched = try MultilayerPerceptronArchitecture(sizes: [784, matchedWidth, 10])
        let singles = [try data.curves("single 784-\(s.expertHidden)-10", architecture: small, configuration: configuration),
                       try data.curves("single 784-\(matchedWidth)-10", architecture: matched, configuration: configuration)]
        let usageNote = "test images per expert (largest gate): " + usage.argmaxFractions.map { String(format: "%.0f%%", 100 * $0) }.joined(separator: " ")
        let expertRows = [Row(model: "mixture of \(s.experts) experts", parameters: mixture.parameterCount, testError: moe.finalTestError, note: usageNote),
                          Row(model: "single 784-\(s.expertHidden)-10", parameters: small.build(seed: seed).parameterCount,
                              testError: singles[0].finalTestError, note: "one expert's size"),
                          Row(model: "single 784-\(matchedWidth)-10", parameters: matched.build(seed: seed).parameterCount,
                              testError: singles[1].finalTestError, note: "about the mixture's size")]
        return Outcome(ensemble: ensembleRows, mixtureCurves: [moe] + singles, experts: expertRows)
    }

    /// The settings `--full` uses.
    public static var fullSettings: Settings {
        var s = Settings()
        s.trainCount = 10_000
        s.epochs = 30
        return s
    }

    /// Runs the experiment into `directory`; `settings` overrides the default (or full) sizes.
    public static func run(directory: String, full: Bool = false, settings: Settings? = nil) throws -> ExperimentOutput {
        let output = try ExperimentOutput(directory: directory, title: "Mixtures of models and of experts")
        let s = settings ?? (full ? fullSettings : Settings())
        let outcome = try measure(s)

        var figure = Figure(width: 1400, height: 540, grid: (rows: 1, columns: 2),
                            title: "Mixtures on \(s.trainCount) MNIST training images (test error on \(s.testCount))")
        var bars = Panel(title: "ensemble vs its members", yLabel: "test error (%)", legend: .none)
        let memberErrors = outcome.ensemble.dropLast().map(\.testError)
        let meanMember = memberErrors.reduce(0, +) / Float(max(memberErrors.count, 1))
        let labels = outcome.ensemble.dropLast().indices.map { "m\($0 + 1)" } + ["mean", "ensemble"]
        let values = (memberErrors + [meanMember, outcome.ensemble.last?.testError ?? .nan]).map { (10_000 * $0).rounded() / 100 }
        bars.add(.bars(values, categories: labels, showsValues: true))
        figure.add(bars)
        figure.add(SmallMNIST.testErrorPanel(outcome.mixtureCurves, title: "mixture of experts vs single networks"))
        try output.add(figure, name: "mixtures", caption: "Left: \(s.members) networks 784-\(s.memberHidden)-10 (ReLU) trained independently (different initialization and data order, \(s.epochs) epochs of Adam each) and the ensemble that averages their class probabilities, which does better than the average member (for the log-loss Jensen's inequality guarantees it; for the error rate it is usual, not certain, and beating the best member too is not). Right: a mixture of \(s.experts) experts (784-\(s.expertHidden)-10 each, a linear softmax gate, trained jointly on cross-entropy plus an importance loss) against a single network of one expert's size and one with about the mixture's number of parameters, test error after every epoch.")
        let format: (Row) -> [String] = { [$0.model, "\($0.parameters)", String(format: "%.4f", $0.testError), $0.note] }
        try output.add(table: outcome.ensemble.map(format) + [["mean member", "", String(format: "%.4f", meanMember), ""]],
                       header: ["model", "parameters", "test error", "note"], name: "ensemble",
                       caption: "Mixture of models: each member and the ensemble.")
        try output.add(table: outcome.experts.map(format), header: ["model", "parameters", "test error", "note"], name: "experts",
                       caption: "Mixture of experts and single networks after \(s.epochs) epochs.")
        try SmallMNIST.writeCurves(outcome.mixtureCurves, to: output)
        try output.writeReport()
        return output
    }
}

/// Records a model's test error after every epoch of a ``Trainer``.
final class TestErrorCurve: TrainingCallback {
    let test: any ExampleSource
    private(set) var errors: [Float] = []

    init(test: any ExampleSource) { self.test = test }

    func trainer(_ trainer: Trainer, didEvaluate record: MetricsRecord) -> Bool {
        errors.append(1 - Evaluation.measure(trainer.model, on: test).accuracy)
        return true
    }
}
