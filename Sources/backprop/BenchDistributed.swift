import ArgumentParser
import Backprop
import Foundation
#if MPI
import BackpropMPI
#endif

/// `backprop bench distributed`: data-parallel training samples/s on 1 and 2 MPI ranks for
/// configuration (b) of `bench train`, the share of each step spent in allreduce, the measured
/// allreduce bandwidth, and a ring-allreduce estimate of scaling to 8 and 64 machines.
struct BenchDistributed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distributed",
        abstract: "Time data-parallel MNIST training on 1 and 2 MPI ranks; estimate scaling to 8 and 64 machines.",
        discussion: """
            Needs a build with MPI (swift build -c release --traits MPI) and mpirun on PATH. Each \
            rank count runs as `mpirun -np N` of this binary (one kernel thread per rank) with \
            the same global mini-batch, cut into N shards (strong scaling). Per rank count: \
            samples/s over the timed steps, the share of the step in gradient allreduce, then \
            the allreduce alone on a buffer of the model's size (its bus bandwidth 2(p−1)/p·M/t) \
            and of one float (its latency). On a machine with fewer cores than ranks, or with \
            other processes running, the 2-rank figures are contended: the table says so.
            """
    )

    @Option(help: "Training configuration of `bench train` (a, a-bn, b, c).")
    var config = "b"

    @Option(help: "Timed optimizer steps per rank count (after 20 warm-up steps).")
    var steps = 150

    @Option(help: "Rank counts, comma-separated.")
    var ranks = "1,2"

    @Flag(help: "Force Open MPI's TCP transport (--mca btl tcp,self) instead of shared memory.")
    var tcp = false

    @Flag(help: .hidden)
    var child = false

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard TrainingBenchmark.configurations.contains(where: { $0.key == config }) else {
            throw ValidationError("unknown configuration '\(config)'; expected one of \(TrainingBenchmark.configurations.map(\.key).joined(separator: ", "))")
        }
    }

    func run() throws {
        #if MPI
        if child {
            try runChild()
        } else {
            try runParent()
        }
        #else
        throw CommandFailure("bench distributed needs a build with MPI: swift build -c release --traits MPI")
        #endif
    }

    /// Runs `mpirun -np N` of this binary per rank count and prints the table and estimate.
    private func runParent() throws {
        let counts = try ranks.split(separator: ",").map { text -> Int in
            guard let n = Int(text.trimmingCharacters(in: .whitespaces)), n >= 1 else {
                throw ValidationError("--ranks must list positive integers, got '\(ranks)'")
            }
            return n
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard let configuration = TrainingBenchmark.configurations.first(where: { $0.key == config }) else { return }
        print("backprop bench distributed: (\(configuration.key)) \(configuration.title), global batch \(configuration.batchSize), \(steps) timed steps, \(tcp ? "TCP (--mca btl tcp,self)" : "Open MPI's default transports (shared memory on one machine)"), \(cores) processors")
        var results: [Figure] = []
        let busyBefore = TrainingBenchmark.machineBusySeconds()
        let wallBefore = TrainingBenchmark.monotonicSeconds()
        var childCPU = 0.0
        for n in counts {
            let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
            let arguments = Self.mpirunArguments(ranks: n, tcp: tcp)
                + [executable, "bench", "distributed", "--child", "--config", config, "--steps", String(steps)]
            let result: (status: Int32, output: String, errors: String)
            do { result = try runProcess("mpirun", arguments, environment: ProcessInfo.processInfo.environment) } catch {
                throw CommandFailure("could not run mpirun (install openmpi-bin): \(error)")
            }
            guard result.status == 0, let figure = Figure.parse(result.output) else {
                throw CommandFailure("mpirun -np \(n) failed (\(result.status)): \(result.errors.suffix(800))")
            }
            childCPU += figure.cpuSeconds
            results.append(figure)
        }
        let other = busyBefore.flatMap { b0 in TrainingBenchmark.machineBusySeconds().map { b1 in max(0, (b1 - b0) - childCPU) / (TrainingBenchmark.monotonicSeconds() - wallBefore) } }
        print("")
        print("ranks  samples/s  ×1 rank  step ms  allreduce ms/step  share  bus GB/s (model-size)  latency µs")
        let base = results.first?.samplesPerSecond ?? 1
        for f in results {
            let bandwidth = f.ranks > 1 ? String(format: "%.2f", f.busBandwidth / 1e9) : "-"
            let latency = f.ranks > 1 ? String(format: "%.1f", 1e6 * f.latency) : "-"
            print(String(format: "%5d  %9.0f  %7.2f  %7.2f  %17.2f  %4.1f%%  ", f.ranks, f.samplesPerSecond, f.samplesPerSecond / base,
                         1000 * f.stepSeconds, 1000 * f.allreducePerStep, 100 * f.allreducePerStep / f.stepSeconds)
                  + String(repeating: " ", count: max(0, 21 - bandwidth.count)) + bandwidth
                  + "  " + String(repeating: " ", count: max(0, 10 - latency.count)) + latency)
        }
        let contended = counts.contains { $0 > cores } || (other ?? 0) > 0.1
        print(String(format: "other processes used %.2f cores meanwhile%@", other ?? 0,
                     contended ? " — the multi-rank figures are contended (ranks share cores or compete with other work)" : ""))
        guard let one = results.first(where: { $0.ranks == 1 }), let two = results.first(where: { $0.ranks > 1 }) else { return }
        print("")
        print(Self.estimate(one: one, many: two, configuration: configuration))
    }

    static func mpirunArguments(ranks: Int, tcp: Bool) -> [String] {
        var arguments = ["-np", String(ranks), "--oversubscribe", "--bind-to", "none"]
        if geteuid() == 0 { arguments.append("--allow-run-as-root") }
        if tcp { arguments += ["--mca", "btl", "tcp,self"] }
        return arguments
    }

    /// Ring allreduce (Patarasuk & Yuan): 2(p−1) steps each moving M/p bytes, so
    /// t(p) = 2(p−1)·α + 2(p−1)/p · M/B. Compute per step: strong scaling divides the global
    /// batch's compute by p, weak scaling keeps each machine's batch.
    static func estimate(one: Figure, many: Figure, configuration: TrainingBenchmark.Configuration) -> String {
        let compute = one.stepSeconds - one.allreducePerStep
        let bytes = Double(many.modelBytes)
        var lines = [String(format: "Scaling estimate (ring allreduce t = 2(p−1)·α + 2(p−1)/p·M/B, M = %.1f MB of gradients; one-rank compute %.2f ms per global batch of %d):",
                            bytes / 1e6, 1000 * compute, configuration.batchSize)]
        let networks: [(String, Double, Double)] = [
            (String(format: "measured here (B %.2f GB/s, α %.1f µs)", many.busBandwidth / 1e9, 1e6 * many.latency), many.busBandwidth, many.latency),
            ("10 Gb/s Ethernet (B 1.25 GB/s, α 30 µs)", 1.25e9, 30e-6),
            ("100 Gb/s InfiniBand (B 12.5 GB/s, α 2 µs)", 12.5e9, 2e-6),
        ]
        for (name, bandwidth, latency) in networks {
            lines.append("  \(name):")
            for p in [8, 64] {
                let pd = Double(p)
                let allreduce = 2 * (pd - 1) * latency + 2 * (pd - 1) / pd * bytes / bandwidth
                let strong = compute / pd + allreduce
                let weak = compute + allreduce
                lines.append(String(format: "    %2d machines: allreduce %.2f ms; strong scaling (batch %d): %.2f ms/step, speed-up %.1f× (efficiency %.0f%%); weak scaling (batch %d per machine): efficiency %.0f%%",
                                    p, 1000 * allreduce, configuration.batchSize, 1000 * strong, compute / strong,
                                    100 * compute / strong / pd, configuration.batchSize, 100 * compute / weak))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// One rank count's figures, from rank 0's JSON line.
    struct Figure: Codable {
        var ranks: Int
        var samplesPerSecond: Double
        var stepSeconds: Double
        var allreducePerStep: Double
        var modelBytes: Int
        /// Bus bandwidth of a model-sized allreduce, 2(p−1)/p·M/t (0 for one rank).
        var busBandwidth: Double
        /// Time of a one-float allreduce divided by 2(p−1): α of the ring model.
        var latency: Double
        var cpuSeconds: Double
        var loss: Float

        static func parse(_ output: String) -> Figure? {
            output.split(separator: "\n").lazy.compactMap { line in
                try? JSONDecoder().decode(Figure.self, from: Data(line.utf8))
            }.first
        }
    }

    #if MPI
    /// In each rank of `mpirun`: train, time, print rank 0's figures as one JSON line.
    private func runChild() throws {
        let communicator: MPICommunicator
        do { communicator = try MPICommunicator(timeout: 600) } catch { throw CommandFailure("\(error)") }
        defer { communicator.finalize() }
        guard let configuration = TrainingBenchmark.configurations.first(where: { $0.key == config }) else { return }
        let train: ImageDataset
        do { train = try MNIST.loadBundled().train } catch { throw CommandFailure("MNIST: \(error)") }
        let backend = Backend(threads: ThreadPool(threadCount: 1), sparseInputDensity: Backend.cpu.sparseInputDensity)
        try Backend.$current.withValue(backend) {
            let warmUp = try DataParallel(collective: communicator)
            _ = try TrainingBenchmark.makeTrainer(configuration, train: train, epochs: 1, maximumSteps: 20, seed: 7, parallel: warmUp).fit()
            let parallel = try DataParallel(collective: communicator)
            let trainer = try TrainingBenchmark.makeTrainer(configuration, train: train, epochs: 1000, maximumSteps: steps, seed: 1, parallel: parallel)
            try communicator.barrier()
            let cpu0 = TrainingBenchmark.processCPUSeconds(), wall0 = TrainingBenchmark.monotonicSeconds()
            let summary = try trainer.fit()
            try communicator.barrier()
            let wall = TrainingBenchmark.monotonicSeconds() - wall0
            let cpu = TrainingBenchmark.processCPUSeconds() - cpu0
            // The allreduce alone: a model-sized buffer, then one float.
            let count = trainer.model.parameterCount + 3
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            defer { buffer.deallocate() }
            buffer.initialize(repeating: 1)
            func time(_ n: Int, repeats: Int) throws -> Double {
                let part = UnsafeMutableBufferPointer(rebasing: buffer[0..<n])
                try communicator.allReduceSum(part)
                try communicator.barrier()
                let t0 = TrainingBenchmark.monotonicSeconds()
                for _ in 0..<repeats { try communicator.allReduceSum(part) }
                return (TrainingBenchmark.monotonicSeconds() - t0) / Double(repeats)
            }
            let p = Double(communicator.size)
            let big = try time(count, repeats: 20), small = try time(1, repeats: 200)
            // Every rank's CPU time, for the parent's estimate of other processes' load.
            var cpuTotal = [Float(cpu)]
            try cpuTotal.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
            guard communicator.rank == 0 else { return }
            let figure = Figure(ranks: communicator.size,
                                samplesPerSecond: Double(summary.steps * configuration.batchSize) / wall,
                                stepSeconds: wall / Double(max(summary.steps, 1)),
                                allreducePerStep: parallel.communicationSeconds / Double(max(summary.steps, 1)),
                                modelBytes: count * MemoryLayout<Float>.stride,
                                busBandwidth: p > 1 ? 2 * (p - 1) / p * Double(count * MemoryLayout<Float>.stride) / big : 0,
                                latency: p > 1 ? small / (2 * (p - 1)) : 0,
                                cpuSeconds: Double(cpuTotal[0]), loss: summary.history.last?.trainLoss ?? .nan)
            let encoder = JSONEncoder()
            print(String(decoding: try encoder.encode(figure), as: UTF8.self))
        }
    }
    #endif
}
