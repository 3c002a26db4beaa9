import Foundation
import Testing
import Backprop

/// The optimizer, the schedule and the gradient transformations as typed values (GitHub issue
/// 15): built from rule values, written to and read from files (also as earlier versions wrote
/// them), checked before the first step, and applied in the order given.
@Suite struct TypedConfigurationTests {
    @Test func aSpecificationFromARuleIsTheRuleItNames() throws {
        let typed = OptimizerSpecification(Adam(beta2: 0.99), learningRate: 0.003)
        #expect(typed.name == .adam && typed.learningRate == 0.003)
        #expect(typed.hyperParameters == ["beta1": 0.9, "beta2": 0.99, "epsilon": 1e-8])
        let w = Variable(Tensor([1, 2]), requiresGrad: true)
        let optimizer = try typed.makeOptimizer([("w", w)])
        #expect(optimizer.rule.hyperParameters == ["beta1": 0.9, "beta2": 0.99, "epsilon": 1e-8])
        #expect(optimizer.learningRate == 0.003)
        // The same optimizer as the one-string form names it.
        let parsed = try OptimizerSpecification(parsing: "adam:lr=0.003,beta2=0.99").makeOptimizer([("w", w)])
        #expect(parsed.rule.hyperParameters == optimizer.rule.hyperParameters)
        // AdamW's λ is one of its hyper-parameters, decoupled.
        let adamw = try OptimizerSpecification(AdamW(weightDecay: 0.05)).makeOptimizer([("w", Variable(Tensor([1]), requiresGrad: true, decays: true))])
        #expect(adamw.weightDecay(group: 0) == .decoupled(0.05))
    }

    @Test(arguments: OptimizerName.allCases)
    func theOneStringFormReadsBackToTheSameValue(_ name: OptimizerName) throws {
        var spec = OptimizerSpecification(name: name, learningRate: 0.0123)
        for key in name.hyperParameterKeys { spec.hyperParameters[key] = key == OptimizerName.weightDecayKey ? 0.0007 : 0.3 }
        #expect(try OptimizerSpecification(parsing: spec.description) == spec, "\(spec)")
        #expect(try OptimizerSpecification(parsing: OptimizerSpecification(name: name).description) == OptimizerSpecification(name: name))
    }

    @Test func specificationsAreCheckedAndTheRateIsGivenOnce() throws {
        #expect(throws: OptimizerError.self) { try OptimizerSpecification(parsing: "adam:lr=0.1,learning-rate=0.2") }
        #expect(throws: OptimizerError.self) { try OptimizerSpecification(name: .sgd, learningRate: .nan).validate() }
        #expect(throws: OptimizerError.self) { try OptimizerSpecification(name: .rmsprop, hyperParameters: ["rho": 1.5]).validate() }
        #expect(throws: OptimizerError.self) { try OptimizerSpecification(name: .sgd, hyperParameters: ["momentum": 0.9]).validate() }
        try OptimizerSpecification(name: .momentum, learningRate: 0.1, hyperParameters: ["momentum": 0.5]).validate()
    }

