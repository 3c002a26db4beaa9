import ArgumentParser
import Backprop
import Foundation

// The options of `backprop train`, in the groups its help shows (swift-argument-parser's
// @OptionGroup, as in its Examples/math). Each group checks its own values; checks across
// groups are TrainCommand.validate().

/// The defaults of `backprop train`, in one place: the help text prints these, and the command
/// uses them.
enum TrainDefaults {
    /// Hidden layers of a network on image data (MNIST, Fashion-MNIST, dir:) and on anything else.
    static let imageHidden = [256, 256], otherHidden = [32, 32]
    static let imageEpochs = 15, otherEpochs = 100
    static let imageDropout: Float = 0.2
    static let batchSize = 128
    static let examples = 1000
    static let validationFraction: Float = 1.0 / 12
    static let expertHidden = [64]
    static let collectiveTimeout = 300.0
    static let optimizer = OptimizerSpecification(name: .adam)
    static let activation = Activation.relu

    static func sizes(_ hidden: [Int]) -> String { hidden.map(String.init).joined(separator: "-") }
}

/// `backprop train` options: data.
struct TrainDataOptions: ParsableArguments {
    @Option(help: "Data set: mnist, fashion-mnist, csv:PATH (features then a label column, or target columns with --targets; a sixth held out for testing), dir:PATH (MNIST's four files uncompressed, memory-mapped: trains from disk), moons, circles, spirals, xor, blobs, sine (1-D regression: sin x plus noise).")
    var dataset: String = "mnist"

    @Option(name: .customLong("data-dir"), help: "Directory holding data sets (default: BACKPROP_DATA, then system locations).")
    var dataDirectory: String?

    @Option(help: "Examples per generated data set (training and test each; default \(TrainDefaults.examples)).")
    var examples: Int?

    @Option(help: "With --dataset csv:PATH: regress real-valued targets, the last K columns (--targets K) or the columns named in the header (--targets a,b); the other columns are features. Targets are standardized with training-set statistics, which the model file keeps (predict and eval answer in the data's units).")
    var targets: String?

    @Option(name: .customLong("validation-fraction"), help: "Fraction of the training set held out for validation.")
    var validationFraction: Float = TrainDefaults.validationFraction

    @Option(help: "Augment training images: affine, elastic, noise, or a comma list such as affine,noise (image data sets only).")
    var augment: String?
}

/// `backprop train` options: model.
struct TrainModelOptions: ParsableArguments {
    @Option(help: "Layer sizes from input to output, e.g. 784,100,100,100,10 (default: hidden layers \(TrainDefaults.sizes(TrainDefaults.imageHidden)) for image data sets, \(TrainDefaults.sizes(TrainDefaults.otherHidden)) otherwise).")
    var layers: String?

    @Option(help: "Hidden non-linearity.")
    var activation: Activation = TrainDefaults.activation

    @Flag(help: "Batch normalization after every hidden affine layer.")
    var batchnorm = false

    @Option(help: "The cost: cross-entropy (softmax outputs, K classes; the default), bce (two classes, one sigmoid output), mse (regression: linear outputs, mean squared error; the default for --targets and sine), sse (regression, the course's sum of squared errors).")
    var loss: LossFunction?

    @Option(help: "Train an ensemble of this many networks (the given architecture, different seeds; each its own run in member-K/ of the run folder) and average their class probabilities (regression values, or a two-class logit, are averaged as outputs).")
    var ensemble: Int?

    @Flag(help: "With --ensemble: train each member on a bootstrap sample (bagging).")
    var bagging = false

    @Option(help: "Train a mixture of this many expert networks with a softmax gating network.")
    var experts: Int?

    @Option(name: .customLong("top-k"), help: "With --experts: route each example to its k most probable experts only.")
    var topK: Int?

    @Option(name: .customLong("expert-layers"), help: "With --experts: hidden sizes of each expert (e.g. 64 or 128,64; default \(TrainDefaults.expertHidden.map(String.init).joined(separator: ","))).")
    var expertLayers: String?

    @Option(name: .customLong("gate-layers"), help: "With --experts: hidden sizes of the gating network (default or empty: a linear gate).")
    var gateLayers: String?
}

/// `backprop train` options: optimization.
struct TrainOptimizationOptions: ParsableArguments {
    @Option(help: "Optimizer NAME[:key=value,…]: \(OptimizerName.allCases.map(\.rawValue).joined(separator: ", ")); e.g. momentum:momentum=0.95 or adam:lr=0.003,beta2=0.99 (default: \(TrainDefaults.optimizer)).",
            transform: { try OptimizerSpecification(parsing: $0) })
    var optimizer: OptimizerSpecification = TrainDefaults.optimizer

    @Option(help: "Learning rate η (default: the optimizer's).")
    var lr: Float?

