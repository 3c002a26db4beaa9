import ArgumentParser
import Backprop
import Foundation

/// `backprop train --ensemble K`: the course's mixture of models. (A mixture of experts,
/// `--experts E`, trains through the same path as a single network.)
enum MixtureTraining {
    /// Trains K members, each through its own trainer (different seeds, optionally bootstrap
    /// samples) in parallel, with every training flag applied to each; then reports each
    /// member's and the combination's test accuracy and saves the ensemble as one model file.
    /// Member k's own run (model, checkpoint, metrics) is in `member-<k+1>/` of the run folder,
    /// which `--resume` continues.
    static func trainEnsemble(count: Int, bagging: Bool, member: MultilayerPerceptron, configuration: TrainingConfiguration,
                              train: any ExampleSource, validation: (any ExampleSource)?, test: any ExampleSource,
                              normalization: Normalization,
                              transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)?,
                              runDirectory: String, resume: Bool, reporter: ProgressReporter) throws {
        let architecture = try EnsembleArchitecture(member: member, count: count, bagging: bagging)
        let ensemble = architecture.build(seed: configuration.seed)
        reporter.line("ensemble of \(count) × \(member.sizes.map(String.init).joined(separator: "-")) \(member.activation.rawValue)\(bagging ? ", bagging" : ""), trained in parallel; members' runs in \(Ensemble.memberDirectory(runDirectory, index: 0).dropLast())N")
        let start = Date()
        let reports = try ensemble.train(on: train, validation: validation, configuration: configuration, bagging: bagging,
                                         parallel: true, normalization: normalization, transform: transform,
                                         members: architecture.members, runDirectory: runDirectory, resume: resume)
        let seconds = Date().timeIntervalSince(start)
        var memberErrors: [Float] = []
        for (report, model) in zip(reports, ensemble.members) {
            let result = Evaluation.measure(model, on: test, normalization: normalization)
            memberErrors.append(1 - result.accuracy)
            reporter.line(String(format: "member %d (seed %llu, %d distinct examples, %d steps): test accuracy %.2f%%",
                                 report.member + 1, report.seed, report.distinctExamples, report.steps, 100 * result.accuracy))
        }
        let combined = Evaluation.measure(ensemble, on: test, normalization: normalization)
        let average = memberErrors.reduce(0, +) / Float(max(memberErrors.count, 1))
        print(String(format: "trained %d members in %.1f s; average member test error %.2f%%, ensemble %.2f%%",
                     count, seconds, 100 * average, 100 * (1 - combined.accuracy)))
        print(String(format: "test accuracy: %.2f%%", 100 * combined.accuracy))
        let path = (runDirectory as NSString).appendingPathComponent("model.safetensors")
        try ensemble.save(to: path, architecture: architecture, metadata: [
            Checkpoint.Key.normalization: Checkpoint.json(normalization),
            Checkpoint.Key.configuration: Checkpoint.json(configuration),
        ])
        reporter.line("model: \(path)")
    }
}
