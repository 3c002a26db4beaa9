import Foundation

/// Ruder's Figure 1, "SGD fluctuation": the loss each update sees, for batch gradient descent
/// (the whole training set per step), mini-batch and stochastic gradient descent (one example
/// per step) training the same network from the same initialization with the same learning rate.
/// The full-batch objective decreases smoothly; the stochastic one jumps from example to example.
public enum SGDFluctuationExperiment {
    /// One variant's per-update losses: of its own batch, and of the whole training set.
    public struct Curve: Sendable {
        /// The legend entry, e.g. "mini-batch GD (B = 32)".
        public var label: String
        /// Examples per update (the whole training set for batch gradient descent).
        public var batchSize: Int
        /// The loss of each update's own batch, what the optimizer sees.
        public var batchLoss: [Float]
        /// The loss on the whole training set after each update.
        public var fullLoss: [Float]
    }

    /// Trains a 2-16-2 tanh network on two moons with plain SGD for `updates` steps per batch size.
    public static func curves(updates: Int, batchSizes: [Int] = [0, 32, 1], seed: UInt64 = 1) throws -> [Curve] {
        let data = SyntheticData.twoMoons(count: 256, noise: 0.15, seed: seed)
        let architecture = try MultilayerPerceptronArchitecture(sizes: [2, 16, 2], activation: .tanh)
        var curves: [Curve] = []
        for requested in batchSizes {
            let batchSize = requested == 0 ? data.count : requested
            let model = architecture.build(seed: seed)
            let optimizer = try Optimizer.make(named: "sgd", parameters: model.namedParameters(), learningRate: 0.1)
            var order = RandomGenerator(seed: seed, stream: 99)
            var permutation = order.permutation(data.count)
            var cursor = 0
            var batchLoss: [Float] = [], fullLoss: [Float] = []
            for _ in 0..<updates {
                if cursor + batchSize > data.count { permutation = order.permutation(data.count); cursor = 0 }
                let indices = permutation[cursor..<(cursor + batchSize)]
                cursor += batchSize
                let (features, labels) = data.batch(indices)
                optimizer.zeroGrad()
                let loss = softmaxCrossEntropy(logits: model(Variable(features)), labels: labels)
                loss.backward()
                optimizer.step()
                batchLoss.append(loss.value.scalar)
                let full = withoutGradient { softmaxCrossEntropy(logits: model(Variable(data.features)), labels: data.labels) }
                fullLoss.append(full.value.scalar)
            }
            let label = batchSize == data.count ? "batch GD (B = \(batchSize))" : batchSize == 1 ? "stochastic GD (B = 1)" : "mini-batch GD (B = \(batchSize))"
            curves.append(Curve(label: label, batchSize: batchSize, batchLoss: batchLoss, fullLoss: fullLoss))
        }
        return curves
    }

    /// Trains batch, mini-batch and stochastic gradient descent and writes the figure, the CSV
    /// and `report.md` into `directory`.
    ///
    /// - Parameters:
    ///   - directory: the output folder, created if needed.
    ///   - full: 2,000 updates per variant instead of 400.
    /// - Returns: the written output.
    /// - Throws: when a file cannot be written.
    public static func run(directory: String, full: Bool = false) throws -> ExperimentOutput {
        let output = try ExperimentOutput(directory: directory, title: "SGD fluctuation (Ruder, Fig. 1)")
        let updates = full ? 2000 : 400
        let result = try curves(updates: updates)
        var figure = Figure(width: 1200, height: 500, grid: (rows: 1, columns: 2), title: "Loss per update: batch, mini-batch and stochastic gradient descent")
        var seen = Panel(title: "loss of the update's own batch", xLabel: "update", yLabel: "cross-entropy", yScale: .log)
        var whole = Panel(title: "loss on the whole training set", xLabel: "update", yLabel: "cross-entropy", yScale: .log)
        for curve in result.reversed() {
            seen.add(.line(y: curve.batchLoss, label: curve.label, width: 1))
            whole.add(.line(y: curve.fullLoss, label: curve.label, width: 1.5))
        }
        figure.add(seen)
        figure.add(whole)
        try output.add(figure, name: "fluctuation", caption: "A 2-16-2 tanh network on two moons, SGD with η = 0.1 from one initialization, \(updates) updates each. The loss a stochastic update sees fluctuates by orders of magnitude from example to example (left), while the whole-set objective still falls (right); full-batch descent is smooth but takes the same number of much more expensive steps.")
        var rows: [[String]] = []
        for curve in result {
            let tail = curve.batchLoss.suffix(100)
            let mean = tail.reduce(0, +) / Float(tail.count)
            let spread = (tail.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(tail.count)).squareRoot()
            rows.append([curve.label, "\(curve.batchSize)", "\(curve.fullLoss.last ?? .nan)", "\(spread)"])
        }
        try output.add(table: rows, header: ["variant", "batch size", "final whole-set loss", "std of the last 100 update losses"],
                       name: "fluctuation", caption: "Final whole-set loss and how much the per-update loss fluctuates at the end.")
        try output.writeReport()
        return output
    }
}
