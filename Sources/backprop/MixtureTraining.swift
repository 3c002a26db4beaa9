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
    static func trainEnsemble(count: Int, bagging: Bool, member: MultilayerPerceptronArchitecture, configuration: TrainingConfiguration,
                              train: any ExampleSource, validation: (any ExampleSource)?, test: any ExampleSource,
                              normalization: Normalization,
                              transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)?, task: TrainingTask,
                              runDirectory: String, resume: Bool, reporter: ProgressReporter) throws {
        // Class probabilities are averaged; regression values (and a two-class model's one
        // logit) are averaged as outputs.
        let combination: Ensemble.Combination = task.loss == .crossEntropy ? .averageProbabilities : .averageOutputs
        let architecture = try EnsembleArchitecture(member: member, count: count, combination: combination, bagging: bagging)
        let objective = task.objective()
        let ensemble = architecture.build(seed: configuration.seed)
        reporter.line("ensemble of \(count) × \(member.sizes.map(String.init).joined(separator: "-")) \(member.activation.rawValue)\(bagging ? ", bagging" : ""), trained in parallel; members' runs in \(Ensemble.memberDirectory(runDirectory, index: 0).dropLast())N")
        let start = Date()
        let reports = try ensemble.train(on: train, validation: validation, configuration: configuration, bagging: bagging,
                                         parallel: true, normalization: normalization, transform: transform, objective: objective,
                                         members: architecture.members, runDirectory: runDirectory, resume: resume)
        let seconds = Date().timeIntervalSince(start)
        var memberErrors: [Float] = []
        for (report, model) in zip(reports, ensemble.members) {
            let result = objective.measure(model, on: test, normalization: normalization)
            memberErrors.append(task.isRegression ? result.loss : 1 - result.accuracy)
            reporter.line(String(format: "member %d (seed %llu, %d distinct examples, %d steps): ", report.member + 1, report.seed,
                                 report.distinctExamples, report.steps)
                          + EvaluationReport.summary(result, task: task, set: "test").joined(separator: "; "))
        }
        let combined = objective.measure(ensemble, on: test, normalization: normalization)
        let average = memberErrors.reduce(0, +) / Float(max(memberErrors.count, 1))
        if task.isRegression {
            print(String(format: "trained %d members in %.1f s; average member test MSE %.4g, ensemble %.4g",
                         count, seconds, average, combined.loss))
        } else {
            print(String(format: "trained %d members in %.1f s; average member test error %.2f%%, ensemble %.2f%%",
                         count, seconds, 100 * average, 100 * (1 - combined.accuracy)))
        }
        for line in EvaluationReport.summary(combined, task: task, set: "test") { print(line) }
        let path = (runDirectory as NSString).appendingPathComponent("model.safetensors")
        try ensemble.save(to: path, architecture: architecture, metadata: [
            Checkpoint.Key.normalization: Checkpoint.json(normalization),
            Checkpoint.Key.configuration: Checkpoint.json(configuration),
        ].merging(task == .classification ? [:] : [TrainingTask.metadataKey: Checkpoint.json(task)]) { a, _ in a })
        reporter.line("model: \(path)")
    }
}
