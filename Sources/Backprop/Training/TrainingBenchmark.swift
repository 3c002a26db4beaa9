import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Training throughput on MNIST through the real training path: a ``Trainer`` (its
/// ``DataLoader`` shuffling an index and gathering byte images into float batches, the model's
/// forward pass, the fused softmax cross-entropy, `backward()` and the optimizer's step) runs
/// whole epochs of the 60,000 training images, timed with wall-clock and process CPU time.
///
/// `backprop bench train` runs each configuration in a child process of its own, so the peak
/// resident memory it reports (``peakResidentBytes()``) belongs to that configuration alone:
/// the data set as bytes, the parameters, the optimizer state and the activations.
public enum TrainingBenchmark {
    /// One network, batch size and optimizer.
    public struct Configuration: Sendable, Codable, Equatable {
        /// Short name used on the command line and by `Benchmarks/peers.py` (`a`, `a-bn`, `b`, `c`).
        public var key: String
        /// A description for the table.
        public var title: String
        /// The layer sizes, input to output.
        public var sizes: [Int]
        /// `sigmoid` or `relu` (hidden layers; the output layer is linear, the loss is softmax
        /// cross-entropy).
        public var activation: String
        /// Whether the network has Batch Normalization in every hidden layer.
        public var batchNorm: Bool
        /// Examples per mini-batch.
        public var batchSize: Int
        /// The optimizer every side of the comparison uses.
        public var optimizer: OptimizerSpecification

        /// A configuration from its parts.
        public init(key: String, title: String, sizes: [Int], activation: String, batchNorm: Bool,
                    batchSize: Int, optimizer: OptimizerSpecification) {
            self.key = key
            self.title = title
            self.sizes = sizes
            self.activation = activation
            self.batchNorm = batchNorm
            self.batchSize = batchSize
            self.optimizer = optimizer
        }
    }

    /// The configurations of GitHub issue 4: (a) the Batch Normalization paper's MNIST network
    /// without and with BN, (b) a wide ReLU network with Adam, (c) a mid-sized ReLU network with
    /// momentum.
    public static let configurations: [Configuration] = [
        Configuration(key: "a", title: "784-100-100-100-10 sigmoid, batch 60, SGD",
                      sizes: [784, 100, 100, 100, 10], activation: "sigmoid", batchNorm: false,
                      batchSize: 60, optimizer: OptimizerSpecification(SGD(), learningRate: 0.1)),
        Configuration(key: "a-bn", title: "784-100-100-100-10 sigmoid + BN, batch 60, SGD",
                      sizes: [784, 100, 100, 100, 10], activation: "sigmoid", batchNorm: true,
                      batchSize: 60, optimizer: OptimizerSpecification(SGD(), learningRate: 0.1)),
        Configuration(key: "b", title: "784-1024-1024-10 ReLU, batch 128, Adam",
                      sizes: [784, 1024, 1024, 10], activation: "relu", batchNorm: false,
                      batchSize: 128, optimizer: OptimizerSpecification(Adam(), learningRate: 0.001)),
        Configuration(key: "c", title: "784-256-256-10 ReLU, batch 256, momentum 0.9",
                      sizes: [784, 256, 256, 10], activation: "relu", batchNorm: false,
                      batchSize: 256, optimizer: OptimizerSpecification(Momentum(momentum: 0.9), learningRate: 0.01)),
    ]

    /// One timed run of whole epochs.
    public struct Run: Sendable, Codable {
        /// The whole epochs timed.
        public var epochs: Int
        /// Training examples processed per wall-clock second.
        public var samplesPerSecond: Double
        /// Wall-clock seconds of the timed epochs.
        public var wallSeconds: Double
        /// Process CPU seconds over the same epochs.
        public var cpuSeconds: Double
        /// Process CPU time / wall time: how many cores the run really had.
        public var cores: Double
        /// CPU time that other processes used on this machine during the run, per wall second
        /// (from /proc/stat; nil where that is unavailable).
        public var otherLoad: Double?
        /// The last epoch's mean training loss (a sanity check that it trained).
        public var loss: Float
        /// Whether no other process competed for the CPUs (``otherLoad`` below the limit).
        public var clean: Bool
        /// Share of the steps that ``AdaptiveThreading`` ran on the thread pool (nil when it
        /// did not choose: one thread, replicas, or turned off).
        public var pooledStepShare: Double? = nil
    }

    /// Builds a trainer for `configuration` on `train` (no validation, test set or run folder:
    /// the loop is exactly ``Trainer/fit()``'s, with nothing written to disk).
    public static func makeTrainer(_ configuration: Configuration, train: ImageDataset, epochs: Int,
                                   maximumSteps: Int? = nil, seed: UInt64 = 1,
                                   parallel: DataParallel? = nil) throws -> Trainer {
        let activation = try MultilayerPerceptronArchitecture.parseActivation(configuration.activation)
        let architecture = try MultilayerPerceptronArchitecture(sizes: configuration.sizes, activation: activation,
                                                    batchNorm: configuration.batchNorm)
        var c = TrainingConfiguration()
        c.epochs = epochs
        c.maximumSteps = maximumSteps
        c.batchSize = configuration.batchSize
        c.optimizer = configuration.optimizer
        c.seed = seed
        c.validationFraction = 0
        return try Trainer(architecture: architecture, configuration: c, train: train,
                           validation: nil, test: nil, runDirectory: nil,
                           reporter: ProgressReporter(interactive: false, quiet: true), parallel: parallel)
    }

    /// Warms up (short training runs for `warmUpSeconds`: code, thread pool, buffer pool), then
    /// times ``Trainer/fit()`` over whole epochs (as many as fill `minimumSeconds`, at least one),
    /// each run with a fresh trainer, until `runs` clean runs are collected or `maximumAttempts`
    /// have run. A run is clean when other processes used at most `maximumOtherLoad` cores.
    ///
    /// - Returns: every timed run, clean or not, in order.
    ///
    /// With `replicas` > 1 each run is in-process data-parallel training (``ThreadReplicas``):
    /// that many one-thread replicas, each on its shard of every batch of
    /// `configuration.batchSize`, the gradients summed once per step.
    public static func measure(_ configuration: Configuration, train: ImageDataset,
                               warmUpSeconds: Double = 0.5, minimumSeconds: Double = 1,
                               runs: Int = 3, maximumOtherLoad: Double = 0.1,
                               maximumAttempts: Int = 10, replicas: Int = 1, adaptiveThreads: Bool = true) throws -> [Run] {
        /// Trains and returns (steps, last training loss, share of steps on the pool) from rank 0.
        func fit(epochs: Int, maximumSteps: Int?, seed: UInt64) throws -> (steps: Int, loss: Float, pooled: Double?) {
            if replicas <= 1 {
                let trainer = try makeTrainer(configuration, train: train, epochs: epochs, maximumSteps: maximumSteps, seed: seed)
                if !adaptiveThreads { trainer.threading = nil }
                let summary = try trainer.fit()
                let share = trainer.threading.map { Double($0.pooledSteps) / Double(max(1, $0.pooledSteps + $0.serialSteps)) }
                return (trainer.steps, summary.history.last?.trainLoss ?? .nan, share)
            }
            return try ThreadReplicas.run(replicas) { parallel in
                let trainer = try makeTrainer(configuration, train: train, epochs: epochs, maximumSteps: maximumSteps,
                                              seed: seed, parallel: parallel)
                let summary = try trainer.fit()
                return (trainer.steps, summary.history.last?.trainLoss ?? .nan, nil)
            }
        }
        let warmUpStart = monotonicSeconds()
        var warmUpSamples = 0
        repeat {
            warmUpSamples += try fit(epochs: 1, maximumSteps: 100, seed: 99).steps * configuration.batchSize
        } while monotonicSeconds() < warmUpStart + warmUpSeconds
        let rate = Double(warmUpSamples) / (monotonicSeconds() - warmUpStart)
        let epochs = max(1, Int((minimumSeconds * rate / Double(train.count)).rounded(.up)))
        var results: [Run] = []
        var clean = 0
        var attempt = 0
        while clean < runs && attempt < maximumAttempts {
            attempt += 1
            let busy0 = machineBusySeconds()
            let cpu0 = processCPUSeconds(), wall0 = monotonicSeconds()
            let outcome = try fit(epochs: epochs, maximumSteps: nil, seed: UInt64(attempt))
            let wall = monotonicSeconds() - wall0, cpu = processCPUSeconds() - cpu0
            let busy1 = machineBusySeconds()
            let other = busy0.flatMap { b0 in busy1.map { b1 in max(0, (b1 - b0) - cpu) / wall } }
            let run = Run(epochs: epochs, samplesPerSecond: Double(epochs * train.count) / wall,
                          wallSeconds: wall, cpuSeconds: cpu, cores: cpu / wall, otherLoad: other,
                          loss: outcome.loss,
                          clean: (other ?? 0) <= maximumOtherLoad, pooledStepShare: outcome.pooled)
            results.append(run)
            if run.clean { clean += 1 }
        }
        return results
    }

    /// The median time, in nanoseconds, for a value to go from one thread to another and back
    /// (two threads taking turns on one atomic word), or nil on a single processor.
    ///
    /// Why: on a virtual machine the two cores the benchmark gets may share a die (~0.1 µs) or
    /// sit on different ones (~0.4 µs), and which one varies over minutes. Splitting each small
    /// operation over the threads pays this latency many times per step, so `bench train`
    /// prints it beside its figures.
    public static func coreRoundTripNanoseconds(roundTrips: Int = 20_000) -> Double? {
        guard ProcessInfo.processInfo.activeProcessorCount > 1 else { return nil }
        // turn odd: the partner's move; even: ours; all ones: stop. The whole probe gives up
        // after 50 ms, so a machine whose cores are busy cannot stall it.
        let turn = PoolAtomic()
        let stop = UInt64.max
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            while true {
                let value = turn.load()
                if value == stop { break }
                // A compare-and-swap, so a late answer cannot overwrite the stop.
                if value & 1 == 1 { _ = turn.compareExchange(expected: value, desired: value + 1) }
            }
            done.signal()
        }
        thread.start()
        var samples: [Double] = []
        let batch = 500
        let start = DispatchTime.now().uptimeNanoseconds
        var i: UInt64 = 0
        probe: while i < UInt64(roundTrips) {
            let batchStart = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<batch {
                turn.store(2 * i + 1)
                var polls = 0
                while turn.load() != 2 * i + 2 {
                    polls += 1
                    if polls % 4096 == 0, DispatchTime.now().uptimeNanoseconds - start > 50_000_000 { break probe }
                }
                i += 1
            }
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - batchStart) / Double(batch))
        }
        turn.store(stop)
        done.wait()
        guard !samples.isEmpty else {
            return Double(DispatchTime.now().uptimeNanoseconds - start) / Double(max(i, 1))
        }
        samples.sort()
        return samples[samples.count / 2]
    }

    /// CPU seconds that every process on the machine has used since boot (all CPUs' non-idle
    /// time in /proc/stat), or nil where /proc/stat is unavailable.
    public static func machineBusySeconds() -> Double? {
        #if os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 5 else { return nil }
        // user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user).
        let total = fields.prefix(8).reduce(0, +)
        let idle = fields[3] + fields[4]
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (total - idle) / (ticks > 0 ? ticks : 100)
        #else
        return nil
        #endif
    }

    /// The process's peak resident set (VmHWM on Linux, `ru_maxrss` elsewhere), in bytes.
    public static func peakResidentBytes() -> Int {
        #if os(Linux)
        if let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
                let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
                if let kB = digits { return kB * 1024 }
            }
        }
        #endif
        var usage = rusage()
        #if canImport(Darwin)
        getrusage(RUSAGE_SELF, &usage)
        return Int(usage.ru_maxrss)
        #else
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
        #endif
    }

    /// Monotonic wall-clock seconds.
    public static func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }

    /// CPU seconds used by all threads of this process.
    public static func processCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }
}
