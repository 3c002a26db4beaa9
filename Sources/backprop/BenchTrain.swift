import ArgumentParser
import Backprop
import Foundation

/// `backprop bench train`: MNIST training samples/s through the real training loop, on 1 thread
/// and on all, against PyTorch and JAX running the same configurations in the same run.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Time MNIST training epochs (samples/s, peak memory) against PyTorch and JAX.",
        discussion: """
            Configurations (GitHub issue 4):
              a     784-100-100-100-10 sigmoid, batch 60, SGD (Ioffe & Szegedy's MNIST network)
              a-bn  the same with batch normalization
              b     784-1024-1024-10 ReLU, batch 128, Adam
              c     784-256-256-10 ReLU, batch 256, SGD with momentum 0.9
            Each configuration and thread count runs in a child process of its own (this binary \
            with BACKPROP_THREADS set), so its peak resident memory (VmHWM) is its own: the 47 MB \
            of MNIST bytes, parameters, optimizer state and activations. After a warm-up, whole \
            epochs of the 60,000 training images go through Trainer.fit() (shuffled index, \
            batches gathered from bytes, forward, loss, backward, optimizer step), as many as \
            fill a second, repeated until 3 runs were clean: a run is clean when other processes \
            used at most 0.1 cores meanwhile (/proc/stat). Figures are medians of the clean runs; \
            "cores" is process CPU time / wall time, the cores the figure really had, and "*" \
            marks a figure with no clean run.
            MNIST's pixels are 81% zeros, so the first layer multiplies by the nonzero pixels \
            only (see `backprop bench sparse`); --dense-inputs turns that off for comparison.
            As in `backprop train`, a run on several threads times steps on the pool against \
            steps on one thread and keeps the faster ("pool on N% of steps"): this VM's cores \
            are sometimes far apart, and then splitting a small network's step is slower than \
            not splitting it. --no-adaptive-threads splits every step.
            Benchmarks/peers.py runs the same configurations in PyTorch and JAX (each in its own \
            process, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset there) when they are installed.
            """
    )

    @Option(help: "Configurations, comma-separated (a, a-bn, b, c; default: all).")
    var configs: String?

    @Option(help: "Run only this thread count (default: 1 and all of ThreadPool.shared).")
    var threads: Int?

    @Option(help: "Clean runs to collect per figure.")
    var runs = 3

    @Option(help: "Give up on a clean run after this many attempts per figure.")
    var maxAttempts = 10

    @Option(help: "Seconds of training per timed run (whole epochs, at least one).")
    var seconds = 1.0

    @Flag(help: "Do not run the PyTorch and JAX comparison.")
    var noPeers = false

    @Option(help: "In-process data-parallel replicas per run, as `backprop train --replicas`: 'auto' (one per thread when the cores are far apart and the network qualifies, see `train --help`) or a number (1: split each operation over the threads).")
    var replicas = "1"

    @Flag(inversion: .prefixedNo, help: "Let each run choose per step between the thread pool and one thread by timing both, as `backprop train` does (default); --no-adaptive-threads splits every step over the pool.")
    var adaptiveThreads = true

    @Flag(help: "Turn the sparse-input first layer off (BACKPROP_SPARSE_INPUTS=0), to compare with the dense GEMM.")
    var denseInputs = false

    @Option(help: "Python interpreter for Benchmarks/peers.py.")
    var python = "python3"

    @Option(help: "Instruction-set level for every side: Backprop's kernels (BACKPROP_CPU) and the peers' (PyTorch ATEN_CPU_CAPABILITY and MKL_ENABLE_INSTRUCTIONS, XLA --xla_cpu_max_isa, OpenBLAS OPENBLAS_CORETYPE): baseline, avx2, avx512 or neon. Default: each side's best.")
    var cpu: CPULevel?

    @Flag(help: .hidden)
    var child = false

    func run() throws {
        let selected = try selectedConfigurations()
        if child {
            try runChild(selected)
            return
        }
        let allThreads = ThreadPool.shared.threadCount
        var threadCounts = threads.map { [$0] } ?? [1, allThreads]
        threadCounts = threadCounts.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        guard threadCounts.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--threads must be >= 1") }
        let kernels = try benchKernels(cpu)
        let peers = noPeers ? nil : PeerRunner(python: python, level: cpu)

        print("backprop bench train: MNIST, 60,000 training images per epoch, \(ProcessInfo.processInfo.activeProcessorCount) active processors")
        print("cpu: \(CPULevel.cpuModel); level \(kernels.summary)\(cpu == nil ? " (the best here; peers at their best)" : " on every side")")
        let roundTripBefore = TrainingBenchmark.coreRoundTripNanoseconds()
        if let roundTripBefore {
            print("core-to-core round trip: \(Int(roundTripBefore)) ns (about 100 on one die, 400 across dies: a VM's cores move)")
        }
        if let peers { for line in peers.status { print(line) } }
        var rows: [(TrainingBenchmark.Configuration, Int, [String: BenchFigure])] = []
        for configuration in selected {
            for threadCount in threadCounts {
                var figures: [String: BenchFigure] = [:]
                figures["backprop"] = runSelf(configuration, threads: threadCount)
                for framework in peers?.frameworks ?? [] {
                    figures[framework] = peers?.run(framework, configuration, threads: threadCount,
                                                    runs: runs, maxAttempts: maxAttempts, seconds: seconds)
                }
                let line = Self.describe(configuration, threadCount, figures)
                print(line)
                fflush(nil)
                rows.append((configuration, threadCount, figures))
            }
        }
        print("")
        print(Self.pad("config", 6) + Self.pad("thr", 4) + Self.pad("backprop/s", 12) + Self.pad("cores", 7)
              + Self.pad("torch/s", 10) + Self.pad("cores", 7) + Self.pad("jax/s", 10) + Self.pad("cores", 7)
              + Self.pad("×torch", 8) + Self.pad("×jax", 7) + "peak MB backprop / torch / jax")
        for (configuration, threadCount, figures) in rows {
            print(Self.tableRow(configuration, threadCount, figures))
        }
        print("(* no clean run: other processes used the CPUs; ratios from medians of the same run)")
        if let roundTripBefore, let after = TrainingBenchmark.coreRoundTripNanoseconds() {
            print("core-to-core round trip before / after: \(Int(roundTripBefore)) / \(Int(after)) ns")
        }
        let all = rows.filter { $0.1 == allThreads }
        if !all.isEmpty, let peers, !peers.frameworks.isEmpty {
            print("")
            print("targets on \(allThreads) threads: >= 3x PyTorch, >= 1.3x JAX, peak memory below both")
            for (configuration, _, figures) in all {
                guard let own = figures["backprop"] else { continue }
                var verdicts: [String] = []
                if let t = figures["torch"] {
                    let r = own.median / t.median
                    verdicts.append("torch \(Self.format(r, 2))x \(r >= 3 ? "met" : "MISSED")")
                }
                if let j = figures["jax"] {
                    let r = own.median / j.median
                    verdicts.append("jax \(Self.format(r, 2))x \(r >= 1.3 ? "met" : "MISSED")")
                }
                let peerMemory = ["torch", "jax"].compactMap { figures[$0]?.peakBytes }
                if !peerMemory.isEmpty {
                    verdicts.append("memory \(own.peakBytes / 1_000_000) MB vs \(peerMemory.map { "\($0 / 1_000_000)" }.joined(separator: "/")) MB \(own.peakBytes < peerMemory.min()! ? "met" : "MISSED")")
                }
                print(Self.pad(configuration.key, 6) + verdicts.joined(separator: ", "))
            }
        }
    }

    private func selectedConfigurations() throws -> [TrainingBenchmark.Configuration] {
        guard let configs else { return TrainingBenchmark.configurations }
        return try configs.split(separator: ",").map { key in
            guard let c = TrainingBenchmark.configurations.first(where: { $0.key == key.trimmingCharacters(in: .whitespaces) }) else {
                throw ValidationError("unknown configuration '\(key)'; expected one of \(TrainingBenchmark.configurations.map(\.key).joined(separator: ", "))")
            }
            return c
        }
    }

    /// The replicas to run `configuration` with on this process's threads.
    private func replicaCount(for configuration: TrainingBenchmark.Configuration) throws -> Int {
        if replicas == "auto" {
            let network = try MultilayerPerceptronArchitecture(sizes: configuration.sizes, batchNorm: configuration.batchNorm)
            return ThreadReplicas.recommendedCount(threads: ThreadPool.shared.threadCount, parameterCount: network.parameterCount,
                                                   batchNorm: configuration.batchNorm, batchSize: configuration.batchSize,
                                                   roundTripNanoseconds: TrainingBenchmark.coreRoundTripNanoseconds())
        }
        guard let count = Int(replicas), count >= 1, count <= configuration.batchSize else {
            throw ValidationError("--replicas must be 'auto' or a number from 1 to the batch size (\(configuration.batchSize)), got '\(replicas)'")
        }
        return count
    }

    /// In the child: measure, print one JSON line per configuration.
    private func runChild(_ selected: [TrainingBenchmark.Configuration]) throws {
        let train: ImageDataset
        do { train = try MNIST.loadBundled().train } catch { throw CommandFailure("MNIST: \(error)") }
        for configuration in selected {
            let count = try replicaCount(for: configuration)
            let measured = try TrainingBenchmark.measure(configuration, train: train, minimumSeconds: seconds,
                                                         runs: runs, maximumAttempts: maxAttempts, replicas: count,
                                                         adaptiveThreads: adaptiveThreads)
            let object: [String: Any] = [
                "kind": "result", "framework": "backprop", "config": configuration.key,
                "threads": ThreadPool.shared.threadCount, "replicas": count,
                "runs": measured.map { run in
                    var fields: [String: Any] = ["samples_per_second": run.samplesPerSecond, "cores": run.cores,
                                                 "other_load": run.otherLoad ?? 0, "clean": run.clean, "epochs": run.epochs,
                                                 "loss": Double(run.loss)]
                    // Only where adaptive threading chose (not on one thread, replicas or when off).
                    if let share = run.pooledStepShare { fields["pooled_step_share"] = share }
                    return fields
                },
                "peak_rss_bytes": TrainingBenchmark.peakResidentBytes(),
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            fflush(nil)
        }
    }

    /// Runs this binary as a child for one configuration and thread count.
    private func runSelf(_ configuration: TrainingBenchmark.Configuration, threads: Int) -> BenchFigure? {
        var environment = ProcessInfo.processInfo.environment
        environment["BACKPROP_THREADS"] = String(threads)
        if let cpu { environment["BACKPROP_CPU"] = cpu.rawValue }
        if denseInputs { environment["BACKPROP_SPARSE_INPUTS"] = "0" }
        let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
        let arguments = ["bench", "train", "--child", "--configs", configuration.key, "--runs", String(runs),
                         "--max-attempts", String(maxAttempts), "--seconds", String(seconds), "--replicas", replicas]
            + (adaptiveThreads ? [] : ["--no-adaptive-threads"])
        guard let result = try? runProcess(executable, arguments, environment: environment) else { return nil }
        if result.status != 0 { print("backprop child failed (\(result.status)): \(result.errors.suffix(500))") }
        return BenchFigure.parse(result.output).first
    }

    // MARK: Formatting

    static func describe(_ c: TrainingBenchmark.Configuration, _ threads: Int, _ figures: [String: BenchFigure]) -> String {
        var parts = ["(\(c.key)) \(c.title), \(threads) thread\(threads == 1 ? "" : "s"):"]
        for name in ["backprop", "torch", "jax"] {
            guard let f = figures[name] else { continue }
            let replicas = (f.replicas ?? 1) > 1 ? "\(f.replicas ?? 1) replicas, " : ""
            let pooled = f.pooledStepShare.map { "pool on \(format(100 * $0, 0))% of steps, " } ?? ""
            parts.append("\(name) \(format(f.median / 1000, 1))k/s\(f.clean ? "" : "*") (\(replicas)\(pooled)cores \(format(f.cores, 2)), \(f.cleanCount)/\(f.attempts) clean, \(f.peakBytes / 1_000_000) MB)")
        }
        return parts.joined(separator: " ")
    }

    static func tableRow(_ c: TrainingBenchmark.Configuration, _ threads: Int, _ figures: [String: BenchFigure]) -> String {
        func cell(_ f: BenchFigure?, _ width: Int) -> String {
            guard let f else { return pad("-", width) + pad("-", 7) }
            return pad(format(f.median / 1000, 1) + "k" + (f.clean ? "" : "*"), width) + pad(format(f.cores, 2), 7)
        }
        let own = figures["backprop"]
        func ratio(_ name: String) -> String {
            guard let own, let other = figures[name] else { return "-" }
            return format(own.median / other.median, 2) + "x"
        }
        let memory = ["backprop", "torch", "jax"].map { figures[$0].map { "\($0.peakBytes / 1_000_000)" } ?? "-" }
        return pad(c.key, 6) + pad("\(threads)", 4) + cell(own, 12) + cell(figures["torch"], 10)
            + cell(figures["jax"], 10) + pad(ratio("torch"), 8) + pad(ratio("jax"), 7) + memory.joined(separator: " / ")
    }

    static func format(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

/// One framework's figure for one configuration and thread count, from a child's JSON line.
struct BenchFigure {
    /// Median samples/s of the clean runs (of all runs when none was clean).
    var median: Double
    /// Median cores of the same runs.
    var cores: Double
    var clean: Bool
    var cleanCount: Int
    var attempts: Int
    var peakBytes: Int
    /// In-process replicas the figure ran with (Backprop's own; nil for peers).
    var replicas: Int? = nil
    /// Median share of steps run on the thread pool (Backprop's adaptive threading; nil when
    /// it did not choose).
    var pooledStepShare: Double? = nil

    static func parse(_ output: String) -> [BenchFigure] {
        output.split(separator: "\n").compactMap { line in
            guard let data = line.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  object["kind"] as? String == "result",
                  let runs = object["runs"] as? [[String: Any]], !runs.isEmpty else { return nil }
            let all = runs.compactMap { r -> (Double, Double, Bool, Double?)? in
                guard let s = r["samples_per_second"] as? Double, let c = r["cores"] as? Double else { return nil }
                return (s, c, r["clean"] as? Bool ?? false, r["pooled_step_share"] as? Double)
            }
            let clean = all.filter(\.2)
            let used = clean.isEmpty ? all : clean
            guard !used.isEmpty else { return nil }
            func median(_ values: [Double]) -> Double {
                let s = values.sorted()
                return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
            }
            return BenchFigure(median: median(used.map(\.0)), cores: median(used.map(\.1)), clean: !clean.isEmpty,
                               cleanCount: clean.count, attempts: all.count,
                               peakBytes: object["peak_rss_bytes"] as? Int ?? 0, replicas: object["replicas"] as? Int,
                               pooledStepShare: used.allSatisfy { $0.3 != nil } ? median(used.compactMap(\.3)) : nil)
        }
    }
}

/// Runs `Benchmarks/peers.py` (PyTorch, JAX) in child processes.
final class PeerRunner {
    let python: String
    /// The level every peer is held to, or nil for each one's best.
    let level: CPULevel?
    let script: String?
    /// The frameworks that are installed.
    private(set) var frameworks: [String] = []
    private(set) var status: [String] = []

    init(python: String, level: CPULevel?) {
        self.python = python
        self.level = level
        let fromSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Benchmarks/peers.py").path
        let fromWorkingDirectory = FileManager.default.currentDirectoryPath + "/Benchmarks/peers.py"
        script = [fromSource, fromWorkingDirectory].first { FileManager.default.fileExists(atPath: $0) }
        guard let script else {
            status = ["peers skipped: Benchmarks/peers.py not found"]
            return
        }
        for framework in ["torch", "jax"] {
            guard let result = try? runProcess(python, [script, "--check", framework], environment: Self.environment(threads: 1, level: level)) else {
                status.append("\(framework): not installed, skipped (\(python) did not run)")
                continue
            }
            if result.status == 0 {
                frameworks.append(framework)
                status.append("\(framework): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))")
            } else {
                status.append("\(framework): not installed, skipped (\(result.output.trimmingCharacters(in: .whitespacesAndNewlines)))")
            }
        }
    }

    /// The child's environment: the machine's OpenBLAS overrides removed, thread counts set, and
    /// with a level every library's instruction-set cap: PyTorch's ATen kernels and MKL, XLA's
    /// code generation, OpenBLAS's kernel family.
    static func environment(threads: Int, level: CPULevel?) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        environment["OPENBLAS_L2_SIZE"] = nil
        for key in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"] { environment[key] = String(threads) }
        if let level {
            for (key, value) in peerLevelEnvironment(level) { environment[key] = value }
        }
        return environment
    }

    func run(_ framework: String, _ configuration: TrainingBenchmark.Configuration, threads: Int,
             runs: Int, maxAttempts: Int, seconds: Double) -> BenchFigure? {
        guard let script,
              let spec = try? JSONEncoder().encode(configuration) else { return nil }
        let arguments = [script, "--framework", framework, "--config", String(decoding: spec, as: UTF8.self),
                         "--threads", String(threads), "--runs", String(runs), "--max-attempts", String(maxAttempts),
                         "--seconds", String(seconds)]
        guard let result = try? runProcess(python, arguments, environment: Self.environment(threads: threads, level: level)) else { return nil }
        if result.status != 0 { print("\(framework) failed (\(result.status)): \(result.errors.suffix(800))") }
        return BenchFigure.parse(result.output).first
    }
}

/// Runs a program (looked up on PATH through /usr/bin/env unless the path is absolute).
func runProcess(_ program: String, _ arguments: [String],
                environment: [String: String]) throws -> (status: Int32, output: String, errors: String) {
    let process = Process()
    if program.hasPrefix("/") {
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
    }
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read stderr on another thread so neither pipe fills and blocks the child.
    let errorData = ErrorCollector()
    let reader = Thread { errorData.data = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errorData.done { usleep(1000) }
    return (process.terminationStatus, String(decoding: data, as: UTF8.self), String(decoding: errorData.data, as: UTF8.self))
}

private final class ErrorCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = Data()
    private var finished = false
    var data: Data {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; finished = true; lock.unlock() }
    }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return finished }
}

