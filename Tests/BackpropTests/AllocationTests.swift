import Testing
import Backprop

/// A training step of a fixed network reuses its buffers: after the first steps warm the pool,
/// no step asks the system for memory.
@Suite struct AllocationTests {
    @Test func trainingStepsStopAllocatingAfterWarmUp() {
        let backend = Backend(threads: ThreadPool(threadCount: 2), buffers: BufferPool())
        Backend.$current.withValue(backend) {
            var g = RandomGenerator(seed: 1)
            let model = Sequential(
                Linear(20, 32, generator: &g), ActivationLayer(.relu),
                Linear(32, 32, generator: &g), BatchNorm1d(32), ActivationLayer(.sigmoid),
                Dropout(0.2, seed: 2),
                Linear(32, 5, generator: &g))
            let x = Tensor.normal([16, 20], using: &g)
            let labels = (0..<16).map { Int32($0 % 5) }
            func step() {
                let loss = softmaxCrossEntropy(logits: model(Variable(x)), labels: labels)
                loss.backward()
                for p in model.parameters {
                    if let grad = p.grad { p.value -= grad * 0.01 }
                    p.grad = nil
                }
            }
            for _ in 0..<3 { step() }
            let before = backend.buffers.freshAllocations
            for _ in 0..<20 { step() }
            #expect(backend.buffers.freshAllocations == before)
            #expect(backend.buffers.reusedAllocations > 0)
        }
    }
}
