import Testing
import Backprop

/// The README's 20-line example, verbatim but for `print`, so the README cannot drift from the API.
@Suite struct ReadmeExampleTests {
    @Test func readmeExampleTrainsTwoMoons() throws {
        let data = SyntheticData.twoMoons(count: 400, noise: 0.1, seed: 1)
        let spec = try MultilayerPerceptronArchitecture(sizes: [2, 32, 2], activation: .tanh)
        let model = spec.build(seed: 1)                     // Linear(2→32), tanh, Linear(32→2)
        let optimizer = Optimizer(model.namedParameters(), rule: Momentum(momentum: 0.9), learningRate: 0.1)

        var last: Float = .infinity
        for _ in 1...500 {
            let logits = model(Variable(data.features))
            let loss = softmaxCrossEntropy(logits: logits, labels: data.labels)
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
            last = loss.value.scalar
        }
        model.eval()
        let predicted = model(data.features).argmaxRows()
        let correct = zip(predicted, data.labels).filter { $0 == Int($1) }.count
        let accuracy = Float(correct) / Float(data.count)
        #expect(accuracy >= 0.97, "train accuracy \(accuracy), final loss \(last)")
    }

    /// The README's `Trainer` example, verbatim but for `print`, after the same data and
    /// architecture.
    @Test func readmeTrainerExampleTrainsTwoMoons() throws {
        let data = SyntheticData.twoMoons(count: 400, noise: 0.1, seed: 1)
        let spec = try MultilayerPerceptronArchitecture(sizes: [2, 32, 2], activation: .tanh)
        let test = SyntheticData.twoMoons(count: 400, noise: 0.1, seed: 2)
        var configuration = TrainingConfiguration()
        configuration.epochs = 100
        configuration.batchSize = 32
        configuration.optimizer = OptimizerSpecification(Adam(beta2: 0.99), learningRate: 0.02)
        configuration.schedule = .cosine(warmupSteps: 10, totalSteps: 1300, minimumLearningRate: 0)
        configuration.gradientTransformations = [.clipByGlobalNorm(1), .addNoise(eta: 0.01, gamma: 0.55)]
        configuration.weightDecay = 1e-4                    // coupled L2 on the weight matrices
        let trainer = try Trainer(architecture: spec, configuration: configuration, train: data,
                                  validation: nil, test: test, runDirectory: nil)
        let summary = try trainer.fit()
        let accuracy = try #require(summary.test?.accuracy)
        #expect(accuracy >= 0.95, "test accuracy \(accuracy)")
    }
}
