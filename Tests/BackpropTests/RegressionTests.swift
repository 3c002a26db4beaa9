import Foundation
import Testing
import Backprop

/// Regression and two-class training end to end: against answers computed in float64 outside
/// the library (least squares, logistic-regression maximum likelihood), metrics worked by hand,
/// and the command line's train → eval → predict → info.
@Suite struct RegressionTests {
    /// x ~ N(0, 1)³, t = x·w + b + noise, for a linear problem with a known optimum.
    static func linearProblem(count: Int, seed: UInt64) -> (data: RegressionData, x: [[Double]], t: [Double]) {
        var g = RandomGenerator(seed: seed)
        var x: [[Double]] = [], t: [Double] = []
        for _ in 0..<count {
            let row = (0..<3).map { _ in Double(g.nextNormal()) }
            x.append(row)
            t.append(1.5 * row[0] - 2 * row[1] + 0.5 * row[2] + 3 + 0.3 * Double(g.nextNormal()))
        }
        let data = RegressionData(features: Tensor(shape: [count, 3], scalars: x.flatMap { $0.map(Float.init) }),
                                  targets: Tensor(shape: [count, 1], scalars: t.map(Float.init)))
        return (data, x, t)
    }

    /// Solves the 4×4 normal equations (XᵀX)β = Xᵀt with a column of ones, in float64 by
    /// Gaussian elimination with partial pivoting: β = (w₁, w₂, w₃, b).
    static func leastSquares(_ x: [[Double]], _ t: [Double]) -> [Double] {
        let rows = x.map { $0 + [1] }
        let n = 4
        var a = (0..<n).map { i in (0..<n).map { j in rows.reduce(0) { $0 + $1[i] * $1[j] } } + [zip(rows, t).reduce(0) { $0 + $1.0[i] * $1.1 }] }
        for c in 0..<n {
            let p = (c..<n).max { abs(a[$0][c]) < abs(a[$1][c]) } ?? c
            a.swapAt(c, p)
            for r in 0..<n where r != c {
                let f = a[r][c] / a[c][c]
                for k in c...n { a[r][k] -= f * a[c][k] }
            }
        }
        return (0..<n).map { a[$0][n] / a[$0][$0] }
    }

