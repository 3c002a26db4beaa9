import Foundation
import Testing
import Backprop

/// ``Ensemble``: how members combine, names, bagging, parallel training, checkpoints; and the
/// point of a mixture of models: on MNIST, five small networks together make fewer errors than
/// the average one of them alone.
@Suite struct EnsembleTests {
    static func members(_ count: Int, sizes: [Int], seed: UInt64) -> [any Module] {
        (0..<count).map { k in
            var g = RandomGenerator(seed: seed + UInt64(k))
            var layers: [any Module] = []
            for i in 0..<(sizes.count - 1) {
                layers.append(Linear(sizes[i], sizes[i + 1], generator: &g))
                if i < sizes.count - 2 { layers.append(ActivationLayer(.tanh)) }
            }
            return Sequential(layers)
        }
    }

    @Test func combinationsAndNames() {
        let members = Self.members(3, sizes: [4, 5, 3], seed: 1)
        var g = RandomGenerator(seed: 4)
        let x = Tensor.uniform([6, 4], in: -2...2, using: &g)
        let outputs = members.map { $0(x) }

        let averaged = Ensemble(members: members, combination: .averageProbabilities)(x)
        let meanProbabilities = outputs.map { $0.softmaxRows() }.reduce(Tensor.zeros([6, 3]), +) * (1 / 3)
        for (a, b) in zip(averaged.scalars, meanProbabilities.scalars) { #expect(abs(Foundation.exp(a) - b) < 1e-5) }

        let meanOutputs = Ensemble(members: members, combination: .averageOutputs)(x)
        for (a, b) in zip(meanOutputs.scalars, (outputs.reduce(Tensor.zeros([6, 3]), +) * (1 / 3)).scalars) {
            #expect(abs(a - b) < 1e-5)
        }

        let voted = Ensemble(members: members, combination: .majorityVote)(x)
        let votes = outputs.map { $0.argmaxRows() }
        for (i, prediction) in voted.argmaxRows().enumerated() {
            let count = votes.filter { $0[i] == prediction }.count
            #expect(votes.allSatisfy { v in votes.filter { $0[i] == v[i] }.count <= count }, "row \(i): \(votes.map { $0[i] })")
        }
        #expect(voted.scalars.allSatisfy { $0.isFinite })

        let ensemble = Ensemble(members: members)
        #expect(ensemble.namedParameters().map(\.name).prefix(4) == ["members.0.0.weight", "members.0.0.bias", "members.0.2.weight", "members.0.2.bias"])
        #expect(ensemble.namedParameters().count == 12 && ensemble.parameterCount == 3 * members[0].parameterCount)
    }

    @Test func averagedProbabilitiesAreDifferentiable() {
        let members = Self.members(3, sizes: [3, 4, 3], seed: 10)
        let ensemble = Ensemble(members: members)
        var g = RandomGenerator(seed: 13)
        let x = Variable(.uniform([5, 3], in: -1...1, using: &g), requiresGrad: true)
        let result = GradientCheck.check([x] + ensemble.parameters) {
            softmaxCrossEntropy(logits: ensemble(x), labels: [0, 1, 2, 1, 0])
        }
        #expect(result.passed, "\(result)")
    }

    @Test func bootstrapSamplesAreReproducibleAndAboutTwoThirdsDistinct() {
        let indices = Array(0..<10_000)
        let a = Ensemble.bootstrapSample(of: indices, seed: 3)
        #expect(a == Ensemble.bootstrapSample(of: indices, seed: 3))
        #expect(a != Ensemble.bootstrapSample(of: indices, seed: 4))
        #expect(a.count == 10_000)
        let distinct = Float(Set(a).count) / 10_000   // 1 − 1/e ≈ 0.632
        #expect(abs(distinct - 0.632) < 0.02, "\(distinct)")
        #expect(Ensemble.memberSeed(base: 0, index: 0) != Ensemble.memberSeed(base: 0, index: 1))
    }

    @Test func parallelTrainingGivesTheSameMembersAsSerial() throws {
        let data = SyntheticData.twoMoons(count: 300, noise: 0.1, seed: 5)
        var configuration = EnsembleTrainingConfiguration(epochs: 3, batchSize: 32, optimizer: OptimizerSpecification(Adam(), learningRate: 0.01), seed: 7, bagging: true)
        let architecture = try EnsembleArchitecture(member: MultilayerPerceptronArchitecture(sizes: [2, 16, 2], activation: .tanh), count: 3,
                                                    bagging: true)
        let parallel = architecture.build(seed: 1)
        let reports = try parallel.train(on: data, validation: data, configuration: configuration)
        configuration.parallel = false
        let serial = architecture.build(seed: 1)
        _ = try serial.train(on: data, validation: data, configuration: configuration)
        for (p, s) in zip(parallel.parameters, serial.parameters) { #expect(p.value == s.value) }
        #expect(reports.map(\.member) == [0, 1, 2])
        #expect(reports.allSatisfy { $0.sampleSize == 300 && $0.distinctExamples < 250 && $0.steps == 3 * 10 })
        #expect(Set(reports.map(\.seed)).count == 3)
        #expect(reports.allSatisfy { ($0.validation?.accuracy ?? 0) > 0.8 }, "\(reports.map { $0.validation?.accuracy ?? 0 })")
        #expect(!parallel.isTraining)
        #expect(throws: TrainingError.self) {
            try serial.train(on: data, configuration: EnsembleTrainingConfiguration(optimizer: OptimizerSpecification(name: .adam, learningRate: -1)))
        }
    }

    @Test func savesAndLoadsAsOneCheckpoint() throws {
        let architecture = try EnsembleArchitecture(member: MultilayerPerceptronArchitecture(sizes: [4, 6, 3], batchNorm: true), count: 2,
                                                    combination: .majorityVote)
        let ensemble = architecture.build(seed: 3)
        var g = RandomGenerator(seed: 4)
        let x = Tensor.uniform([8, 4], in: -1...1, using: &g)
        _ = ensemble(x)   // training mode: BatchNorm's running statistics move away from their start
        ensemble.eval()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ensemble.save(to: path, architecture: architecture, metadata: ["note": "test"])
        let (loaded, description, file) = try Ensemble.load(from: path)
        #expect(description == architecture && loaded.combination == .majorityVote)
        #expect(file.metadata["note"] == "test")
        #expect(file["members.1.1.running_mean"] != nil)
        #expect(loaded(x) == ensemble(x))
        #expect(loaded.memberOutputs(x) == ensemble.memberOutputs(x))
    }

    // MARK: The point: the ensemble beats its average member

    /// Five 784-32-10 networks, each trained for 3 epochs on its own bootstrap sample of 5,000
    /// MNIST training digits (in parallel), evaluated on 2,000 test digits: averaging their
    /// probabilities must cut the error below the members' average by at least 0.75 points.
    @Test func fiveSmallMNISTNetworksBeatTheirAverageMember() throws {
        let (train, test) = try MNIST.loadBundled()
        let trainSubset = SubsetSource(train, indices: Array(0..<5000))
        let testSubset = SubsetSource(test, indices: Array(0..<2000))
        let architecture = try EnsembleArchitecture(member: MultilayerPerceptronArchitecture(sizes: [784, 32, 10]), count: 5, bagging: true)
        let ensemble = architecture.build(seed: 11)
        let configuration = EnsembleTrainingConfiguration(epochs: 3, batchSize: 64, optimizer: OptimizerSpecification(Adam(), learningRate: 0.002), seed: 12, bagging: true)
        let reports = try ensemble.train(on: trainSubset, validation: testSubset, configuration: configuration)
        let memberErrors = reports.map { 1 - ($0.validation?.accuracy ?? 0) }
        let averageMemberError = memberErrors.reduce(0, +) / Float(memberErrors.count)
        let ensembleError = 1 - Evaluation.measure(ensemble, on: testSubset).accuracy
        ensemble.combination = .majorityVote
        let voteError = 1 - Evaluation.measure(ensemble, on: testSubset).accuracy
        func percent(_ e: Float) -> String { String(format: "%.2f%%", 100 * e) }
        print("MNIST ensemble: member test errors \(memberErrors.map(percent)), average member \(percent(averageMemberError)), "
              + "ensemble (mean probabilities) \(percent(ensembleError)), majority vote \(percent(voteError))")
        #expect(ensembleError < averageMemberError - 0.0075,
                "ensemble \(percent(ensembleError)) vs average member \(percent(averageMemberError))")
        #expect(ensembleError <= memberErrors.min() ?? 1)
    }
}
