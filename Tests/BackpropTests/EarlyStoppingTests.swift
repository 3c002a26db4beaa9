import Testing
import Backprop

@Suite struct EarlyStoppingTests {
    /// Best 0.7 at epoch 2; epochs 3, 4, 5 do not improve, so with patience 3 training stops at
    /// epoch 5, and restoring gives epoch 2's weights.
    @Test func stopsAfterPatienceAndRestoresBest() throws {
        let w = Variable(Tensor([0, 0]), requiresGrad: true)
        var stopper = EarlyStopping(mode: .minimize, patience: 3)
        let losses: [Float] = [1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.5]
        var stoppedAt: Int?
        for (epoch, loss) in losses.enumerated() {
            w.value = Tensor([Float(epoch), -Float(epoch)])   // stand-in for an epoch of training
            if stopper.record(loss, epoch: epoch, parameters: [("w", w)]) {
                stoppedAt = epoch
                break
            }
        }
        #expect(stoppedAt == 5)
        #expect(stopper.bestEpoch == 2)
        #expect(stopper.bestValue == 0.7)
        try stopper.restoreBestWeights(into: [("w", w)])
        #expect(w.value.scalars == [2, -2])
    }

    @Test func minDeltaAndMaximizeMode() {
        var stopper = EarlyStopping(mode: .maximize, minDelta: 0.05, patience: 2, keepsBestWeights: false)
        var stops = stopper.record(0.80, epoch: 0, parameters: [])
        #expect(!stops)
        stops = stopper.record(0.84, epoch: 1, parameters: [])   // +0.04 < minDelta: no improvement
        #expect(!stops)
        #expect(stopper.epochsWithoutImprovement == 1)
        stops = stopper.record(0.90, epoch: 2, parameters: [])   // +0.10: improvement
        #expect(!stops)
        #expect(stopper.bestEpoch == 2)
        stops = stopper.record(Float.nan, epoch: 3, parameters: [])   // NaN never improves
        #expect(!stops)
        stops = stopper.record(0.70, epoch: 4, parameters: [])
        #expect(stops)
        #expect(stopper.shouldStop)
    }

    /// The snapshot shares buffers with the parameters (copy-on-write); an optimizer's in-place
    /// update after the snapshot must not reach it.
    @Test func snapshotSurvivesInPlaceUpdates() throws {
        let w = Variable(Tensor([1, 2, 3]), requiresGrad: true)
        let optimizer = Optimizer(groups: [ParameterGroup([("w", w)])], rule: SGD(), learningRate: 1)
        var stopper = EarlyStopping(patience: 1)
        stopper.record(1, epoch: 0, parameters: [("w", w)])
        w.grad = Tensor([1, 1, 1])
        optimizer.step()
        #expect(w.value.scalars == [0, 1, 2])
        try stopper.restoreBestWeights(into: [("w", w)])
        #expect(w.value.scalars == [1, 2, 3])
        // And the restored value is again independent of the snapshot.
        w.grad = Tensor([1, 1, 1])
        optimizer.step()
        #expect(stopper.bestWeights["w"]?.scalars == [1, 2, 3])
    }

    @Test func restoresAModulesParameters() throws {
        var generator = RandomGenerator(seed: 3)
        let model = Sequential(Linear(2, 3, generator: &generator), Linear(3, 1, generator: &generator))
        var stopper = EarlyStopping(patience: 2)
        let best = model.namedParameters().map(\.parameter.value)
        stopper.record(0.5, epoch: 0, module: model)
        for (_, p) in model.namedParameters() { p.value = p.value * 2 }
        stopper.record(0.6, epoch: 1, module: model)
        try stopper.restoreBestWeights(into: model)
        #expect(model.namedParameters().map(\.parameter.value) == best)
    }

    /// Without a patience it only selects: the best epoch is tracked, training never stops. A
    /// patience of 0 stops at the first record.
    @Test func patienceNoneAndZero() {
        var selecting = EarlyStopping(mode: .maximize, patience: nil, keepsBestWeights: false)
        for (epoch, accuracy) in [Float(0.5), 0.7, 0.6, 0.6, 0.6, 0.6].enumerated() {
            let stops = selecting.record(accuracy, epoch: epoch, parameters: [])
            #expect(!stops)
        }
        #expect(selecting.bestEpoch == 1)
        #expect(selecting.epochsWithoutImprovement == 4)
        var impatient = EarlyStopping(patience: 0, keepsBestWeights: false)
        let stops = impatient.record(1, epoch: 0, parameters: [])
        #expect(stops)
    }

    /// What ``Trainer`` relies on for regression: a NaN loss never becomes the best, not even
    /// the first one; the next finite loss does.
    @Test func aFirstNaNIsNoBest() {
        var stopper = EarlyStopping(mode: .minimize, patience: 2, keepsBestWeights: false)
        let stops = stopper.record(.nan, epoch: 1, parameters: [])
        #expect(!stops)
        #expect(stopper.bestEpoch == nil)
        #expect(stopper.epochsWithoutImprovement == 1)
        stopper.record(3, epoch: 2, parameters: [])
        #expect(stopper.bestEpoch == 2)
        #expect(stopper.epochsWithoutImprovement == 0)
    }

