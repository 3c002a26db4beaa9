// Trains the README's two-moons network through Backprop's public API, as a package that depends
// on Backprop by version would, and exits non-zero unless it learned (train accuracy >= 97%).
import Backprop
import Foundation

let data = SyntheticData.twoMoons(count: 400, noise: 0.1, seed: 1)
let spec = try MultilayerPerceptronArchitecture(sizes: [2, 32, 2], activation: .tanh)
let model = spec.build(seed: 1)
let optimizer = Optimizer(model.namedParameters(), rule: Momentum(momentum: 0.9), learningRate: 0.1)
for _ in 1...500 {
    let loss = softmaxCrossEntropy(logits: model(Variable(data.features)), labels: data.labels)
    optimizer.zeroGrad()
    loss.backward()
    optimizer.step()
}
model.eval()
let predicted = model(data.features).argmaxRows()
let accuracy = Double(zip(predicted, data.labels).filter { $0 == Int($1) }.count) / Double(data.count)
print("consumer: kernels \(KernelTable.current.summary), train accuracy \(String(format: "%.4f", accuracy))")
if accuracy < 0.97 {
    print("consumer: FAIL, expected >= 0.97")
    exit(1)
}
