import Foundation
import Testing
import Backprop

@Suite struct ExperimentTests {
    @Test func momentumExperimentWritesItsFiguresNumbersAndReport() throws {
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("bp-exp-\(UUID().uuidString)")
        let output = try MomentumExperiment.run(directory: directory)
        for name in ["ravine", "optimizers"] {
            let image = try PNGImage(contentsOf: output.path("\(name).png"), as: .rgba)
            #expect(image.width >= 1200 && image.height >= 500)
            #expect(FileManager.default.fileExists(atPath: output.path("\(name).svg")))
        }
        let report = try String(contentsOfFile: output.path("report.md"), encoding: .utf8)
        #expect(report.contains("![") && report.contains("ravine.png") && report.contains("paths.csv"))
        let csv = try String(contentsOfFile: output.path("paths.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 1 + 2 + 2 * 11)
    }

    /// Ruder's point: on the ravine, momentum with a tenth of the step size gets closer to the
    /// minimum in the same number of steps than plain gradient descent; SGD's y coordinate
    /// alternates in sign (the oscillation across the ravine).
    @Test func momentumBeatsPlainGradientDescentOnTheRavine() throws {
        let sgd = try MomentumExperiment.path(on: MomentumExperiment.ravine, optimizer: OptimizerSpecification(SGD(), learningRate: 0.45), steps: 60)
        let momentum = try MomentumExperiment.path(on: MomentumExperiment.ravine, optimizer: OptimizerSpecification(Momentum(momentum: 0.9), learningRate: 0.05), steps: 60)
        func distance(_ p: (Float, Float)) -> Float { (p.0 * p.0 + p.1 * p.1).squareRoot() }
        #expect(distance(try #require(momentum.last)) < distance(try #require(sgd.last)))
        let signs = sgd.prefix(6).map { $0.1 > 0 }
        #expect(signs == [true, false, true, false, true, false])
    }
}

extension ExperimentTests {
    /// Ruder's Fig. 1: the smaller the batch, the more the per-update loss fluctuates; and the
    /// experiment writes its figure, CSV and report.
    @Test func sgdFluctuationGrowsAsTheBatchShrinks() throws {
        let curves = try SGDFluctuationExperiment.curves(updates: 200)
        func spread(_ c: SGDFluctuationExperiment.Curve) -> Float {
            let tail = c.batchLoss.suffix(100)
            let mean = tail.reduce(0, +) / Float(tail.count)
            return (tail.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(tail.count)).squareRoot()
        }
        #expect(curves.map(\.batchSize) == [256, 32, 1])
        #expect(spread(curves[0]) * 10 < spread(curves[1]))
        #expect(spread(curves[1]) * 3 < spread(curves[2]))
        // Every variant still lowers the whole-set objective.
        for c in curves {
            let first = try #require(c.fullLoss.first), last = try #require(c.fullLoss.last)
            #expect(last < first)
        }

        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("bp-exp-\(UUID().uuidString)")
        let output = try SGDFluctuationExperiment.run(directory: directory)
        #expect(try PNGImage(contentsOf: output.path("fluctuation.png")).width == 1200)
        #expect(FileManager.default.fileExists(atPath: output.path("fluctuation.csv")))
        #expect(FileManager.default.fileExists(atPath: output.path("report.md")))
    }
}

extension ExperimentTests {
    /// Each non-linearity separates two moons well with one hidden layer, and the experiment
    /// writes its function plot, decision regions, CSV and report.
    @Test func nonlinearitiesExperimentTrainsEachNetworkAndDrawsItsRegions() throws {
        let results = try NonlinearitiesExperiment.train(epochs: 400)
        #expect(results.map(\.activation) == [.sigmoid, .tanh, .relu])
        for r in results { #expect(r.test > 0.9, "\(r.activation): test \(r.test)") }
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("bp-exp-\(UUID().uuidString)")
        let output = try NonlinearitiesExperiment.run(directory: directory)
        #expect(try PNGImage(contentsOf: output.path("regions.png")).width == 1500)
        #expect(try PNGImage(contentsOf: output.path("functions.png")).width == 1000)
        let csv = try String(contentsOfFile: output.path("accuracy.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 4)
    }
}

/// A fresh temporary folder for an experiment's output.
private func scratchDirectory() -> String {
    (NSTemporaryDirectory() as NSString).appendingPathComponent("bp-exp-\(UUID().uuidString)")
}

/// The data lines of a CSV file (without its header), split into cells.
private func csvRows(_ path: String) throws -> [[String]] {
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    return lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
}

extension ExperimentTests {
    /// The slides' error is summed over the N examples with λ/2·Σ‖W‖² added; Backprop's loss is
    /// a mean. Dividing the slides' objective by N gives mean CE + (λ/N)/2·Σ‖W‖², so the
    /// gradients of the summed objective divided by N must equal those of the experiment's
    /// objective with λ' = perExampleLambda(λ). The summed objective here is built from
    /// autodiff's own square and sum, not from weightDecayPenalty.
    @Test func slidesLambdaMapsToThePerExampleLambdaByDividingByN() throws {
        let data = SyntheticData.twoMoons(count: 8, noise: 0.3, seed: 5)
        let lambda: Float = 40
        func gradients(_ objective: (Sequential) -> Variable) throws -> [Float] {
            let model = try MultilayerPerceptronArchitecture(sizes: [2, 3, 2], activation: .tanh).build(seed: 9)
            objective(model).backward()
            return model.parameters.flatMap { $0.grad?.scalars ?? [] }
        }
        let slides = try gradients { model in
            var penalty = Variable(Tensor(scalar: 0))
            for w in model.parameters where w.decays { penalty = penalty + w.squared().sum() }
            let summed = softmaxCrossEntropy(logits: model(Variable(data.features)), labels: data.labels, reduction: .sum) + penalty * (lambda / 2)
            return summed * (1 / Float(data.count))
        }
        let perExample = WeightDecayExperiment.perExampleLambda(lambda, examples: data.count)
        #expect(perExample == 5)
        let ours = try gradients { model in
            softmaxCrossEntropy(logits: model(Variable(data.features)), labels: data.labels)
                + weightDecayPenalty(model.parameters, lambda: perExample)
        }
        #expect(slides.count == ours.count && slides.count == 2 * 3 + 3 + 3 * 2 + 2)
        for (a, b) in zip(slides, ours) { #expect(abs(a - b) <= 1e-5 * max(1, abs(a)), "\(a) vs \(b)") }
    }

    /// Larger λ gives smaller weights and, past the over-fitting regime, a higher training
    /// error; and the experiment writes its regions, sweep, CSV and report.
    @Test func weightDecayShrinksWeightsAndRaisesTrainingError() throws {
        let problem = WeightDecayExperiment.Problem(trainCount: 100, testCount: 200)
        let results = try WeightDecayExperiment.slideLambdas.map { try WeightDecayExperiment.train(problem, lambda: $0, steps: 800) }
        #expect(results[0].weightSquares > results[1].weightSquares && results[1].weightSquares > results[2].weightSquares)
        #expect(results[2].trainError > results[0].trainError + 0.05, "\(results.map(\.trainError))")
        // At λ = 4000 the network is over-smoothed but not the all-zero one that predicts one class.
        #expect(results[2].trainError < 0.4)

        let output = try WeightDecayExperiment.run(directory: scratchDirectory(), steps: 300, dataSets: 1)
        #expect(try PNGImage(contentsOf: output.path("regions.png")).width == 1500)
        #expect(try PNGImage(contentsOf: output.path("sweep.png")).width == 1300)
        let rows = try csvRows(output.path("sweep.csv"))
        #expect(rows.map { $0[0] } == WeightDecayExperiment.sweepLambdas.map { String(format: "%g", $0) })
        for row in rows {
            #expect(row.count == 5)
            let lambda = try #require(Float(row[0])), perExample = try #require(Float(row[1]))
            #expect(abs(perExample - lambda / 200) <= 1e-6 * max(1, lambda))
            for cell in row[2...3] { #expect((0...1).contains(try #require(Float(cell)))) }
        }
        let report = try String(contentsOfFile: output.path("report.md"), encoding: .utf8)
        #expect(report.contains("regions.png") && report.contains("sweep.csv") && report.contains("λ/N"))
    }

    /// The small MNIST sample has the same number of each digit, comes from the training set,
    /// and sizes that cannot be met are refused with the field named.
    @Test func smallMNISTIsClassBalancedAndRejectsImpossibleSizes() throws {
        let data = try SmallMNIST(trainCount: 300, testCount: 50)
        #expect(data.train.count == 300 && data.test.count == 50)
        var counts = [Int](repeating: 0, count: 10)
        for label in data.train.allLabels { counts[Int(label)] += 1 }
        #expect(counts == [Int](repeating: 30, count: 10))
        #expect(Set(data.train.indices).count == 300)
        #expect(throws: DataError.self) { try SmallMNIST(trainCount: 5) }
        #expect(throws: DataError.self) { try SmallMNIST(trainCount: 100, testCount: 20_000) }
        do {
            _ = try SmallMNIST(trainCount: 60_000)
            Issue.record("60,000 balanced images cannot exist (digit 5 has 5,421)")
        } catch {
            #expect("\(error)".contains("sample size"))
        }
    }

    /// On a few hundred images the plain network fits its training set at least as well as the
    /// noisy ones (noise and dropout are on while training error is counted); the experiment
    /// writes its figure, summary and per-epoch CSV.
    @Test func noiseExperimentTrainsThreeVariantsAndWritesItsCurves() throws {
        let data = try SmallMNIST(trainCount: 200, testCount: 300)
        let runs = try NoiseExperiment.curves(data: data, hidden: [64], epochs: 12)
        #expect(runs.map(\.label) == NoiseExperiment.variants.map(\.label))
        for r in runs {
            #expect(r.testError.count == 12 && r.trainError.count == 12)
            #expect(r.testError.allSatisfy { (0...1).contains($0) })
            #expect(r.finalTestError < 0.5, "\(r.label): \(r.finalTestError)")
        }
        let plain = try #require(runs[0].trainError.last)
        for r in runs.dropFirst() { #expect(plain <= (r.trainError.last ?? 0), "\(r.label)") }

        let output = try NoiseExperiment.run(directory: scratchDirectory(), trainCount: 100, epochs: 2, testCount: 100, hidden: [32])
        #expect(try PNGImage(contentsOf: output.path("noise.png")).width == 1300)
        #expect(try csvRows(output.path("noise.csv")).count == 3)
        let curves = try csvRows(output.path("curves.csv"))
        #expect(curves.map { $0[0] } == ["1", "2"] && curves.allSatisfy { $0.count == 1 + 2 * 3 })
    }

    /// The grid shows each chosen training image unchanged followed by copies that differ from
    /// it; the experiment writes the grid, the curves and the summary.
    @Test func augmentationExperimentShowsAugmentedCopiesAndWritesItsFiles() throws {
        let data = try SmallMNIST(trainCount: 100, testCount: 100)
        let images = try AugmentationExperiment.examples(data: data, digits: 3, copies: 4)
        #expect(images.count == 3 * 5 && images.allSatisfy { $0.count == 784 })
        for row in 0..<3 {
            let original = images[row * 5]
            #expect(data.train.label(try #require((0..<data.train.count).first { data.train.batch([$0]).features.scalars == original })) == Int32(row))
            for copy in images[(row * 5 + 1)..<(row * 5 + 5)] {
                #expect(copy != original)
                #expect(copy.allSatisfy { $0.isFinite && $0 >= -1e-5 && $0 <= 1 + 1e-5 })
            }
        }
        let output = try AugmentationExperiment.run(directory: scratchDirectory(), trainCount: 100, epochs: 2, testCount: 100, hidden: [32])
        #expect(try PNGImage(contentsOf: output.path("digits.png")).width == 800)
        #expect(try PNGImage(contentsOf: output.path("augmentation.png")).width == 1300)
        let rows = try csvRows(output.path("augmentation.csv"))
        #expect(rows.map { $0[0] } == ["without augmentation", "with augmentation"])
    }

    /// Tiny mixtures: the ensemble's parameters are its members' (counted by hand), the single
    /// network "of the mixture's size" has the width that matches the mixture's parameter count,
    /// and the files are written.
    @Test func mixturesExperimentComparesEnsembleAndExpertsWithSingleNets() throws {
        var s = MixturesExperiment.Settings()
        s.trainCount = 200; s.testCount = 200; s.epochs = 2
        s.members = 3; s.memberHidden = 16; s.experts = 2; s.expertHidden = 8
        let outcome = try MixturesExperiment.measure(s)
        let member = 784 * 16 + 16 + 16 * 10 + 10
        #expect(outcome.ensemble.map(\.parameters) == [member, member, member, 3 * member])
        // Mixture: 2 experts of 784·8+8+8·10+10 = 6370, a linear gate of 784·2+2 = 1570.
        #expect(outcome.experts[0].parameters == 2 * 6370 + 1570)
        // (14310 − 10) / (784 + 1 + 10) = 17.99 → width 17: 784·17+17+17·10+10 = 13525.
        #expect(outcome.experts[2].parameters == 13525 && outcome.experts[1].parameters == 6370)
        #expect(outcome.mixtureCurves.count == 3 && outcome.mixtureCurves.allSatisfy { $0.testError.count == 2 })
        for row in outcome.ensemble + outcome.experts { #expect((0...1).contains(row.testError)) }

        let output = try MixturesExperiment.run(directory: scratchDirectory(), settings: s)
        #expect(try PNGImage(contentsOf: output.path("mixtures.png")).width == 1400)
        #expect(try csvRows(output.path("ensemble.csv")).count == 3 + 1 + 1)
        #expect(try csvRows(output.path("experts.csv")).allSatisfy { $0.count == 4 })
    }

    /// The index lists every folder with a report.md (the given order first, then the rest
    /// alphabetically), rebases the reports' relative links onto their folders, and renders
    /// figures, tables and escaped text as HTML.
    @Test func indexShowsEveryExperimentFolderWithRebasedLinks() throws {
        let root = scratchDirectory()
        for (folder, title) in [("zeta", "Zeta <study>"), ("alpha", "Alpha"), ("mid", "Middle")] {
            let output = try ExperimentOutput(directory: (root as NSString).appendingPathComponent(folder), title: title)
            var figure = Figure(width: 200, height: 100)
            var panel = Panel()
            panel.add(.line(y: [1, 2, 3]))
            figure.add(panel)
            try output.add(figure, name: "plot", caption: "A caption & a [link](other.csv).")
            try output.add(table: [["1", "0.5"]], header: ["x", "y"], name: "numbers", caption: "Numbers")
            try output.writeReport()
        }
        try FileManager.default.createDirectory(atPath: (root as NSString).appendingPathComponent("no-report"), withIntermediateDirectories: true)
        let entries = try ExperimentIndex.write(root: root, order: ["mid", "zeta"])
        #expect(entries.map(\.folder) == ["mid", "zeta", "alpha"])
        #expect(entries.map(\.title) == ["Middle", "Zeta <study>", "Alpha"])
        let markdown = try String(contentsOfFile: (root as NSString).appendingPathComponent("report.md"), encoding: .utf8)
        #expect(markdown.contains("](zeta/plot.png)") && markdown.contains("[link](alpha/other.csv)") && markdown.contains("(mid/numbers.csv)"))
        #expect(!markdown.contains("](plot.png)"))
        let html = try String(contentsOfFile: (root as NSString).appendingPathComponent("index.html"), encoding: .utf8)
        #expect(html.contains("<img src=\"mid/plot.png\""))
        #expect(html.contains("<h2>Zeta &lt;study&gt;</h2>"))
        #expect(html.contains("A caption &amp; a <a href=\"zeta/other.csv\">link</a>."))
        #expect(html.contains("<tr><th>x</th><th>y</th></tr>") && html.contains("<tr><td>1</td><td>0.5</td></tr>"))
        #expect(!html.contains("---"))

        let empty = scratchDirectory()
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(throws: ExperimentIndex.IndexError.self) { try ExperimentIndex.write(root: empty) }
        #expect(throws: ExperimentIndex.IndexError.self) { try ExperimentIndex.write(root: empty + "/missing") }
    }
}