    /// A stopper rebuilt from what a checkpoint keeps (best value, its epoch, the records since)
    /// decides every later record as the one that never stopped.
    @Test func resumingDecidesAsTheUninterruptedOne() {
        let accuracies: [Float] = [0.4, 0.6, 0.6, 0.65, 0.5, 0.64, 0.7, 0.69, 0.68, 0.7, 0.66]
        for cut in 0...accuracies.count {
            var straight = EarlyStopping(mode: .maximize, patience: 4, keepsBestWeights: false)
            for (epoch, a) in accuracies.prefix(cut).enumerated() { straight.record(a, epoch: epoch, parameters: []) }
            var resumed = EarlyStopping(mode: .maximize, patience: 4, bestValue: straight.bestValue,
                                        bestEpoch: straight.bestEpoch,
                                        epochsWithoutImprovement: straight.epochsWithoutImprovement)
            for (epoch, a) in accuracies.enumerated().dropFirst(cut) {
                let resumedStops = resumed.record(a, epoch: epoch, parameters: [])
                let straightStops = straight.record(a, epoch: epoch, parameters: [])
                #expect(resumedStops == straightStops)
                #expect(resumed.bestEpoch == straight.bestEpoch && resumed.bestValue == straight.bestValue)
                #expect(resumed.epochsWithoutImprovement == straight.epochsWithoutImprovement)
            }
        }
    }

    /// ``Trainer`` selects and stops with this type: replaying its validation accuracies through
    /// an ``EarlyStopping`` of the same patience gives its best epoch and its last evaluation.
    @Test func trainerSelectsAndStopsAsEarlyStoppingDoes() throws {
        let summary = try Self.makeTrainer(epochs: 40, patience: 2, directory: TrainerTests.temporaryDirectory()).fit()
        #expect(summary.stoppedEarly)
        var replay = EarlyStopping(mode: .maximize, patience: 2, keepsBestWeights: false)
        var stoppedAt: Int?
        for record in summary.history {
            if replay.record(try #require(record.validationAccuracy), epoch: record.epoch, parameters: []) {
                stoppedAt = record.epoch
                break
            }
        }
        #expect(stoppedAt == summary.history.last?.epoch)
        #expect(replay.bestEpoch == summary.bestEpoch)
        #expect(replay.bestValue == summary.bestValidationAccuracy)
    }

    /// A run with early stopping stopped and resumed from its checkpoint keeps the same epoch and
    /// stops at the same evaluation, with the same weights, as one that never stopped.
    @Test func trainerResumesEarlyStoppingFromItsCheckpoint() throws {
        let straight = try Self.makeTrainer(epochs: 40, patience: 2, directory: TrainerTests.temporaryDirectory())
        let whole = try straight.fit()
        #expect(whole.stoppedEarly)
        let stop = try #require(whole.history.last?.epoch)
        for cut in [stop - 2, stop - 1] where cut >= 1 {
            let directory = TrainerTests.temporaryDirectory()
            _ = try Self.makeTrainer(epochs: cut, patience: 2, directory: directory).fit()
            let second = try Self.makeTrainer(epochs: 40, patience: 2, directory: directory)
            try second.resume(from: try #require(second.checkpointPath))
            let rest = try second.fit()
            #expect(rest.stoppedEarly)
            #expect(rest.bestEpoch == whole.bestEpoch)
            #expect(rest.bestValidationAccuracy == whole.bestValidationAccuracy)
            #expect(rest.history.map(\.epoch) == whole.history.map(\.epoch))
            #expect(TrainerTests.parameters(second) == TrainerTests.parameters(straight))
        }
    }

    /// A small classifier that stops improving within a few epochs.
    static func makeTrainer(epochs: Int, patience: Int, directory: String) throws -> Trainer {
        let data = SyntheticData.spirals(count: 120, classes: 3, noise: 0.05, seed: 3)
        let split = trainValidationSplit(count: data.count, validationFraction: 0.25, seed: 4)
        var configuration = TrainingConfiguration()
        configuration.epochs = epochs
        configuration.batchSize = 16
        configuration.optimizer = OptimizerSpecification(Adam(), learningRate: 0.01)
        configuration.earlyStoppingPatience = patience
        configuration.seed = 11
        return try Trainer(architecture: try MultilayerPerceptronArchitecture(sizes: [2, 16, 3], activation: .tanh),
                           configuration: configuration,
                           train: SubsetSource(data, indices: split.train),
                           validation: SubsetSource(data, indices: split.validation), test: nil,
                           runDirectory: directory, reporter: ProgressReporter(interactive: false, quiet: true))
    }

    @Test func restoreErrors() {
        let w = Variable(Tensor([1]), requiresGrad: true)
        let stopper = EarlyStopping(patience: 1)
        #expect(throws: EarlyStoppingError.noSnapshot) { try stopper.restoreBestWeights(into: [("w", w)]) }
        var recorded = EarlyStopping(patience: 1)
        recorded.record(1, epoch: 0, parameters: [("w", w)])
        #expect(throws: EarlyStoppingError.missingParameter("v")) {
            try recorded.restoreBestWeights(into: [("v", w)])
        }
        let wide = Variable(Tensor([1, 2]), requiresGrad: true)
        #expect(throws: EarlyStoppingError.shapeMismatch(parameter: "w", expected: [2], found: [1])) {
            try recorded.restoreBestWeights(into: [("w", wide)])
        }
    }
}
