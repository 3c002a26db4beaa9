import ArgumentParser
import Backprop
import Foundation
#if MPI
import BackpropMPI
#endif

/// `backprop train`: train a fully connected network (a classifier or a regression; one network,
/// an ensemble or a mixture of experts) and report honest test metrics.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a fully connected network (default: an MNIST classifier) and print its test accuracy (or, for regression, MSE, MAE and R²).",
        discussion: """
            With no flags: MNIST, a 784-\(TrainDefaults.sizes(TrainDefaults.imageHidden))-10 ReLU network, \
            softmax cross-entropy, Adam (η = 0.001), batches of \(TrainDefaults.batchSize), \
            \(TrainDefaults.imageEpochs) epochs. One twelfth of the training set is held out for \
            validation; model selection and early stopping use it, never the test set. The best \
            model (model.safetensors, loadable in PyTorch) and a full training checkpoint \
            (checkpoint.safetensors, for --resume) go to the run folder with metrics.csv/.jsonl. \
            Every flag applies to every kind of model (one network, --ensemble, --experts, \
            --replicas, --micro-batches) or is refused with a message naming the conflict.
            """
    )

    @OptionGroup(title: "Data") var dataOptions: TrainDataOptions
    @OptionGroup(title: "Model") var modelOptions: TrainModelOptions
    @OptionGroup(title: "Optimization") var optimization: TrainOptimizationOptions
    @OptionGroup(title: "Regularization") var regularization: TrainRegularizationOptions
    @OptionGroup(title: "Run") var runOptions: TrainRunOptions
    @OptionGroup(title: "Parallel and distributed training") var parallelism: TrainParallelOptions

    func validate() throws {
        if let threads = runOptions.threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if let epochs = optimization.epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let steps = optimization.steps, steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
        if let lr = optimization.lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if optimization.lr != nil, let given = optimization.optimizer.learningRate {
            throw ValidationError("--lr and --optimizer \(optimization.optimizer) both set the learning rate (\(given)); give it once")
        }
        if let examples = dataOptions.examples, examples <= 0 { throw ValidationError("--examples must be positive, got \(examples)") }
        guard dataOptions.validationFraction >= 0 && dataOptions.validationFraction < 1 else {
            throw ValidationError("--validation-fraction must be in [0, 1), got \(dataOptions.validationFraction)")
        }
        if let ensemble = modelOptions.ensemble, ensemble < 2 { throw ValidationError("--ensemble needs at least 2 members, got \(ensemble)") }
        if let experts = modelOptions.experts, experts < 2 { throw ValidationError("--experts needs at least 2 experts, got \(experts)") }
        if modelOptions.ensemble != nil && modelOptions.experts != nil { throw ValidationError("--ensemble and --experts cannot be combined") }
        if let topK = modelOptions.topK, modelOptions.experts.map({ topK < 1 || topK > $0 }) ?? true {
            throw ValidationError("--top-k \(topK) needs --experts E with 1 ≤ k ≤ E")
        }
        if modelOptions.bagging && modelOptions.ensemble == nil { throw ValidationError("--bagging needs --ensemble K") }
        if runOptions.tensorboard && modelOptions.ensemble != nil {
            throw ValidationError("--tensorboard logs one training run; it cannot be combined with --ensemble (its members train side by side)")
        }
        if modelOptions.batchnorm && modelOptions.experts != nil {
            throw ValidationError("--batchnorm cannot be combined with --experts: an expert sees only the rows routed to it, too few for batch statistics")
        }
        if let localSGD = parallelism.localSGD, localSGD < 1 { throw ValidationError("--local-sgd must be at least 1 step, got \(localSGD)") }
        if parallelism.localSGD != nil && !parallelism.distributed { throw ValidationError("--local-sgd needs --distributed") }
        if let elasticAveraging = parallelism.elasticAveraging, elasticAveraging < 1 { throw ValidationError("--elastic-averaging must be at least 1 step, got \(elasticAveraging)") }
        if parallelism.elasticAveraging != nil && !parallelism.distributed { throw ValidationError("--elastic-averaging needs --distributed") }
        if parallelism.elasticAveraging != nil && parallelism.localSGD != nil { throw ValidationError("--local-sgd and --elastic-averaging cannot be combined") }
        if let elasticAlpha = parallelism.elasticAlpha, !(elasticAlpha > 0 && elasticAlpha <= 1) { throw ValidationError("--elastic-alpha must be in (0, 1], got \(elasticAlpha)") }
        if parallelism.elasticAlpha != nil && parallelism.elasticAveraging == nil { throw ValidationError("--elastic-alpha needs --elastic-averaging") }
        if parallelism.syncBatchNorm && !(parallelism.distributed && modelOptions.batchnorm) { throw ValidationError("--sync-batchnorm needs --distributed and --batchnorm") }
        guard parallelism.microBatches >= 1 else { throw ValidationError("--micro-batches must be at least 1, got \(parallelism.microBatches)") }
        if let collectiveTimeout = parallelism.collectiveTimeout, !(collectiveTimeout > 0) { throw ValidationError("--collective-timeout must be positive, got \(collectiveTimeout)") }
        if parallelism.replicas != "auto" {
            guard let count = Int(parallelism.replicas), count >= 1 else { throw ValidationError("--replicas must be 'auto' or a positive number, got '\(parallelism.replicas)'") }
            if let batch = Int(optimization.batchSize), batch > 0, count > batch {
                throw ValidationError("--replicas \(count) exceeds the batch size \(batch): every replica needs examples of every mini-batch")
            }
            if count > 1024 { throw ValidationError("--replicas \(count) is more threads than this tool starts (at most 1024)") }
            if count > 1 && parallelism.distributed { throw ValidationError("--replicas N runs ranks as threads of one process; it cannot be combined with --distributed") }
            if count > 1 && (modelOptions.ensemble != nil || modelOptions.experts != nil) { throw ValidationError("--replicas trains one network, not --ensemble or --experts") }
        }
        if (parallelism.distributed || parallelism.microBatches > 1) && (modelOptions.ensemble != nil || modelOptions.experts != nil) {
            throw ValidationError("--distributed and --micro-batches train one network, not --ensemble or --experts")
        }
        if optimization.batchSize != "all", Int(optimization.batchSize).map({ $0 < 0 }) ?? true {
            throw ValidationError("--batch-size must be a whole number ≥ 0 or 'all', got '\(optimization.batchSize)'")
        }
        try validateApplicability()
    }


    /// Refuses, with one line naming the conflict, every flag that the chosen kind of model,
    /// data set or run would not use: no flag is silently ignored.
    private func validateApplicability() throws {
        let key = dataOptions.dataset.lowercased()
        let synthetic = DatasetLoader.syntheticNames.contains(key)
        if dataOptions.examples != nil && !synthetic {
            throw ValidationError("--examples sizes a generated data set (\(DatasetLoader.syntheticNames.joined(separator: ", "))), not --dataset \(dataOptions.dataset)")
        }
        if dataOptions.dataDirectory != nil && !(key == "mnist" || key == "fashion-mnist") {
            throw ValidationError("--data-dir locates mnist and fashion-mnist; --dataset \(dataOptions.dataset) does not read it")
        }
        if dataOptions.targets != nil && !dataOptions.dataset.lowercased().hasPrefix("csv:") {
            throw ValidationError("--targets picks columns of a CSV file (--dataset csv:PATH), not --dataset \(dataOptions.dataset)")
        }
        if let loss = modelOptions.loss, modelOptions.experts != nil, loss != .crossEntropy {
            throw ValidationError("--experts trains a classifier on the mixture likelihood; --loss \(loss.rawValue) is for a single network or an ensemble")
        }
        if dataOptions.targets != nil && modelOptions.experts != nil {
            throw ValidationError("--experts trains a classifier; --targets is for a regression network or ensemble")
        }
        if modelOptions.experts == nil {
            for (flag, given) in [("--expert-layers", modelOptions.expertLayers != nil), ("--gate-layers", modelOptions.gateLayers != nil)] where given {
                throw ValidationError("\(flag) needs --experts E")
            }
        } else if modelOptions.layers != nil {
            throw ValidationError("--layers sizes a single network or an ensemble's members; a mixture of experts takes --expert-layers and --gate-layers")
        }
        let replicaCount = Int(parallelism.replicas) ?? 2
        let dataParallel = parallelism.distributed || parallelism.microBatches > 1 || replicaCount > 1
        if parallelism.reduction != nil && !dataParallel {
            throw ValidationError("--reduction combines the gradients of shards: it needs --distributed, --micro-batches N or --replicas N")
        }
        if parallelism.collectiveTimeout != nil && !(parallelism.distributed || replicaCount > 1) {
            throw ValidationError("--collective-timeout limits waits between ranks: it needs --distributed or --replicas N")
        }
        if runOptions.threads != nil, let count = Int(parallelism.replicas), count > 1 {
            throw ValidationError("--threads cannot be combined with --replicas \(count): each replica runs one kernel thread")
        }
        if let patience = regularization.earlyStopping, patience < 1 {
            throw ValidationError("--early-stopping must be at least 1 evaluation without improvement, got \(patience)")
        }
        if regularization.earlyStopping != nil && dataOptions.validationFraction == 0 {
            throw ValidationError("--early-stopping watches the validation set; --validation-fraction 0 holds none out")
        }
    }

    func run() throws {
        if parallelism.distributed {
            #if MPI
            try runDistributed()
            return
            #else
            throw CommandFailure("--distributed needs a build with MPI: swift build -c release --traits MPI (and Open MPI: apt-get install openmpi-bin libopenmpi-dev)")
            #endif
        }
        let count = try replicaCount()
        if count > 1 {
            var command = self
            command.runOptions.threads = 1
            let shared = UncheckedSendable(command)
            do {
                try ThreadReplicas.runMembers(count, timeoutSeconds: parallelism.collectiveTimeout ?? TrainDefaults.collectiveTimeout) { collective in
                    try shared.value.runLocally(collective: collective)
                }
            } catch let error as CommandFailure {
                throw error
            } catch {
                throw CommandFailure("\(error)")
            }
            return
        }
        try runLocally(collective: nil)
    }

    /// Replicas to run: the number given, or what `auto` picks for this network and machine.
    private func replicaCount() throws -> Int {
        if let count = Int(parallelism.replicas) { return count }
        guard !parallelism.distributed, modelOptions.ensemble == nil, modelOptions.experts == nil, !modelOptions.batchnorm else { return 1 }
        let threadCount = runOptions.threads ?? ThreadPool.shared.threadCount
        guard threadCount > 1 else { return 1 }
        // The network's size without loading the data: explicit modelOptions.layers, or MNIST's default.
        let sizes = (try? modelOptions.layers.map { try MultilayerPerceptronArchitecture.parseSizes($0) }) ?? nil
        guard let sizes = sizes ?? (dataOptions.dataset == "mnist" || dataOptions.dataset == "fashion-mnist" ? [784] + TrainDefaults.imageHidden + [10] : nil),
              let network = try? MultilayerPerceptronArchitecture(sizes: sizes, batchNorm: modelOptions.batchnorm) else { return 1 }
        let batch = Int(optimization.batchSize) ?? 0
        return ThreadReplicas.recommendedCount(threads: threadCount, parameterCount: network.parameterCount, batchNorm: modelOptions.batchnorm,
                                               batchSize: batch, roundTripNanoseconds: TrainingBenchmark.coreRoundTripNanoseconds())
    }

    /// Trains in this process, as one rank of `collective` when given.
    private func runLocally(collective: (any Collective)?, note: ((String) -> Void)? = nil) throws {
        let backend = runOptions.threads.map { Backend(threads: ThreadPool(threadCount: $0), sparseInputDensity: Backend.cpu.sparseInputDensity) } ?? .cpu
        do {
            try Backend.$current.withValue(backend) { try train(collective: collective, note: note) }
        } catch let error as CommandFailure {
            throw error
        } catch {
            // One clear line, not a trace: typed errors describe themselves.
            throw CommandFailure("\(error)")
        }
    }

    /// What the ranks keep in step, from the flags.
    private func synchronization(ranks: Int) -> ParameterSynchronization {
        if let localSGD = parallelism.localSGD { return .localSGD(period: localSGD) }
        if let elasticAveraging = parallelism.elasticAveraging { return .elasticAveraging(period: elasticAveraging, alpha: parallelism.elasticAlpha ?? 0.9 / Float(ranks)) }
        return .gradients
    }

    #if MPI
    /// One rank of `mpirun -np N backprop train --distributed`: a failure on any rank prints
    /// its reason and ends the whole job (MPI_Abort), so no rank waits forever for a dead one.
    private func runDistributed() throws {
        let communicator: MPICommunicator
        do { communicator = try MPICommunicator(timeout: parallelism.collectiveTimeout ?? TrainDefaults.collectiveTimeout) } catch {
            throw CommandFailure("\(error)")
        }
        var command = self
        // Ranks on one machine share its cores: one kernel thread each unless told otherwise.
        if command.runOptions.threads == nil {
            let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? communicator.size
            command.runOptions.threads = max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1))
        }
        do {
            try command.runLocally(collective: communicator) { communicator.note = $0 }
        } catch {
            FileHandle.standardError.write(Data("error: rank \(communicator.rank) of \(communicator.size): \(error)\n".utf8))
            communicator.abort(code: 1)
        }
        communicator.finalize()
    }
    #endif

    private func train(collective: (any Collective)?, note: ((String) -> Void)?) throws {
        var seed = self.optimization.seed
        let rank = collective?.rank ?? 0
        if let collective {
            // Every rank draws the same data, initialization and order: rank 0's seed.
            var bits = seed
            try withUnsafeMutableBytes(of: &bits) { try collective.broadcast($0, root: 0) }
            seed = bits
        }
        let lossFunction = modelOptions.loss ?? (dataOptions.targets != nil || DatasetLoader.regressionNames.contains(dataOptions.dataset.lowercased())
                                    ? .meanSquaredError : .crossEntropy)
        // A regression modelOptions.loss on a CSV file takes its last column as the target unless told otherwise.
        let targetColumns = try dataOptions.targets.map(DatasetLoader.targetColumns)
            ?? (lossFunction.isRegression && dataOptions.dataset.lowercased().hasPrefix("csv:") ? .last(1) : nil)
        let data = try DatasetLoader.load(dataOptions.dataset, dataDirectory: dataOptions.dataDirectory, examples: dataOptions.examples ?? TrainDefaults.examples, seed: seed,
                                          targets: targetColumns)
        if lossFunction.isRegression != data.isRegression {
            throw CommandFailure(lossFunction.isRegression
                ? "--loss \(lossFunction.rawValue) regresses real-valued targets; \(data.name) has class labels (use a regression set: csv:PATH with --targets, or sine)"
                : "\(data.name) has real-valued targets; train on them with --loss mse or sse, not \(lossFunction.rawValue)")
        }
        if lossFunction == .binaryCrossEntropy && data.train.classCount != 2 {
            throw CommandFailure("--loss bce trains two classes with one sigmoid output; \(data.name) has \(data.train.classCount) classes")
        }
        if modelOptions.experts != nil && data.isRegression {
            throw CommandFailure("--experts trains a classifier on the mixture likelihood; \(data.name) has real-valued targets")
        }
        let inputs = data.train.featureCount
        let task0 = TrainingTask(loss: lossFunction, targetNames: data.targetNames)
        let outputs = task0.outputCount(for: data.train), classes = data.train.classCount
        let isImage = data.name.hasSuffix("mnist") || data.name.hasPrefix("dir:")
        let sizes = try modelOptions.layers.map { try MultilayerPerceptronArchitecture.parseSizes($0) }
            ?? [inputs] + (isImage ? TrainDefaults.imageHidden : TrainDefaults.otherHidden) + [outputs]
        let architecture = try MultilayerPerceptronArchitecture(sizes: sizes, activation: modelOptions.activation,
                                                    batchNorm: modelOptions.batchnorm, dropout: regularization.dropout ?? (isImage ? TrainDefaults.imageDropout : 0),
                                                    inputNoise: regularization.inputNoise)

        let split = trainValidationSplit(count: data.train.count, validationFraction: dataOptions.validationFraction, seed: seed)
        let trainSet = SubsetSource(AnyExampleSource(data.train), indices: split.train)
        let validationSet = split.validation.isEmpty ? nil : SubsetSource(AnyExampleSource(data.train), indices: split.validation)

        var configuration = TrainingConfiguration()
        let n = trainSet.count
        configuration.batchSize = optimization.batchSize == "all" || optimization.batchSize == "0" ? n : min(Int(optimization.batchSize) ?? TrainDefaults.batchSize, n)
        configuration.dropLast = optimization.dropLast
        let stepsPerEpoch = optimization.dropLast ? n / configuration.batchSize : (n + configuration.batchSize - 1) / configuration.batchSize
        guard stepsPerEpoch > 0 else {
            throw CommandFailure("--drop-last with --batch-size \(configuration.batchSize) leaves no batch of the \(n) training examples")
        }
        // --steps alone runs as many optimization.epochs as those optimization.steps need (the last one cut short).
        configuration.epochs = optimization.epochs ?? optimization.steps.map { ($0 + stepsPerEpoch - 1) / stepsPerEpoch } ?? (isImage ? TrainDefaults.imageEpochs : TrainDefaults.otherEpochs)
        configuration.maximumSteps = optimization.steps
        configuration.optimizer = optimization.lr.map { optimization.optimizer.withLearningRate($0) } ?? optimization.optimizer
        guard parallelism.microBatches <= configuration.batchSize else {
            throw CommandFailure("--micro-batches \(parallelism.microBatches) exceeds the batch size \(configuration.batchSize): every micro-batch needs at least one example")
        }
        let totalSteps = optimization.steps.map { min($0, configuration.epochs * stepsPerEpoch) } ?? configuration.epochs * stepsPerEpoch
        configuration.schedule = optimization.schedule ?? (isImage ? .cosine(warmupSteps: 0, totalSteps: totalSteps, minimumLearningRate: 0) : .constant)
        configuration.weightDecay = regularization.weightDecay
        configuration.clipNorm = regularization.clipNorm
        configuration.gradientNoise = regularization.gradientNoise
        configuration.earlyStoppingPatience = regularization.earlyStopping
        configuration.validationFraction = dataOptions.validationFraction
        configuration.seed = seed
        configuration.dataset = data.name
        var transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)? = nil
        if let augment = dataOptions.augment {
            guard isImage else { throw CommandFailure("--augment works on image data sets (mnist, fashion-mnist), not \(data.name)") }
            let augmentation = try Augmentation(parsing: augment)
            let side = Int(Double(inputs).squareRoot())
            transform = { batch, generator in augmentation.apply(to: &batch, height: side, width: side, using: &generator) }
            configuration.augmentation = augment
        }
        // Features of a CSV file come in any scale: standardize them with training statistics.
        let normalization: Normalization = data.name.hasPrefix("csv:") ? .standardizing(trainSet) : .none
        // Regression dataOptions.targets too (the model file keeps their statistics).
        var task = task0
        if lossFunction.isRegression { task.targetScaling = TargetScaling.measuring(trainSet) }

        let runDirectory = runOptions.out ?? "runs/\(data.name.hasPrefix("csv:") ? "csv" : data.name.hasPrefix("dir:") ? "dir" : data.name)"
        let reporter = ProgressReporter(quiet: runOptions.quiet || rank != 0)
        if let ensemble = modelOptions.ensemble {
            try MixtureTraining.trainEnsemble(count: ensemble, bagging: modelOptions.bagging, member: architecture, configuration: configuration,
                                              train: trainSet, validation: validationSet, test: data.test,
                                              normalization: normalization, transform: transform, task: task,
                                              runDirectory: runDirectory, resume: runOptions.resume, reporter: reporter)
            return
        }
        let description: TrainableModel
        if let experts = modelOptions.experts {
            let expertHidden = try modelOptions.expertLayers.map(MultilayerPerceptronArchitecture.parseSizes) ?? TrainDefaults.expertHidden
            let gateHidden = (modelOptions.gateLayers ?? "").isEmpty ? [] : try MultilayerPerceptronArchitecture.parseSizes(modelOptions.gateLayers ?? "")
            var mixture = try MixtureOfExpertsArchitecture(
                inputSize: inputs, outputSize: classes, expertCount: experts, expertHidden: expertHidden,
                gateHidden: gateHidden, topK: modelOptions.topK, activation: architecture.activation, combination: .mixtureOfProbabilities)
            // Regularization inside each expert, as in a single network (no default dropout:
            // the gate already splits the data between experts).
            mixture.expert.dropout = regularization.dropout ?? 0
            mixture.expert.inputNoise = regularization.inputNoise
            description = .mixtureOfExperts(mixture)
        } else {
            description = .network(architecture)
        }
        var parallel: DataParallel? = nil
        if collective != nil || parallelism.microBatches > 1 {
            parallel = try DataParallel(collective: collective ?? SingleProcessCollective(),
                                        reduction: parallelism.reduction ?? .allReduce,
                                        synchronization: synchronization(ranks: collective?.size ?? 1),
                                        shardsPerRank: parallelism.microBatches)
        }
        // Rank 0 alone evaluates and writes the run folder.
        let isLead = rank == 0
        let trainer = try Trainer(model: description, objective: modelOptions.experts == nil ? task.objective() : nil, configuration: configuration,
                                  train: trainSet, validation: isLead ? validationSet : nil, test: isLead ? data.test : nil,
                                  normalization: normalization, transform: transform,
                                  runDirectory: isLead ? runDirectory : nil, reporter: reporter, parallel: parallel)
        if parallelism.syncBatchNorm, let network = trainer.network { try parallel?.synchronizeBatchNorm(in: network) }
        if !runOptions.adaptiveThreads { trainer.threading = nil }
        let checkpointPath = (runDirectory as NSString).appendingPathComponent("checkpoint.safetensors")
        note?("the last checkpoint is \(checkpointPath) (continue with --resume)")
        if let failAt = runOptions.failAt {
            let parts = failAt.split(separator: ":")
            if parts.count >= 2, Int(parts[0]) == rank, let step = Int(parts[1]) {
                trainer.callbacks.append(FailAtStep(step: step, hangs: parts.count > 2 && parts[2] == "hang"))
            }
        }
        if runOptions.resume {
            if let collective {
                // Rank 0 reads the checkpoint and sends it: other ranks may not see its disk.
                var bytes: [UInt8] = []
                if isLead, FileManager.default.fileExists(atPath: checkpointPath) {
                    bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: checkpointPath)))
                }
                try collective.broadcast(&bytes, root: 0)
                guard !bytes.isEmpty else { throw CommandFailure("--resume: no checkpoint at \(checkpointPath)") }
                try trainer.resume(from: Safetensors(parsing: bytes, path: checkpointPath), path: checkpointPath)
            } else {
                guard FileManager.default.fileExists(atPath: checkpointPath) else {
                    throw CommandFailure("--resume: no checkpoint at \(checkpointPath)")
                }
                try trainer.resume(from: checkpointPath)
            }
            reporter.line("resuming \(checkpointPath) after epoch \(trainer.epochsCompleted), step \(trainer.steps)")
        }
        if runOptions.resume == false, let path = trainer.checkpointPath, FileManager.default.fileExists(atPath: path) {
            reporter.line("note: starting a new run in \(runDirectory) (its previous files will be replaced; --resume continues it)")
        }
        if let parallel, let collective = collective as? ThreadCollective {
            reporter.line("replicas: \(collective.size) in this process, one thread each, \(parallel.shardsPerRank) shard(s) per replica, global batch \(configuration.batchSize)")
        } else if let parallel, let collective {
            reporter.line("distributed: \(collective.size) ranks × \(parallel.shardsPerRank) shard(s), global batch \(configuration.batchSize), \(parallel.reduction.rawValue) reduction\(parallelism.syncBatchNorm ? ", synchronized BatchNorm" : "")\(parallelism.localSGD.map { ", local SGD averaging every \($0) steps" } ?? "")\(parallelism.elasticAveraging.map { ", elastic averaging every \($0) steps" } ?? "")")
        } else if let parallel {
            reporter.line("gradient accumulation: \(parallel.shardsPerRank) micro-batches per mini-batch of \(configuration.batchSize)")
        }
        reporter.line("\(data.name): \(trainSet.count) training, \(validationSet?.count ?? 0) validation, \(data.test.count) test examples")
        let modelLine: String
        switch description {
        case .network:
            modelLine = "network \(sizes.map(String.init).joined(separator: "-")) \(architecture.activation.rawValue)\(modelOptions.batchnorm ? " +BN" : "")\(architecture.dropout > 0 ? " dropout \(architecture.dropout)" : "")"
        case .mixtureOfExperts(let mixture):
            modelLine = "mixture of \(mixture.expertCount) experts \(mixture.expert.sizes.map(String.init).joined(separator: "-")), gate \(mixture.gate.sizes.map(String.init).joined(separator: "-"))\(mixture.topK.map { ", top-\($0) routing" } ?? "")\(mixture.expert.dropout > 0 ? ", dropout \(mixture.expert.dropout)" : "")"
        }
        reporter.line("\(modelLine), \(trainer.model.parameterCount) parameters; \(trainer.optimizer.rule) η=\(trainer.optimizer.learningRate), batch \(configuration.batchSize), \(Backend.current.threads.threadCount) threads\(trainer.threading == nil ? "" : " (adaptive)")")
        // Rank 0 alone writes the run folder, TensorBoard events included.
        let logger = try runOptions.tensorboard && isLead ? TensorBoardLogger(directory: runDirectory) : nil
        if let logger { trainer.callbacks.append(logger) }
        let summary = try trainer.fit()
        if let logger {
            if let error = logger.error { throw CommandFailure("TensorBoard logging stopped: \(error)") }
            reporter.line("TensorBoard events: \(logger.writer.path) (tensorboard --logdir \(runDirectory))")
        }
        if let parallel, collective != nil, isLead {
            reporter.line(String(format: "communication: %.2f s of %.2f s (%.1f%%)", parallel.communicationSeconds, summary.seconds,
                                 100 * parallel.communicationSeconds / max(summary.seconds, 1e-9)))
        }
        if let test = summary.test {
            let criterion = task.isRegression ? String(format: "validation MSE %.4g", summary.bestValidationLoss ?? .nan)
                : String(format: "validation accuracy %.2f%%", 100 * (summary.bestValidationAccuracy ?? 0))
            let kept = summary.bestEpoch.map { " (model of epoch \($0), chosen on \(criterion))" } ?? ""
            print(String(format: "trained %d steps in %.1f s%@", summary.steps, summary.seconds, kept))
            for line in EvaluationReport.summary(test, task: task, set: "test") { print(line) }
        }
        if let threading = trainer.threading, threading.pooledSteps + threading.serialSteps > 0 {
            reporter.line(String(format: "steps split over the thread pool: %.0f%% (the rest on one thread, where that timed faster)",
                                 100 * Double(threading.pooledSteps) / Double(threading.pooledSteps + threading.serialSteps)))
        }
        if let mixture = trainer.model as? MixtureOfExperts {
            reporter.line("expert usage on the test set:\n\(mixture.usage(on: data.test, normalization: normalization))")
        }
        if let path = trainer.modelPath { reporter.line("model: \(path)") }
    }
}