    @Test func linearNetworkOnMeanSquaredErrorReachesTheLeastSquaresSolution() throws {
        let (data, x, t) = Self.linearProblem(count: 400, seed: 21)
        let beta = Self.leastSquares(x, t)
        var c = TrainingConfiguration()
        c.epochs = 600
        c.batchSize = 400
        c.optimizer = OptimizerSpecification(Adam(), learningRate: 0.05)
        c.seed = 2
        let trainer = try Trainer(model: .network(MultilayerPerceptronArchitecture(sizes: [3, 1])), objective: SquaredErrorObjective(),
                                  configuration: c, train: data, validation: nil, test: nil, runDirectory: nil,
                                  reporter: ProgressReporter(quiet: true))
        _ = try trainer.fit()
        let named = Dictionary(uniqueKeysWithValues: trainer.model.namedParameters().map { ($0.name, $0.parameter.value.scalars) })
        let w = try #require(named["0.weight"]), b = try #require(named["0.bias"])
        for k in 0..<3 { #expect(abs(Double(w[k]) - beta[k]) < 2e-3, "w\(k) \(w[k]) vs least squares \(beta[k])") }
        #expect(abs(Double(b[0]) - beta[3]) < 2e-3, "b \(b[0]) vs \(beta[3])")
        // The fit's metrics agree with the same numbers computed here.
        let evaluation = SquaredErrorObjective().measure(trainer.model, on: data, normalization: .none)
        let residuals = zip(x, t).map { row, target in target - (zip(row, w).reduce(Double(b[0])) { $0 + $1.0 * Double($1.1) }) }
        let mse = residuals.reduce(0) { $0 + $1 * $1 } / Double(t.count)
        let mean = t.reduce(0, +) / Double(t.count)
        let r2 = 1 - residuals.reduce(0) { $0 + $1 * $1 } / t.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let r = try #require(evaluation.regression)
        #expect(abs(Double(r.meanSquaredError) - mse) < 1e-4 * mse && abs(Double(r.rSquared) - r2) < 1e-5)
        #expect(abs(Double(evaluation.loss) - mse) < 1e-4 * mse)
    }

    /// Standardized targets train the same regression: predictions mapped back through the
    /// scaling match the least-squares fit in the data's units.
    @Test func standardizedTargetsPredictInTheDataUnits() throws {
        let (data, x, t) = Self.linearProblem(count: 400, seed: 22)
        let scaled = RegressionData(features: data.features, targets: data.targets * 100 + 7)   // other units
        let beta = Self.leastSquares(x, t.map { $0 * 100 + 7 })
        let scaling = TargetScaling.measuring(scaled)
        #expect(abs(scaling.mean[0] - Float(t.reduce(0, +) / 400 * 100 + 7)) < 1e-2)
        var c = TrainingConfiguration()
        c.epochs = 600
        c.batchSize = 400
        c.optimizer = OptimizerSpecification(Adam(), learningRate: 0.05)
        let objective = SquaredErrorObjective(targetScaling: scaling)
        let trainer = try Trainer(model: .network(MultilayerPerceptronArchitecture(sizes: [3, 1])), objective: objective, configuration: c,
                                  train: scaled, validation: nil, test: nil, runDirectory: nil, reporter: ProgressReporter(quiet: true))
        _ = try trainer.fit()
        let probe = Tensor(shape: [1, 3], scalars: [0.5, -1, 2])
        let predicted = objective.task.predictions(trainer.model(probe)).scalars[0]
        let expected = 0.5 * beta[0] - beta[1] + 2 * beta[2] + beta[3]
        #expect(abs(Double(predicted) - expected) < 1e-3 * abs(expected), "\(predicted) vs \(expected)")
    }

    /// Logistic regression by Newton's method in float64: the maximum-likelihood (w, b) of
    /// P(1 | x) = σ(w x + b).
    static func logisticMLE(_ x: [Double], _ y: [Double]) -> (w: Double, b: Double) {
        var w = 0.0, b = 0.0
        for _ in 0..<50 {
            var gw = 0.0, gb = 0.0, hww = 0.0, hwb = 0.0, hbb = 0.0
            for (xi, yi) in zip(x, y) {
                let p = 1 / (1 + exp(-(w * xi + b)))
                gw += (p - yi) * xi; gb += p - yi
                let s = p * (1 - p)
                hww += s * xi * xi; hwb += s * xi; hbb += s
            }
            let det = hww * hbb - hwb * hwb
            w -= (hbb * gw - hwb * gb) / det
            b -= (hww * gb - hwb * gw) / det
        }
        return (w, b)
    }

    @Test func oneSigmoidOutputOnBinaryCrossEntropyReachesTheLogisticMaximumLikelihood() throws {
        var g = RandomGenerator(seed: 31)
        let n = 2000
        let x = (0..<n).map { _ in Double(g.nextNormal()) }
        let y = x.map { xi -> Double in Double(g.nextUniform()) < 1 / (1 + exp(-(2 * xi - 1))) ? 1 : 0 }
        let data = LabeledData(features: Tensor(shape: [n, 1], scalars: x.map(Float.init)), labels: y.map { Int32($0) }, classCount: 2)
        let mle = Self.logisticMLE(x, y)
        #expect(abs(mle.w - 2) < 0.3 && abs(mle.b + 1) < 0.2, "the sample's MLE \(mle) is near the truth (2, −1)")
        var c = TrainingConfiguration()
        c.epochs = 800
        c.batchSize = n
        c.optimizer = OptimizerSpecification(Adam(), learningRate: 0.05)
        let trainer = try Trainer(model: .network(MultilayerPerceptronArchitecture(sizes: [1, 1])), objective: BinaryCrossEntropyObjective(),
                                  configuration: c, train: data, validation: nil, test: nil, runDirectory: nil,
                                  reporter: ProgressReporter(quiet: true))
        _ = try trainer.fit()
        let p = trainer.model.namedParameters().map(\.parameter.value.scalars)
        #expect(abs(Double(p[0][0]) - mle.w) < 2e-3 && abs(Double(p[1][0]) - mle.b) < 2e-3, "\(p) vs \(mle)")
        // Accuracy is the share of examples on the right side of x = −b/w.
        let evaluation = BinaryCrossEntropyObjective().measure(trainer.model, on: data, normalization: .none)
        let right = zip(x, y).filter { (Double(p[0][0]) * $0 + Double(p[1][0]) > 0) == ($1 == 1) }.count
        #expect(evaluation.confusion.total == n && abs(evaluation.accuracy - Float(right) / Float(n)) < 1e-6)
    }

    @Test func rocAUCAndPrecisionRecallWorkedByHand() {
        // Scores 0.1 (neg), 0.4 (pos), 0.35 (neg), 0.8 (pos), 0.4 (neg): of the 2 × 3 pairs a
        // positive outranks a negative in 0.4>0.1, 0.4>0.35, 0.4=0.4 (½), 0.8 > all three: 5.5/6.
        let auc = BinaryMetrics.areaUnderROC(scores: [0.1, 0.4, 0.35, 0.8, 0.4], truths: [false, true, false, true, false])
        #expect(abs(auc - 5.5 / 6) < 1e-6)
        #expect(BinaryMetrics.areaUnderROC(scores: [1, 2], truths: [true, true]).isNaN)
        var confusion = ConfusionMatrix(classCount: 2)
        for (truth, prediction) in [(1, 1), (1, 1), (1, 0), (0, 1), (0, 0), (0, 0)] { confusion.record(truth: truth, prediction: prediction) }
        let m = BinaryMetrics(confusion: confusion, scores: [], truths: [])
        #expect(m.precision == 2 / 3 && m.recall == 2 / 3 && abs(m.f1 - 2 / 3) < 1e-6)
    }

    @Test func regressionMetricsWorkedByHand() {
        // Targets 1, 2, 3 (mean 2, Σ(t − t̄)² = 2); predictions 1.5, 2, 2: errors 0.5, 0, −1.
        var a = RegressionMetrics.Accumulator(targets: 1)
        a.add(predictions: Tensor(shape: [3, 1], scalars: [1.5, 2, 2]), targets: Tensor(shape: [3, 1], scalars: [1, 2, 3]))
        let m = a.metrics
        #expect(abs(m.meanSquaredError - 1.25 / 3) < 1e-6 && abs(m.meanAbsoluteError - 0.5) < 1e-6)
        #expect(abs(m.rSquared - (1 - 1.25 / 2)) < 1e-6)
        var constant = RegressionMetrics.Accumulator(targets: 1)
        constant.add(predictions: Tensor(shape: [2, 1], scalars: [1, 1]), targets: Tensor(shape: [2, 1], scalars: [4, 4]))
        #expect(constant.metrics.rSquared.isNaN)
    }

    @Test func targetScalingRoundTrips() {
        let scaling = TargetScaling(mean: [10, -1], standardDeviation: [2, 0.5])
        let t = Tensor(shape: [2, 2], scalars: [12, -1, 8, 0])
        #expect(scaling.standardized(t).scalars == [1, 0, -1, 2])
        #expect(scaling.restored(scaling.standardized(t)) == t)
    }

    @Test func regressionCSVReadsTargetsByCountOrNameAndRefusesBadRequests() throws {
        let text = Array("a,b,y,z\n1,2,3,4\n5,6,7,8\n".utf8)
        let table = try CSV.parse(text, path: "t.csv")
        let (last, names) = try CSV.regression(table, path: "t.csv", targets: .last(2))
        #expect(last.features.scalars == [1, 2, 5, 6] && last.targets.scalars == [3, 4, 7, 8] && names == ["y", "z"])
        let (named, _) = try CSV.regression(table, path: "t.csv", targets: .named(["z", "a"]))
        #expect(named.features.scalars == [2, 3, 6, 7] && named.targets.scalars == [4, 1, 8, 5])
        for bad in [CSV.TargetColumns.last(4), .last(0), .named(["w"]), .named(["y", "y"]), .named(["a", "b", "y", "z"])] {
            #expect(throws: DataError.self, "\(bad)") { try CSV.regression(table, path: "t.csv", targets: bad) }
        }
        let bare = try CSV.parse(Array("1,2,3\n4,5,6\n".utf8), path: "u.csv")
        #expect(throws: DataError.self) { try CSV.regression(bare, path: "u.csv", targets: .named(["y"])) }
    }

    @Test func trainerRefusesAnObjectiveThatDoesNotFitTheData() throws {
        let (data, _, _) = Self.linearProblem(count: 20, seed: 1)
        let moons = SyntheticData.twoMoons(count: 20, seed: 1)
        let spirals = SyntheticData.spirals(count: 30, classes: 3, seed: 1)
        #expect(throws: TrainingError.self) {   // class labels only
            try Trainer(model: .network(MultilayerPerceptronArchitecture(sizes: [2, 1])), objective: SquaredErrorObjective(), configuration: TrainingConfiguration(),
                        train: moons, validation: nil, test: nil, runDirectory: nil)
        }
        #expect(throws: TrainingError.self) {   // targets, but a classification loss
            try Trainer(model: .network(MultilayerPerceptronArchitecture(sizes: [3, 1])), configuration: TrainingConfiguration(),
                        train: data, validation: nil, test: nil, runDirectory: nil)
        }
        #expect(throws: TrainingError.self) {   // bce needs two classes
            try Trainer(model: .network(MultilayerPerceptronArchitecture(sizes: [2, 1])), objective: BinaryCrossEntropyObjective(),
                        configuration: TrainingConfiguration(), train: spirals, validation: nil, test: nil, runDirectory: nil)
        }
    }
}

