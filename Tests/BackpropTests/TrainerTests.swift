import Foundation
import Testing
import Backprop

@Suite struct TrainerTests {
    static func temporaryDirectory() -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("backprop-trainer-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func makeTrainer(epochs: Int, directory: String, optimizer: String = "adam:lr=0.01",
                            noise: Float? = 0.01) throws -> Trainer {
        let data = SyntheticData.spirals(count: 240, classes: 3, noise: 0.05, seed: 3)
        let split = trainValidationSplit(count: data.count, validationFraction: 0.25, seed: 4)
        let architecture = try MultilayerPerceptronArchitecture(sizes: [2, 24, 24, 3], activation: .tanh, batchNorm: true,
                                                    dropout: 0.1, inputNoise: 0.05)
        var configuration = TrainingConfiguration()
        configuration.epochs = epochs
        configuration.batchSize = 16
        configuration.optimizer = try OptimizerSpecification(parsing: optimizer)
        configuration.schedule = .step(every: 20, gamma: 0.9)
        configuration.gradientNoise = noise
        configuration.clipNorm = 5
        configuration.seed = 11
        return try Trainer(architecture: architecture, configuration: configuration,
                           train: SubsetSource(data, indices: split.train),
                           validation: SubsetSource(data, indices: split.validation), test: nil,
                           runDirectory: directory, reporter: ProgressReporter(interactive: false, quiet: true))
    }

    static func parameters(_ trainer: Trainer) -> [[UInt32]] {
        trainer.model.namedParameters().map { $0.parameter.value.scalars.map(\.bitPattern) }
            + trainer.model.namedBuffers().map { $0.buffer.value.scalars.map(\.bitPattern) }
    }

