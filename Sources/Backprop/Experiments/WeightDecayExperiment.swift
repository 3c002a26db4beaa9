import Foundation

/// The course's weight-decay slide: the same 1-hidden-layer network trained on a small, noisy
/// 2-D two-class set with regularization λ = 0, 40 and 4000 — over-fitting at 0, a smooth
/// boundary at 40, over-smoothing at 4000 — and a sweep of train and test error against λ.
///
/// Convention. The slides' error is summed over the N training examples,
/// E(W) = Σₙ CEₙ + λ/2 · Σ‖W‖² (weight matrices only, not biases). Backprop's losses are
/// means over the batch, and ``weightDecayPenalty(_:lambda:includeAll:)`` and the trainer's
/// `--weight-decay` add λ'/2 · Σ‖W‖² (gradient λ'·W) to that mean. Dividing E by N gives
/// the same minimizer, so λ' = λ / N: ``perExampleLambda(_:examples:)``.
public enum WeightDecayExperiment {
    /// The slides' three settings.
    public static let slideLambdas: [Float] = [0, 40, 4000]
    /// The sweep (it includes the slides' settings).
    public static let sweepLambdas: [Float] = [0, 1, 4, 10, 40, 100, 400, 1000, 2000, 4000]
    /// A λ past the collapse: every weight goes to zero (reported, not plotted).
    public static let collapseLambda: Float = 10_000

    /// λ' in the per-example (mean-loss) convention for a sum-of-squares λ and N examples.
    public static func perExampleLambda(_ lambda: Float, examples: Int) -> Float { lambda / Float(examples) }

    /// The problem: two moons with heavy noise, so a flexible net can fit the noise, in
    /// coordinates scaled by ``scale``.
    ///
    /// Why scaled: a penalty on the weights is not scale-free. The weights that fit data given in
    /// larger units are smaller, so the same λ costs less; and past a critical λ (proportional to
    /// N times the data's scale) the all-zero network becomes the minimizer and predicts a single
    /// class. On the unit-scale moons that happens once λ' is about 0.5–1 (λ ≈ 100–200 for N = 200);
    /// with the coordinates ×100 (the data span about ±150) the slides' 0, 40 and 4000 land on
    /// over-fitting, a good fit and over-smoothing, and the collapse comes near λ = 10⁴.
    public struct Problem: Sendable {
        /// The factor the coordinates are multiplied by (100).
        public static let scale: Float = 100
        /// The training points (200 by default).
        public var train: LabeledData
        /// The test points (2,000 by default), from another seed.
        public var test: LabeledData
        /// Draws the noisy two moons and scales their coordinates.
        ///
        /// - Parameters:
        ///   - trainCount: training points.
        ///   - testCount: test points.
        ///   - noise: the standard deviation of the Gaussian noise on the unit-scale moons.
        ///   - scale: the factor the coordinates are multiplied by.
        ///   - seed: the training points' seed; the test points use `seed + 1000`.
        public init(trainCount: Int = 200, testCount: Int = 2000, noise: Float = 0.35, scale: Float = Problem.scale, seed: UInt64 = 1) {
            train = SyntheticData.twoMoons(count: trainCount, noise: noise, seed: seed)
            test = SyntheticData.twoMoons(count: testCount, noise: noise, seed: seed &+ 1000)
            train.features = train.features * scale
            test.features = test.features * scale
        }
    }

    /// One trained network.
    public struct Result {
        /// λ in the slides' summed convention (E = Σₙ CEₙ + λ/2 · Σ‖W‖²).
        public var lambda: Float
        /// The trained network.
        public var model: Sequential
        /// The error on the training points.
        public var trainError: Float
        /// The error on the test points.
        public var testError: Float
        /// Σ‖W‖² over the weight matrices at the end of training.
        public var weightSquares: Float
    }

    /// Trains a 2-`hidden`-2 tanh network by full-batch Adam (cosine-annealed η from 0.02, so
    /// every λ ends near its minimizer) on mean cross-entropy plus λ'/2·Σ‖W‖², λ' = λ/N.
    public static func train(_ problem: Problem, lambda: Float, hidden: Int = 50, steps: Int = 3000,
                             seed: UInt64 = 1) throws -> Result {
        let model = try MultilayerPerceptronArchitecture(sizes: [2, hidden, 2], activation: .tanh).build(seed: seed)
        let optimizer = try Optimizer.make(named: "adam", parameters: model.namedParameters(), learningRate: 0.02)
        let decay = perExampleLambda(lambda, examples: problem.train.count)
        let inputs = Variable(problem.train.features)
        for t in 0..<steps {
            optimizer.learningRate = 0.02 * 0.5 * (1 + Float(cos(Double.pi * Double(t) / Double(steps))))
            optimizer.zeroGrad()
            let loss = softmaxCrossEntropy(logits: model(inputs), labels: problem.train.labels)
                + weightDecayPenalty(model.parameters, lambda: decay)
            loss.backward()
            optimizer.step()
        }
        let squares = model.parameters.filter(\.decays).reduce(Float(0)) { sum, w in
            sum + w.value.scalars.reduce(0) { $0 + $1 * $1 }
        }
        return Result(lambda: lambda, model: model,
                      trainError: 1 - Evaluation.measure(model, on: problem.train).accuracy,
                      testError: 1 - Evaluation.measure(model, on: problem.test).accuracy,
                      weightSquares: squares)
    }

