import Foundation
import Testing
import Backprop

/// The DocC articles (Sources/Backprop/Backprop.docc), run. Every ```swift block of an article
/// stands below between `// ▼ NAME.md, block K` and `// ▲`, and
/// `articlesShowTheCodeTheTestsRun` checks that the marked regions are the articles' blocks,
/// character for character (but for indentation), so an article cannot drift from the code
/// that is tested. The command-line article's shell and Python blocks are read from the
/// article itself and run.
@Suite struct ArticleTests {
    @Test func articlesShowTheCodeTheTestsRun() throws {
        let regions = try ArticleSource.markedRegions(inFile: #filePath)
        for article in try ArticleSource.articles() {
            let blocks = try ArticleSource.blocks(of: article, language: "swift")
            let marked = regions.filter { $0.article == article }.sorted { $0.block < $1.block }
            #expect(marked.map(\.block) == Array(1..<(blocks.count + 1)),
                    "\(article) has \(blocks.count) swift blocks; ArticleTests marks \(marked.map(\.block))")
            for (region, block) in zip(marked, blocks) {
                #expect(region.text == block, "\(article).md block \(region.block) differs from ArticleTests")
            }
        }
    }

    /// The articles' figures are copies of `docs/gallery/` (DocC needs them inside the catalog,
    /// and a symbolic link would be copied into the archive as a dangling link): every figure an
    /// article shows is in `Resources/` and byte for byte the gallery's, so regenerating the
    /// gallery without copying fails here.
    @Test func articleFiguresAreTheGallerysFigures() throws {
        let resources = ArticleSource.catalog.appendingPathComponent("Resources")
        let gallery = ArticleSource.catalog.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/gallery")
        var shown: Set<String> = []
        for article in try ArticleSource.articles() {
            let text = try String(contentsOf: ArticleSource.catalog.appendingPathComponent(article + ".md"), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("![") && line.hasSuffix(".png)") {
                shown.insert(String(line[line.index(after: line.lastIndex(of: "(")!)..<line.index(before: line.endIndex)]))
            }
        }
        #expect(shown.count == 9, "figures shown: \(shown.sorted())")
        let copies = try FileManager.default.contentsOfDirectory(atPath: resources.path).filter { $0.hasSuffix(".png") }
        #expect(Set(copies) == shown, "Resources holds \(copies.sorted()), the articles show \(shown.sorted())")
        for name in shown {
            let copy = try Data(contentsOf: resources.appendingPathComponent(name))
            let original = try Data(contentsOf: gallery.appendingPathComponent(name))
            #expect(copy == original, "Resources/\(name) differs from docs/gallery/\(name): copy it again")
        }
    }

    // MARK: Your first network

    @Test func yourFirstNetwork() throws {
        // ▼ YourFirstNetwork.md, block 1
        let data = SyntheticData.twoMoons(count: 400, noise: 0.1, seed: 1)   // x: [400, 2], t: labels 0 or 1
        var generator = RandomGenerator(seed: 1)
        let hidden = 16
        let w1 = Variable(Initializer.glorotUniform.make([hidden, 2], using: &generator), requiresGrad: true)
        let b1 = Variable(.zeros([hidden]), requiresGrad: true)
        let w2 = Variable(Initializer.glorotUniform.make([2, hidden], using: &generator), requiresGrad: true)
        let b2 = Variable(.zeros([2]), requiresGrad: true)

        func logits(_ x: Variable) -> Variable {
            let a1 = Variable.matmul(x, w1, transposeB: true) + b1    // a¹ = W¹x + b¹
            let z1 = a1.sigmoid()                                     // z¹ = σ(a¹)
            let a2 = Variable.matmul(z1, w2, transposeB: true) + b2   // a² = W²z¹ + b²
            return a2                                                 // y = softmax(a²), inside the loss
        }

        let optimizer = Optimizer([("W1", w1), ("b1", b1), ("W2", w2), ("b2", b2)], rule: Adam(), learningRate: 0.05)
        var firstLoss: Float = 0, lastLoss: Float = 0
        for step in 1...300 {
            let loss = softmaxCrossEntropy(logits: logits(Variable(data.features)), labels: data.labels)   // E (mean over n)
            optimizer.zeroGrad()
            loss.backward()                                           // ∂E/∂θ for every θ in Θ
            optimizer.step()                                          // θ ← θ − η · Adam's step
            if step == 1 { firstLoss = loss.value.scalar }
            lastLoss = loss.value.scalar
        }

        let y = withoutGradient { logits(Variable(data.features)) }.value.softmaxRows()   // y = softmax(a²)
        let predicted = y.argmaxRows()
        let accuracy = Float(zip(predicted, data.labels).filter { $0 == Int($1) }.count) / Float(data.count)
        // ▲
        // ▼ YourFirstNetwork.md, block 2
        func train(_ model: Sequential, on data: LabeledData, epochs: Int, learningRate: Float) -> Float {
            let loader = DataLoader(data, batchSize: 32, order: .shuffled(seed: 1))
            let optimizer = Optimizer(model.namedParameters(), rule: Adam(), learningRate: learningRate)
            for epoch in 0..<epochs {
                for batch in loader.batches(epoch: epoch) {                  // mini-batch gradient descent
                    let loss = softmaxCrossEntropy(logits: model(Variable(batch.features)), labels: batch.labels)
                    optimizer.zeroGrad()
                    loss.backward()
                    optimizer.step()
                }
            }
            return Evaluation.measure(model, on: data).accuracy          // in evaluation mode, no graph
        }
        let spec = try MultilayerPerceptronArchitecture(sizes: [2, 16, 2], activation: .sigmoid)
        let model = spec.build(seed: 1)   // Sequential: Linear(2 → 16), sigmoid, Linear(16 → 2)
        let layerAccuracy = train(model, on: data, epochs: 100, learningRate: 0.02)
        // ▲
        // ▼ YourFirstNetwork.md, block 3
        let spirals = SyntheticData.spirals(count: 600, classes: 3, noise: 0.05, seed: 2)
        let wide = try MultilayerPerceptronArchitecture(sizes: [2, 512, 3], activation: .relu).build(seed: 2)
        let deep = try MultilayerPerceptronArchitecture(sizes: [2, 32, 32, 32, 3], activation: .relu).build(seed: 2)
        let wideAccuracy = train(wide, on: spirals, epochs: 100, learningRate: 0.005)   // 3,075 parameters
        let deepAccuracy = train(deep, on: spirals, epochs: 100, learningRate: 0.005)   // 2,307 parameters
        // ▲
        #expect(firstLoss > 0.6 && firstLoss < 1, "first loss \(firstLoss), about 0.8 in the article")
        #expect(lastLoss < 0.05, "final loss \(lastLoss)")
        #expect(accuracy > 0.97, "hand-written network: train accuracy \(accuracy)")
        #expect(y.shape == [400, 2])
        #expect(layerAccuracy > 0.97, "Sequential on mini-batches: train accuracy \(layerAccuracy)")
        #expect(model.parameterCount == 2 * 16 + 16 + 16 * 2 + 2)
        #expect(wide.parameterCount == 3075 && deep.parameterCount == 2307)
        #expect(deepAccuracy > 0.93 && wideAccuracy < 0.93 && deepAccuracy > wideAccuracy + 0.03,
                "three spirals: deep \(deepAccuracy), wide \(wideAccuracy)")
    }

