import Foundation

/// The course's "types of non-linearities": sigmoid, tanh and ReLU with their derivatives, and
/// the same 1-hidden-layer network trained on two moons with each, its decision regions drawn
/// side by side with train and test accuracy.
public enum NonlinearitiesExperiment {
    /// The hidden non-linearities compared.
    public static let functions: [Activation] = [.sigmoid, .tanh, .relu]

    /// Train and test accuracy of a 2-H-2 network with each non-linearity, and the trained models.
    public static func train(hidden: Int = 16, epochs: Int, seed: UInt64 = 1) throws -> [(activation: Activation, model: Sequential, train: Float, test: Float)] {
        let trainSet = SyntheticData.twoMoons(count: 300, noise: 0.2, seed: seed)
        let testSet = SyntheticData.twoMoons(count: 1000, noise: 0.2, seed: seed &+ 1)
        var results: [(activation: Activation, model: Sequential, train: Float, test: Float)] = []
        for f in functions {
            let model = try MultilayerPerceptronArchitecture(sizes: [2, hidden, 2], activation: f).build(seed: seed)
            let optimizer = try Optimizer.make(named: "adam", parameters: model.namedParameters(), learningRate: 0.01)
            for _ in 0..<epochs {
                optimizer.zeroGrad()
                softmaxCrossEntropy(logits: model(Variable(trainSet.features)), labels: trainSet.labels).backward()
                optimizer.step()
            }
            let train = Evaluation.measure(model, on: trainSet).accuracy
            let test = Evaluation.measure(model, on: testSet).accuracy
            results.append((f, model, train, test))
        }
        return results
    }

    /// Draws sigmoid, tanh and ReLU with their derivatives, trains the same 2-16-2 network on
    /// two moons with each (full-batch Adam), and writes the curves, the decision regions and
    /// `report.md` into `directory`.
    ///
    /// - Parameters:
    ///   - directory: the output folder, created if needed.
    ///   - full: 3,000 training steps instead of 800.
    /// - Returns: the written output.
    /// - Throws: when a file cannot be written.
    public static func run(directory: String, full: Bool = false) throws -> ExperimentOutput {
        let output = try ExperimentOutput(directory: directory, title: "Types of non-linearities")
        let xs = stride(from: -5.0, through: 5.0, by: 0.05).map { Float($0) }
        var curves = Figure(width: 1000, height: 450, grid: (rows: 1, columns: 2), title: "Hidden non-linearities")
        var values = Panel(title: "f(a)", xLabel: "a", yLabel: "f(a)")
        var slopes = Panel(title: "f′(a)", xLabel: "a", yLabel: "f′(a)")
        for f in functions {
            values.add(.line(x: xs, y: xs.map { f($0) }, label: f.rawValue))
            slopes.add(.line(x: xs, y: xs.map { f.derivative($0) }, label: f.rawValue))
        }
        curves.add(values)
        curves.add(slopes)
        try output.add(curves, name: "functions", caption: "Sigmoid saturates at 0 and 1 with a largest slope of 1/4; tanh is a rescaled sigmoid centred at 0 with slope 1 there; ReLU does not saturate for a > 0 and has slope 0 or 1.")

        let results = try train(epochs: full ? 3000 : 800)
        let data = SyntheticData.twoMoons(count: 300, noise: 0.2, seed: 1)
        var regions = Figure(width: 1500, height: 520, grid: (rows: 1, columns: 3), title: "The same 2-16-2 network on two moons")
        var rows: [[String]] = []
        for r in results {
            let title = String(format: "%@: train %.1f%%, test %.1f%%", r.activation.rawValue, 100 * r.train, 100 * r.test)
            let panel = Panel.decisionRegions(of: r.model, points: data, title: title, x: -1.5...2.5, y: -1...1.5)
            regions.add(panel)
            rows.append([r.activation.rawValue, "\(r.train)", "\(r.test)"])
        }
        try output.add(regions, name: "regions", caption: "Decision regions after the same number of full-batch Adam steps (η = 0.01) from the same initialization seed; the title gives train and held-out test accuracy (1,000 fresh points).")
        try output.add(table: rows, header: ["non-linearity", "train accuracy", "test accuracy"], name: "accuracy",
                       caption: "Accuracy per hidden non-linearity.")
        try output.writeReport()
        return output
    }
}