extension RegressionTests {
    /// The issue's command: a CSV regression trains, `eval` prints MSE/MAE/R² on its test split,
    /// `predict` prints values in the data's units, `info` names the task.
    @Test func commandLineRegressionOnACSVFile() throws {
        let (_, x, t) = Self.linearProblem(count: 600, seed: 41)
        var csv = "a,b,c,y\n"
        for (row, target) in zip(x, t) { csv += row.map { String($0) }.joined(separator: ",") + ",\(target * 10 + 50)\n" }
        let path = CommandLineTests.temporaryDirectory() + ".csv"
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        let out = CommandLineTests.temporaryDirectory()
        let train = try CommandLineTests.run(["train", "--dataset", "csv:\(path)", "--loss", "mse", "--targets", "1", "--layers", "3,64,1",
                                              "--epochs", "40", "--lr", "0.003", "--out", out, "--quiet"])
        #expect(train.status == 0, "\(train.error)")
        #expect(train.output.contains("test MSE") && train.output.contains("R²"), "\(train.output)")
        let model = (out as NSString).appendingPathComponent("model.safetensors")
        let eval = try CommandLineTests.run(["eval", model])
        #expect(eval.status == 0, "\(eval.error)")
        let line = try #require(eval.output.split(separator: "\n").first { $0.hasPrefix("test MSE") })
        let r2 = try #require(line.split(separator: " ").last.flatMap { Float($0) })
        #expect(r2 > 0.95, "\(line)")   // noise σ 0.3 against a signal of σ ≈ 2.5: at best 0.986
        #expect(eval.output.contains("MAE"))
        let info = try CommandLineTests.run(["info", model])
        #expect(info.output.contains("task: regression of 1 target(s) y"), "\(info.output)")
        #expect(info.output.contains("validation MSE") && !info.output.contains("nan"), "\(info.output)")
        // predict, in the data's units: the first row's target is known.
        let rows = csv.split(separator: "\n").prefix(3).joined(separator: "\n") + "\n"
        let input = CommandLineTests.temporaryDirectory() + ".csv"
        try rows.write(toFile: input, atomically: true, encoding: .utf8)
        let predict = try CommandLineTests.run(["predict", model, input])
        #expect(predict.status == 0, "\(predict.error)")
        let first = try #require(predict.output.split(separator: "\n").first)
        let value = try #require(first.split(separator: " ").dropFirst(2).first.flatMap { Double($0) })
        #expect(abs(value - (t[0] * 10 + 50)) < 10, "\(first) vs target \(t[0] * 10 + 50)")
    }