    /// Runs the experiment into `directory`: `full` averages more data sets and trains longer;
    /// `steps` and `dataSets` override that (the tests run it small).
    public static func run(directory: String, full: Bool = false, steps: Int? = nil, dataSets: Int? = nil) throws -> ExperimentOutput {
        let output = try ExperimentOutput(directory: directory, title: "Weight decay regularization")
        let steps = steps ?? (full ? 6000 : 3000)
        let seeds = (1...max(1, dataSets ?? (full ? 10 : 3))).map(UInt64.init)
        let problems = seeds.map { Problem(seed: $0) }
        let n = problems[0].train.count
        let scale = Double(Problem.scale)

        // The sweep; the first data set's networks at the slides' λ are drawn.
        var runs: [[Result]] = []
        for lambda in sweepLambdas {
            runs.append(try problems.enumerated().map { i, p in try train(p, lambda: lambda, steps: steps, seed: seeds[i]) })
        }
        var regions = Figure(width: 1500, height: 540, grid: (rows: 1, columns: 3),
                             title: "Train/test error of a 2-50-2 tanh net on \(n) noisy two-moons points")
        for lambda in slideLambdas {
            guard let r = runs[sweepLambdas.firstIndex(of: lambda) ?? 0].first else { continue }
            let title = String(format: "λ = %g: train %.0f%%, test %.1f%%", lambda, 100 * r.trainError, 100 * r.testError)
            regions.add(Panel.decisionRegions(of: r.model, points: problems[0].train, title: title,
                                              x: -1.8 * scale...2.8 * scale, y: -1.4 * scale...1.9 * scale))
        }
        try output.add(regions, name: "regions", caption: "Decision regions of one data set's networks (its \(n) training points drawn). At λ = 0 the boundary bends around individual noisy points (over-fitting: training error far below test error); at λ = 40 it follows the two moons; at λ = 4000 the weights are so small that the network is nearly linear (over-smoothing: training and test error both high). λ is in the slides' convention E = Σₙ CEₙ + λ/2·Σ‖W‖²; the code adds λ' = λ/N = λ/\(n) to the mean loss. Test error on \(problems[0].test.count) fresh points.")

        func mean(_ values: [Float]) -> Float { values.reduce(0, +) / Float(values.count) }
        let positive = sweepLambdas.indices.filter { sweepLambdas[$0] > 0 }
        var sweep = Panel(title: "error vs λ (mean of \(seeds.count) data sets)", xLabel: "λ (sum-of-squares convention, log scale)",
                          yLabel: "error (%)", xScale: .log, legend: .topLeft)
        let trainMeans = runs.map { mean($0.map(\.trainError)) }, testMeans = runs.map { mean($0.map(\.testError)) }
        sweep.add(.line(x: positive.map { sweepLambdas[$0] }, y: positive.map { 100 * trainMeans[$0] }, label: "train", marker: .circle))
        sweep.add(.line(x: positive.map { sweepLambdas[$0] }, y: positive.map { 100 * testMeans[$0] }, label: "test", marker: .square))
        sweep.add(.horizontalLine(y: Double(100 * trainMeans[0]), label: "train, λ = 0", color: Color.categorical[0]))
        sweep.add(.horizontalLine(y: Double(100 * testMeans[0]), label: "test, λ = 0", color: Color.categorical[1]))
        var norms = Panel(title: "size of the weights", xLabel: "λ (log scale)", yLabel: "sum of squared weights", xScale: .log, yScale: .log, legend: .none)
        norms.add(.line(x: positive.map { sweepLambdas[$0] }, y: positive.map { mean(runs[$0].map(\.weightSquares)) }, marker: .circle))
        var chart = Figure(width: 1300, height: 500, grid: (rows: 1, columns: 2), title: "Weight decay sweep")
        chart.add(sweep)
        chart.add(norms)
        try output.add(chart, name: "sweep", caption: "Training and test error against λ, each the mean over \(seeds.count) independently drawn training sets of \(n) points (test: \(problems[0].test.count) points each); dashed lines: λ = 0. Training error rises with λ; test error falls while λ removes over-fitting and rises again once it over-smooths. Right: the weights shrink as λ grows.")

        let rows = sweepLambdas.indices.map { i -> [String] in
            [String(format: "%g", sweepLambdas[i]), String(format: "%g", perExampleLambda(sweepLambdas[i], examples: n)),
             String(format: "%.4f", trainMeans[i]), String(format: "%.4f", testMeans[i]),
             String(format: "%.4g", mean(runs[i].map(\.weightSquares)))]
        }
        try output.add(table: rows, header: ["lambda (sum convention)", "lambda per example (= lambda/N)", "train error", "test error", "sum of squared weights"],
                       name: "sweep", caption: "Mean over \(seeds.count) data sets of N = \(n) training points; \(steps) full-batch Adam steps each.")
        let collapse = try train(problems[0], lambda: collapseLambda, steps: steps, seed: seeds[0])
        output.add(text: String(format: "Past the plotted range the penalty wins outright: at λ = %g (λ' = %g) training ends with Σ‖W‖² = %.2g and a training error of %.0f%%, the all-zero network that predicts one class. The critical λ grows with N and with the scale of the inputs (here two moons with noise 0.35, coordinates ×%g).",
                               collapseLambda, perExampleLambda(collapseLambda, examples: n), collapse.weightSquares, 100 * collapse.trainError, scale))
        try output.writeReport()
        return output
    }
}
