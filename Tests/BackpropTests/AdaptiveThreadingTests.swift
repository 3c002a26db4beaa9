import Foundation
import Testing
import Backprop

/// Switching a training loop between the thread pool and one thread changes speed only.
@Suite struct AdaptiveThreadingTests {
    /// MNIST-like inputs (784 features, ~20% nonzero, so the first layer takes the sparse path)
    /// and layers big enough that every kernel splits over 2 threads.
    static func trainedParameters(backend: Backend, policy: (Backend) -> AdaptiveThreading?,
                                  optimizer: String, batchNorm: Bool) throws -> (parameters: [[UInt32]], pooled: Int, serial: Int) {
        var generator = RandomGenerator(seed: 21)
        let count = 192, features = 784
        var scalars = [Float](repeating: 0, count: count * features)
        var labels: [Int32] = []
        for i in 0..<count {
            let label = Int32(i % 4)
            labels.append(label)
            for j in 0..<features where generator.nextUniform() < 0.2 {
                scalars[i * features + j] = generator.nextUniform() + (j % 4 == Int(label) ? 0.5 : 0)
            }
        }
        let data = LabeledData(features: Tensor(shape: [count, features], scalars: scalars), labels: labels, classCount: 4)
        return try Backend.$current.withValue(backend) {
            let architecture = try MultilayerPerceptronArchitecture(sizes: [features, 256, 256, 4], activation: .relu,
                                                        batchNorm: batchNorm, dropout: 0.1)
            var configuration = TrainingConfiguration()
            configuration.epochs = 2
            configuration.batchSize = 48
            configuration.optimizer = try OptimizerSpecification(parsing: optimizer)
            configuration.weightDecay = 1e-4
            configuration.clipNorm = 5
            configuration.seed = 3
            let trainer = try Trainer(architecture: architecture, configuration: configuration, train: data,
                                      validation: nil, test: nil, runDirectory: nil,
                                      reporter: ProgressReporter(interactive: false, quiet: true))
            trainer.threading = policy(backend)
            _ = try trainer.fit()
            return (trainer.model.namedParameters().map { $0.parameter.value.scalars.map(\.bitPattern) }
                        + trainer.model.namedBuffers().map { $0.buffer.value.scalars.map(\.bitPattern) },
                    trainer.threading?.pooledSteps ?? 0, trainer.threading?.serialSteps ?? 0)
        }
    }

    @Test(arguments: [("adam", true), ("momentum:lr=0.05", false)])
    func switchingThreadsEveryStepGivesTheSameBitsAsEitherAlone(_ optimizer: String, _ batchNorm: Bool) throws {
        let two = Backend(threads: ThreadPool(threadCount: 2))
        let one = Backend(threads: ThreadPool(threadCount: 1))
        let pooled = try Self.trainedParameters(backend: two, policy: { _ in nil }, optimizer: optimizer, batchNorm: batchNorm)
        let switching = try Self.trainedParameters(backend: two, policy: { .alternating($0) }, optimizer: optimizer, batchNorm: batchNorm)
        let serial = try Self.trainedParameters(backend: one, policy: { _ in nil }, optimizer: optimizer, batchNorm: batchNorm)
        #expect(switching.pooled == 4 && switching.serial == 4)
        #expect(pooled.parameters == serial.parameters)
        #expect(switching.parameters == serial.parameters)
    }

    @Test func oneThreadLeavesNothingToChoose() {
        #expect(AdaptiveThreading(backend: Backend(threads: ThreadPool(threadCount: 1))) == nil)
        #expect(AdaptiveThreading(backend: Backend(threads: ThreadPool(threadCount: 2))) != nil)
    }

    /// Feeds the policy step times from `cost(pooled, step)`; returns the modes used.
    static func simulate(_ policy: AdaptiveThreading, steps: Int, cost: (Bool, Int) -> Double) -> [Bool] {
        var modes: [Bool] = []
        for step in 0..<steps {
            let pooled = policy.usesPool
            modes.append(pooled)
            policy.record(seconds: cost(pooled, step))
        }
        return modes
    }

    // Step times are multiples of 1/1024 s, so their sums are exact.
    static let ms = 1.0 / 1024

    @Test func measuresBothModesThenKeepsTheFasterAndMeasuresAgainLater() throws {
        let policy = try #require(AdaptiveThreading(backend: Backend(threads: ThreadPool(threadCount: 2))))
        // 2 "ms" per step on one thread, 3 on the pool: the serial mode must win.
        let modes = Self.simulate(policy, steps: 2000) { pooled, _ in pooled ? 3 * Self.ms : 2 * Self.ms }
        let warmUp = AdaptiveThreading.warmUpSteps
        #expect(modes.prefix(warmUp).allSatisfy { $0 })
        // Measuring windows of at least 8 steps and 20 ms: 8 pooled steps (23 ms), then 11
        // serial ones (21 ms).
        #expect(Array(modes[warmUp..<(warmUp + 19)]) == Array(repeating: true, count: 8) + Array(repeating: false, count: 11))
        // Then 30 × 45 ms ≈ 1.3 s of serial steps before measuring again: the pool runs only in
        // its measuring windows, about 1% of the steps.
        let afterMeasuring = modes[(warmUp + 19)...]
        #expect(afterMeasuring.prefix(600).allSatisfy { !$0 })
        let pooledShare = Double(afterMeasuring.filter { $0 }.count) / Double(afterMeasuring.count)
        #expect(pooledShare > 0 && pooledShare < 0.05)
    }

    @Test func followsAChangeOfWhichModeIsFaster() throws {
        let policy = try #require(AdaptiveThreading(backend: Backend(threads: ThreadPool(threadCount: 2))))
        // The pool is faster for the first 3000 steps, then slower (the cores moved apart).
        let modes = Self.simulate(policy, steps: 8000) { pooled, step in
            step < 3000 ? (pooled ? Self.ms : 2 * Self.ms) : (pooled ? 4 * Self.ms : 2 * Self.ms)
        }
        let early = modes[200..<3000], late = modes[6000...]
        #expect(Double(early.filter { $0 }.count) / Double(early.count) > 0.95)
        #expect(Double(late.filter { !$0 }.count) / Double(late.count) > 0.95)
    }

    @Test func aTieGoesToThePool() throws {
        let policy = try #require(AdaptiveThreading(backend: Backend(threads: ThreadPool(threadCount: 2))))
        let modes = Self.simulate(policy, steps: 500) { _, _ in Self.ms }
        #expect(modes.suffix(400).allSatisfy { $0 })
    }
}
