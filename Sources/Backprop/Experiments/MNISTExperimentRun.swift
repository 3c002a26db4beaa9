import Foundation

/// What the MNIST experiments share: the bundled data (optionally a training subset) and one
/// network trained by ``Trainer`` without a run folder, quietly, evaluated on the test set.
public enum MNISTExperimentRun {
    /// MNIST's first `trainCount` training images (nil: all 60,000) and its 10,000 test images.
    public static func data(trainCount: Int? = nil) throws -> (train: SubsetSource<ImageDataset>, test: ImageDataset) {
        let (train, test) = try MNIST.loadBundled()
        let n = min(trainCount ?? train.count, train.count)
        return (SubsetSource(train, indices: Array(0..<n)), test)
    }

    /// Trains `architecture` with `optimizer` (e.g. `OptimizerSpecification(SGD(), learningRate: 0.1)`) on `train`
    /// for `epochs` epochs or `steps` steps, whichever ends first, evaluating on `test` every
    /// `evaluationInterval` steps (nil: after each epoch). Returns the trainer (its model is the
    /// final one: no validation set, so no best-epoch restore) and the summary.
    public static func train(_ architecture: MultilayerPerceptronArchitecture, optimizer: OptimizerSpecification, train: any ExampleSource,
                             test: (any ExampleSource)?, epochs: Int, steps: Int? = nil, batchSize: Int,
                             evaluationInterval: Int? = nil, normalization: Normalization = .none, seed: UInt64 = 1,
                             callbacks: [any TrainingCallback] = []) throws -> (trainer: Trainer, summary: TrainingSummary) {
        let trainer = try self.trainer(architecture, optimizer: optimizer, train: train, test: test, epochs: epochs,
                                       steps: steps, batchSize: batchSize, evaluationInterval: evaluationInterval,
                                       normalization: normalization, seed: seed)
        trainer.callbacks = callbacks
        return (trainer, try trainer.fit())
    }

    /// The trainer ``train(_:optimizer:train:test:epochs:steps:batchSize:evaluationInterval:normalization:seed:callbacks:)``
    /// uses, before it trains (to look at the untrained network first).
    public static func trainer(_ architecture: MultilayerPerceptronArchitecture, optimizer: OptimizerSpecification, train: any ExampleSource,
                               test: (any ExampleSource)?, epochs: Int, steps: Int? = nil, batchSize: Int,
                               evaluationInterval: Int? = nil, normalization: Normalization = .none,
                               seed: UInt64 = 1) throws -> Trainer {
        var configuration = TrainingConfiguration()
        configuration.epochs = epochs
        configuration.maximumSteps = steps
        configuration.batchSize = batchSize
        configuration.optimizer = optimizer
        configuration.schedule = .constant
        configuration.evaluationInterval = evaluationInterval
        configuration.seed = seed
        return try Trainer(architecture: architecture, configuration: configuration, train: train, validation: nil,
                           test: test, normalization: normalization, runDirectory: nil,
                           reporter: ProgressReporter(interactive: false, quiet: true))
    }

    /// Every example of `source` as one feature matrix and its labels.
    public static func everything(_ source: any ExampleSource) -> (features: Tensor, labels: [Int32]) {
        source.batch(ArraySlice(Array(0..<source.count)))
    }
}
