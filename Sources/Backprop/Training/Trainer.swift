import Foundation

/// Why training stopped with an error.
public enum TrainingError: Error, CustomStringConvertible {
    /// The configuration cannot train this model on this data (the message says why).
    case invalidConfiguration(String)
    /// The loss became NaN or infinite; the last good checkpoint (if any) is left intact.
    case nonFiniteLoss(epoch: Int, step: Int, loss: Float, lastCheckpoint: String?)
    /// A checkpoint could not be read or written.
    case checkpoint(CheckpointError)
    /// A run file (metrics, model) could not be written.
    case write(WriteError)
    /// A collective operation of data-parallel training failed (a rank died, the network failed).
    case distributed(CollectiveError)

    /// A one-line message: what went wrong and, for a non-finite loss, the epoch, the step and
    /// what to try.
    public var description: String {
        switch self {
        case let .invalidConfiguration(reason): return "invalid training configuration: \(reason)"
        case let .nonFiniteLoss(epoch, step, loss, last):
            return "training stopped: the loss became \(loss) at epoch \(epoch), step \(step) (try a smaller learning rate or gradient clipping)"
                + (last.map { "; the last good checkpoint is \($0)" } ?? "")
        case let .checkpoint(e): return e.description
        case let .write(e): return e.description
        case let .distributed(e): return e.description
        }
    }
}

/// The outcome of ``Trainer/fit()``.
public struct TrainingSummary: Sendable {
    /// One record per evaluation.
    public var history: [MetricsRecord]
    /// The epoch whose weights were kept (best validation accuracy), if there was validation.
    public var bestEpoch: Int?
    /// The validation accuracy of the kept epoch, if there was validation.
    public var bestValidationAccuracy: Float?
    /// The kept model's validation loss (regression selects on it).
    public var bestValidationLoss: Float? = nil
    /// The kept model on the test set, if one was given.
    public var test: Evaluation?
    /// Wall-clock seconds spent in training steps and evaluations (this session).
    public var seconds: Double
    /// Optimizer steps taken over the whole run (resumed ones included).
    public var steps: Int
    /// Whether early stopping (or a callback) ended training before the last epoch.
    public var stoppedEarly: Bool
}

/// Trains a model on an objective: mini-batch steps with an optimizer, a learning-rate
/// schedule, optional clipping and gradient noise; evaluation on validation and test sets;
/// model selection and early stopping (``EarlyStopping``) on validation only (accuracy, or the
/// loss for regression; never the test set); the best model and a full training checkpoint
/// written atomically to a run folder;
/// `resume(from:)` continuing a run bit-identically to one that never stopped.
///
/// Every kind of model trains through this one loop and its one ``step(_:epoch:)``: a network, a
/// mixture of experts (``TrainableModel``), each member of an ensemble
/// (``Ensemble/train(on:validation:configuration:)``), a rank or replica of data-parallel
/// training (``parallel``), and the experiments. The objective (``TrainingObjective``) says what
/// a batch's loss is; the rest of a step is the same for all.
public final class Trainer {
    /// The model being trained (a ``Sequential`` for a network; see ``network``).
    public let model: any Module
    /// What the model is, for its files and for checking a checkpoint on resume (nil for a
    /// module given as is, which trains without a run folder).
    public let modelDescription: TrainableModel?
    /// What each step minimizes.
    public let objective: any TrainingObjective
    /// The settings this trainer was made with.
    public let configuration: TrainingConfiguration
    /// The optimizer that updates the model's parameters.
    public let optimizer: Optimizer
    /// The learning-rate schedule and its state, applied before every step.
    public private(set) var scheduler: LearningRateScheduler
    /// Clipping and gradient noise, in the configuration's order, with the noise's state.
    public private(set) var gradientTransformations: GradientTransformationChain
    /// The chain's gradient noise, if it adds any.
    public var gradientNoise: GradientNoise? { gradientTransformations.noise }
    /// The loader that cuts every epoch of the training set into mini-batches.
    public let loader: DataLoader
    /// The validation set model selection and early stopping use, if any.
    public let validation: (any ExampleSource)?
    /// The test set, evaluated and reported but never used to choose.
    public let test: (any ExampleSource)?
    /// The input normalization applied to every batch and evaluation (its statistics come from
    /// the training set).
    public let normalization: Normalization
    /// The run folder the model, the checkpoint and the metrics are written to, or nil to keep
    /// everything in memory.
    public let runDirectory: String?
    /// Prints progress during ``fit()``.
    public let reporter: ProgressReporter
    /// Called at every step and evaluation, in order.
    public var callbacks: [any TrainingCallback] = []
    /// Data-parallel training: this process's part of every mini-batch, gradients combined over
    /// the group (nil: one process, the whole batch).
    public let parallel: DataParallel?
    /// Chooses per step between the thread pool and the calling thread by timing both (see
    /// ``AdaptiveThreading``); nil uses the current backend for every step. Set at init when the
    /// backend has several threads and training is not data-parallel; results are the same
    /// either way.
    public var threading: AdaptiveThreading?

