import Foundation
import Testing
import Backprop

/// The gating operations, the mixture losses and ``MixtureOfExperts`` against finite
/// differences; then the point of a mixture of experts: on data with two regimes, two small
/// experts beat one network of the same size, and the gate learns the split.
@Suite struct MixtureOfExpertsTests {
    static func parameter(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Variable {
        var g = RandomGenerator(seed: seed)
        return Variable(.uniform(shape, in: range, using: &g), requiresGrad: true)
    }

    static func tanhNetwork(_ sizes: [Int], seed: UInt64) -> Sequential {
        var g = RandomGenerator(seed: seed)
        var layers: [any Module] = []
        for i in 0..<(sizes.count - 1) {
            layers.append(Linear(sizes[i], sizes[i + 1], generator: &g))
            if i < sizes.count - 2 { layers.append(ActivationLayer(.tanh)) }
        }
        return Sequential(layers)
    }

    // MARK: Gating operations

    @Test func softmaxLogSoftmaxAndLogSumExpRows() {
        let x = Self.parameter([5, 4], seed: 1, range: -3...3)
        for (name, f) in [
            ("softmax", { x.softmaxRows() }),
            ("log-softmax", { x.logSoftmaxRows() }),
            ("log-sum-exp", { x.logSumExpRows() }),
        ] as [(String, () -> Variable)] {
            let result = GradientCheck.check([x], f)
            #expect(result.passed, "\(name): \(result)")
        }
        // Values: softmax rows sum to 1 and log-sum-exp = log Σ eˣ.
        let sums = x.softmaxRows().value.sum(alongAxis: 1).scalars
        #expect(sums.allSatisfy { abs($0 - 1) < 1e-5 })
        let direct = x.value.map { Foundation.exp($0) }.sum(alongAxis: 1).scalars.map { Foundation.log($0) }
        for (a, b) in zip(x.logSumExpRows().value.scalars, direct) { #expect(abs(a - b) < 1e-5) }
    }

    @Test func topKSoftmaxKeepsTheLargestAndRenormalizes() {
        let x = Variable(Tensor([[0.1, 2.0, -1.0, 1.0], [3.0, -2.0, 0.5, 0.4]]), requiresGrad: true)
        let (gates, chosen) = x.softmaxRows(keepingLargest: 2)
        #expect(chosen == [[1, 3], [0, 2]])
        let g = gates.value
        #expect(g[0, 0] == 0 && g[0, 2] == 0 && g[1, 1] == 0 && g[1, 3] == 0)
        #expect(abs(g[0, 1] - 1 / (1 + Foundation.exp(-1))) < 1e-6)
        #expect(abs(g[1, 0] + g[1, 2] - 1) < 1e-6)
    }

    @Test func topKSoftmaxGradientAwayFromTies() {
        // Entries spread at least 0.25 apart, so ±ε never changes which k are kept.
        var generator = RandomGenerator(seed: 2)
        let rows = (0..<6).map { _ in generator.permutation(5).map { Float($0) * 0.25 + 0.1 } }
        let x = Variable(Tensor(rows), requiresGrad: true)
        for k in 1...5 {
            let result = GradientCheck.check([x]) { x.softmaxRows(keepingLargest: k).probabilities }
            #expect(result.passed, "k = \(k): \(result)")
        }
        let fixed = [[0, 2], [1], [4, 3, 2], [0], [1, 2, 3, 4], [3]]
        let restricted = GradientCheck.check([x]) { x.softmaxRows(restrictedTo: fixed).tanh() }
        #expect(restricted.passed, "\(restricted)")
    }

    @Test func gatherAndScatterRows() {
        let x = Self.parameter([5, 3], seed: 3)
        let indices = [4, 0, 0, 2]   // a repeat, and rows 1 and 3 unused
        #expect(x.gatheringRows(indices).value == x.value.gatheringRows(indices))
        #expect(GradientCheck.check([x]) { x.gatheringRows(indices).tanh() }.passed)
        let y = Self.parameter([4, 3], seed: 4)
        let scattered = y.scatteringRows(into: 6, at: [5, 1, 1, 3])
        #expect(scattered.shape == [6, 3])
        #expect(scattered.value[0, 0] == 0 && scattered.value[2, 1] == 0)
        #expect(abs(scattered.value[1, 2] - (y.value[1, 2] + y.value[2, 2])) < 1e-6)
        #expect(GradientCheck.check([y]) { y.scatteringRows(into: 6, at: [5, 1, 1, 3]).sigmoid() }.passed)
    }

    @Test func mixtureAndLogMixtureOfExperts() {
        let outputs = (0..<3).map { Self.parameter([4, 5], seed: 10 + UInt64($0), range: -2...2) }
        let logits = Self.parameter([4, 3], seed: 20, range: -2...2)
        let dense = GradientCheck.check(outputs + [logits]) { mixture(outputs, weights: logits.softmaxRows()) }
        #expect(dense.passed, "mixture: \(dense)")
        let probabilities = GradientCheck.check(outputs + [logits]) {
            logMixture(logits: outputs, weights: logits.softmaxRows())
        }
        #expect(probabilities.passed, "logMixture: \(probabilities)")
        // With a gate of exactly 0 for some experts (top-k), both stay correct.
        let sparseLogits = Variable(Tensor([[2, 0.5, -1], [-1, 0.3, 1.2], [0.1, 1.5, 0.9], [1, -1, 0]]), requiresGrad: true)
        let sparse = GradientCheck.check(outputs + [sparseLogits]) {
            logMixture(logits: outputs, weights: sparseLogits.softmaxRows(keepingLargest: 2).probabilities)
        }
        #expect(sparse.passed, "logMixture, top-2: \(sparse)")
        // logMixture's rows are log-probabilities: they exponentiate to rows summing to 1.
        let rows = logMixture(logits: outputs, weights: logits.softmaxRows()).value.map { Foundation.exp($0) }.sum(alongAxis: 1)
        #expect(rows.scalars.allSatisfy { abs($0 - 1) < 1e-5 })
    }

    // MARK: Losses

    @Test func competitiveLossValueAndGradient() {
        let outputs = (0..<3).map { Self.parameter([4, 2], seed: 30 + UInt64($0)) }
        let logits = Self.parameter([4, 3], seed: 33, range: -2...2)
        var generator = RandomGenerator(seed: 34)
        let targets = Tensor.uniform([4, 2], in: -1...1, using: &generator)
        for (sigma, reduction) in [(Float(1), Reduction.mean), (0.5, .sum)] {
            let result = GradientCheck.check(outputs + [logits]) {
                competitiveLoss(gates: logits.softmaxRows(), expertOutputs: outputs, targets: targets,
                                standardDeviation: sigma, reduction: reduction)
            }
            #expect(result.passed, "σ = \(sigma), \(reduction): \(result)")
        }
        // The definition, for one example: −log Σₑ gₑ exp(−½‖t − oₑ‖²).
        let g = logits.value.softmaxRows()
        var expected = 0.0
        for i in 0..<4 {
            var s = 0.0
            for e in 0..<3 {
                let d0 = Double(targets[i, 0] - outputs[e].value[i, 0]), d1 = Double(targets[i, 1] - outputs[e].value[i, 1])
                s += Double(g[i, e]) * Foundation.exp(-0.5 * (d0 * d0 + d1 * d1))
            }
            expected -= Foundation.log(s)
        }
        let loss = competitiveLoss(gates: Variable(g), expertOutputs: outputs, targets: targets, reduction: .sum)
        #expect(abs(Double(loss.value.scalar) - expected) < 1e-4)
        // Top-k gates (exact zeros) keep the gradient finite and correct.
        let sparseLogits = Variable(Tensor([[2, 0.5, -1], [-1, 0.3, 1.2], [0.1, 1.5, 0.9], [1, -1, 0]]), requiresGrad: true)
        let sparse = GradientCheck.check(outputs + [sparseLogits]) {
            competitiveLoss(gates: sparseLogits.softmaxRows(keepingLargest: 2).probabilities, expertOutputs: outputs, targets: targets)
        }
        #expect(sparse.passed, "top-2: \(sparse)")
    }

    @Test func mixtureCrossEntropyIsTheMixtureLikelihood() {
        let outputs = (0..<2).map { Self.parameter([3, 4], seed: 40 + UInt64($0), range: -2...2) }
        let logits = Self.parameter([3, 2], seed: 42)
        let labels: [Int32] = [3, 0, 2]
        let result = GradientCheck.check(outputs + [logits]) {
            mixtureCrossEntropy(gates: logits.softmaxRows(), expertLogits: outputs, labels: labels)
        }
        #expect(result.passed, "\(result)")
        let g = logits.value.softmaxRows()
        let p = outputs.map { $0.value.softmaxRows() }
        var expected: Float = 0
        for i in 0..<3 {
            let t = Int(labels[i])
            expected -= Foundation.log(g[i, 0] * p[0][i, t] + g[i, 1] * p[1][i, t])
        }
        let loss = mixtureCrossEntropy(gates: Variable(g), expertLogits: outputs, labels: labels, reduction: .sum)
        #expect(abs(loss.value.scalar - expected) < 1e-4)
    }

    @Test func balancingLosses() {
        let logits = Self.parameter([6, 4], seed: 50, range: -2...2)
        let importance = GradientCheck.check([logits]) { importanceLoss(gates: logits.softmaxRows()) }
        #expect(importance.passed, "importance: \(importance)")
        let chosen = [[0, 1], [0, 2], [0, 3], [1, 0], [0, 2], [3, 0]]
        let load = GradientCheck.check([logits]) { loadBalancingLoss(gateProbabilities: logits.softmaxRows(), chosen: chosen) }
        #expect(load.passed, "load: \(load)")
        // Balanced gates cost nothing (importance) or exactly 1 (load).
        let uniform = Variable(Tensor(shape: [4, 4], repeating: 0.25))
        #expect(importanceLoss(gates: uniform).value.scalar == 0)
        #expect(abs(loadBalancingLoss(gateProbabilities: uniform, chosen: [[0], [1], [2], [3]]).value.scalar - 1) < 1e-6)
        // All weight on one expert: CV² = E − 1.
        let collapsed = Variable(Tensor([[1, 0, 0, 0], [1, 0, 0, 0]]))
        #expect(abs(importanceLoss(gates: collapsed).value.scalar - 3) < 1e-5)
    }

    // MARK: The module

    @Test func denseMixtureGradientThroughGateAndExperts() {
        let experts = (0..<3).map { Self.tanhNetwork([3, 5, 2], seed: 60 + UInt64($0)) }
        let moe = MixtureOfExperts(experts: experts, gate: Self.tanhNetwork([3, 4, 3], seed: 63))
        let x = Self.parameter([6, 3], seed: 64)
        var generator = RandomGenerator(seed: 65)
        let targets = Tensor.uniform([6, 2], in: -1...1, using: &generator)
        let output = GradientCheck.check([x] + moe.parameters) { moe(x) }
        #expect(output.passed, "blended output: \(output)")
        let competitive = GradientCheck.check([x] + moe.parameters) {
            let f = moe.forward(x)
            return competitiveLoss(gates: f.gates, expertOutputs: f.expertOutputs, targets: targets)
                + f.importanceLoss * 0.5
        }
        #expect(competitive.passed, "competitive + importance: \(competitive)")
        let classifier = MixtureOfExperts(experts: experts, gate: moe.gate, combination: .mixtureOfProbabilities)
        let likelihood = GradientCheck.check([x] + classifier.parameters) {
            softmaxCrossEntropy(logits: classifier(x), labels: [0, 1, 1, 0, 1, 0])
        }
        #expect(likelihood.passed, "mixture of probabilities: \(likelihood)")
        #expect(moe.namedParameters().map(\.name).prefix(3) == ["gate.0.weight", "gate.0.bias", "gate.2.weight"])
        #expect(moe.namedParameters().map(\.name).contains("experts.2.2.bias"))
    }

    /// Inputs whose gate logits have a gap of at least `margin` between the k-th and (k+1)-th
    /// largest, so finite differences do not change the routing.
    static func rowsAwayFromTies(_ moe: MixtureOfExperts, _ x: Tensor, k: Int, margin: Float) -> Tensor {
        let logits = moe.gate(x)
        let e = logits.shape[1]
        let kept = (0..<x.shape[0]).filter { i in
            let sorted = (0..<e).map { logits[i, $0] }.sorted(by: >)
            return sorted[k - 1] - sorted[k] > margin
        }
        return x.gatheringRows(kept)
    }

    @Test(arguments: [1, 2])
    func topKMixtureGradientWithFixedRouting(k: Int) throws {
        let experts = (0..<4).map { Self.tanhNetwork([3, 5, 2], seed: 70 + UInt64($0)) }
        let gate = Self.tanhNetwork([3, 4], seed: 74)
        let moe = MixtureOfExperts(experts: experts, gate: gate, topK: k)
        var generator = RandomGenerator(seed: 75)
        let candidates = Tensor.uniform([40, 3], in: -2...2, using: &generator)
        let rows = Self.rowsAwayFromTies(moe, candidates, k: k, margin: 0.2)
        try #require(rows.shape[0] >= 8, "only \(rows.shape[0]) rows away from ties")
        let x = Variable(rows.rows(0..<8), requiresGrad: true)
        let f = moe.forward(x)
        #expect(f.chosen.allSatisfy { $0.count == k })
        #expect(f.routedRows.map(\.count).reduce(0, +) == 8 * k)
        // Each expert ran only on its rows; others are zero in its output.
        for (e, rowsOfE) in f.routedRows.enumerated() {
            for i in 0..<8 where !rowsOfE.contains(i) {
                #expect(f.expertOutputs[e].value[i, 0] == 0 && f.gates.value[i, e] == 0)
            }
        }
        let targets = Tensor.uniform([8, 2], in: -1...1, using: &generator)
        let output = GradientCheck.check([x] + moe.parameters) { moe(x) }
        #expect(output.passed, "top-\(k) output: \(output)")
        let losses = GradientCheck.check([x] + moe.parameters) {
            let f = moe.forward(x)
            return competitiveLoss(gates: f.gates, expertOutputs: f.expertOutputs, targets: targets)
                + f.importanceLoss * 0.1 + f.loadBalancingLoss * 0.1
        }
        #expect(losses.passed, "top-\(k) competitive + balancing: \(losses)")
    }

    @Test func topOneOutputIsTheChosenExpertsOutput() {
        let experts = (0..<3).map { Self.tanhNetwork([2, 4, 1], seed: 80 + UInt64($0)) }
        let moe = MixtureOfExperts(experts: experts, gate: Self.tanhNetwork([2, 3], seed: 83), topK: 1)
        var generator = RandomGenerator(seed: 84)
        let x = Tensor.uniform([10, 2], in: -2...2, using: &generator)
        let f = withoutGradient { moe.forward(Variable(x)) }
        for i in 0..<10 {
            let e = f.chosen[i][0]
            let alone = experts[e](x.rows(i..<i + 1))
            #expect(abs(f.output.value[i, 0] - alone[0, 0]) < 1e-5)
        }
        let usage = moe.usage(on: x)
        #expect(usage.argmaxCounts.reduce(0, +) == 10 && usage.routedCounts == usage.argmaxCounts)
        #expect(abs(usage.meanGates.reduce(0, +) - 1) < 1e-5)
    }

    @Test func savesAndLoadsAsOneCheckpoint() throws {
        let architecture = try MixtureOfExpertsArchitecture(inputSize: 3, outputSize: 2, expertCount: 3, expertHidden: [4],
                                                            gateHidden: [], topK: 2, activation: .tanh)
        let moe = architecture.build(seed: 9)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("moe-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try moe.save(to: path, architecture: architecture)
        let (loaded, description, _) = try MixtureOfExperts.load(from: path)
        #expect(description == architecture)
        #expect(loaded.namedParameters().map(\.name) == moe.namedParameters().map(\.name))
        var generator = RandomGenerator(seed: 10)
        let x = Tensor.uniform([5, 3], in: -1...1, using: &generator)
        moe.eval()
        #expect(loaded(x) == moe(x))
        #expect(throws: ModelError.self) {
            try MixtureOfExpertsArchitecture(inputSize: 3, outputSize: 2, expertCount: 2, expertHidden: [], topK: 3)
        }
    }

    // MARK: The point: experts split a problem with two regimes

    /// y = sin(4x) for x < 0 and |x| for x ≥ 0, on an even grid of [−1, 1].
    static func twoRegimes(count: Int, offset: Float = 0) -> (x: Tensor, y: Tensor) {
        let xs = (0..<count).map { -1 + (2 * (Float($0) + 0.5 + offset)) / Float(count) }
        return (Tensor(shape: [count, 1], scalars: xs), Tensor(shape: [count, 1], scalars: xs.map { $0 < 0 ? Foundation.sin(4 * $0) : abs($0) }))
    }

    /// The 1991 paper's recipe: the competitive loss (each expert judged on its own, so they
    /// specialize), plus the importance loss so that neither expert is starved early on, with the
    /// gate learning 10× faster than the experts so that its split can sharpen. The comparison:
    /// a 1-10-1 tanh network (31 parameters) against two 1-4-1 experts and a linear gate (30),
    /// both with Adam at η = 0.01 for the same number of full-batch steps.
    @Test func twoExpertsSplitTwoRegimesAndBeatOneNetworkOfTheSameSize() throws {
        let (x, y) = Self.twoRegimes(count: 256)
        let (testX, testY) = Self.twoRegimes(count: 200, offset: 0.37)
        let steps = 3000
        let architecture = try MixtureOfExpertsArchitecture(inputSize: 1, outputSize: 1, expertCount: 2, expertHidden: [4],
                                                            gateHidden: [], activation: .tanh)
        let moe = architecture.build(seed: 1)
        let single = try MultilayerPerceptronArchitecture(sizes: [1, 10, 1], activation: .tanh).build(seed: 1)
        #expect(single.parameterCount >= moe.parameterCount)

        let rule = try OptimizerName.adam.makeRule()
        let moeOptimizer = Optimizer(groups: moe.parameterGroups(gateLearningRateScale: 10), rule: rule, learningRate: 0.01)
        let singleOptimizer = Optimizer(single.namedParameters(), rule: rule, learningRate: 0.01)
        for _ in 0..<steps {
            moeOptimizer.zeroGrad()
            let f = moe.forward(Variable(x))
            (competitiveLoss(gates: f.gates, expertOutputs: f.expertOutputs, targets: y, standardDeviation: 0.3)
                + f.importanceLoss).backward()
            moeOptimizer.step()
            singleOptimizer.zeroGrad()
            meanSquaredError(single(Variable(x)), y).backward()
            singleOptimizer.step()
        }
        moe.eval()
        let moeError = meanSquaredError(Variable(moe(testX)), testY).value.scalar
        let singleError = meanSquaredError(Variable(single(testX)), testY).value.scalar
        let negative = (0..<testX.shape[0]).filter { testX[$0, 0] < 0 }
        let positive = (0..<testX.shape[0]).filter { testX[$0, 0] >= 0 }
        let left = moe.usage(on: testX.gatheringRows(negative)).argmaxFractions
        let right = moe.usage(on: testX.gatheringRows(positive)).argmaxFractions
        print("two regimes: mixture of 2 experts (\(moe.parameterCount) parameters) test MSE \(moeError); "
              + "one 1-10-1 network (\(single.parameterCount)) \(singleError); "
              + "expert shares for x < 0: \(left), for x ≥ 0: \(right)")
        #expect(moeError < 0.5 * singleError, "mixture \(moeError) vs single network \(singleError)")
        // Each regime goes (≥ 90%) to one expert, and not the same one.
        let leftExpert = left[0] > left[1] ? 0 : 1
        #expect(left[leftExpert] >= 0.9, "x < 0 routed \(left)")
        #expect(right[1 - leftExpert] >= 0.9, "x ≥ 0 routed \(right)")
    }

    /// Found by fuzzing (Scripts/fuzz.sh model): a model file whose description names 0 experts
    /// (or a gate of the wrong width, or an ensemble of no members) was built as described and
    /// trapped in the initializer's precondition, in `eval`, `predict` and `info`. The minimized
    /// input is the description alone; each is refused as the metadata key it is under.
    @Test(arguments: [
        (MixtureOfExpertsArchitecture.metadataKey, #"{"combination":"mixtureOfProbabilities","expert":{"activation":"relu","batchNorm":false,"dropout":0,"inputNoise":0,"sizes":[4,4,2]},"expertCount":0,"gate":{"activation":"relu","batchNorm":false,"dropout":0,"inputNoise":0,"sizes":[2,2]}}"#, "at least 1"),
        (MixtureOfExpertsArchitecture.metadataKey, #"{"combination":"mixtureOfProbabilities","expert":{"activation":"relu","batchNorm":false,"dropout":0,"inputNoise":0,"sizes":[2,4,2]},"expertCount":3,"gate":{"activation":"relu","batchNorm":false,"dropout":0,"inputNoise":0,"sizes":[2,2]}}"#, "one logit for each of the 3 experts"),
        (MixtureOfExpertsArchitecture.metadataKey, #"{"combination":"mixtureOfProbabilities","expert":{"activation":"relu","batchNorm":false,"dropout":0,"inputNoise":0,"sizes":[2,4,2]},"expertCount":2,"gate":{"activation":"relu","batchNorm":false,"dropout":0,"inputNoise":0,"sizes":[2,2]},"topK":5}"#, "k = 5"),
        (EnsembleArchitecture.metadataKey, #"{"bagging":false,"combination":"averageProbabilities","members":[]}"#, "at least 1 member"),
        (EnsembleArchitecture.metadataKey, #"{"bagging":false,"combination":"averageProbabilities","members":[{"activation":"relu","batchNorm":false,"dropout":0,"inputNoise":0,"sizes":[2,4,2]},{"activation":"relu","batchNorm":false,"dropout":0,"inputNoise":0,"sizes":[2,4,3]}]}"#, "give its 2 outputs"),
    ])
    func aDescriptionThatCannotBeBuiltIsRefused(_ key: String, _ description: String, _ reason: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("described-\(UUID().uuidString).safetensors").path
        try Safetensors(entries: [], metadata: ["format": "backprop-1", key: description]).write(to: path)
        #expect {
            if key == EnsembleArchitecture.metadataKey { _ = try Ensemble.load(from: path) } else { _ = try MixtureOfExperts.load(from: path) }
        } throws: { error in
            let text = "\(error)"
            return text.contains(path) && text.contains(key) && text.contains(reason)
        }
    }
}