/// The environment that holds PyTorch, MKL, XLA and OpenBLAS to one instruction-set level
/// (baseline is held at SSE4.2 for PyTorch, MKL and XLA, their lowest x86-64 setting).
func peerLevelEnvironment(_ level: CPULevel) -> [String: String] {
    var environment = ["OPENBLAS_CORETYPE": openBLASCoreType(level)]
    switch level {
    case .baseline:
        environment["ATEN_CPU_CAPABILITY"] = "default"
        environment["MKL_ENABLE_INSTRUCTIONS"] = "SSE4_2"
        environment["XLA_FLAGS"] = "--xla_cpu_max_isa=SSE4_2"
    case .avx2:
        environment["ATEN_CPU_CAPABILITY"] = "avx2"
        environment["MKL_ENABLE_INSTRUCTIONS"] = "AVX2"
        environment["XLA_FLAGS"] = "--xla_cpu_max_isa=AVX2"
    case .avx512:
        environment["ATEN_CPU_CAPABILITY"] = "avx512"
        environment["MKL_ENABLE_INSTRUCTIONS"] = "AVX512"
        environment["XLA_FLAGS"] = "--xla_cpu_max_isa=AVX512"
    case .neon:
        environment["ATEN_CPU_CAPABILITY"] = "default"
    }
    return environment
}
