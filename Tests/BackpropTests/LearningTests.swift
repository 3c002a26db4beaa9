import Testing
import Backprop

/// Small networks that must actually learn: the end-to-end proof that forward, backward and the
/// update fit together.
@Suite struct LearningTests {
    /// Plain gradient descent, written out so these tests depend on nothing but the engine.
    static func descend(_ parameters: [Variable], learningRate: Float) {
        for p in parameters {
            guard let g = p.grad else { continue }
            p.value = p.value - g * learningRate
            p.grad = nil
        }
    }

    static func accuracy(_ model: any Module, _ data: LabeledData) -> Float {
        model.eval()
        defer { model.train() }
        let predicted = model(data.features).argmaxRows()
        return Float(zip(predicted, data.labels).filter { $0 == Int($1) }.count) / Float(data.count)
    }

    @Test func oneHiddenLayerLearnsXOR() {
        var g = RandomGenerator(seed: 1)
        let model = Sequential(Linear(2, 8, generator: &g), ActivationLayer(.tanh), Linear(8, 2, generator: &g))
        let data = SyntheticData.xor()
        for _ in 0..<2000 {
            softmaxCrossEntropy(logits: model(Variable(data.features)), labels: data.labels).backward()
            Self.descend(model.parameters, learningRate: 0.5)
        }
        #expect(Self.accuracy(model, data) == 1)
    }

    @Test func twoClassSigmoidOutputLearnsXOR() {
        var g = RandomGenerator(seed: 2)
        let model = Sequential(Linear(2, 8, generator: &g), ActivationLayer(.sigmoid), Linear(8, 1, generator: &g))
        let data = SyntheticData.xor()
        let targets = Tensor(shape: [4, 1], scalars: data.labels.map(Float.init))
        for _ in 0..<4000 {
            binaryCrossEntropy(logits: model(Variable(data.features)), targets: targets).backward()
            Self.descend(model.parameters, learningRate: 2)
        }
        let predictions = model(data.features).scalars.map { $0 > 0 ? Int32(1) : 0 }
        #expect(predictions == data.labels)
    }

    @Test func oneHiddenLayerSeparatesTwoMoons() {
        var g = RandomGenerator(seed: 3)
        let model = Sequential(Linear(2, 32, initializer: .heNormal, generator: &g), ActivationLayer(.relu),
                               Linear(32, 2, generator: &g))
        let data = SyntheticData.twoMoons(count: 400, noise: 0.1, seed: 4)
        for _ in 0..<1500 {
            softmaxCrossEntropy(logits: model(Variable(data.features)), labels: data.labels).backward()
            Self.descend(model.parameters, learningRate: 0.3)
        }
        let accuracy = Self.accuracy(model, data)
        #expect(accuracy >= 0.97, "train accuracy \(accuracy)")
    }

    @Test func deepSoftmaxNetworkLearnsThreeSpirals() {
        var g = RandomGenerator(seed: 5)
        let model = Sequential(
            Linear(2, 64, initializer: .heNormal, generator: &g), ActivationLayer(.relu),
            Linear(64, 64, initializer: .heNormal, generator: &g), ActivationLayer(.relu),
            Linear(64, 3, generator: &g))
        let data = SyntheticData.spirals(count: 300, classes: 3, noise: 0.02, seed: 6)
        var losses: [Float] = []
        for step in 0..<3000 {
            let batch = (step * 60) % 300
            let x = Variable(data.features.rows(batch..<batch + 60))
            let loss = softmaxCrossEntropy(logits: model(x), labels: Array(data.labels[batch..<batch + 60]))
            losses.append(loss.value.scalar)
            loss.backward()
            Self.descend(model.parameters, learningRate: 0.1)
        }
        let early: Float = losses.prefix(50).reduce(0, +) / 50
        let late: Float = losses.suffix(50).reduce(0, +) / 50
        #expect(late < early / 5, "loss \(early) → \(late)")
        #expect(Self.accuracy(model, data) >= 0.9)
    }

    @Test func linearOutputRegressesASineCurve() {
        var g = RandomGenerator(seed: 7)
        let model = Sequential(Linear(1, 32, generator: &g), ActivationLayer(.tanh), Linear(32, 1, generator: &g))
        let (angle, y) = SyntheticData.sine(count: 128, seed: 8)
        let x = angle * (1 / Float.pi)   // inputs scaled to [-1, 1], as one standardizes features
        var first: Float = 0, last: Float = 0
        for step in 0..<4000 {
            let loss = meanSquaredError(model(Variable(x)), y)
            if step == 0 { first = loss.value.scalar }
            last = loss.value.scalar
            loss.backward()
            Self.descend(model.parameters, learningRate: 0.1)
        }
        #expect(last < 0.01, "final MSE \(last) from \(first)")
        #expect(last >= 0)
    }

    @Test func batchNormNetworkTrains() {
        var g = RandomGenerator(seed: 9)
        let model = Sequential(Linear(2, 16, generator: &g), BatchNorm1d(16), ActivationLayer(.sigmoid),
                               Linear(16, 2, generator: &g))
        let data = SyntheticData.twoMoons(count: 200, noise: 0.1, seed: 10)
        for step in 0..<1500 {
            let batch = (step * 50) % 200
            let x = Variable(data.features.rows(batch..<batch + 50))
            softmaxCrossEntropy(logits: model(x), labels: Array(data.labels[batch..<batch + 50])).backward()
            Self.descend(model.parameters, learningRate: 0.5)
        }
        #expect(Self.accuracy(model, data) >= 0.95)
    }
}
