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