    // MARK: Backpropagation by hand

    @Test func backpropagationByHand() throws {
        // ▼ BackpropagationByHand.md, block 1
        let x = Variable(Tensor([[1, 2]]))                           // one example, as a row
        let t: [Int32] = [0]                                         // target class 0: t = (1, 0)
        let w1 = Variable(Tensor([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]]), requiresGrad: true)
        let b1 = Variable(Tensor([0.1, 0, -0.1]), requiresGrad: true)
        let w2 = Variable(Tensor([[0.7, -0.8, 0.9], [-0.1, 0.2, -0.3]]), requiresGrad: true)
        let b2 = Variable(Tensor([0.05, -0.05]), requiresGrad: true)
        let tapA1 = Variable(.zeros([1, 3]), requiresGrad: true)     // reads ∂E/∂a¹
        let tapZ1 = Variable(.zeros([1, 3]), requiresGrad: true)     // reads ∂E/∂z¹
        let tapA2 = Variable(.zeros([1, 2]), requiresGrad: true)     // reads ∂E/∂a²

        let a1 = Variable.matmul(x, w1, transposeB: true) + b1 + tapA1
        let z1 = a1.sigmoid() + tapZ1
        let a2 = Variable.matmul(z1, w2, transposeB: true) + b2 + tapA2
        let loss = softmaxCrossEntropy(logits: a2, labels: t, reduction: .sum)
        loss.backward()
        // tapA2.grad: step 2; tapZ1.grad: step 3; tapA1.grad: step 4;
        // w1.grad, b1.grad, w2.grad, b2.grad: the parameters' gradients.
        // ▲
        // ▼ BackpropagationByHand.md, block 2
        func sigma(_ a: Double) -> Double { 1 / (1 + exp(-a)) }
        let xs: [Double] = [1, 2], target: [Double] = [1, 0]
        let W1: [[Double]] = [[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]], B1: [Double] = [0.1, 0, -0.1]
        let W2: [[Double]] = [[0.7, -0.8, 0.9], [-0.1, 0.2, -0.3]], B2: [Double] = [0.05, -0.05]
        var A1: [Double] = [0, 0, 0], Z1: [Double] = [0, 0, 0], A2: [Double] = [0, 0]
        for j in 0..<3 { A1[j] = W1[j][0] * xs[0] + W1[j][1] * xs[1] + B1[j]; Z1[j] = sigma(A1[j]) }
        for k in 0..<2 { A2[k] = W2[k][0] * Z1[0] + W2[k][1] * Z1[1] + W2[k][2] * Z1[2] + B2[k] }
        let total = exp(A2[0]) + exp(A2[1])
        let Y: [Double] = [exp(A2[0]) / total, exp(A2[1]) / total]
        let E = -(target[0] * log(Y[0]) + target[1] * log(Y[1]))