    @Test func specificationsDecodeFromTheirFieldsAndFromTheOneStringForm() throws {
        let spec = OptimizerSpecification(Momentum(momentum: 0.95), learningRate: 0.05)
        let data = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(OptimizerSpecification.self, from: data) == spec)
        #expect(String(decoding: data, as: UTF8.self).contains("\"name\":\"momentum\""))
        let legacy = try JSONDecoder().decode(OptimizerSpecification.self, from: Data("\"momentum:lr=0.05,momentum=0.95\"".utf8))
        #expect(legacy == spec)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(OptimizerSpecification.self, from: Data("\"momentum:beta1=0.9\"".utf8))
        }
    }

    /// A configuration as the previous version wrote it into checkpoints and model files
    /// (written out here by hand): the optimizer and schedule as spec strings, the clipping
    /// limit and noise η as numbers, and fields that version did not have absent.
    @Test func configurationsOfEarlierVersionsReadAsTheyWereMeant() throws {
        let json = """
            {"epochs":3,"batchSize":16,"dropLast":false,"optimizer":"sgd:lr=0.1","schedule":"step:every=5,gamma=0.5",
             "weightDecay":0.001,"clipNorm":2,"gradientNoise":0.01,"validationFraction":0.1,"shuffles":true,"seed":4}
            """
        let c = try JSONDecoder().decode(TrainingConfiguration.self, from: Data(json.utf8))
        #expect(c.optimizer == OptimizerSpecification(name: .sgd, learningRate: 0.1))
        #expect(c.schedule == .step(every: 5, gamma: 0.5))
        #expect(c.gradientTransformations == [.clipByGlobalNorm(2), .addNoise(eta: 0.01, gamma: 0.55)])
        #expect(c.epochs == 3 && c.batchSize == 16 && c.weightDecay == 0.001 && c.seed == 4 && c.validationFraction == 0.1)
        #expect(c.maximumSteps == nil && c.earlyStoppingPatience == nil && c.dataSeed == nil)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(TrainingConfiguration.self, from: Data(#"{"schedule":"step:every=0,gamma=0.5"}"#.utf8))
        }
    }

    @Test func configurationsRoundTripThroughTheirFiles() throws {
        var c = TrainingConfiguration()
        c.epochs = 7
        c.maximumSteps = 99
        c.optimizer = OptimizerSpecification(Nadam(beta1: 0.95), learningRate: 0.002)
        c.schedule = .reduceOnPlateau(ReduceOnPlateau(factor: 0.5, patience: 2))
        c.gradientTransformations = [.clipByValue(0.5), .addNoise(eta: 0.3, gamma: 0.6), .clipByGlobalNorm(4)]
        c.weightDecay = 0.01
        c.earlyStoppingPatience = 3
        c.dataSeed = 17
        c.dataset = "moons"
        let decoded = try JSONDecoder().decode(TrainingConfiguration.self, from: try JSONEncoder().encode(c))
        #expect(decoded == c)
    }

    @Test(arguments: [LearningRateSchedule.constant, .step(every: 30, gamma: 0.25), .exponential(gamma: 0.99),
                      .inverseTime(k: 0.001), .cosine(warmupSteps: 10, totalSteps: 500, minimumLearningRate: 0),
                      .cosine(warmupSteps: 0, totalSteps: 50, minimumLearningRate: 1e-5),
                      .reduceOnPlateau(ReduceOnPlateau(factor: 0.3, patience: 4, threshold: 0.01, cooldown: 2, minimumLearningRate: 1e-6))])
    func scheduleSpecStringsReadBackToTheSameSchedule(_ schedule: LearningRateSchedule) throws {
        #expect(try LearningRateSchedule(parsing: schedule.description) == schedule, "\(schedule)")
        try schedule.validate()
    }

    @Test func theChainRunsInItsOrder() throws {
        // g = (3, 4), ‖g‖ = 5. Value clipping to 1 first gives (1, 1), of norm √2, which the norm
        // limit 1 then scales by 1/√2; the norm limit first gives (0.6, 0.8), which value
        // clipping leaves alone.
        func apply(_ transformations: [GradientTransformation]) throws -> [Float] {
            let p = Variable(Tensor([0, 0]), requiresGrad: true)
            p.grad = Tensor([3, 4])
            var chain = try GradientTransformationChain(transformations, seed: 1)
            chain.apply(to: [p], step: 0)
            return p.grad?.scalars ?? []
        }
        let valueFirst = try apply([.clipByValue(1), .clipByGlobalNorm(1)])
        #expect(valueFirst.allSatisfy { abs($0 - 1 / Float(2).squareRoot()) <= 1e-6 }, "\(valueFirst)")
        let normFirst = try apply([.clipByGlobalNorm(1), .clipByValue(1)])
        #expect(zip(normFirst, [0.6, 0.8]).allSatisfy { abs($0 - $1) <= 1e-6 }, "\(normFirst)")
        #expect(try apply([]) == [3, 4])
    }

    @Test func badTransformationsAreRefusedBeforeTraining() throws {
        #expect(throws: GradientTransformationError.repeatedNoise) {
            try GradientTransformationChain([.addNoise(eta: 0.1, gamma: 0.55), .addNoise(eta: 0.2, gamma: 0.55)], seed: 1)
        }
        for bad: GradientTransformation in [.clipByGlobalNorm(0), .clipByValue(-1), .clipByGlobalNorm(.infinity),
                                            .addNoise(eta: -0.1, gamma: 0.55), .addNoise(eta: 0.1, gamma: .nan)] {
            #expect(throws: GradientTransformationError.self) { try GradientTransformationChain([bad], seed: 1) }
        }
    }

    /// The accessors the command line sets keep the chain's order: clip, then add noise.
    @Test func clipNormAndGradientNoiseEditTheChain() {
        var c = TrainingConfiguration()
        c.gradientNoise = 0.01
        c.clipNorm = 3
        #expect(c.gradientTransformations == [.clipByGlobalNorm(3), .addNoise(eta: 0.01, gamma: 0.55)])
        c.clipNorm = 2
        #expect(c.clipNorm == 2 && c.gradientTransformations.count == 2)
        c.gradientNoise = nil
        #expect(c.gradientTransformations == [.clipByGlobalNorm(2)] && c.gradientNoise == nil)
    }

    static func train(_ edit: (inout TrainingConfiguration) -> Void) throws -> [[UInt32]] {
        let data = SyntheticData.twoMoons(count: 128, noise: 0.1, seed: 2)
        var c = TrainingConfiguration()
        c.epochs = 2
        c.batchSize = 32
        c.validationFraction = 0
        c.optimizer = OptimizerSpecification(SGD(), learningRate: 0.5)
        edit(&c)
        let trainer = try Trainer(architecture: try MultilayerPerceptronArchitecture(sizes: [2, 8, 2], activation: .tanh),
                                  configuration: c, train: data, validation: nil, test: nil, runDirectory: nil,
                                  reporter: ProgressReporter(interactive: false, quiet: true))
        _ = try trainer.fit()
        return trainer.model.parameters.map { $0.value.scalars.map(\.bitPattern) }
    }

    /// Every typed setting reaches the step: a value-clipping limit small enough to bind, and a
    /// schedule, each change the trained weights.
    @Test func typedSettingsChangeTraining() throws {
        let plain = try Self.train { _ in }
        #expect(try Self.train { $0.gradientTransformations = [.clipByValue(1e-3)] } != plain)
        #expect(try Self.train { $0.schedule = .exponential(gamma: 0.5) } != plain)
        #expect(try Self.train { $0.optimizer = OptimizerSpecification(Momentum(momentum: 0.5), learningRate: 0.5) } != plain)
        #expect(try Self.train { _ in } == plain)
    }

    @Test func theTrainerRefusesSettingsOutOfRangeNamingThem() throws {
        func refusal(_ edit: @escaping (inout TrainingConfiguration) -> Void) -> String {
            do { _ = try Self.train(edit); return "" } catch { return "\(error)" }
        }
        #expect(refusal { $0.schedule = .step(every: 0, gamma: 0.5) }.contains("every"))
        #expect(refusal { $0.schedule = .cosine(warmupSteps: 5, totalSteps: 5, minimumLearningRate: 0) }.contains("total"))
        #expect(refusal { $0.weightDecay = -0.1 }.contains("weight decay"))
        #expect(refusal { $0.optimizer = OptimizerSpecification(name: .adam, hyperParameters: ["beta1": 1]) }.contains("beta1"))
        #expect(refusal { $0.gradientTransformations = [.clipByGlobalNorm(-2)] }.contains("clip-by-global-norm"))
    }
}
