import Foundation
import Testing
import Backprop

/// The MNIST experiments of the deep-network part of the course (depth, representations,
/// optimizers, batchnorm) on tiny settings, and the measurements they rest on, checked
/// against values worked by hand.
@Suite struct DeepExperimentTests {
    static func temporaryDirectory() -> String {
        (NSTemporaryDirectory() as NSString).appendingPathComponent("bp-deep-\(UUID().uuidString)")
    }

    static func csvRows(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    /// NumPy's linear interpolation: rank h = (n − 1)·p/100 of the sorted values.
    @Test func percentilesInterpolateBetweenOrderStatistics() {
        // Sorted 1…5: p15 → h = 0.6 → 1.6; p50 → 3; p85 → h = 3.4 → 4.4 (np.percentile agrees).
        let values: [Float] = [5, 1, 4, 2, 3]
        let p = percentiles(values, [0, 15, 50, 85, 100])
        let expected: [Float] = [1, 1.6, 3, 4.4, 5]
        for (a, b) in zip(p, expected) { #expect(abs(a - b) < 1e-6, "\(p)") }
        // Two values: p15 → 10 + 0.15·10.
        #expect(abs(percentile([20, 10], 15) - 11.5) < 1e-6)
        #expect(percentile([7], 85) == 7)
        #expect(percentile([], 50).isNaN)
    }

    /// Rows a_i·u + b_i·v + c with a_i = 3cos(2πi/n), b_i = sin(2πi/n): a and b have mean 0,
    /// are uncorrelated, and their sample variances are 9·(n/2)/(n−1) and (n/2)/(n−1); so the
    /// principal components are ±u and ±v with those variances, 90% and 10% of the total.
    @Test(arguments: [5, 40]) func principalComponentsOfARankTwoMatrix(features d: Int) {
        let n = 100
        var u = [Double](repeating: 0, count: d), v = [Double](repeating: 0, count: d)
        u[0] = 0.6; u[1] = 0.8                       // unit length
        v[2] = 1 / 2.0.squareRoot(); v[d - 1] = -1 / 2.0.squareRoot()
        let offset = (0..<d).map { Double($0) * 0.5 - 1 }
        var rows: [[Float]] = []
        var a: [Double] = [], b: [Double] = []
        for i in 0..<n {
            let t = 2 * Double.pi * Double(i) / Double(n)
            a.append(3 * cos(t)); b.append(sin(t))
            rows.append((0..<d).map { Float(a[i] * u[$0] + b[i] * v[$0] + offset[$0]) })
        }
        let pca = PrincipalComponents(Tensor(rows), count: 2)
        let half = Double(n / 2) / Double(n - 1)
        #expect(abs(pca.variances[0] - 9 * half) < 1e-3 * 9 * half)
        #expect(abs(pca.variances[1] - half) < 1e-3 * half)
        #expect(abs(pca.explainedVarianceRatio[0] - 0.9) < 1e-3 && abs(pca.explainedVarianceRatio[1] - 0.1) < 1e-3)
        func dot(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
        #expect(abs(abs(dot(pca.components[0], u)) - 1) < 1e-4)
        #expect(abs(abs(dot(pca.components[1], v)) - 1) < 1e-4)
        // The projection recovers (±a_i, ±b_i).
        let projected = pca.project(Tensor(rows))
        let sa = dot(pca.components[0], u) > 0 ? 1.0 : -1.0, sb = dot(pca.components[1], v) > 0 ? 1.0 : -1.0
        for i in stride(from: 0, to: n, by: 7) {
            #expect(abs(projected[i][0] - sa * a[i]) < 1e-3 && abs(projected[i][1] - sb * b[i]) < 1e-3, "row \(i): \(projected[i])")
        }
    }

    /// Softmax regression separates a linearly separable set perfectly, and cannot separate
    /// concentric circles (a linear boundary gets about half of them).
    @Test func linearProbeSeparatesOnlyWhatIsLinearlySeparable() throws {
        var generator = RandomGenerator(seed: 3)
        func separable(_ count: Int) -> LabeledData {
            var rows: [[Float]] = [], labels: [Int32] = []
            for i in 0..<count {
                let label = Int32(i % 2)
                rows.append([(label == 1 ? 2 : -2) + generator.nextUniform(in: -1...1), generator.nextUniform(in: -3...3)])
                labels.append(label)
            }
            return LabeledData(features: Tensor(rows), labels: labels, classCount: 2)
        }
        let clean = try LinearProbe.accuracy(train: separable(400), test: separable(400), epochs: 100)
        #expect(clean.train == 1 && clean.test == 1, "\(clean)")
        let rings = try LinearProbe.accuracy(train: SyntheticData.circles(count: 400, seed: 1),
                                             test: SyntheticData.circles(count: 400, seed: 2), epochs: 20)
        #expect(rings.test < 0.7, "a linear probe on concentric circles: \(rings.test)")
    }

    /// Every layer's output, in evaluation mode: Linear(w = [1, −1]) then ReLU on two rows.
    @Test func layerOutputsAreEachLayersResult() {
        let model = Sequential(Linear(weight: Tensor([[1, -1]]), bias: Tensor([0.5])), ActivationLayer(.relu))
        let outputs = model.layerOutputs(Tensor([[2, 1], [1, 3]]))
        #expect(outputs.count == 2)
        #expect(outputs[0].scalars == [1.5, -1.5])
        #expect(outputs[1].scalars == [1.5, 0])
        #expect(model.isTraining)
    }

    /// BN with the measured images as the batch: x = (1, 3) has mean 2 and biased variance 1,
    /// so with γ = 2, β = 0.5 the outputs are 0.5 ∓ 2/√(1 + ε).
    @Test func batchNormalizationWithTheImagesOwnStatistics() {
        let norm = BatchNorm1d(1)
        norm.weight.value = Tensor([2])
        norm.bias.value = Tensor([0.5])
        let y = BatchNormExperiment.normalizedWithOwnStatistics(Tensor([[1], [3]]), norm).scalars
        let s = Float(2 / (1 + 1e-5).squareRoot())
        #expect(abs(y[0] - (0.5 - s)) < 1e-5 && abs(y[1] - (0.5 + s)) < 1e-5)
    }

    @Test func windowMeansAverageEachFullWindow() {
        let w = OptimizersExperiment.windowMeans([1, 2, 3, 4, 5, 6, 7], width: 3)
        #expect(w.steps == [3, 6] && w.means == [2, 5])
    }
}

extension DeepExperimentTests {
    /// Ioffe & Szegedy's claim on a short run (5,000 steps, a tenth of theirs): BN's network is
    /// far more accurate, and once training is under way (from step 500) the median input of a
    /// typical last-hidden-layer sigmoid moves much less with BN than without.
    @Test func batchNormTrainsFasterAndKeepsSigmoidInputsSteady() throws {
        var settings = BatchNormExperiment.Settings(steps: 5000, interval: 500)
        settings.testCount = 1000
        let traces = try BatchNormExperiment.traces(settings)
        #expect(traces.map(\.batchNorm) == [false, true])
        #expect(traces.allSatisfy { $0.steps == Array(stride(from: 0, through: 5000, by: 500)) })
        let plain = try #require(traces[0].testAccuracy.last), normalized = try #require(traces[1].testAccuracy.last)
        #expect(normalized > plain + 0.1, "BN \(normalized), plain \(plain)")
        // Per unit: largest minus smallest median from step 500 on; the median over the units.
        func typicalDrift(_ trace: BatchNormExperiment.Trace) -> Float {
            let drifts = (0..<100).map { u -> Float in
                let medians = trace.percentiles.dropFirst().map { $0[u][1] }
                return (medians.max() ?? 0) - (medians.min() ?? 0)
            }.sorted()
            return drifts[50]
        }
        let plainDrift = typicalDrift(traces[0]), bnDrift = typicalDrift(traces[1])
        #expect(plainDrift > 2 * bnDrift, "typical median drift: plain \(plainDrift), BN \(bnDrift)")
        for trace in traces {
            #expect(trace.percentiles.allSatisfy { $0.count == 100 && $0.allSatisfy { $0[0] <= $0[1] && $0[1] <= $0[2] } })
        }
    }

    @Test func batchNormExperimentWritesItsFigureAndNumbers() throws {
        var settings = BatchNormExperiment.Settings(steps: 40, interval: 20)
        settings.trainCount = 600
        settings.testCount = 200
        let output = try BatchNormExperiment.run(directory: Self.temporaryDirectory(), settings: settings)
        let image = try PNGImage(contentsOf: output.path("batchnorm.png"))
        #expect(image.width == 1500 && image.height == 500)
        let rows = try Self.csvRows(output.path("batchnorm.csv"))
        #expect(rows.count == 1 + 2 * 3)
        for row in rows.dropFirst() {
            let numbers = row.dropFirst(2).compactMap(Float.init)
            #expect(numbers.count == 4 && (0...1).contains(numbers[0]) && numbers[1] <= numbers[2] && numbers[2] <= numbers[3])
        }
        #expect(try Self.csvRows(output.path("summary.csv")).count == 3)
        let report = try String(contentsOfFile: output.path("report.md"), encoding: .utf8)
        #expect(report.contains("batchnorm.png"))
    }

    /// Parameter counts worked by hand for width 16: 784·16 + 16 + 16·10 + 10 = 12,730 with one
    /// hidden layer, plus 16·16 + 16 = 272 per extra layer, plus γ and β (32) per BN layer.
    @Test func depthExperimentTrainsEveryDepthWithAndWithoutBatchNorm() throws {
        var settings = DepthExperiment.Settings(trainCount: 2000, epochs: 3, seeds: [1])
        settings.depths = [1, 2]
        settings.width = 16
        let output = try DepthExperiment.run(directory: Self.temporaryDirectory(), settings: settings)
        #expect(try PNGImage(contentsOf: output.path("depth.png")).width == 1200)
        let rows = try Self.csvRows(output.path("depth.csv")).dropFirst()
        #expect(rows.map { $0[0] + $0[1] } == ["1no", "2no", "1yes", "2yes"])
        #expect(rows.map { $0[3] } == ["12730", "13002", "12762", "13066"])
        for row in rows {
            let test = try #require(Float(row[5]))
            #expect(test > 0.6 && test <= 1, "an MLP after 48 steps on 2,000 MNIST images: \(test)")
        }
    }

    @Test func representationsExperimentProbesEveryLayer() throws {
        var settings = RepresentationsExperiment.Settings(trainCount: 3000, epochs: 3, probeTrainCount: 1000)
        settings.hidden = [32, 32]
        settings.testCount = 500
        settings.scatterCount = 300
        settings.probeEpochs = 20
        let result = try RepresentationsExperiment.result(settings)
        #expect(result.layers.map(\.features) == [784, 32, 32])
        #expect(result.firstLayerWeights.count == 32 && result.firstLayerWeights.allSatisfy { $0.count == 784 })
        #expect(result.layers.allSatisfy { $0.projection.count == 300 && $0.probeTestAccuracy > 0.6 },
                "\(result.layers.map(\.probeTestAccuracy))")
        #expect(result.testLabels.count == 300)

        let output = try RepresentationsExperiment.run(directory: Self.temporaryDirectory(), settings: settings)
        for name in ["weights", "pca", "probe"] {
            #expect(FileManager.default.fileExists(atPath: output.path("\(name).png")), "\(name).png")
        }
        #expect(try PNGImage(contentsOf: output.path("pca.png")).width == 1200)
        #expect(try Self.csvRows(output.path("layers.csv")).count == 4)
    }

    @Test func optimizersExperimentTunesThenTrainsEachOptimizer() throws {
        var settings = OptimizersExperiment.Settings(tuningSteps: 5, steps: 20, evaluationInterval: 10, trainCount: 1000)
        settings.optimizers = [.sgd, .adam]
        settings.validationCount = 200
        settings.testCount = 200
        let runs = try OptimizersExperiment.runs(settings)
        #expect(runs.map(\.optimizer) == [.sgd, .adam])
        for run in runs {
            #expect(run.losses.count == 20 && run.evaluationSteps == [0, 10, 20])
            #expect(run.tuning.map(\.learningRate) == OptimizersExperiment.grids[run.optimizer])
            #expect(run.learningRate == run.tuning.min { $0.validationLoss < $1.validationLoss }?.learningRate)
            #expect(run.seconds > 0)
        }
        #expect(Set(OptimizerName.allCases).isSubset(of: OptimizersExperiment.grids.keys))

        let output = try OptimizersExperiment.run(directory: Self.temporaryDirectory(), settings: settings)
        #expect(try PNGImage(contentsOf: output.path("optimizers.png")).width == 1400)
        #expect(try Self.csvRows(output.path("optimizers.csv")).count == 3)
        #expect(try Self.csvRows(output.path("accuracy.csv")).count == 1 + 2 * 3)
    }
}