        var dY: [Double] = [0, 0], dA2: [Double] = [0, 0], dZ1: [Double] = [0, 0, 0], dA1: [Double] = [0, 0, 0]
        for k in 0..<2 { dY[k] = -target[k] / Y[k] }                                  // step 1
        for k in 0..<2 {                                                              // step 2
            for m in 0..<2 { dA2[k] += dY[m] * Y[m] * ((m == k ? 1.0 : 0.0) - Y[k]) }
        }
        for j in 0..<3 { dZ1[j] = W2[0][j] * dA2[0] + W2[1][j] * dA2[1] }             // step 3
        for j in 0..<3 { dA1[j] = Z1[j] * (1 - Z1[j]) * dZ1[j] }                       // step 4
        let dW2: [[Double]] = (0..<2).map { k in (0..<3).map { j in dA2[k] * Z1[j] } }
        let dW1: [[Double]] = (0..<3).map { j in (0..<2).map { i in dA1[j] * xs[i] } }
        // ▲
        // The table of the article, worked out by hand (to six decimals).
        let table: [(name: String, computed: [Double], expected: [Double])] = [
            ("a¹", A1, [0.6, 0.5, -0.8]),
            ("z¹", Z1, [0.645656, 0.622459, 0.310026]),
            ("a²", A2, [0.283015, -0.083081]),
            ("y", Y, [0.590515, 0.409485]),
            ("E", [E], [0.526760]),
            ("∂E/∂y", dY, [-1.693436, 0]),
            ("∂E/∂a²", dA2, [-0.409485, 0.409485]),
            ("∂E/∂z¹", dZ1, [-0.327588, 0.409485, -0.491382]),
            ("∂E/∂a¹", dA1, [-0.074947, 0.096230, -0.105111]),
            ("∂E/∂W¹ row 0", dW1[0], [-0.074947, -0.149894]),
            ("∂E/∂W² row 1", dW2[1], [0.264386, 0.254888, 0.126951]),
        ]
        for row in table {
            #expect(row.computed.count == row.expected.count, "\(row.name)")
            for (c, e) in zip(row.computed, row.expected) {
                #expect(abs(c - e) < 1e-6, "\(row.name): by hand \(row.computed), table \(row.expected)")
            }
        }
        // Step 2 is y − t, as the softmax Jacobian's sum says.
        for k in 0..<2 { #expect(abs(dA2[k] - (Y[k] - target[k])) < 1e-12) }

        // loss.backward() against the hand computation.
        func close(_ tensor: Tensor?, _ expected: [Double], _ what: String) {
            guard let tensor else { Issue.record("\(what): no gradient"); return }
            #expect(tensor.count == expected.count, "\(what): shape \(tensor.shape)")
            for (a, b) in zip(tensor.scalars, expected) {
                #expect(abs(Double(a) - b) < 1e-5, "\(what): backward \(tensor.scalars), by hand \(expected)")
            }
        }
        #expect(abs(Double(loss.value.scalar) - E) < 1e-6)
        close(tapA2.grad, dA2, "∂E/∂a² (step 2)")
        close(tapZ1.grad, dZ1, "∂E/∂z¹ (step 3)")
        close(tapA1.grad, dA1, "∂E/∂a¹ (step 4)")
        close(w2.grad, dW2.flatMap { $0 }, "∂E/∂W²")
        close(b2.grad, dA2, "∂E/∂b²")
        close(w1.grad, dW1.flatMap { $0 }, "∂E/∂W¹")
        close(b1.grad, dA1, "∂E/∂b¹")
    }