    /// The model as a network, when it is one.
    public var network: Sequential? { model as? Sequential }
    /// The network's description, when the model is a network.
    public var architecture: MultilayerPerceptronArchitecture? {
        if case .network(let network) = modelDescription { return network }
        return nil
    }

    /// The state that a checkpoint carries besides tensors.
    struct State: Codable {
        var epochsCompleted = 0
        var step = 0
        var bestValidationAccuracy: Float?
        /// Regression selects the lowest validation loss (absent in classification checkpoints).
        var bestValidationLoss: Float?
        var bestEpoch: Int?
        var evaluationsWithoutImprovement = 0
        var history: [MetricsRecord] = []
        var scheduler: LearningRateScheduler
        var gradientNoise: GradientNoise?
    }

    private var state: State
    private var log: MetricsLog?
    /// Without a run folder: the tensors of the best model so far, restored at the end of fit().
    private var bestInMemory: Safetensors?

    /// Path of the best model (PyTorch-compatible tensors + description) in the run folder.
    public var modelPath: String? { runDirectory.map { ($0 as NSString).appendingPathComponent("model.safetensors") } }
    /// Path of the latest full training checkpoint in the run folder.
    public var checkpointPath: String? { runDirectory.map { ($0 as NSString).appendingPathComponent("checkpoint.safetensors") } }

