import ArgumentParser
import Backprop
import Foundation
#if MPI
import BackpropMPI
#endif

/// `backprop train`: train a fully connected classifier and report honest test accuracy.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a fully connected classifier (default: MNIST) and print its test accuracy.",
        discussion: """
            With no flags: MNIST, a 784-256-256-10 ReLU network, softmax cross-entropy, Adam \
            (η = 0.001), batches of 128. One twelfth of the training set is held out for \
            validation; model selection and early stopping use it, never the test set. The best \
            model (model.safetensors, loadable in PyTorch) and a full training checkpoint \
            (checkpoint.safetensors, for --resume) go to the run folder with metrics.csv/.jsonl.
            """
    )

    @Option(help: "Data set: mnist, fashion-mnist, csv:PATH (features then a label column; a sixth held out for testing), dir:PATH (MNIST's four files uncompressed, memory-mapped: trains from disk), moons, circles, spirals, xor, blobs.")
    var dataset: String = "mnist"

    @Option(name: .customLong("data-dir"), help: "Directory holding data sets (default: BACKPROP_DATA, then system locations).")
    var dataDirectory: String?

    @Option(help: "The cost: cross-entropy (softmax outputs, K classes; the default), bce (two classes, one sigmoid output), mse (regression: linear outputs, mean squared error; the default for --targets and sine), sse (regression, the course's sum of squared errors).")
    var loss: LossFunction?

    @Option(help: "With --dataset csv:PATH: regress real-valued targets, the last K columns (--targets K) or the columns named in the header (--targets a,b); the other columns are features. Targets are standardized with training-set statistics, which the model file keeps (predict and eval answer in the data's units).")
    var targets: String?

    @Option(help: "Examples per generated 2-D data set (training and test each; default 1000).")
    var examples: Int?

    @Option(help: "Layer sizes from input to output, e.g. 784,100,100,100,10.")
    var layers: String?

    @Option(help: "Hidden non-linearity: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var activation: String = "relu"

    @Flag(help: "Batch normalization after every hidden affine layer.")
    var batchnorm = false

    @Option(help: "Dropout probability after every hidden layer (default: 0.2 for image data sets, 0 otherwise).")
    var dropout: Float?

    @Option(name: .customLong("input-noise"), help: "σ of Gaussian noise added to the inputs in training.")
    var inputNoise: Float = 0

    @Option(name: .customLong("weight-decay"), help: "Weight decay λ on weight matrices (coupled L2; decoupled for adamw).")
    var weightDecay: Float = 0

    @Option(help: "Optimizer NAME[:key=value,…]: \(OptimizerName.allCases.map(\.rawValue).joined(separator: ", ")); e.g. momentum:momentum=0.95.")
    var optimizer: String = "adam"

    @Option(help: "Learning rate η (default: the optimizer's).")
    var lr: Float?

    @Option(help: "Learning-rate schedule: constant, step:every=N,gamma=G, exponential:gamma=G, inverse-time:k=K, cosine:warmup=W,total=T, plateau:factor=F,patience=P (default: cosine decay over the run for image data sets, constant otherwise).")
    var schedule: String?

    @Option(name: .customLong("batch-size"), help: "Examples per step: 1 = stochastic GD, 0 or 'all' = batch GD.")
    var batchSize: String = "128"

    @Flag(name: .customLong("drop-last"), help: "Skip each epoch's last batch when it is smaller than --batch-size.")
    var dropLast = false

    @Option(help: "Passes over the training set.")
    var epochs: Int?

    @Option(help: "Stop after this many optimizer steps.")
    var steps: Int?

    @Option(help: "Augment training images: affine, elastic, noise, or a comma list such as affine,noise (image data sets only).")
    var augment: String?

    @Option(help: "Train an ensemble of this many networks (the given architecture, different seeds) and average their class probabilities.")
    var ensemble: Int?

    @Flag(help: "With --ensemble: train each member on a bootstrap sample (bagging).")
    var bagging = false

    @Option(help: "Train a mixture of this many expert networks with a softmax gating network.")
    var experts: Int?

    @Option(name: .customLong("top-k"), help: "With --experts: route each example to its k most probable experts only.")
    var topK: Int?

    @Option(name: .customLong("expert-layers"), help: "With --experts: hidden sizes of each expert (e.g. 64 or 128,64; default 64).")
    var expertLayers: String?

    @Option(name: .customLong("gate-layers"), help: "With --experts: hidden sizes of the gating network (default or empty: a linear gate).")
    var gateLayers: String?

    @Option(name: .customLong("early-stopping"), help: "Stop after this many epochs without validation improvement.")
    var earlyStopping: Int?

    @Option(name: .customLong("clip-norm"), help: "Clip the global gradient norm to this value.")
    var clipNorm: Float?

    @Option(name: .customLong("gradient-noise"), help: "Gradient noise η (σ² = η/(1+t)^0.55).")
    var gradientNoise: Float?

    @Option(name: .customLong("validation-fraction"), help: "Fraction of the training set held out for validation.")
    var validationFraction: Float = 1.0 / 12

    @Option(help: "Random seed for initialization, data order, dropout and noise.")
    var seed: UInt64 = 1

    @Option(help: "Worker threads for the kernels (default: all processors).")
    var threads: Int?

    @Flag(inversion: .prefixedNo, help: "Time steps on the thread pool against steps on one thread while training, and keep whichever is faster now (re-measured every second or so: a VM's cores can move apart and make splitting slower). Results are the same bits either way; --no-adaptive-threads splits every step.")
    var adaptiveThreads = true

    @Option(help: "Run folder for the model, checkpoint and metrics (default: runs/DATASET).")
    var out: String?

    @Flag(help: "Log loss, accuracy, learning rate and weight histograms to a TensorBoard event file in the run folder (single networks).")
    var tensorboard = false

    @Flag(help: "Continue the run in the run folder from its checkpoint.")
    var resume = false

    @Flag(help: "Print only the final result.")
    var quiet = false

    @Flag(help: "Data-parallel training over MPI: run as `mpirun -np N backprop train --distributed …` (needs a build with `--traits MPI`). Each rank takes its shard of every mini-batch; rank 0 logs, evaluates and writes the run folder.")
    var distributed = false

    @Option(help: "With --distributed or --micro-batches: how shard gradients are combined: allreduce (fastest) or deterministic (fixed order: the same bits for any number of ranks).")
    var reduction: String?

    @Flag(name: .customLong("sync-batchnorm"), help: "With --distributed and --batchnorm: normalize with the statistics of the whole global mini-batch (SyncBN) instead of each rank's shard.")
    var syncBatchNorm = false

    @Option(name: .customLong("local-sgd"), help: "With --distributed: local SGD, each rank steps on its own shard and parameters are averaged every this many steps.")
    var localSGD: Int?

    @Option(name: .customLong("elastic-averaging"), help: "With --distributed: elastic averaging SGD, each rank steps on its own shard and exchanges with a center variable every this many steps.")
    var elasticAveraging: Int?

    @Option(name: .customLong("elastic-alpha"), help: "With --elastic-averaging: the moving rate α (default 0.9 / ranks, the paper's β = 0.9).")
    var elasticAlpha: Float?

    @Option(name: .customLong("micro-batches"), help: "Split every mini-batch (every rank's part of it) into this many micro-batches whose gradients are summed in order (gradient accumulation).")
    var microBatches: Int = 1

    @Option(name: .customLong("collective-timeout"), help: "With --distributed: end the job when one collective operation blocks this many seconds (a rank died or hangs).")
    var collectiveTimeout: Double?

    @Option(help: "Data-parallel replicas in this process (default 1: one model, each operation split over the threads). N: N replicas, one kernel thread each (overrides --threads), each with its shard of every mini-batch, gradients summed once per step. 'auto' runs one per thread (each with one kernel thread and its shard of every mini-batch, gradients summed once per step) when the machine's cores are far apart (a cache-line round trip ≥ 250 ns, as between a VM's dies), the network has no BatchNorm and at most 1M parameters, and every replica gets ≥ 16 examples; otherwise 1. Replicas change the dropout streams and summation order, and auto decides from a timing, so only a fixed number gives the same numbers run after run.")
    var replicas = "1"

    /// For the fault tests: RANK:STEP makes that rank exit abruptly after that step.
    @Option(name: .customLong("fail-at"), help: .hidden)
    var failAt: String?

    func validate() throws {
        if let threads, threads < 1 { throw CommandFailure("--threads must be at least 1, got \(threads)") }
        if let epochs, epochs < 1 { throw CommandFailure("--epochs must be at least 1, got \(epochs)") }
        if let steps, steps < 1 { throw CommandFailure("--steps must be at least 1, got \(steps)") }
        if let lr, !(lr > 0 && lr.isFinite) { throw CommandFailure("--lr must be a positive number, got \(lr)") }
        if let examples, examples <= 0 { throw CommandFailure("--examples must be positive, got \(examples)") }
        guard validationFraction >= 0 && validationFraction < 1 else {
            throw CommandFailure("--validation-fraction must be in [0, 1), got \(validationFraction)")
        }
        if let ensemble, ensemble < 2 { throw CommandFailure("--ensemble needs at least 2 members, got \(ensemble)") }
        if let experts, experts < 2 { throw CommandFailure("--experts needs at least 2 experts, got \(experts)") }
        if ensemble != nil && experts != nil { throw CommandFailure("--ensemble and --experts cannot be combined") }
        if let topK, experts.map({ topK < 1 || topK > $0 }) ?? true {
            throw CommandFailure("--top-k \(topK) needs --experts E with 1 ≤ k ≤ E")
        }
        if bagging && ensemble == nil { throw CommandFailure("--bagging needs --ensemble K") }
        if tensorboard && ensemble != nil {
            throw CommandFailure("--tensorboard logs one training run; it cannot be combined with --ensemble (its members train side by side)")
        }
        if batchnorm && experts != nil {
            throw CommandFailure("--batchnorm cannot be combined with --experts: an expert sees only the rows routed to it, too few for batch statistics")
        }
        if let reduction, GradientReduction(rawValue: reduction) == nil {
            throw CommandFailure("--reduction must be one of \(GradientReduction.allCases.map(\.rawValue).joined(separator: ", ")), got '\(reduction)'")
        }
        if let localSGD, localSGD < 1 { throw CommandFailure("--local-sgd must be at least 1 step, got \(localSGD)") }
        if localSGD != nil && !distributed { throw CommandFailure("--local-sgd needs --distributed") }
        if let elasticAveraging, elasticAveraging < 1 { throw CommandFailure("--elastic-averaging must be at least 1 step, got \(elasticAveraging)") }
        if elasticAveraging != nil && !distributed { throw CommandFailure("--elastic-averaging needs --distributed") }
        if elasticAveraging != nil && localSGD != nil { throw CommandFailure("--local-sgd and --elastic-averaging cannot be combined") }
        if let elasticAlpha, !(elasticAlpha > 0 && elasticAlpha <= 1) { throw CommandFailure("--elastic-alpha must be in (0, 1], got \(elasticAlpha)") }
        if elasticAlpha != nil && elasticAveraging == nil { throw CommandFailure("--elastic-alpha needs --elastic-averaging") }
        if syncBatchNorm && !(distributed && batchnorm) { throw CommandFailure("--sync-batchnorm needs --distributed and --batchnorm") }
        guard microBatches >= 1 else { throw CommandFailure("--micro-batches must be at least 1, got \(microBatches)") }
        if let collectiveTimeout, !(collectiveTimeout > 0) { throw CommandFailure("--collective-timeout must be positive, got \(collectiveTimeout)") }
        if replicas != "auto" {
            guard let count = Int(replicas), count >= 1 else { throw CommandFailure("--replicas must be 'auto' or a positive number, got '\(replicas)'") }
            if let batch = Int(batchSize), batch > 0, count > batch {
                throw CommandFailure("--replicas \(count) exceeds the batch size \(batch): every replica needs examples of every mini-batch")
            }
            if count > 1024 { throw CommandFailure("--replicas \(count) is more threads than this tool starts (at most 1024)") }
            if count > 1 && distributed { throw CommandFailure("--replicas N runs ranks as threads of one process; it cannot be combined with --distributed") }
            if count > 1 && (ensemble != nil || experts != nil) { throw CommandFailure("--replicas trains one network, not --ensemble or --experts") }
        }
        if (distributed || microBatches > 1) && (ensemble != nil || experts != nil) {
            throw CommandFailure("--distributed and --micro-batches train one network, not --ensemble or --experts")
        }
        if batchSize != "all", Int(batchSize).map({ $0 < 0 }) ?? true {
            throw CommandFailure("--batch-size must be a whole number ≥ 0 or 'all', got '\(batchSize)'")
        }
        try validateApplicability()
    }

    static let defaultCollectiveTimeout = 300.0

    /// Refuses, with one line naming the conflict, every flag that the chosen kind of model,
    /// data set or run would not use: no flag is silently ignored.
    private func validateApplicability() throws {
        let key = dataset.lowercased()
        let synthetic = DatasetLoader.syntheticNames.contains(key)
        if examples != nil && !synthetic {
            throw CommandFailure("--examples sizes a generated data set (\(DatasetLoader.syntheticNames.joined(separator: ", "))), not --dataset \(dataset)")
        }
        if dataDirectory != nil && !(key == "mnist" || key == "fashion-mnist") {
            throw CommandFailure("--data-dir locates mnist and fashion-mnist; --dataset \(dataset) does not read it")
        }
        if targets != nil && !dataset.lowercased().hasPrefix("csv:") {
            throw CommandFailure("--targets picks columns of a CSV file (--dataset csv:PATH), not --dataset \(dataset)")
        }
        if let loss, experts != nil, loss != .crossEntropy {
            throw CommandFailure("--experts trains a classifier on the mixture likelihood; --loss \(loss.rawValue) is for a single network or an ensemble")
        }
        if targets != nil && experts != nil {
            throw CommandFailure("--experts trains a classifier; --targets is for a regression network or ensemble")
        }
        if experts == nil {
            for (flag, given) in [("--expert-layers", expertLayers != nil), ("--gate-layers", gateLayers != nil)] where given {
                throw CommandFailure("\(flag) needs --experts E")
            }
        } else if layers != nil {
            throw CommandFailure("--layers sizes a single network or an ensemble's members; a mixture of experts takes --expert-layers and --gate-layers")
        }
        let replicaCount = Int(replicas) ?? 2
        let dataParallel = distributed || microBatches > 1 || replicaCount > 1
        if reduction != nil && !dataParallel {
            throw CommandFailure("--reduction combines the gradients of shards: it needs --distributed, --micro-batches N or --replicas N")
        }
        if collectiveTimeout != nil && !(distributed || replicaCount > 1) {
            throw CommandFailure("--collective-timeout limits waits between ranks: it needs --distributed or --replicas N")
        }
        if threads != nil, let count = Int(replicas), count > 1 {
            throw CommandFailure("--threads cannot be combined with --replicas \(count): each replica runs one kernel thread")
        }
        if earlyStopping != nil && validationFraction == 0 {
            throw CommandFailure("--early-stopping watches the validation set; --validation-fraction 0 holds none out")
        }
    }

    func run() throws {
        if distributed {
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
            command.threads = 1
            let shared = UncheckedSendable(command)
            do {
                try ThreadReplicas.runMembers(count, timeoutSeconds: collectiveTimeout ?? Self.defaultCollectiveTimeout) { collective in
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
        if let count = Int(replicas) { return count }
        guard !distributed, ensemble == nil, experts == nil, !batchnorm else { return 1 }
        let threadCount = threads ?? ThreadPool.shared.threadCount
        guard threadCount > 1 else { return 1 }
        // The network's size without loading the data: explicit layers, or MNIST's default.
        let sizes = (try? layers.map { try MultilayerPerceptron.parseSizes($0) }) ?? nil
        guard let sizes = sizes ?? (dataset == "mnist" || dataset == "fashion-mnist" ? [784, 256, 256, 10] : nil),
              let network = try? MultilayerPerceptron(sizes: sizes, batchNorm: batchnorm) else { return 1 }
        let batch = Int(batchSize) ?? 0
        return ThreadReplicas.recommendedCount(threads: threadCount, parameterCount: network.parameterCount, batchNorm: batchnorm,
                                               batchSize: batch, roundTripNanoseconds: TrainingBenchmark.coreRoundTripNanoseconds())
    }

    /// Trains in this process, as one rank of `collective` when given.
    private func runLocally(collective: (any Collective)?, note: ((String) -> Void)? = nil) throws {
        let backend = threads.map { Backend(threads: ThreadPool(threadCount: $0), sparseInputDensity: Backend.cpu.sparseInputDensity) } ?? .cpu
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
        if let localSGD { return .localSGD(period: localSGD) }
        if let elasticAveraging { return .elasticAveraging(period: elasticAveraging, alpha: elasticAlpha ?? 0.9 / Float(ranks)) }
        return .gradients
    }

    #if MPI
    /// One rank of `mpirun -np N backprop train --distributed`: a failure on any rank prints
    /// its reason and ends the whole job (MPI_Abort), so no rank waits forever for a dead one.
    private func runDistributed() throws {
        let communicator: MPICommunicator
        do { communicator = try MPICommunicator(timeout: collectiveTimeout ?? Self.defaultCollectiveTimeout) } catch {
            throw CommandFailure("\(error)")
        }
        var command = self
        // Ranks on one machine share its cores: one kernel thread each unless told otherwise.
        if command.threads == nil {
            let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? communicator.size
            command.threads = max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1))
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
        var seed = self.seed
        let rank = collective?.rank ?? 0
        if let collective {
            // Every rank draws the same data, initialization and order: rank 0's seed.
            var bits = seed
            try withUnsafeMutableBytes(of: &bits) { try collective.broadcast($0, root: 0) }
            seed = bits
        }
        let lossFunction = loss ?? (targets != nil || DatasetLoader.regressionNames.contains(dataset.lowercased())
                                    ? .meanSquaredError : .crossEntropy)
        // A regression loss on a CSV file takes its last column as the target unless told otherwise.
        let targetColumns = try targets.map(DatasetLoader.targetColumns)
            ?? (lossFunction.isRegression && dataset.lowercased().hasPrefix("csv:") ? .last(1) : nil)
        let data = try DatasetLoader.load(dataset, dataDirectory: dataDirectory, examples: examples ?? 1000, seed: seed,
                                          targets: targetColumns)
        if lossFunction.isRegression != data.isRegression {
            throw CommandFailure(lossFunction.isRegression
                ? "--loss \(lossFunction.rawValue) regresses real-valued targets; \(data.name) has class labels (use a regression set: csv:PATH with --targets, or sine)"
                : "\(data.name) has real-valued targets; train on them with --loss mse or sse, not \(lossFunction.rawValue)")
        }
        if lossFunction == .binaryCrossEntropy && data.train.classCount != 2 {
            throw CommandFailure("--loss bce trains two classes with one sigmoid output; \(data.name) has \(data.train.classCount) classes")
        }
        let inputs = data.train.featureCount
        let task0 = TrainingTask(loss: lossFunction, targetNames: data.targetNames)
        let outputs = task0.outputCount(for: data.train), classes = data.train.classCount
        let isImage = data.name.hasSuffix("mnist") || data.name.hasPrefix("dir:")
        let sizes = try layers.map { try MultilayerPerceptron.parseSizes($0) }
            ?? (isImage ? [inputs, 256, 256, outputs] : [inputs, 32, 32, outputs])
        let architecture = try MultilayerPerceptron(sizes: sizes, activation: MultilayerPerceptron.parseActivation(activation),
                                                    batchNorm: batchnorm, dropout: dropout ?? (isImage ? 0.2 : 0),
                                                    inputNoise: inputNoise)

        let split = trainValidationSplit(count: data.train.count, validationFraction: validationFraction, seed: seed)
        let trainSet = SubsetSource(AnyExampleSource(data.train), indices: split.train)
        let validationSet = split.validation.isEmpty ? nil : SubsetSource(AnyExampleSource(data.train), indices: split.validation)

        var configuration = TrainingConfiguration()
        let n = trainSet.count
        configuration.batchSize = batchSize == "all" || batchSize == "0" ? n : min(Int(batchSize) ?? 128, n)
        configuration.dropLast = dropLast
        let stepsPerEpoch = dropLast ? n / configuration.batchSize : (n + configuration.batchSize - 1) / configuration.batchSize
        guard stepsPerEpoch > 0 else {
            throw CommandFailure("--drop-last with --batch-size \(configuration.batchSize) leaves no batch of the \(n) training examples")
        }
        // --steps alone runs as many epochs as those steps need (the last one cut short).
        configuration.epochs = epochs ?? steps.map { ($0 + stepsPerEpoch - 1) / stepsPerEpoch } ?? (isImage ? 15 : 100)
        configuration.maximumSteps = steps
        configuration.optimizer = lr.map { optimizer.contains(":") ? "\(optimizer),lr=\($0)" : "\(optimizer):lr=\($0)" } ?? optimizer
        guard microBatches <= configuration.batchSize else {
            throw CommandFailure("--micro-batches \(microBatches) exceeds the batch size \(configuration.batchSize): every micro-batch needs at least one example")
        }
        let totalSteps = steps.map { min($0, configuration.epochs * stepsPerEpoch) } ?? configuration.epochs * stepsPerEpoch
        configuration.schedule = schedule ?? (isImage ? "cosine:warmup=0,total=\(totalSteps)" : "constant")
        configuration.weightDecay = weightDecay
        configuration.clipNorm = clipNorm
        configuration.gradientNoise = gradientNoise
        configuration.earlyStoppingPatience = earlyStopping
        configuration.validationFraction = validationFraction
        configuration.seed = seed
        configuration.dataset = data.name
        var transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)? = nil
        if let augment {
            guard isImage else { throw CommandFailure("--augment works on image data sets (mnist, fashion-mnist), not \(data.name)") }
            let augmentation = try Augmentation(parsing: augment)
            let side = Int(Double(inputs).squareRoot())
            transform = { batch, generator in augmentation.apply(to: &batch, height: side, width: side, using: &generator) }
            configuration.augmentation = augment
        }
        // Features of a CSV file come in any scale: standardize them with training statistics.
        let normalization: Normalization = data.name.hasPrefix("csv:") ? .standardizing(trainSet) : .none
        // Regression targets too (the model file keeps their statistics).
        var task = task0
        if lossFunction.isRegression { task.targetScaling = TargetScaling.measuring(trainSet) }

        let runDirectory = out ?? "runs/\(data.name.hasPrefix("csv:") ? "csv" : data.name.hasPrefix("dir:") ? "dir" : data.name)"
        let reporter = ProgressReporter(quiet: quiet || rank != 0)
        if let ensemble {
            try MixtureTraining.trainEnsemble(count: ensemble, bagging: bagging, member: architecture, configuration: configuration,
                                              train: trainSet, validation: validationSet, test: data.test,
                                              normalization: normalization, transform: transform, task: task,
                                              runDirectory: runDirectory, resume: resume, reporter: reporter)
            return
        }
        let description: TrainableModel
        if let experts {
            let expertHidden = try MultilayerPerceptron.parseSizes(expertLayers ?? "64")
            let gateHidden = (gateLayers ?? "").isEmpty ? [] : try MultilayerPerceptron.parseSizes(gateLayers ?? "")
            var mixture = try MixtureOfExpertsArchitecture(
                inputSize: inputs, outputSize: classes, expertCount: experts, expertHidden: expertHidden,
                gateHidden: gateHidden, topK: topK, activation: architecture.activation, combination: .mixtureOfProbabilities)
            // Regularization inside each expert, as in a single network (no default dropout:
            // the gate already splits the data between experts).
            mixture.expert.dropout = dropout ?? 0
            mixture.expert.inputNoise = inputNoise
            description = .mixtureOfExperts(mixture)
        } else {
            description = .network(architecture)
        }
        var parallel: DataParallel? = nil
        if collective != nil || microBatches > 1 {
            parallel = try DataParallel(collective: collective ?? SingleProcessCollective(),
                                        reduction: reduction.flatMap(GradientReduction.init(rawValue:)) ?? .allReduce,
                                        synchronization: synchronization(ranks: collective?.size ?? 1),
                                        shardsPerRank: microBatches)
        }
        // Rank 0 alone evaluates and writes the run folder.
        let isLead = rank == 0
        let trainer = try Trainer(model: description, objective: experts == nil ? task.objective() : nil, configuration: configuration,
                                  train: trainSet, validation: isLead ? validationSet : nil, test: isLead ? data.test : nil,
                                  normalization: normalization, transform: transform,
                                  runDirectory: isLead ? runDirectory : nil, reporter: reporter, parallel: parallel)
        if syncBatchNorm, let network = trainer.network { try parallel?.synchronizeBatchNorm(in: network) }
        if !adaptiveThreads { trainer.threading = nil }
        let checkpointPath = (runDirectory as NSString).appendingPathComponent("checkpoint.safetensors")
        note?("the last checkpoint is \(checkpointPath) (continue with --resume)")
        if let failAt {
            let parts = failAt.split(separator: ":")
            if parts.count >= 2, Int(parts[0]) == rank, let step = Int(parts[1]) {
                trainer.callbacks.append(FailAtStep(step: step, hangs: parts.count > 2 && parts[2] == "hang"))
            }
        }
        if resume {
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
        if resume == false, let path = trainer.checkpointPath, FileManager.default.fileExists(atPath: path) {
            reporter.line("note: starting a new run in \(runDirectory) (its previous files will be replaced; --resume continues it)")
        }
        if let parallel, let collective = collective as? ThreadCollective {
            reporter.line("replicas: \(collective.size) in this process, one thread each, \(parallel.shardsPerRank) shard(s) per replica, global batch \(configuration.batchSize)")
        } else if let parallel, let collective {
            reporter.line("distributed: \(collective.size) ranks × \(parallel.shardsPerRank) shard(s), global batch \(configuration.batchSize), \(parallel.reduction.rawValue) reduction\(syncBatchNorm ? ", synchronized BatchNorm" : "")\(localSGD.map { ", local SGD averaging every \($0) steps" } ?? "")\(elasticAveraging.map { ", elastic averaging every \($0) steps" } ?? "")")
        } else if let parallel {
            reporter.line("gradient accumulation: \(parallel.shardsPerRank) micro-batches per mini-batch of \(configuration.batchSize)")
        }
        reporter.line("\(data.name): \(trainSet.count) training, \(validationSet?.count ?? 0) validation, \(data.test.count) test examples")
        let modelLine: String
        switch description {
        case .network:
            modelLine = "network \(sizes.map(String.init).joined(separator: "-")) \(architecture.activation.rawValue)\(batchnorm ? " +BN" : "")\(architecture.dropout > 0 ? " dropout \(architecture.dropout)" : "")"
        case .mixtureOfExperts(let mixture):
            modelLine = "mixture of \(mixture.expertCount) experts \(mixture.expert.sizes.map(String.init).joined(separator: "-")), gate \(mixture.gate.sizes.map(String.init).joined(separator: "-"))\(mixture.topK.map { ", top-\($0) routing" } ?? "")\(mixture.expert.dropout > 0 ? ", dropout \(mixture.expert.dropout)" : "")"
        }
        reporter.line("\(modelLine), \(trainer.model.parameterCount) parameters; \(trainer.optimizer.rule) η=\(trainer.optimizer.learningRate), batch \(configuration.batchSize), \(Backend.current.threads.threadCount) threads\(trainer.threading == nil ? "" : " (adaptive)")")
        // Rank 0 alone writes the run folder, TensorBoard events included.
        let logger = try tensorboard && isLead ? TensorBoardLogger(directory: runDirectory) : nil
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

/// A value handed to replica threads that only read it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

extension LossFunction: ExpressibleByArgument {}