    // MARK: Choosing an optimizer

    @Test func choosingAnOptimizer() throws {
        let model = try MultilayerPerceptronArchitecture(sizes: [2, 8, 2]).build(seed: 1)
        // ▼ ChoosingAnOptimizer.md, block 1
        let optimizer = Optimizer(model.namedParameters(), rule: Adam(), learningRate: 0.001)
        // ▲
        // ▼ ChoosingAnOptimizer.md, block 2
        func ravine(_ rule: any OptimizerRule, steps: Int) -> Float {
            let theta = Variable(Tensor([-4, 1]), requiresGrad: true)
            let curvature = Variable(Tensor([1, 10]))
            let optimizer = Optimizer([("theta", theta)], rule: rule)           // the rule's default η
            var f: Float = 0
            for _ in 0..<steps {
                let loss = (theta * theta * curvature).sum()                   // θ₀² + 10θ₁²
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
                f = (theta.value * theta.value * Tensor([1, 10])).sum()
            }
            return f
        }
        let rules: [any OptimizerRule] = [SGD(), Momentum(), Nesterov(), Adagrad(), Adadelta(), RMSprop(),
                                          Adam(), AdaMax(), Nadam(), AMSGrad(), AdamW()]
        let finalValues = rules.map { ravine($0, steps: 200) }                 // f after 200 steps, from f = 26
        // ▲
        #expect(optimizer.learningRate == 0.001 && optimizer.parameters.count == 4)
        #expect(finalValues.count == 11)
        for (rule, f) in zip(rules, finalValues) {
            #expect(f.isFinite && f < 26, "\(rule.name): f = \(f) after 200 steps, from 26")
        }
        let sgd = finalValues[0], momentum = finalValues[1], nesterov = finalValues[2]
        #expect(sgd > 1e-3, "SGD should still be short of the minimum along θ₀: f = \(sgd)")
        #expect(momentum < sgd / 100 && nesterov < sgd / 100,
                "momentum \(momentum) and Nesterov \(nesterov) against SGD \(sgd)")
    }

    // MARK: Regularization

    @Test func regularization() throws {
        // ▼ Regularization.md, block 1
        let moons = SyntheticData.twoMoons(count: 200, noise: 0.3, seed: 3)
        func fit(_ model: Sequential, steps: Int, lambda: Float = 0) {   // full-batch Adam on the moons
            let optimizer = Optimizer(model.namedParameters(), rule: Adam(), learningRate: 0.01)
            for _ in 1...steps {
                let data = softmaxCrossEntropy(logits: model(Variable(moons.features)), labels: moons.labels)
                let loss = data + weightDecayPenalty(model.parameters, lambda: lambda)   // E + λ/2 Σ‖W‖²
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
            }
        }
        func squaredWeightNorm(_ model: Sequential) -> Float {
            model.parameters.filter(\.decays).map { ($0.value * $0.value).sum() }.reduce(0, +)
        }
        let architecture = try MultilayerPerceptronArchitecture(sizes: [2, 64, 64, 2], activation: .relu)
        let unregularized = architecture.build(seed: 3), regularized = architecture.build(seed: 3)
        fit(unregularized, steps: 300)
        fit(regularized, steps: 300, lambda: 0.01)
        // ▲
        // ▼ Regularization.md, block 2
        let noisy = try MultilayerPerceptronArchitecture(sizes: [2, 64, 64, 2], activation: .relu,
                                                         dropout: 0.2, inputNoise: 0.1).build(seed: 4)
        // GaussianNoise(σ: 0.1), Linear(2 → 64), relu, Dropout(p: 0.2), Linear(64 → 64), relu, Dropout(p: 0.2), Linear(64 → 2)
        fit(noisy, steps: 300)
        let trainingModeOutputs = [noisy(moons.features), noisy(moons.features)]   // differ: new noise and masks each call
        noisy.eval()
        let evaluationOutputs = [noisy(moons.features), noisy(moons.features)]     // equal: noise and dropout are off
        // ▲
        // ▼ Regularization.md, block 3
        let test = SyntheticData.twoMoons(count: 1000, noise: 0.3, seed: 30)
        let member = try MultilayerPerceptronArchitecture(sizes: [2, 32, 2], activation: .tanh)
        let ensemble = try EnsembleArchitecture(member: member, count: 5).build(seed: 5)
        for case let network as Sequential in ensemble.members {
            fit(network, steps: 200)                                   // each member on its own loss
        }
        ensemble.eval()
        func testLoss(_ model: any Module) -> Float {
            softmaxCrossEntropy(logits: Variable(model(test.features)), labels: test.labels).value.scalar
        }
        let ensembleLoss = testLoss(ensemble)
        let memberLosses = ensemble.members.map(testLoss)
        // ▲
        // ▼ Regularization.md, block 4
        let spirals = SyntheticData.spirals(count: 600, classes: 3, noise: 0.05, seed: 6)
        let experts = try MixtureOfExpertsArchitecture(inputSize: 2, outputSize: 3, expertCount: 4,
                                                       expertHidden: [32]).build(seed: 6)
        let expertOptimizer = Optimizer(groups: experts.parameterGroups(gateLearningRateScale: 10), rule: Adam(),
                                        learningRate: 0.01)
        var firstMixtureLoss: Float = 0, lastMixtureLoss: Float = 0
        for step in 1...300 {
            let loss = experts.trainingLoss(spirals.features, labels: spirals.labels)
            expertOptimizer.zeroGrad()
            loss.backward()
            expertOptimizer.step()
            if step == 1 { firstMixtureLoss = loss.value.scalar }
            lastMixtureLoss = loss.value.scalar
        }
        experts.eval()
        let usage = experts.usage(on: spirals.features)   // which expert each example's largest gate weight picks
        // ▲
        #expect(squaredWeightNorm(regularized) < squaredWeightNorm(unregularized) / 10,
                "‖W‖²: \(squaredWeightNorm(regularized)) with λ = 0.01, \(squaredWeightNorm(unregularized)) without")
        #expect(trainingModeOutputs[0] != trainingModeOutputs[1], "noise and dropout act in training mode")
        #expect(evaluationOutputs[0] == evaluationOutputs[1], "evaluation mode is deterministic")
        #expect(noisy.layers.first is GaussianNoise && noisy.layers.contains { $0 is Dropout })
        let meanMemberLoss = memberLosses.reduce(0, +) / Float(memberLosses.count)
        #expect(memberLosses.count == 5)
        #expect(ensembleLoss <= meanMemberLoss + 1e-6, "ensemble \(ensembleLoss), members \(memberLosses)")
        #expect(lastMixtureLoss < firstMixtureLoss / 2, "mixture loss \(firstMixtureLoss) → \(lastMixtureLoss)")
        #expect(usage.count == spirals.count && usage.argmaxCounts.reduce(0, +) == spirals.count)
        #expect(usage.argmaxCounts.filter { $0 > 0 }.count >= 2, "the gate uses more than one expert: \(usage)")
    }

    // MARK: Batch Normalization

    @Test func batchNormalization() throws {
        // ▼ BatchNormalization.md, block 1
        let x = Tensor([[1, 2], [3, 6], [5, 4], [7, 0]])      // m = 4 examples, 2 features
        let bn = BatchNorm1d(2, momentum: nil)               // ε = 1e-5
        bn.weight.value = Tensor([2, 0.5])                   // γ
        bn.bias.value = Tensor([1, -1])                      // β
        let y = bn(Variable(x)).value                        // training mode: Algorithm 1

        let m = 4, epsilon: Float = 1e-5, gamma: [Float] = [2, 0.5], beta: [Float] = [1, -1]
        var byHand = [[Float]](repeating: [0, 0], count: m)
        for j in 0..<2 {
            let column = (0..<m).map { x[$0, j] }
            let mu = column.reduce(0, +) / Float(m)                                        // mini-batch mean
            let variance = column.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Float(m)    // mini-batch variance
            for i in 0..<m {
                let xhat = (column[i] - mu) / (variance + epsilon).squareRoot()            // normalize
                byHand[i][j] = gamma[j] * xhat + beta[j]                                   // scale and shift
            }
        }
        // ▲
        // ▼ BatchNormalization.md, block 2
        let batches = [x, Tensor([[0, 1], [2, 3], [4, 8], [6, 5]])]
        let population = BatchNorm1d(2, momentum: nil)           // γ = 1, β = 0
        for batch in batches { _ = population(Variable(batch)) } // training mode: statistics recorded
        population.eval()
        let inference = population(Variable(Tensor([[2, 2]]))).value   // one example: Algorithm 2

        var expectedMean: [Float] = [0, 0], expectedVariance: [Float] = [0, 0]
        for batch in batches {
            for j in 0..<2 {
                let column = (0..<m).map { batch[$0, j] }
                let mu = column.reduce(0, +) / Float(m)
                let variance = column.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Float(m)
                expectedMean[j] += mu / Float(batches.count)                                    // E[x] = E_B[μ_B]
                expectedVariance[j] += Float(m) / Float(m - 1) * variance / Float(batches.count) // Var[x] = m/(m−1) E_B[σ²_B]
            }
        }
        let inferenceByHand = (0..<2).map { j in (2 - expectedMean[j]) / (expectedVariance[j] + epsilon).squareRoot() }
        // ▲
        // ▼ BatchNormalization.md, block 3
        let network = try MultilayerPerceptronArchitecture(sizes: [784, 100, 100, 100, 10], activation: .sigmoid,
                                                           batchNorm: true, initializer: .normal(standardDeviation: 0.05))
            .build(seed: 1)
        let kinds = network.layers.map { $0.summary }
        // Linear(784 → 100), BatchNorm1d(100, …), sigmoid, Linear(100 → 100), BatchNorm1d(100, …), sigmoid, …, Linear(100 → 10)
        // ▲
        // The numbers the article quotes for the first feature: μ = 4, σ² = 5.
        let quoted: [Float] = [-1.683, 0.106, 1.894, 3.683]
        for i in 0..<m {
            for j in 0..<2 { #expect(abs(y[i, j] - byHand[i][j]) < 1e-5, "Algorithm 1 at [\(i), \(j)]") }
            #expect(abs(y[i, 0] - quoted[i]) < 1e-3)
        }
        for j in 0..<2 {
            #expect(abs(population.runningMean.value[j] - expectedMean[j]) < 1e-5, "E[x] of feature \(j)")
            #expect(abs(population.runningVariance.value[j] - expectedVariance[j]) < 1e-4, "Var[x] of feature \(j)")
            #expect(abs(inference[0, j] - inferenceByHand[j]) < 1e-5, "Algorithm 2 of feature \(j)")
        }
        #expect(population.batchesTracked == 2)
        #expect(network.layers.filter { $0 is BatchNorm1d }.count == 3)
        #expect(kinds.count == 10 && kinds[1].hasPrefix("BatchNorm1d(100") && kinds[2] == "sigmoid")
    }

    // MARK: From the command line to PyTorch and ONNX

    @Test func commandLineToPyTorchAndONNX() throws {
        let article = "CommandLineToPyTorchAndONNX"
        let shell = try ArticleSource.blocks(of: article, language: "sh")
        let commands = shell.flatMap { $0.split(separator: "\n") }.map(String.init).filter { $0.hasPrefix("backprop ") }
        #expect(commands.count == 5)
        let directory = CommandLineTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for command in commands {
            // The article's lines are plain words: no quotes, globs or variables to expand.
            let arguments = command.split(separator: " ").dropFirst().map(String.init)
            let run = try CommandLineTests.run(arguments, in: directory)
            #expect(run.status == 0, "\(command): \(run.error)")
        }
        let train = directory + "/runs/moons/"
        #expect(FileManager.default.fileExists(atPath: train + "model.safetensors"))
        #expect(FileManager.default.fileExists(atPath: train + "checkpoint.safetensors"))
        #expect(FileManager.default.fileExists(atPath: directory + "/moons.onnx"))
        #expect(FileManager.default.fileExists(atPath: directory + "/moons.npz"))

        let python = try ArticleSource.blocks(of: article, language: "python")
        #expect(python.count == 3)
        for block in python {
            let modules = ArticleSource.importedModules(block)
            guard Python.imports(modules) else { continue }   // prints why it is skipped
            let script = directory + "/block.py"
            // The article's paths are relative to the folder the commands ran in.
            try ("import os\nos.chdir(\(String(reflecting: directory)))\n" + block)
                .write(toFile: script, atomically: true, encoding: .utf8)
            let run = try Python.run([script])
            #expect(run.status == 0, "python block importing \(modules): \(run.output)")
        }
    }
}