    /// A trainer for a network on softmax cross-entropy, its weights drawn from the
    /// configuration's seed.
    public convenience init(architecture: MultilayerPerceptronArchitecture, configuration: TrainingConfiguration,
                            train: any ExampleSource, validation: (any ExampleSource)?, test: (any ExampleSource)?,
                            normalization: Normalization = .none,
                            transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)? = nil,
                            runDirectory: String?, reporter: ProgressReporter = ProgressReporter(),
                            parallel: DataParallel? = nil) throws(TrainingError) {
        try self.init(model: .network(architecture), configuration: configuration, train: train, validation: validation,
                      test: test, normalization: normalization, transform: transform, runDirectory: runDirectory,
                      reporter: reporter, parallel: parallel)
    }

    /// A trainer for the described model (built from the configuration's seed) on `objective`
    /// (nil: the model's ``TrainableModel/defaultObjective``).
    public convenience init(model description: TrainableModel, objective: (any TrainingObjective)? = nil,
                            configuration: TrainingConfiguration,
                            train: any ExampleSource, validation: (any ExampleSource)?, test: (any ExampleSource)?,
                            normalization: Normalization = .none,
                            transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)? = nil,
                            runDirectory: String?, reporter: ProgressReporter = ProgressReporter(),
                            parallel: DataParallel? = nil, prefetches: Bool? = nil) throws(TrainingError) {
        try self.init(module: description.build(seed: configuration.seed), description: description,
                      objective: objective ?? description.defaultObjective, configuration: configuration,
                      train: train, validation: validation, test: test, normalization: normalization, transform: transform,
                      runDirectory: runDirectory, reporter: reporter, parallel: parallel, prefetches: prefetches)
    }

    /// A trainer for a module as it is (its current weights), e.g. an ensemble's member.
    ///
    /// - Parameters:
    ///   - module: the model to train, in place.
    ///   - description: what the module is; needed for a run folder (model files describe
    ///     their model) and for ``resume(from:)``.
    ///   - objective: what each step minimizes; it must accept the module.
    ///   - configuration: epochs, batch size, optimizer, schedule and the other settings.
    ///   - train: the training examples.
    ///   - validation: the examples model selection and early stopping use, or nil.
    ///   - test: examples evaluated and reported at the end (never used to choose), or nil.
    ///   - normalization: applied to every batch and evaluation (fit it on `train`).
    ///   - transform: applied to every training batch after normalization (augmentation).
    ///   - runDirectory: the run folder for the model, checkpoint and metrics; nil keeps
    ///     everything in memory.
    ///   - reporter: prints progress.
    ///   - parallel: data-parallel training over a collective, or nil for one process.
    ///   - prefetches: prepare batches on a background thread (nil: when that pays, see
    ///     ``prefetchPays(threads:cores:transforms:replicasInThreads:)``).
    /// - Throws: ``TrainingError/invalidConfiguration(_:)`` for a configuration that cannot
    ///   run, data that does not fit the module, or an objective that cannot train it.
    public init(module: any Module, description: TrainableModel?, objective: any TrainingObjective,
                configuration: TrainingConfiguration,
                train: any ExampleSource, validation: (any ExampleSource)?, test: (any ExampleSource)?,
                normalization: Normalization = .none,
                transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)? = nil,
                runDirectory: String?, reporter: ProgressReporter = ProgressReporter(),
                parallel: DataParallel? = nil, prefetches: Bool? = nil) throws(TrainingError) {
        let c = configuration
        guard c.epochs >= 1 else { throw .invalidConfiguration("epochs must be at least 1, got \(c.epochs)") }
        guard c.batchSize >= 1 else { throw .invalidConfiguration("batch size must be at least 1, got \(c.batchSize)") }
        if let steps = c.maximumSteps, steps < 1 { throw .invalidConfiguration("the step limit must be at least 1, got \(steps)") }
        guard train.count > 0 else { throw .invalidConfiguration("the training set is empty") }
        if objective.task.isRegression && train.targetCount == 0 {
            throw .invalidConfiguration("\(objective.task.loss.rawValue) regresses real-valued targets; the data has class labels only")
        }
        if !objective.task.isRegression && train.targetCount > 0 {
            throw .invalidConfiguration("the data has real-valued targets; train on them with a regression loss (mse or sse)")
        }
        if objective.task.loss == .binaryCrossEntropy && train.classCount != 2 {
            throw .invalidConfiguration("bce trains two classes with one sigmoid output; the data has \(train.classCount) classes")
        }
        guard objective.accepts(module) else {
            throw .invalidConfiguration("\(type(of: objective)) cannot train a \(type(of: module))")
        }
        if let description {
            guard train.featureCount == description.inputSize else {
                throw .invalidConfiguration("the data has \(train.featureCount) features but the model's input size is \(description.inputSize)")
            }
            let needed = objective.task.outputCount(for: train)
            guard needed == description.outputSize else {
                let what = objective.task.isRegression ? "\(train.targetCount) targets"
                    : objective.task.loss == .binaryCrossEntropy ? "2 classes for one sigmoid output" : "\(train.classCount) classes"
                throw .invalidConfiguration("the data has \(what) but the model has \(description.outputSize) outputs")
            }
        } else {
            try Self.checkOutputs(of: module, on: train, task: objective.task)
        }
        if parallel != nil && objective.task.loss == .sumSquaredError {
            // Shards' gradients are averaged weighted by their examples, which is right for a
            // mean over the batch only: a summed loss would train on 1/shards of its gradient.
            throw .invalidConfiguration("sse sums over the batch; data-parallel shards (replicas, ranks, micro-batches) combine mean losses: use mse")
        }
        if runDirectory != nil && description == nil {
            throw .invalidConfiguration("a run folder needs the model's description (its files describe their model)")
        }
        if parallel != nil && !(module is Sequential) {
            throw .invalidConfiguration("data-parallel training (replicas, ranks, micro-batches) trains one network, not a \(type(of: module))")
        }
        if description?.usesBatchNorm ?? Self.containsBatchNorm(module) {
            try Self.checkBatchNormBatches(count: train.count, batchSize: c.batchSize, dropLast: c.dropLast)
        }
        self.modelDescription = description
        self.objective = objective
        self.configuration = c
        self.model = module
        // The run's pieces, each built once from its typed setting and checked before step 1:
        // the optimizer (rule, η, weight decay on the decaying parameters), the schedule over
        // its η, and the chain of gradient transformations.
        do {
            try c.optimizer.validate()
            self.optimizer = try c.optimizer.makeOptimizer(module.namedParameters(), weightDecay: c.weightDecay)
        } catch {
            throw .invalidConfiguration(error.description)
        }
        do { try c.schedule.validate() } catch { throw .invalidConfiguration("schedule \(c.schedule): \(error.description)") }
        self.scheduler = LearningRateScheduler(c.schedule, baseLearningRate: optimizer.learningRate)
        guard c.weightDecay >= 0 && c.weightDecay.isFinite else {
            throw .invalidConfiguration("weight decay λ must be ≥ 0 and finite, got \(c.weightDecay)")
        }
        do { self.gradientTransformations = try GradientTransformationChain(c.gradientTransformations, seed: c.seed &+ 7) } catch {
            throw .invalidConfiguration(error.description)
        }
        self.parallel = parallel
        self.threading = parallel == nil ? AdaptiveThreading(backend: Backend.current) : nil
        self.loader = DataLoader(train, batchSize: c.batchSize,
                                 order: c.shuffles ? .shuffled(seed: c.seed) : .sequential,
                                 dropLast: c.dropLast, normalization: normalization, seed: c.seed,
                                 prefetches: prefetches ?? Trainer.prefetchPays(threads: Backend.current.threads.threadCount,
                                                                                cores: ProcessInfo.processInfo.activeProcessorCount,
                                                                                transforms: transform != nil,
                                                                                replicasInThreads: parallel?.collective is ThreadCollective),
                                 shard: parallel?.rankPart, transform: transform)
        self.validation = validation
        self.test = test
        self.normalization = normalization
        self.runDirectory = runDirectory
        self.reporter = reporter
        self.state = State(scheduler: scheduler, gradientNoise: gradientTransformations.noise)
    }

    /// Whether batches should be prepared on a background thread while the step runs.
    ///
    /// Gathering a plain batch (bytes to floats) takes a few microseconds; a prefetch thread
    /// pays that back only with a core of its own. When the pool's threads already use every core,
    /// handing each batch to another thread costs more than it saves: a futex wake-up per batch,
    /// and the woken thread preempts a pool worker that the next split operation then waits for
    /// (measured on 2 cores, config (a) of `bench train`: 430k samples/s with prefetch, 470k
    /// without). Augmentation is the exception: its warps cost far more than the hand-off, and
    /// run in the gaps the pool's serial parts leave. Replicas in threads keep every core busy
    /// and each step waits for the slowest replica, so they never prefetch.
    public static func prefetchPays(threads: Int, cores: Int, transforms: Bool, replicasInThreads: Bool) -> Bool {
        if replicasInThreads { return false }
        return transforms || threads < cores
    }

    /// Epochs completed so far (after ``resume(from:)``, those of the earlier session).
    public var epochsCompleted: Int { state.epochsCompleted }
    /// Optimizer steps taken so far.
    public var steps: Int { state.step }

    // MARK: Training

    /// Trains until the configured epochs (or steps) are done or early stopping triggers.
    public func fit() throws(TrainingError) -> TrainingSummary {
        if let runDirectory, log == nil {
            // Temporary files of writers killed mid-write (this run's earlier session, or
            // another) would otherwise stay in the folder for good.
            AtomicFile.removeStaleTemporaries(in: runDirectory)
            do {
                // Resumed: the logs are cut back to the checkpoint's step, so the epochs a
                // killed session logged after its last checkpoint are not logged twice. A new
                // run replaces the folder's logs, TensorBoard's events of an earlier run too
                // (cut to step 0), as it replaces metrics.csv.
                log = state.step > 0 ? try MetricsLog(directory: runDirectory, resumingAtStep: state.step)
                    : try MetricsLog(directory: runDirectory, append: false)
                try TensorBoardWriter.cutEventFiles(in: runDirectory, throughStep: state.step)
            } catch { throw .write(error) }
        }
        let c = configuration
        let start = Date()
        var stoppedEarly = false
        if let parallel {
            guard let network else { throw .invalidConfiguration("data-parallel training trains one network") }
            // Every batch must split into shards BatchNorm can normalize (with synchronized
            // BatchNorm, if set by now): say so before the first step, not in the middle of an epoch.
            let count = loader.source.count, size = configuration.batchSize
            try parallel.checkShards(ofBatch: min(size, count), model: network)
            if !configuration.dropLast && count % size > 0 { try parallel.checkShards(ofBatch: count % size, model: network) }
            do { try parallel.broadcastState(of: network) } catch { throw .distributed(error) }
        }
        model.train()
        epochs: while state.epochsCompleted < c.epochs {
            // A resumed run whose step limit was reached has nothing left to do.
            if let maximum = c.maximumSteps, state.step >= maximum { break }
            let epoch = state.epochsCompleted + 1
            let batches = loader.batchesPerEpoch
            var lossSum = 0.0, correct = 0, seen = 0
            var batchIndex = 0
            let epochStart = Date()
            for batch in loader.batches(epoch: epoch - 1) {
                let (value, batchCorrect, batchCount) = try step(batch, epoch: epoch)
                for callback in callbacks { callback.trainer(self, didStep: state.step, loss: value) }
                batchIndex += 1
                lossSum += Double(value) * Double(batchCount)
                seen += batchCount
                correct += batchCorrect
                let elapsed = Date().timeIntervalSince(epochStart)
                let rate = Double(seen) / max(elapsed, 1e-9)
                reporter.step(epoch: epoch, epochs: c.epochs, batch: batchIndex, batches: batches,
                              loss: Float(lossSum / Double(seen)), accuracy: Float(correct) / Float(seen),
                              samplesPerSecond: rate, secondsLeft: secondsLeft(epoch: epoch, batch: batchIndex, batches: batches, elapsed: elapsed))
                if let interval = c.evaluationInterval, state.step % interval == 0 {
                    if try evaluate(epoch: epoch, trainLoss: Float(lossSum / Double(seen)),
                                    trainAccuracy: Float(correct) / Float(seen), start: start) {
                        stoppedEarly = true
                        break epochs
                    }
                }
                if let maximum = c.maximumSteps, state.step >= maximum { break }
            }
            state.epochsCompleted = epoch
            if c.evaluationInterval == nil || c.maximumSteps.map({ state.step >= $0 }) == true {
                if try evaluate(epoch: epoch, trainLoss: Float(lossSum / Double(max(seen, 1))),
                                trainAccuracy: Float(correct) / Float(max(seen, 1)), start: start) {
                    stoppedEarly = true
                }
            }
            try saveCheckpoint()
            if stoppedEarly { break }
            if let maximum = c.maximumSteps, state.step >= maximum { break }
        }
        // Keep the model that did best on validation (from memory when there is no run folder).
        if state.bestEpoch != nil, modelPath == nil, let best = bestInMemory {
            do { try restoreInMemory(best) } catch { throw .checkpoint(error) }
        } else if state.bestEpoch != nil, let modelPath, FileManager.default.fileExists(atPath: modelPath) {
            do {
                let best = try Safetensors(contentsOf: modelPath)
                try modelDescription?.restore(model, from: best, path: modelPath)
            } catch let error as DataError {
                throw .checkpoint(.data(error))
            } catch let error as CheckpointError {
                throw .checkpoint(error)
            } catch {
                throw .invalidConfiguration("\(error)")
            }
        }
        let testResult = test.map { objective.measure(model, on: $0, normalization: normalization) }
        return TrainingSummary(history: state.history, bestEpoch: state.bestEpoch,
                               bestValidationAccuracy: state.bestValidationAccuracy,
                               bestValidationLoss: state.bestValidationLoss, test: testResult,
                               seconds: Date().timeIntervalSince(start), steps: state.step, stoppedEarly: stoppedEarly)
    }

    /// One optimizer step on `batch`, the same for every model and objective: this step's
    /// learning rate; the objective's loss and its gradients (this rank's shards, combined over
    /// the group, when data-parallel); the gradient transformations (clipping to the global
    /// norm, then gradient noise); the optimizer's update; the periodic exchange of local SGD
    /// or elastic averaging. Returns the batch's loss (the whole mini-batch's mean when
    /// data-parallel), its correctly predicted examples and its size.
    ///
    /// - Throws: ``TrainingError/nonFiniteLoss(epoch:step:loss:lastCheckpoint:)`` before any
    ///   parameter changes when the loss is NaN or infinite.
    public func step(_ batch: Batch, epoch: Int) throws(TrainingError) -> (loss: Float, correct: Int, examples: Int) {
        scheduler.apply(to: optimizer)
        optimizer.zeroGrad()
        let value: Float, batchCorrect: Int, batchCount: Int
        threading?.stepStarted()
        let backend = threading?.backend ?? Backend.current
        if let parallel {
            let totals = try parallelGradients(batch, parallel)
            (value, batchCorrect, batchCount) = (totals.meanLoss, totals.correct, totals.examples)
        } else {
            (value, batchCorrect, batchCount) = Backend.$current.withValue(backend) {
                let outcome = objective.loss(of: model, batch: batch)
                let value = outcome.loss.value.scalar
                if value.isFinite { outcome.loss.backward() }
                return (value, outcome.correct, batch.labels.count)
            }
        }
        guard value.isFinite else {
            throw .nonFiniteLoss(epoch: epoch, step: state.step, loss: value,
                                 lastCheckpoint: checkpointPath.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil })
        }
        Backend.$current.withValue(backend) {
            // `model.parameters` builds an array of the variables: only when there is a
            // transformation to apply (most runs have none), not on every step.
            if !gradientTransformations.transformations.isEmpty {
                gradientTransformations.apply(to: model.parameters, step: state.step)
            }
            optimizer.step()
        }
        threading?.stepFinished()
        state.step += 1
        if let parallel, let network {
            do { try parallel.afterStep(state.step, model: network) } catch { throw .distributed(error) }
        }
        return (value, batchCorrect, batchCount)
    }

    /// This rank's shards of `batch`: forward and backward each, then the gradients combined
    /// over the group into every parameter's `grad`; returns the whole mini-batch's totals.
    private func parallelGradients(_ batch: Batch, _ parallel: DataParallel) throws(TrainingError) -> DataParallel.Totals {
        guard let network else { preconditionFailure("Trainer: data-parallel training of a non-network (refused at init)") }
        try parallel.checkShards(ofBatch: batch.globalCount, model: network)
        parallel.beginStep(model.parameters)
        for (j, rows) in parallel.localShards(ofBatch: batch.globalCount).enumerated() {
            optimizer.zeroGrad()
            guard !rows.isEmpty else {
                parallel.storeShard(j, examples: 0, meanLoss: 0, correct: 0)
                continue
            }
            let whole = rows.count == batch.labels.count
            let labels = whole ? batch.labels : Array(batch.labels[rows])
            let shard = whole ? batch : Batch(features: batch.features.rows(rows), labels: labels,
                                              targets: batch.targets?.rows(rows), indices: batch.indices, globalCount: batch.globalCount)
            let outcome = objective.loss(of: network, batch: shard)
            let loss = outcome.loss
            let value = loss.value.scalar
            // A non-finite loss travels in the totals, so every rank stops at this step. Backward
            // runs even then: with synchronized BatchNorm it makes collectives of its own, and a
            // rank that skipped them would leave the others waiting in a different allreduce.
            loss.backward()
            parallel.storeShard(j, examples: rows.count, meanLoss: value, correct: outcome.correct)
        }
        do { return try parallel.finishStep() } catch { throw .distributed(error) }
    }

    /// Evaluates (rank 0 of a data-parallel group alone has the evaluation sets and the run
    /// folder), then makes every rank follow rank 0's decision; returns whether to stop.
    private func evaluate(epoch: Int, trainLoss: Float, trainAccuracy: Float, start: Date) throws(TrainingError) -> Bool {
        guard let parallel else {
            return try evaluateLocally(epoch: epoch, trainLoss: trainLoss, trainAccuracy: trainAccuracy, start: start)
        }
        if let network {
            do { try parallel.beforeEvaluation(model: network) } catch { throw .distributed(error) }
        }
        let stop = try evaluateLocally(epoch: epoch, trainLoss: trainLoss, trainAccuracy: trainAccuracy, start: start)
        do { return try parallel.agree(stop: stop, scheduler: &scheduler) } catch { throw .distributed(error) }
    }

    /// Evaluates, logs, selects the best model; returns whether early stopping triggered.
    private func evaluateLocally(epoch: Int, trainLoss: Float, trainAccuracy: Float, start: Date) throws(TrainingError) -> Bool {
        let v = validation.map { objective.measure(model, on: $0, normalization: normalization) }
        let t = test.map { objective.measure(model, on: $0, normalization: normalization) }
        model.train()
        let regression = objective.task.isRegression
        let record = MetricsRecord(epoch: epoch, step: state.step, learningRate: optimizer.learningRate,
                                   trainLoss: trainLoss, trainAccuracy: regression ? .nan : trainAccuracy,
                                   validationLoss: v?.loss, validationAccuracy: regression ? nil : v?.accuracy,
                                   testLoss: t?.loss, testAccuracy: regression ? nil : t?.accuracy,
                                   seconds: Date().timeIntervalSince(start))
        state.history.append(record)
        do { try log?.append(record) } catch { throw .write(error) }
        var parts: [String]
        if regression {
            parts = [String(format: "epoch %3d  step %6d  loss %.4f", epoch, state.step, trainLoss)]
            if let r = v?.regression { parts.append(String(format: "val MSE %.4g  MAE %.4g  R² %.4f", r.meanSquaredError, r.meanAbsoluteError, r.rSquared)) }
            if let r = t?.regression { parts.append(String(format: "test MSE %.4g  R² %.4f", r.meanSquaredError, r.rSquared)) }
        } else {
            parts = [String(format: "epoch %3d  step %6d  loss %.4f  train %.2f%%", epoch, state.step, trainLoss, 100 * trainAccuracy)]
            if let v { parts.append(String(format: "val loss %.4f  val %.2f%%", v.loss, 100 * v.accuracy)) }
            if let t { parts.append(String(format: "test %.2f%%", 100 * t.accuracy)) }
        }
        parts.append(String(format: "lr %.3g  %.1fs", optimizer.learningRate, record.seconds))
        reporter.line(parts.joined(separator: "  "))
        var keepGoing = true
        for callback in callbacks where !callback.trainer(self, didEvaluate: record) { keepGoing = false }

        guard let v else { return !keepGoing }
        if case .reduceOnPlateau = scheduler.schedule { _ = scheduler.recordValidationLoss(v.loss) }
        var stopping = earlyStopping
        let selected = regression ? v.loss : v.accuracy
        let improved = stopping.isImprovement(selected)
        stopping.record(selected, epoch: epoch, parameters: [])
        state.evaluationsWithoutImprovement = stopping.epochsWithoutImprovement
        if improved {
            state.bestValidationAccuracy = regression ? nil : v.accuracy
            state.bestValidationLoss = v.loss
            state.bestEpoch = epoch
            try saveModel(metrics: record)
            if modelPath == nil { bestInMemory = Safetensors(entries: Checkpoint.modelEntries(model)) }
        }
        if !keepGoing {
            reporter.line("stopped by a callback after epoch \(epoch)")
            return true
        }
        if stopping.shouldStop, let patience = configuration.earlyStoppingPatience {
            reporter.line("early stopping: no validation improvement in \(patience) evaluations; keeping epoch \(state.bestEpoch ?? epoch)")
            return true
        }
        return false
    }

    /// Model selection and early stopping as far as the run has come (``state``, which
    /// checkpoints carry): classification keeps the most accurate model, regression the one of
    /// lowest validation loss; an evaluation without improvement counts towards the patience.
    private var earlyStopping: EarlyStopping {
        let regression = objective.task.isRegression
        // A patience below 0 stops at the first evaluation, as 0 does.
        return EarlyStopping(mode: regression ? .minimize : .maximize,
                             patience: configuration.earlyStoppingPatience.map { max($0, 0) },
                             bestValue: regression ? state.bestValidationLoss : state.bestValidationAccuracy,
                             bestEpoch: state.bestEpoch, epochsWithoutImprovement: state.evaluationsWithoutImprovement)
    }

    // MARK: Files

    private func descriptionMetadata() -> [String: String] {
        var metadata = [Checkpoint.Key.format: Checkpoint.formatTag,
                        Checkpoint.Key.normalization: Checkpoint.json(normalization),
                        Checkpoint.Key.configuration: Checkpoint.json(configuration)]
        if let description = modelDescription?.metadata { metadata[description.key] = description.value }
        // A classifier's files are as they always were; other tasks say what their outputs are.
        if objective.task != .classification { metadata[TrainingTask.metadataKey] = Checkpoint.json(objective.task) }
        return metadata
    }

    /// Writes the current weights as the run's model file (atomically).
    private func saveModel(metrics: MetricsRecord) throws(TrainingError) {
        guard let modelPath else { return }
        var metadata = descriptionMetadata()
        metadata[Checkpoint.Key.metrics] = Checkpoint.json(metrics)
        do {
            try Safetensors(entries: Checkpoint.modelEntries(model), metadata: metadata).write(to: modelPath)
        } catch { throw .write(error) }
    }

    /// Writes the full training state (atomically) to the run's checkpoint file.
    public func saveCheckpoint() throws(TrainingError) {
        guard let checkpointPath else { return }
        state.scheduler = scheduler
        state.gradientNoise = gradientTransformations.noise
        var entries = Checkpoint.modelEntries(model)
        var optimizerState = optimizer.stateDictionary()
        for name in optimizerState.parameters.keys.sorted() {
            guard var p = optimizerState.parameters[name] else { continue }
            for buffer in p.buffers.keys.sorted() {
                entries.append(("optimizer.\(name).\(buffer)", Safetensors.Entry(Tensor(shape: p.shape, scalars: p.buffers[buffer] ?? []))))
            }
            p.buffers = [:]
            optimizerState.parameters[name] = p
        }
        var metadata = descriptionMetadata()
        metadata[Checkpoint.Key.optimizer] = Checkpoint.json(optimizerState)
        metadata[Checkpoint.Key.training] = Checkpoint.json(state)
        metadata[Checkpoint.Key.randomState] = Checkpoint.json(randomState(of: model))
        do {
            try Safetensors(entries: entries, metadata: metadata).write(to: checkpointPath)
        } catch { throw .write(error) }
    }

    /// Restores a run from a training checkpoint written by ``saveCheckpoint()``: weights,
    /// BatchNorm statistics, optimizer state, schedule, noise and dropout generators, counters.
    public func resume(from path: String) throws(TrainingError) {
        let file: Safetensors
        do { file = try Safetensors(contentsOf: path) } catch { throw .checkpoint(.data(error)) }
        try resume(from: file, path: path)
    }

    /// Restores a run from a checkpoint already read (e.g. received from rank 0); `path` names
    /// it in errors.
    public func resume(from file: Safetensors, path: String) throws(TrainingError) {
        do {
            guard let modelDescription else {
                throw TrainingError.invalidConfiguration("resuming needs the model's description to check the checkpoint against")
            }
            // The one validation every loader shares (metadata against tensors, finite values);
            // the checksums were checked when the file was parsed.
            let validated = try ModelFile(validating: file, path: path)
            if let warning = validated.warning { reporter.line(warning) }
            try modelDescription.checkMatches(file, path: path)
            // The task too: a regression resumed on another loss or other target statistics
            // would continue a different objective.
            let storedTask = file.metadata[TrainingTask.metadataKey] == nil ? TrainingTask.classification
                : try Checkpoint.decode(TrainingTask.self, file, key: TrainingTask.metadataKey, path: path)
            guard storedTask.loss == objective.task.loss,
                  TargetScaling.agree(storedTask.targetScaling, objective.task.targetScaling) else {
                throw CheckpointError.invalidMetadata(path: path, key: TrainingTask.metadataKey,
                                                      reason: "the checkpoint trained \(storedTask.loss.rawValue)\(storedTask.targetScaling.map { " with target means \($0.mean)" } ?? ""); this run asks for \(objective.task.loss.rawValue)\(objective.task.targetScaling.map { " with target means \($0.mean)" } ?? "")")
            }
            try modelDescription.restore(model, from: file, path: path)
            var optimizerState = try Checkpoint.decode(OptimizerState.self, file, key: Checkpoint.Key.optimizer, path: path)
            for (name, var p) in optimizerState.parameters {
                for buffer in optimizer.rule.stateNames {
                    let key = "optimizer.\(name).\(buffer)"
                    guard let entry = file[key] else { throw CheckpointError.missingTensor(path: path, name: key) }
                    p.buffers[buffer] = entry.tensor().scalars
                }
                optimizerState.parameters[name] = p
            }
            do { try optimizer.load(optimizerState) } catch {
                throw CheckpointError.invalidMetadata(path: path, key: Checkpoint.Key.optimizer, reason: error.description)
            }
            state = try Checkpoint.decode(State.self, file, key: Checkpoint.Key.training, path: path)
            scheduler = state.scheduler
            gradientTransformations.noise = state.gradientNoise
            let generators = try Checkpoint.decode([String: [UInt64]].self, file, key: Checkpoint.Key.randomState, path: path)
            try restoreRandomState(generators, of: model, path: path)
        } catch let error as TrainingError {
            throw error
        } catch let error as DataError {
            throw .checkpoint(.data(error))
        } catch let error as CheckpointError {
            throw .checkpoint(error)
        } catch {
            throw .invalidConfiguration("\(error)")
        }
    }

    /// Copies the tensors kept by model selection back into the model.
    private func restoreInMemory(_ best: Safetensors) throws(CheckpointError) {
        if let modelDescription {
            try modelDescription.restore(model, from: best, path: "(the best model, in memory)")
        } else {
            try restoreModule(model, prefix: "", from: best, path: "(the best model, in memory)")
        }
    }

    /// Seconds left in the run at the current rate: the epochs' remaining batches, or the
    /// steps left when a step limit ends the run first.
    private func secondsLeft(epoch: Int, batch: Int, batches: Int, elapsed: Double) -> Double {
        let perBatch = elapsed / Double(max(batch, 1))
        var remaining = Double(batches - batch) + Double(configuration.epochs - epoch) * Double(batches)
        if let maximum = configuration.maximumSteps { remaining = min(remaining, Double(max(maximum - state.step, 0))) }
        return remaining * perBatch
    }
}
