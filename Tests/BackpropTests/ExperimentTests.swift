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
        let sgd = try MomentumExperiment.path(on: MomentumExperiment.ravine, optimizer: "sgd:lr=0.45", steps: 60)
        let momentum = try MomentumExperiment.path(on: MomentumExperiment.ravine, optimizer: "momentum:lr=0.05,momentum=0.9", steps: 60)
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
