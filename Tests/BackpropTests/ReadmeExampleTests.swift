import Testing
import Backprop

/// The README's 20-line example, verbatim but for `print`, so the README cannot drift from the API.
@Suite struct ReadmeExampleTests {
    @Test func readmeExampleTrainsTwoMoons() throws {
        let data = SyntheticData.twoMoons(count: 400, noise: 0.1, seed: 1)
        let spec = try MultilayerPerceptronArchitecture(sizes: [2, 32, 2], activation: .tanh)
        let model = spec.build(seed: 1)                     // Linear(2→32), tanh, Linear(32→2)
        let optimizer = try Optimizer.make(named: "momentum", parameters: model.namedParameters(), learningRate: 0.1)

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
}