/// Ends the process abruptly after a given step, as a crashed rank would, or stops it there
/// for good, as a hung one would (for the fault tests).
final class FailAtStep: TrainingCallback {
    let step: Int
    let hangs: Bool
    init(step: Int, hangs: Bool) {
        self.step = step
        self.hangs = hangs
    }
    func trainer(_ trainer: Trainer, didStep step: Int, loss: Float) {
        guard step == self.step else { return }
        FileHandle.standardError.write(Data("fail-at: \(hangs ? "hanging" : "exiting abruptly") after step \(step)\n".utf8))
        if hangs {
            while true { sleep(1000) }
        }
        _exit(9)
    }
}

/// A type-erased example source, so a subset can be taken of whichever source a data set is.
struct AnyExampleSource: ExampleSource {
    let base: any ExampleSource
    init(_ base: any ExampleSource) { self.base = base }
    var count: Int { base.count }
    var featureCount: Int { base.featureCount }
    var classCount: Int { base.classCount }
    func label(_ index: Int) -> Int32 { base.label(index) }
    func gatherFeatures(_ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        base.gatherFeatures(indices, into: destination)
    }
    var targetCount: Int { base.targetCount }
    func gatherTargets(_ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        base.gatherTargets(indices, into: destination)
    }
}

/// A value handed to replica runOptions.threads that only read it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

