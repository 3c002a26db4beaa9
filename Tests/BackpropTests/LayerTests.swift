import Testing
import Backprop

@Suite struct LayerTests {
    /// A description counts its parameters as the network it builds has them.
    @Test(arguments: [([784, 256, 256, 10], false), ([784, 100, 100, 100, 10], true), ([2, 3], false), ([5, 7, 3], true)])
    func descriptionCountsTheParametersOfItsNetwork(sizes: [Int], batchNorm: Bool) throws {
        let description = try MultilayerPerceptronArchitecture(sizes: sizes, activation: .sigmoid, batchNorm: batchNorm, dropout: 0.1)
        #expect(description.parameterCount == description.build(seed: 1).parameterCount)
    }

    @Test func sequentialNamesParametersLikePyTorch() {
        var g = RandomGenerator(seed: 1)
        let model = Sequential(Linear(4, 3, generator: &g), ActivationLayer(.relu), BatchNorm1d(3),
                               Dropout(0.5), Linear(3, 2, generator: &g))
        #expect(model.namedParameters().map(\.name) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"])
        #expect(model.namedBuffers().map(\.name) == ["2.running_mean", "2.running_var", "2.num_batches_tracked"])
        #expect(model.parameterCount == 4 * 3 + 3 + 3 + 3 + 3 * 2 + 2)
        #expect(model.parameters[0].shape == [3, 4])
        #expect(model.parameters[0].decays && !model.parameters[1].decays)
    }

    @Test func fusedLinearActivationEqualsTheUnfusedPair() {
        var g = RandomGenerator(seed: 2)
        let layer = Linear(5, 7, generator: &g)
        let x = Tensor.uniform([3, 5], in: -1...1, using: &g)
        for f in Activation.allCases {
            let fused = Sequential(layer, ActivationLayer(f))(x)
            let unfused = withoutGradient { layer(Variable(x)).activated(by: f).value }
            for (a, b) in zip(fused.scalars, unfused.scalars) { #expect(abs(a - b) <= 1e-6 * max(1, abs(b))) }
        }
    }

    @Test func linearComputesXTimesWTransposedPlusBias() {
        let layer = Linear(weight: Tensor([[1, 2], [3, 4], [5, 6]]), bias: Tensor([0.5, 0, -0.5]))
        let y = layer(Tensor([[1, 1], [2, 0]]))
        #expect(y.scalars == [3.5, 7, 10.5, 2.5, 6, 9.5])
    }

    @Test func batchNormNormalizesInTrainingAndUsesRunningStatisticsInEvaluation() {
        var g = RandomGenerator(seed: 3)
        let bn = BatchNorm1d(4, momentum: nil)   // cumulative average: Algorithm 2's expectation
        let x = Tensor.normal([64, 4], mean: 3, standardDeviation: 2, using: &g)
        let y = bn(Variable(x)).value
        let mean = y.mean(alongAxis: 0), variance = y.squared().mean(alongAxis: 0) - mean.squared()
        for j in 0..<4 {
            #expect(abs(mean[j]) < 1e-5)
            #expect(abs(variance[j] - 1) < 1e-3)   // ε = 1e-5 against σ² ≈ 4
        }
        // Running statistics: the batch mean and the unbiased (m/(m−1)) variance.
        let m = Float(64)
        let batchMean = x.mean(alongAxis: 0)
        let biased = x.squared().mean(alongAxis: 0) - batchMean.squared()
        for j in 0..<4 {
            #expect(abs(bn.runningMean.value[j] - batchMean[j]) < 1e-5)
            #expect(abs(bn.runningVariance.value[j] - biased[j] * m / (m - 1)) < 1e-3)
        }
        // Evaluation uses those estimates, whatever the batch.
        bn.eval()
        let single = bn(Tensor(shape: [1, 4], scalars: [3, 3, 3, 3]))
        for j in 0..<4 {
            let expected = (3 - bn.runningMean.value[j]) / (bn.runningVariance.value[j] + 1e-5).squareRoot()
            #expect(abs(single[0, j] - expected) < 1e-5)
        }
    }

    @Test func batchNormMomentumFollowsTheRunningAverageRule() {
        let bn = BatchNorm1d(1, momentum: 0.25)
        _ = bn(Variable(Tensor(shape: [2, 1], scalars: [1, 3])))   // mean 2, unbiased variance 2
        #expect(bn.runningMean.value.scalars == [0.5])              // 0.75·0 + 0.25·2
        #expect(bn.runningVariance.value.scalars == [1.25])         // 0.75·1 + 0.25·2
    }

    @Test func dropoutDropsAboutPAndRescalesInTrainingAndIsIdentityInEvaluation() {
        let dropout = Dropout(0.25, seed: 4)
        let x = Tensor.ones([100, 100])
        let y = dropout(Variable(x)).value
        let zeros = y.scalars.filter { $0 == 0 }.count
        #expect(abs(zeros - 2500) < 250)
        #expect(y.scalars.allSatisfy { $0 == 0 || $0 == Float(1) / 0.75 })
        dropout.eval()
        #expect(dropout(x) == x)
    }

    @Test func gaussianNoiseIsTrainingOnly() {
        let noise = GaussianNoise(standardDeviation: 0.5, seed: 5)
        let x = Tensor.zeros([200, 50])
        let y = noise(Variable(x)).value
        let std = (y.squared().mean()).squareRoot()
        #expect(abs(std - 0.5) < 0.02)
        noise.eval()
        #expect(noise(x) == x)
    }

    @Test func initializersHaveTheirDocumentedScale() {
        var g = RandomGenerator(seed: 6)
        func std(_ t: Tensor) -> Float { (t.squared().mean() - t.mean() * t.mean()).squareRoot() }
        let he = Initializer.heNormal.make([400, 200], using: &g)
        #expect(abs(std(he) - (2 / Float(200)).squareRoot()) < 0.003)
        let glorot = Initializer.glorotUniform.make([300, 100], using: &g)
        let bound = (6 / Float(400)).squareRoot()
        #expect(glorot.max() <= bound && (-glorot).max() <= bound)
        #expect(abs(std(glorot) - bound / Float(3).squareRoot()) < 0.003)
        #expect(Initializer.zeros.make([3, 3], using: &g) == .zeros([3, 3]))
        let small = Initializer.normal(standardDeviation: 0.01).make([100, 100], using: &g)
        #expect(abs(std(small) - 0.01) < 0.0005)
    }
}
