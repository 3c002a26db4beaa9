import Testing
import Backprop

/// Every differentiable operation, layer and loss against central finite differences, and the
/// checker itself against deliberately wrong backward passes.
@Suite struct GradientCheckTests {
    static func parameter(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Variable {
        var g = RandomGenerator(seed: seed)
        return Variable(.uniform(shape, in: range, using: &g), requiresGrad: true)
    }

    // MARK: The checker catches wrong gradients

    /// x² with a backward that has the wrong sign.
    static func squareWithWrongSign(_ x: Variable) -> Variable {
        Variable(x.value.squared(), inputs: [x]) { out in
            if let g = out.grad { x.accumulateGradient(g * x.value * -2) }
        }
    }

    /// x² with a backward that forgets the factor 2.
    static func squareWithoutFactorTwo(_ x: Variable) -> Variable {
        Variable(x.value.squared(), inputs: [x]) { out in
            if let g = out.grad { x.accumulateGradient(g * x.value) }
        }
    }

    @Test func checkerCatchesAWrongSign() {
        let x = Self.parameter([3, 4], seed: 1, range: 0.5...1.5)
        let result = GradientCheck.check([x]) { Self.squareWithWrongSign(x).sum() }
        #expect(!result.passed)
        #expect(result.mismatches.count == 12)
    }

    @Test func checkerCatchesAMissingFactorOfTwo() {
        let x = Self.parameter([3, 4], seed: 2, range: 0.5...1.5)
        let result = GradientCheck.check([x]) { Self.squareWithoutFactorTwo(x).sum() }
        #expect(!result.passed)
        #expect(result.mismatches.count == 12)
    }

    @Test func checkerPassesTheCorrectSquare() {
        let x = Self.parameter([3, 4], seed: 3, range: 0.5...1.5)
        let result = GradientCheck.check([x]) { x.squared().sum() }
        #expect(result.passed, "\(result)")
    }

    // MARK: Operations

    @Test func arithmeticWithBroadcasting() {
        let a = Self.parameter([4, 5], seed: 4)
        let row = Self.parameter([5], seed: 5)
        let column = Self.parameter([4, 1], seed: 6)
        let positive = Self.parameter([4, 5], seed: 7, range: 1...2)
        for (name, f) in [
            ("a + row", { a + row }),
            ("a - column", { a - column }),
            ("a * row", { a * row }),
            ("row * a", { row * a }),
            ("a / positive", { a / positive }),
            ("column / positive", { column / positive }),
            ("-a * 3 + 1", { (-a) * 3 + 1 }),
            ("a.squared().mean()", { a.squared().mean() }),
            ("reshape", { a.reshaped([5, 4]) * Self.parameter([5, 4], seed: 99) }),
        ] as [(String, () -> Variable)] {
            let result = GradientCheck.check([a, row, column, positive].filter { _ in true }, f)
            #expect(result.passed, "\(name): \(result)")
        }
    }

    @Test func matmulInEveryLayout() {
        let a = Self.parameter([3, 4], seed: 8), b = Self.parameter([4, 5], seed: 9)
        let at = Self.parameter([4, 3], seed: 10), bt = Self.parameter([5, 4], seed: 11)
        #expect(GradientCheck.check([a, b]) { Variable.matmul(a, b) }.passed)
        #expect(GradientCheck.check([at, b]) { Variable.matmul(at, b, transposeA: true) }.passed)
        #expect(GradientCheck.check([a, bt]) { Variable.matmul(a, bt, transposeB: true) }.passed)
        #expect(GradientCheck.check([at, bt]) { Variable.matmul(at, bt, transposeA: true, transposeB: true) }.passed)
    }

    @Test(arguments: Activation.allCases)
    func activations(_ f: Activation) {
        // Inputs kept away from ReLU's kink at 0, where the derivative is undefined.
        var g = RandomGenerator(seed: 12)
        var values = Tensor.uniform([6, 7], in: 0.1...1.5, using: &g)
        let signs = Tensor.uniform([6, 7], using: &g).map { $0 < 0.5 ? -1 : 1 }
        values = values * signs
        let x = Variable(values, requiresGrad: true)
        let result = GradientCheck.check([x]) { x.activated(by: f) }
        #expect(result.passed, "\(f): \(result)")
    }

    @Test(arguments: Activation.allCases)
    func fusedLinearLayer(_ f: Activation) {
        let x = Self.parameter([5, 6], seed: 13)
        let w = Self.parameter([4, 6], seed: 14)
        let b = Self.parameter([4], seed: 15)
        let result = GradientCheck.check([x, w, b]) { linear(x, weight: w, bias: b, activation: f) }
        // ReLU's kink: the check perturbs by ε, so a pre-activation within ε of 0 can flip; these
        // seeds keep every |z| > ε (asserted by the check passing for the smooth functions too).
        #expect(result.passed, "\(f): \(result)")
        let noBias = GradientCheck.check([x, w]) { linear(x, weight: w, bias: nil, activation: f) }
        #expect(noBias.passed, "\(f) without bias: \(noBias)")
    }

    @Test func linearAccumulatesIntoExistingGradients() {
        let x = Self.parameter([3, 4], seed: 16), w = Self.parameter([2, 4], seed: 17)
        // Using the layer twice makes its weight gradient accumulate (GEMM with beta = 1).
        let result = GradientCheck.check([x, w]) {
            linear(x, weight: w, bias: nil, activation: .tanh) + linear(x * 2, weight: w, bias: nil, activation: .sigmoid)
        }
        #expect(result.passed, "\(result)")
    }

    @Test func dropoutWithAFixedMaskAndNoise() {
        let x = Self.parameter([4, 8], seed: 18)
        var g = RandomGenerator(seed: 19)
        let mask = Tensor.dropoutMask([4, 8], dropProbability: 0.5, using: &g)
        #expect(GradientCheck.check([x]) { x.masked(by: mask).tanh() }.passed)
        let noise = Tensor.normal([4, 8], using: &g)
        #expect(GradientCheck.check([x]) { x.adding(constant: noise).sigmoid() }.passed)
    }

    @Test func batchNormInTrainingAndEvaluationMode() {
        let x = Self.parameter([8, 5], seed: 20, range: -2...2)
        let bn = BatchNorm1d(5)
        var g = RandomGenerator(seed: 21)
        bn.weight.value = .uniform([5], in: 0.5...1.5, using: &g)
        bn.bias.value = .uniform([5], in: -0.5...0.5, using: &g)
        // A downstream non-linearity, so the gradient through the batch statistics matters
        // (a plain sum of BN's output has zero gradient with respect to x).
        let training = GradientCheck.check([x, bn.weight, bn.bias]) { bn(x).tanh() }
        #expect(training.passed, "training: \(training)")
        bn.eval()
        let evaluation = GradientCheck.check([x, bn.weight, bn.bias]) { bn(x).tanh() }
        #expect(evaluation.passed, "evaluation: \(evaluation)")
    }

    @Test func sequentialNetworkEndToEnd() {
        var g = RandomGenerator(seed: 22)
        let model = Sequential(
            Linear(3, 6, generator: &g), ActivationLayer(.tanh),
            BatchNorm1d(6),
            Linear(6, 5, generator: &g), ActivationLayer(.sigmoid),
            Linear(5, 4, generator: &g))
        let x = Self.parameter([7, 3], seed: 23)
        let labels: [Int32] = [0, 1, 2, 3, 0, 1, 2]
        let result = GradientCheck.check([x] + model.parameters) {
            softmaxCrossEntropy(logits: model(x), labels: labels)
        }
        #expect(result.passed, "\(result)")
    }

    // MARK: Losses

    @Test func softmaxCrossEntropyWithLabelsAndSoftTargets() {
        let logits = Self.parameter([5, 4], seed: 24, range: -3...3)
        let labels: [Int32] = [0, 3, 1, 2, 3]
        for reduction in Reduction.allCases {
            #expect(GradientCheck.check([logits]) { softmaxCrossEntropy(logits: logits, labels: labels, reduction: reduction) }.passed)
        }
        var g = RandomGenerator(seed: 25)
        let targets = Tensor.uniform([5, 4], in: 0.1...1, using: &g).softmaxRows()
        #expect(GradientCheck.check([logits]) { softmaxCrossEntropy(logits: logits, targets: targets) }.passed)
    }

    @Test func binaryCrossEntropyAndSquaredError() {
        let logits = Self.parameter([6, 1], seed: 26, range: -4...4)
        let targets = Tensor(shape: [6, 1], scalars: [0, 1, 1, 0, 1, 0])
        for reduction in Reduction.allCases {
            #expect(GradientCheck.check([logits]) { binaryCrossEntropy(logits: logits, targets: targets, reduction: reduction) }.passed)
            #expect(GradientCheck.check([logits]) { meanSquaredError(logits, targets, reduction: reduction) }.passed)
        }
    }

    @Test func weightDecayPenaltyCoversWeightsOnly() {
        var g = RandomGenerator(seed: 27)
        let layer = Linear(3, 2, generator: &g)
        layer.bias!.value = Tensor([0.5, -0.5])
        let result = GradientCheck.check(layer.parameters) { weightDecayPenalty(layer.parameters, lambda: 0.3) }
        #expect(result.passed, "\(result)")
        // The bias is excluded: its gradient is zero; with includeAll it is λ·b.
        let penalty = weightDecayPenalty(layer.parameters, lambda: 0.3)
        penalty.backward()
        #expect(layer.bias!.grad == nil || layer.bias!.grad!.scalars == [0, 0])
        let w = layer.weight.value.scalars
        #expect(abs(penalty.value.scalar - 0.15 * w.map { $0 * $0 }.reduce(0, +)) < 1e-6)
        layer.weight.grad = nil
        weightDecayPenalty(layer.parameters, lambda: 0.3, includeAll: true).backward()
        #expect(layer.bias!.grad!.scalars.map { ($0 * 1e4).rounded() } == [1500, -1500])
    }
}