    @Test func commandLineTwoClassesWithOneSigmoidOutput() throws {
        let out = CommandLineTests.temporaryDirectory()
        let train = try CommandLineTests.run(["train", "--dataset", "moons", "--loss", "bce", "--layers", "2,16,1", "--epochs", "30",
                                              "--lr", "0.01", "--out", out, "--quiet"])
        #expect(train.status == 0, "\(train.error)")
        #expect(train.output.contains("ROC AUC"), "\(train.output)")
        let eval = try CommandLineTests.run(["eval", (out as NSString).appendingPathComponent("model.safetensors")])
        #expect(eval.status == 0 && eval.output.contains("precision") && eval.output.contains("ROC AUC"), "\(eval.output)\(eval.error)")
        let wrongWidth = try CommandLineTests.run(["train", "--dataset", "moons", "--loss", "bce", "--layers", "2,16,2", "--epochs", "1",
                                                   "--out", CommandLineTests.temporaryDirectory()])
        #expect(wrongWidth.status != 0 && wrongWidth.error.contains("outputs"), "\(wrongWidth.error)")
        let threeClasses = try CommandLineTests.run(["train", "--dataset", "spirals", "--loss", "bce", "--epochs", "1",
                                                     "--out", CommandLineTests.temporaryDirectory()])
        #expect(threeClasses.status != 0 && threeClasses.error.contains("two classes"), "\(threeClasses.error)")
        let regressionOnLabels = try CommandLineTests.run(["train", "--dataset", "moons", "--loss", "mse", "--epochs", "1",
                                                           "--out", CommandLineTests.temporaryDirectory()])
        #expect(regressionOnLabels.status != 0 && regressionOnLabels.error.contains("class labels"), "\(regressionOnLabels.error)")
    }

