import ArgumentParser
import Backprop
import Foundation

/// `backprop train --ensemble K` and `--experts E`: the course's mixtures of models and of experts.
enum MixtureTraining {
    /// Trains K members independently (different seeds, optionally bootstrap samples) in parallel,
    /// then reports each member's and the combination's test accuracy and saves one model file.
    static func trainEnsemble(count: Int, bagging: Bool, member: MultilayerPerceptron, configuration: TrainingConfiguration,
                              train: any ExampleSource, validation: (any ExampleSource)?, test: any ExampleSource,
                              normalization: Normalization, runDirectory: String, reporter: ProgressReporter) throws {
        let architecture = try EnsembleArchitecture(member: member, count: count, bagging: bagging)
        let ensemble = architecture.build(seed: configuration.seed)
        let settings = EnsembleTrainingConfiguration(epochs: configuration.epochs, batchSize: configuration.batchSize,
                                                     optimizer: configuration.optimizer, seed: configuration.seed,
                                                     bagging: bagging, parallel: true, normalization: normalization)
        reporter.line("ensemble of \(count) × \(member.sizes.map(String.init).joined(separator: "-")) \(member.activation.rawValue)\(bagging ? ", bagging" : ""), trained in parallel")
        let start = Date()
        let reports = try ensemble.train(on: train, validation: validation, configuration: settings)
        let seconds = Date().timeIntervalSince(start)
        var memberErrors: [Float] = []
        for (report, model) in zip(reports, ensemble.members) {
            let result = Evaluation.measure(model, on: test, normalization: normalization)
            memberErrors.append(1 - result.accuracy)
            reporter.line(String(format: "member %d (seed %llu, %d distinct examples): test accuracy %.2f%%",
                                 report.member, report.seed, report.distinctExamples, 100 * result.accuracy))
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

    /// Trains a mixture of experts jointly (gate and experts by backprop) on the mixture
    /// likelihood −log Σₑ gₑ pₑ(t|x), with Shazeer's importance loss (and the load-balancing loss
    /// for top-k) keeping every expert in use.
    static func trainExperts(architecture: MixtureOfExpertsArchitecture, configuration: TrainingConfiguration,
                             train: any ExampleSource, validation: (any ExampleSource)?, test: any ExampleSource,
                             normalization: Normalization, runDirectory: String, reporter: ProgressReporter) throws {
        let model = architecture.build(seed: configuration.seed)
        let spec = try OptimizerSpecification(parsing: configuration.optimizer)
        let rule = try spec.name.makeRule(hyperParameters: spec.hyperParameters)
        let optimizer = Optimizer(groups: model.parameterGroups(gateLearningRateScale: 1), rule: rule, learningRate: spec.learningRate)
        let scheduler = LearningRateScheduler(try LearningRateSchedule(parsing: configuration.schedule),
                                              baseLearningRate: optimizer.learningRate)
        let loader = DataLoader(train, batchSize: configuration.batchSize, order: .shuffled(seed: configuration.seed),
                                normalization: normalization, seed: configuration.seed)
        reporter.line("mixture of \(architecture.expertCount) experts\(architecture.topK.map { ", top-\($0) routing" } ?? ""); \(model.parameterCount) parameters; \(rule)")
        let start = Date()
        var best: (accuracy: Float, epoch: Int)? = nil
        let path = (runDirectory as NSString).appendingPathComponent("model.safetensors")
        model.train()
        for epoch in 1...configuration.epochs {
            var lossSum = 0.0, seen = 0
            for batch in loader.batches(epoch: epoch - 1) {
                scheduler.apply(to: optimizer)
                let loss = model.trainingLoss(batch.features, labels: batch.labels)
                guard loss.value.scalar.isFinite else {
                    throw CommandFailure("training stopped: the loss became \(loss.value.scalar) in epoch \(epoch)")
                }
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
                lossSum += Double(loss.value.scalar) * Double(batch.labels.count)
                seen += batch.labels.count
            }
            var line = String(format: "epoch %3d  loss %.4f", epoch, lossSum / Double(max(seen, 1)))
            if let validation {
                let v = Evaluation.measure(model, on: validation, normalization: normalization)
                model.train()
                line += String(format: "  val %.2f%%", 100 * v.accuracy)
                if best.map({ v.accuracy > $0.accuracy }) ?? true {
                    best = (v.accuracy, epoch)
                    try model.save(to: path, architecture: architecture, metadata: [
                        Checkpoint.Key.normalization: Checkpoint.json(normalization),
                        Checkpoint.Key.configuration: Checkpoint.json(configuration),
                    ])
                }
            }
            reporter.line(line + String(format: "  %.1fs", Date().timeIntervalSince(start)))
        }
        var kept = model
        if best == nil {
            try model.save(to: path, architecture: architecture, metadata: [
                Checkpoint.Key.normalization: Checkpoint.json(normalization),
                Checkpoint.Key.configuration: Checkpoint.json(configuration),
            ])
        } else {
            kept = try MixtureOfExperts.load(from: path).model
        }
        let result = Evaluation.measure(kept, on: test, normalization: normalization)
        reporter.line("expert usage on the test set:\n\(kept.usage(on: test, normalization: normalization))")
        print(String(format: "trained %d epochs in %.1f s%@", configuration.epochs, Date().timeIntervalSince(start),
                     best.map { String(format: " (model of epoch %d, chosen on validation accuracy %.2f%%)", $0.epoch, 100 * $0.accuracy) } ?? ""))
        print(String(format: "test accuracy: %.2f%%", 100 * result.accuracy))
        reporter.line("model: \(path)")
    }
}