    @Option(help: "Learning-rate schedule: constant, step:every=N,gamma=G, exponential:gamma=G, inverse-time:k=K, cosine:warmup=W,total=T, plateau:factor=F,patience=P (default: cosine decay over the run for image data sets, constant otherwise).",
            transform: { try LearningRateSchedule(parsing: $0) })
    var schedule: LearningRateSchedule?

    @Option(name: .customLong("batch-size"), help: "Examples per step: 1 = stochastic GD, 0 or 'all' = batch GD.")
    var batchSize: String = "\(TrainDefaults.batchSize)"

    @Flag(name: .customLong("drop-last"), help: "Skip each epoch's last batch when it is smaller than --batch-size.")
    var dropLast = false

    @Option(help: "Passes over the training set (default: \(TrainDefaults.imageEpochs) for image data sets, \(TrainDefaults.otherEpochs) otherwise; with --steps alone, as many as those steps need).")
    var epochs: Int?

    @Option(help: "Stop after this many optimizer steps.")
    var steps: Int?

    @Option(help: "Random seed for initialization, data order, dropout and noise.")
    var seed: UInt64 = 1
}

/// `backprop train` options: regularization.
struct TrainRegularizationOptions: ParsableArguments {
    @Option(help: "Dropout probability after every hidden layer (default: \(TrainDefaults.imageDropout) for image data sets, 0 otherwise and for --experts).")
    var dropout: Float?

    @Option(name: .customLong("input-noise"), help: "σ of Gaussian noise added to the inputs in training.")
    var inputNoise: Float = 0

    @Option(name: .customLong("weight-decay"), help: "Weight decay λ on weight matrices (coupled L2; decoupled for adamw).")
    var weightDecay: Float = 0

    @Option(name: .customLong("early-stopping"), help: "Stop after this many epochs without validation improvement.")
    var earlyStopping: Int?

    @Option(name: .customLong("clip-norm"), help: "Clip the global gradient norm to this value.")
    var clipNorm: Float?

    @Option(name: .customLong("gradient-noise"), help: "Gradient noise η (σ² = η/(1+t)^0.55).")
    var gradientNoise: Float?
}

/// `backprop train` options: run.
struct TrainRunOptions: ParsableArguments {
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

    /// For the fault tests: RANK:STEP makes that rank exit abruptly after that step.
    @Option(name: .customLong("fail-at"), help: .hidden)
    var failAt: String?
}

/// `backprop train` options: parallel and distributed training.
struct TrainParallelOptions: ParsableArguments {
    @Flag(help: "Data-parallel training over MPI: run as `mpirun -np N backprop train --distributed …` (needs a build with `--traits MPI`). Each rank takes its shard of every mini-batch; rank 0 logs, evaluates and writes the run folder.")
    var distributed = false

    // The bits are those of the shards: a batch split into ranks × micro-batches shards, each
    // averaged, then summed in shard order. Another shard count sums other partial means, so
    // 1 and 2 ranks differ in the last bits unless the micro-batches make up the difference.
    @Option(help: "With --distributed, --replicas or --micro-batches: how shard gradients are combined: allreduce (fastest) or deterministic (summed in shard order: the same bits for the same number of shards, ranks × micro-batches, e.g. 2 ranks and 1 process with --micro-batches 2).")
    var reduction: GradientReduction?

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

    @Option(name: .customLong("collective-timeout"), help: "With --distributed: end the job when one collective operation blocks this many seconds (a rank died or hangs; default \(Int(TrainDefaults.collectiveTimeout))).")
    var collectiveTimeout: Double?

    @Option(help: "Data-parallel replicas in this process (default 1: one model, each operation split over the threads). N: N replicas, one kernel thread each (overrides --threads), each with its shard of every mini-batch, gradients summed once per step. 'auto' runs one per thread (each with one kernel thread and its shard of every mini-batch, gradients summed once per step) when the machine's cores are far apart (a cache-line round trip ≥ 250 ns, as between a VM's dies), the network has no BatchNorm and at most 1M parameters, and every replica gets ≥ 16 examples; otherwise 1. Replicas change the dropout streams and summation order, and auto decides from a timing, so only a fixed number gives the same numbers run after run.")
    var replicas = "1"
}

// The enumerations a flag takes, parsed by swift-argument-parser (which lists the valid values
// when a value is not one of them).
extension LossFunction: ExpressibleByArgument {}
extension GradientReduction: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {
    /// A name as ``MultilayerPerceptronArchitecture/parseActivation(_:)`` reads it
    /// (case, `-` and `_` ignored: `leaky-relu` is `leakyReLU`).
    public init?(argument: String) {
        guard let activation = try? MultilayerPerceptronArchitecture.parseActivation(argument) else { return nil }
        self = activation
    }
}