    @Test(arguments: ["adam:lr=0.01", "momentum:lr=0.05", "adadelta"])
    func resumingContinuesBitIdentically(_ optimizer: String) throws {
        let straight = try Self.makeTrainer(epochs: 4, directory: Self.temporaryDirectory(), optimizer: optimizer)
        _ = try straight.fit()

        let directory = Self.temporaryDirectory()
        let first = try Self.makeTrainer(epochs: 2, directory: directory, optimizer: optimizer)
        _ = try first.fit()
        let second = try Self.makeTrainer(epochs: 4, directory: directory, optimizer: optimizer)
        try second.resume(from: try #require(second.checkpointPath))
        #expect(second.epochsCompleted == 2)
        _ = try second.fit()

        #expect(second.steps == straight.steps)
        #expect(Self.parameters(second) == Self.parameters(straight))
    }

    @Test func sameSeedSameResult() throws {
        let a = try Self.makeTrainer(epochs: 2, directory: Self.temporaryDirectory())
        let b = try Self.makeTrainer(epochs: 2, directory: Self.temporaryDirectory())
        _ = try a.fit()
        _ = try b.fit()
        #expect(Self.parameters(a) == Self.parameters(b))
    }

    @Test func keepsTheBestValidationModelAndWritesLoadableFiles() throws {
        let directory = Self.temporaryDirectory()
        let trainer = try Self.makeTrainer(epochs: 6, directory: directory)
        let summary = try trainer.fit()
        let best = try #require(summary.bestValidationAccuracy)
        #expect(best == summary.history.compactMap(\.validationAccuracy).max())
        // The kept model is the best epoch's: re-measuring it on validation gives that accuracy.
        let (model, architecture, _) = try Checkpoint.loadModel(try #require(trainer.modelPath))
        #expect(architecture.sizes == [2, 24, 24, 3])
        #expect(model.namedParameters().map(\.name) == trainer.model.namedParameters().map(\.name))
        for ((_, a), (_, b)) in zip(model.namedParameters(), trainer.model.namedParameters()) {
            #expect(a.value == b.value)
        }
        let csv = try String(contentsOfFile: (directory as NSString).appendingPathComponent("metrics.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 1 + summary.history.count)
    }

    @Test func nonFiniteLossStopsWithAClearErrorAndKeepsTheCheckpoint() throws {
        let directory = Self.temporaryDirectory()
        let trainer = try Self.makeTrainer(epochs: 1, directory: directory, optimizer: "sgd:lr=0.01", noise: nil)
        _ = try trainer.fit()
        let saved = try Data(contentsOf: URL(fileURLWithPath: try #require(trainer.checkpointPath)))
        // Poison a weight: the next forward pass produces a NaN loss.
        let diverging = try Self.makeTrainer(epochs: 2, directory: directory, optimizer: "sgd:lr=0.01", noise: nil)
        try diverging.resume(from: try #require(diverging.checkpointPath))
        diverging.model.parameters[0].value = diverging.model.parameters[0].value * Float.nan
        #expect {
            _ = try diverging.fit()
        } throws: { error in
            guard case .nonFiniteLoss(_, _, _, let last)? = error as? TrainingError else { return false }
            return last == diverging.checkpointPath
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: try #require(trainer.checkpointPath)))
        #expect(after == saved)
    }

    @Test func invalidConfigurationsAreRejectedWithReasons() throws {
        let data = SyntheticData.xor()
        let architecture = try MultilayerPerceptronArchitecture(sizes: [3, 4, 2])
        #expect(throws: TrainingError.self) {
            _ = try Trainer(architecture: architecture, configuration: TrainingConfiguration(),
                            train: data, validation: nil, test: nil, runDirectory: nil)
        }
        var configuration = TrainingConfiguration()
        configuration.optimizer = OptimizerSpecification(name: .momentum, hyperParameters: ["beta1": 0.9])   // momentum has no β₁
        #expect(throws: TrainingError.self) {
            _ = try Trainer(architecture: try MultilayerPerceptronArchitecture(sizes: [2, 4, 2]), configuration: configuration,
                            train: data, validation: nil, test: nil, runDirectory: nil)
        }
    }

    /// A training batch of one example has no standard deviation for BatchNorm: the trainer
    /// refuses the configuration up front (not a trap mid-epoch), and `dropLast` makes it valid.
    @Test func batchNormRefusesABatchOfOneAndDropLastAllowsIt() throws {
        let data = SyntheticData.twoMoons(count: 65, noise: 0.05, seed: 5)   // 65 = 4 × 16 + 1
        let architecture = try MultilayerPerceptronArchitecture(sizes: [2, 8, 2], activation: .tanh, batchNorm: true)
        var configuration = TrainingConfiguration()
        configuration.epochs = 2
        configuration.batchSize = 16
        func make() throws(TrainingError) -> Trainer {
            try Trainer(architecture: architecture, configuration: configuration, train: data, validation: nil,
                        test: nil, runDirectory: nil, reporter: ProgressReporter(interactive: false, quiet: true))
        }
        do {
            _ = try make()
            Issue.record("a last batch of 1 with BatchNorm was accepted")
        } catch {
            #expect(error.description.contains("last batch of 1"), "\(error)")
        }
        configuration.batchSize = 1
        #expect(throws: TrainingError.self) { _ = try make() }
        configuration.batchSize = 16
        configuration.dropLast = true
        let summary = try make().fit()
        #expect(summary.steps == 2 * 4)
        // Without BatchNorm the same last batch of 1 is fine.
        configuration.dropLast = false
        let plain = try Trainer(architecture: try MultilayerPerceptronArchitecture(sizes: [2, 8, 2], activation: .tanh),
                                configuration: configuration, train: data, validation: nil, test: nil, runDirectory: nil,
                                reporter: ProgressReporter(interactive: false, quiet: true))
        #expect(try plain.fit().steps == 2 * 5)
    }

    /// Sizes from a flag or a file are bounded before they multiply: no overflow trap, no
    /// out-of-memory abort; a checkpoint's metadata goes through the same validation.
    @Test func networkDescriptionsAreBoundedAndDecodedThroughValidation() throws {
        #expect(throws: ModelError.self) { try MultilayerPerceptronArchitecture(sizes: [3_037_000_500, 3_037_000_500, 2]) }
        #expect(throws: ModelError.self) { try MultilayerPerceptronArchitecture(sizes: [100_000, 100_000, 2]) }   // 10¹⁰ weights
        #expect(throws: ModelError.self) { try MultilayerPerceptronArchitecture(sizes: [Int.max, 2]) }
        _ = try MultilayerPerceptronArchitecture(sizes: [784, 1024, 1024, 10])
        let good = try MultilayerPerceptronArchitecture(sizes: [4, 8, 3], activation: .tanh, batchNorm: true, dropout: 0.1)
        let json = try JSONEncoder().encode(good)
        #expect(try JSONDecoder().decode(MultilayerPerceptronArchitecture.self, from: json) == good)
        let text = String(decoding: json, as: UTF8.self)
        for bad in ["[4,0,3]", "[4]", "[200000,200000,3]"] {
            let forged = text.replacingOccurrences(of: "[4,8,3]", with: bad)
            #expect(forged != text)
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(MultilayerPerceptronArchitecture.self, from: Data(forged.utf8)) }
        }
    }

    @Test func batchStochasticAndMiniBatchGradientDescentAllTrain() throws {
        let data = SyntheticData.twoMoons(count: 64, noise: 0.05, seed: 5)
        for batchSize in [64, 1, 8] {
            var configuration = TrainingConfiguration()
            configuration.epochs = batchSize == 64 ? 300 : 20
            configuration.batchSize = batchSize
            configuration.optimizer = OptimizerSpecification(SGD(), learningRate: batchSize == 64 ? 0.5 : 0.05)
            let trainer = try Trainer(architecture: try MultilayerPerceptronArchitecture(sizes: [2, 16, 2], activation: .tanh),
                                      configuration: configuration, train: data, validation: nil, test: data,
                                      runDirectory: nil, reporter: ProgressReporter(interactive: false, quiet: true))
            let summary = try trainer.fit()
            #expect(summary.steps == configuration.epochs * ((64 + batchSize - 1) / batchSize))
            #expect((summary.test?.accuracy ?? 0) > 0.85, "batch size \(batchSize)")
        }
    }
}

@Suite struct MetricsTests {
    @Test func confusionMatrixCountsAndDerivedMetrics() {
        var m = ConfusionMatrix(classCount: 3)
        for (t, p) in [(0, 0), (0, 0), (0, 1), (1, 1), (2, 2), (2, 1)] { m.record(truth: t, prediction: p) }
        #expect(m.total == 6)
        #expect(m.accuracy == Float(4) / 6)
        #expect(m.recall(0) == Float(2) / 3)
        #expect(m.precision(1) == Float(1) / 3)
        #expect(m.precision(2) == 1)
        #expect(m.counts[2][1] == 1)
        #expect(m.table.contains("recall"))
    }

    @Test func dataLoaderVisitsEveryExampleOncePerEpochWithPrefetch() {
        let data = SyntheticData.blobs(count: 103, classes: 3, seed: 1)
        let loader = DataLoader(data, batchSize: 10, order: .shuffled(seed: 2), prefetches: true)
        for epoch in 0..<2 {
            var seen: [Int] = []
            for batch in loader.batches(epoch: epoch) {
                #expect(batch.features.shape == [batch.indices.count, 2])
                for (row, i) in batch.indices.enumerated() {
                    #expect(batch.features[row, 0] == data.features[i, 0])
                    #expect(batch.labels[row] == data.labels[i])
                }
                seen += batch.indices
            }
            #expect(seen.sorted() == Array(0..<103))
        }
        #expect(loader.batchesPerEpoch == 11)
        let dropping = DataLoader(data, batchSize: 10, order: .sequential, dropLast: true, prefetches: false)
        #expect(Array(dropping.batches(epoch: 0)).count == 10)
    }

    @Test func gatheringABatchOnTwoThreadsGivesTheSameBatch() {
        var generator = RandomGenerator(seed: 8)
        let count = 200, features = 300
        let data = LabeledData(features: Tensor.uniform([count, features], in: -1...1, using: &generator),
                               labels: (0..<count).map { Int32($0 % 7) }, classCount: 7)
        // 61 rows (odd, so the halves differ) of 300 floats: above the size where the gather splits.
        let indices = ArraySlice(generator.permutation(count).prefix(61))
        let serial = data.batch(indices)
        let split = data.batch(indices, threads: ThreadPool(threadCount: 2))
        #expect(split.features == serial.features)
        #expect(split.labels == serial.labels)
        #expect(serial.features[5, 17] == data.features[indices[indices.startIndex + 5], 17])
    }

    @Test func batchesArePrefetchedOnlyWhereAThreadHasSpareCoreOrAugmentationToOverlap() {
        // A pool on every core: the hand-off costs more than a plain gather saves.
        #expect(!Trainer.prefetchPays(threads: 2, cores: 2, transforms: false, replicasInThreads: false))
        #expect(!Trainer.prefetchPays(threads: 4, cores: 2, transforms: false, replicasInThreads: false))
        #expect(Trainer.prefetchPays(threads: 1, cores: 2, transforms: false, replicasInThreads: false))
        #expect(Trainer.prefetchPays(threads: 2, cores: 2, transforms: true, replicasInThreads: false))
        #expect(!Trainer.prefetchPays(threads: 1, cores: 2, transforms: true, replicasInThreads: true))
    }

    @Test func standardizationUsesTrainingStatistics() {
        let data = SyntheticData.blobs(count: 300, classes: 3, seed: 2)
        let normalization = Normalization.standardizing(data)
        var all = data.features
        normalization.apply(to: &all)
        let mean = all.mean(alongAxis: 0), std = (all.squared().mean(alongAxis: 0) - mean.squared()).squareRoot()
        for j in 0..<2 {
            #expect(abs(mean[j]) < 1e-4)
            #expect(abs(std[j] - 1) < 1e-3)
        }
    }
}

/// Records what the trainer reports and stops after a given number of evaluations.
final class RecordingCallback: TrainingCallback {
    var steps: [Int] = []
    var evaluations: [MetricsRecord] = []
    let stopAfter: Int
    init(stopAfter: Int) { self.stopAfter = stopAfter }
    func trainer(_ trainer: Trainer, didStep step: Int, loss: Float) { steps.append(step) }
    func trainer(_ trainer: Trainer, didEvaluate record: MetricsRecord) -> Bool {
        evaluations.append(record)
        return evaluations.count < stopAfter
    }
}

@Suite struct TrainingCallbackTests {
    @Test func callbacksSeeEveryStepAndEvaluationAndCanStopTheRun() throws {
        let trainer = try TrainerTests.makeTrainer(epochs: 10, directory: TrainerTests.temporaryDirectory())
        let callback = RecordingCallback(stopAfter: 3)
        trainer.callbacks = [callback]
        let summary = try trainer.fit()
        #expect(summary.stoppedEarly)
        #expect(callback.evaluations.map(\.epoch) == [1, 2, 3])
        #expect(callback.steps == Array(1...summary.steps))
        #expect(trainer.epochsCompleted == 3)
    }
}

/// Records every parameter and buffer after each evaluation.
private final class ParameterRecorder: TrainingCallback {
    var byEpoch: [Int: [[UInt32]]] = [:]
    func trainer(_ trainer: Trainer, didEvaluate record: MetricsRecord) -> Bool {
        byEpoch[record.epoch] = TrainerTests.parameters(trainer)
        return true
    }
}

extension TrainerTests {
    /// Without a run folder, model selection still keeps the best validation epoch's weights
    /// (from memory), not the last epoch's.
    @Test func modelSelectionWithoutARunFolderKeepsTheBestEpoch() throws {
        let data = SyntheticData.spirals(count: 240, classes: 3, noise: 0.05, seed: 3)
        let split = trainValidationSplit(count: data.count, validationFraction: 0.25, seed: 4)
        var configuration = TrainingConfiguration()
        configuration.epochs = 12
        configuration.batchSize = 16
        configuration.optimizer = OptimizerSpecification(SGD(), learningRate: 2)   // large steps: validation accuracy goes up and down
        configuration.seed = 5
        let trainer = try Trainer(architecture: MultilayerPerceptronArchitecture(sizes: [2, 16, 3], activation: .tanh, batchNorm: true),
                                  configuration: configuration, train: SubsetSource(data, indices: split.train),
                                  validation: SubsetSource(data, indices: split.validation), test: nil, runDirectory: nil,
                                  reporter: ProgressReporter(interactive: false, quiet: true))
        let recorder = ParameterRecorder()
        trainer.callbacks = [recorder]
        let summary = try trainer.fit()
        let best = try #require(summary.bestEpoch)
        try #require(best < 12, "this run must have its best epoch before the last for the test to mean anything")
        #expect(Self.parameters(trainer) == recorder.byEpoch[best])
        #expect(Self.parameters(trainer) != recorder.byEpoch[12])
    }
}