    /// The README's CSV example, as it is written there.
    @Test func readmeRegressionExampleFitsBothTargets() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = root.appendingPathComponent("docs/data/regression.csv").path
        let out = CommandLineTests.temporaryDirectory()
        let train = try CommandLineTests.run(["train", "--dataset", "csv:\(file)", "--targets", "y,z", "--layers", "3,64,64,2",
                                              "--epochs", "100", "--lr", "0.003", "--out", out, "--quiet"])
        #expect(train.status == 0, "\(train.error)")
        let line = try #require(train.output.split(separator: "\n").first { $0.hasPrefix("R² per target") }, "\(train.output)")
        let values = line.split(separator: " ").compactMap { Float($0.trimmingCharacters(in: CharacterSet(charactersIn: ","))) }
        #expect(values.count == 2 && values[0] > 0.98 && values[1] > 0.9, "\(line)")
        let predict = try CommandLineTests.run(["predict", (out as NSString).appendingPathComponent("model.safetensors"), file, "--limit", "2"])
        #expect(predict.status == 0 && predict.output.contains("[y, z]") && predict.output.contains("on 600 examples with targets"),
                "\(predict.output)\(predict.error)")
    }

    /// What a review found: each is refused with a message, or answers right, not a trap or a
    /// silent wrong number.
    @Test func mismatchesAreRefusedAndNamedTargetsPredictRight() throws {
        func run(_ arguments: [String]) throws -> CommandLineTests.Run { try CommandLineTests.run(arguments) }
        // An ensemble whose members do not fit the data: refused before training, as for one network.
        for (data, layers) in [("moons", "2,8,3"), ("moons", "3,8,2"), ("sine", "1,8,2")] {
            let r = try run(["train", "--dataset", data, "--ensemble", "2", "--layers", layers, "--epochs", "1",
                             "--out", CommandLineTests.temporaryDirectory()])
            #expect(r.status != 0 && (r.error.contains("outputs") || r.error.contains("input size")), "\(data) \(layers): \(r.error)")
        }
        // sse sums over the batch; shards combine means: refused rather than trained at 1/shards.
        let sse = try run(["train", "--dataset", "sine", "--loss", "sse", "--micro-batches", "2", "--epochs", "1",
                           "--out", CommandLineTests.temporaryDirectory()])
        #expect(sse.status != 0 && sse.error.contains("sse"), "\(sse.error)")
        // A mixture of experts on regression data: one line, not an invalid layer list.
        let experts = try run(["train", "--dataset", "sine", "--experts", "2", "--epochs", "1", "--out", CommandLineTests.temporaryDirectory()])
        #expect(experts.status != 0 && experts.error.contains("--experts"), "\(experts.error)")
        // A one-output two-class model evaluated on three classes.
        let bce = CommandLineTests.temporaryDirectory()
        #expect(try run(["train", "--dataset", "moons", "--loss", "bce", "--layers", "2,8,1", "--epochs", "2", "--out", bce, "--quiet"]).status == 0)
        let wrong = try run(["eval", (bce as NSString).appendingPathComponent("model.safetensors"), "--dataset", "spirals"])
        #expect(wrong.status != 0 && wrong.error.contains("two classes"), "\(wrong.error)")
        // Resuming a regression with another loss continues a different objective: refused.
        let sine = CommandLineTests.temporaryDirectory()
        #expect(try run(["train", "--dataset", "sine", "--epochs", "2", "--out", sine, "--quiet"]).status == 0)
        let other = try run(["train", "--dataset", "sine", "--loss", "sse", "--epochs", "3", "--out", sine, "--resume"])
        #expect(other.status != 0 && other.error.contains("task"), "\(other.error)")
        // The target first in the file, named: predict splits the columns as train and eval did.
        let (_, x, t) = Self.linearProblem(count: 300, seed: 51)
        var csv = "y,a,b,c\n"
        for (row, target) in zip(x, t) { csv += "\(target)," + row.map { String($0) }.joined(separator: ",") + "\n" }
        let path = CommandLineTests.temporaryDirectory() + ".csv"
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        let out = CommandLineTests.temporaryDirectory()
        let train = try run(["train", "--dataset", "csv:\(path)", "--targets", "y", "--layers", "3,1", "--epochs", "150", "--lr", "0.02",
                             "--out", out, "--quiet"])
        #expect(train.status == 0, "\(train.error)")
        let predict = try run(["predict", (out as NSString).appendingPathComponent("model.safetensors"), path])
        let line = try #require(predict.output.split(separator: "\n").last { $0.hasPrefix("on 300 examples") }, "\(predict.output)\(predict.error)")
        let r2 = try #require(line.split(separator: " ").last.flatMap { Float($0) })
        #expect(r2 > 0.95, "\(line)")
    }

    /// An ensemble member's files record the data's seed, so `eval` of a member rebuilds the test
    /// split the run used (the member's own seed orders its data only).
    @Test func ensembleMemberFilesKeepTheDataSeed() throws {
        let out = CommandLineTests.temporaryDirectory()
        let train = try CommandLineTests.run(["train", "--dataset", "csv:\(Self.repositoryFile("docs/data/regression.csv"))", "--targets", "y,z",
                                              "--ensemble", "2", "--layers", "3,16,2", "--epochs", "3", "--seed", "9", "--out", out, "--quiet"])
        #expect(train.status == 0, "\(train.error)")
        let member = try Safetensors(contentsOf: (out as NSString).appendingPathComponent("member-1/model.safetensors"))
        let configuration = try Checkpoint.decode(TrainingConfiguration.self, member, key: Checkpoint.Key.configuration, path: "member")
        #expect(configuration.dataSeed == 9 && configuration.seed != 9)
    }

    static func repositoryFile(_ relative: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(relative).path
    }

    @Test func sineRegressionLearnsTheCurve() throws {
        let out = CommandLineTests.temporaryDirectory()
        let train = try CommandLineTests.run(["train", "--dataset", "sine", "--layers", "1,32,32,1", "--activation", "tanh",
                                              "--epochs", "60", "--lr", "0.01", "--out", out, "--quiet"])
        #expect(train.status == 0, "\(train.error)")
        let line = try #require(train.output.split(separator: "\n").first { $0.hasPrefix("test MSE") })
        let mse = try #require(line.split(separator: " ").dropFirst(2).first.flatMap { Float($0) })
        #expect(mse < 0.02, "\(line): the noise variance is 0.01")
    }
}