/// Reads the articles' fenced code blocks and this file's marked regions.
enum ArticleSource {
    static let catalog = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/Backprop/Backprop.docc")

    /// Every page of the catalog (the landing page and the articles), by file name without `.md`.
    static func articles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: catalog.path).filter { $0.hasSuffix(".md") }
            .map { String($0.dropLast(3)) }.sorted()
    }

    /// The fenced blocks of `language` in `article`.md, in order, each without its fences and
    /// with its lines' trailing white space removed.
    static func blocks(of article: String, language: String) throws -> [String] {
        let text = try String(contentsOf: catalog.appendingPathComponent(article + ".md"), encoding: .utf8)
        var blocks: [String] = [], current: [String]? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if var lines = current {
                if line == "```" { blocks.append(lines.joined(separator: "\n")); current = nil } else {
                    lines.append(trimmingTrailingSpace(line)); current = lines
                }
            } else if line == "```" + language {
                current = []
            }
        }
        return blocks
    }

    struct Region { var article: String; var block: Int; var text: String }

    /// The regions of a Swift file between `// ▼ NAME.md, block K` and `// ▲`, each with its
    /// common indentation removed.
    static func markedRegions(inFile path: String) throws -> [Region] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var regions: [Region] = []
        var open: (article: String, block: Int, lines: [String])? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if let current = open {
                if trimmed == "// ▲" {
                    regions.append(Region(article: current.article, block: current.block, text: dedented(current.lines)))
                    open = nil
                } else {
                    open?.lines.append(line)
                }
            } else if trimmed.hasPrefix("// ▼ "), let dot = trimmed.range(of: ".md, block "),
                      let block = Int(trimmed[dot.upperBound...]) {
                open = (String(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 5)..<dot.lowerBound]), block, [])
            }
        }
        return regions
    }

    static func trimmingTrailingSpace(_ line: String) -> String {
        String(line.reversed().drop { $0 == " " }.reversed())
    }

    static func dedented(_ lines: [String]) -> String {
        let indent = lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return lines.map { trimmingTrailingSpace(String($0.dropFirst(min(indent, $0.prefix { $0 == " " }.count)))) }
            .joined(separator: "\n")
    }

    /// The top-level modules a Python block imports (`import a.b` and `from a.b import c` give `a.b`).
    static func importedModules(_ block: String) -> [String] {
        block.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard words.count >= 2, words[0] == "import" || words[0] == "from" else { return nil }
            return String(words[1])
        }
    }
}
