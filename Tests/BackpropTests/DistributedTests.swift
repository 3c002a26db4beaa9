import Foundation
import Testing
import Backprop

/// Whether the MPI tests can run here: a build with the MPI trait and `mpirun` on PATH. When
/// they cannot, the reason is printed once.
enum MPITestEnvironment {
    static let mpirun: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        .split(separator: ":").map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }

    static let skipReason: String? = {
        #if MPI
        return mpirun == nil ? "mpirun is not on PATH (apt-get install openmpi-bin libopenmpi-dev)" : nil
        #else
        return "built without the MPI trait (run them with: swift test -c release --traits MPI --filter DistributedTests)"
        #endif
    }()

    static let available: Bool = {
        if let skipReason { print("DistributedTests skipped: \(skipReason)") }
        return skipReason == nil
    }()
}

/// `mpirun -np 2 backprop train --distributed` against one process, on the same seed and data:
/// the parameters after 50 steps, faults, resuming with another rank count.
@Suite(.enabled(if: MPITestEnvironment.available, "needs a build with --traits MPI and mpirun"), .serialized)
struct DistributedTests {
    /// Moons, 1000 training examples (no validation split), batches of 40: 25 steps per epoch,
    /// each rank's shard 20 examples; 50 steps.
    static let common = ["train", "--dataset", "moons", "--examples", "1000", "--layers", "2,16,16,2",
                         "--validation-fraction", "0", "--batch-size", "40", "--steps", "50", "--threads", "1", "--quiet"]

    struct Run { var status: Int32; var output: String; var error: String }

    /// Runs `backprop` with `arguments`, under `mpirun -np ranks` when ranks is given. mpirun's
    /// --timeout only keeps a broken build from hanging CI; it is no speed limit.
    static func run(ranks: Int?, _ arguments: [String], mpi: [String] = []) throws -> Run {
        let process = Process()
        if let ranks, let mpirun = MPITestEnvironment.mpirun {
            process.executableURL = URL(fileURLWithPath: mpirun)
            var launch = ["-np", String(ranks), "--oversubscribe", "--bind-to", "none", "--timeout", "600"]
            if geteuid() == 0 { launch.append("--allow-run-as-root") }
            process.arguments = launch + mpi + [CommandLineTests.executable.path] + arguments
        } else {
            process.executableURL = CommandLineTests.executable
            process.arguments = arguments
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let errors = ErrorReader(err)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: o, as: UTF8.self), error: errors.text())
    }

    /// The model tensors of a run folder's checkpoint, by name.
    static func parameters(_ directory: String) throws -> [String: [Float]] {
        let file = try Safetensors(contentsOf: (directory as NSString).appendingPathComponent("checkpoint.safetensors"))
        var out: [String: [Float]] = [:]
        for (name, entry) in file.entries where !name.hasPrefix("optimizer.") && entry.dtype == .f32 {
            out[name] = entry.tensor().scalars
        }
        return out
    }

    /// max over tensors of max |a − b| / max |b|.
    static func relativeDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
        var worst: Float = 0
        for (name, y) in b {
            guard let x = a[name], x.count == y.count else { return .infinity }
            let diff = zip(x, y).map { abs($0 - $1) }.max() ?? 0
            worst = max(worst, diff / max(y.map(abs).max() ?? 0, .leastNormalMagnitude))
        }
        return a.count == b.count ? worst : .infinity
    }

    /// ‖a − b‖ / ‖b‖ over all tensors together: for models whose parameters include some that
    /// are zero up to rounding (a bias before BatchNorm gets a gradient of exactly 0 in exact
    /// arithmetic), where a per-tensor relative error means nothing.
    static func relativeNorm(_ a: [String: [Float]], _ b: [String: [Float]]) -> Double {
        guard a.keys.sorted() == b.keys.sorted() else { return .infinity }
        var difference = 0.0, norm = 0.0
        for (name, y) in b {
            guard let x = a[name], x.count == y.count else { return .infinity }
            for (u, v) in zip(x, y) {
                difference += Double(u - v) * Double(u - v)
                norm += Double(v) * Double(v)
            }
        }
        return (difference / max(norm, .leastNormalMagnitude)).squareRoot()
    }

    static func directory() -> String { CommandLineTests.temporaryDirectory() }

    @Test(arguments: [[String](), ["--mca", "btl", "tcp,self"]])
    func twoRanksMatchOneProcess(_ transport: [String]) throws {
        // SGD, whose update is linear in the gradient, so reduction-order differences stay at
        // rounding level instead of being amplified (as Adam's g/√v can for tiny gradients).
        let flags = Self.common + ["--optimizer", "sgd", "--lr", "0.1"]
        let two = Self.directory(), one = Self.directory()
        let distributed = try Self.run(ranks: 2, flags + ["--distributed", "--out", two], mpi: transport)
        #expect(distributed.status == 0, "\(distributed.error)")
        let single = try Self.run(ranks: nil, flags + ["--out", one])
        #expect(single.status == 0, "\(single.error)")
        let a = try Self.parameters(two), b = try Self.parameters(one)
        #expect(a.count == 6)
        #expect(Self.relativeDifference(a, b) <= 1e-5)
        // Not trivially equal to the initialization: the runs trained.
        #expect(distributed.output.contains("test accuracy"))
    }

    @Test(arguments: [[String](), ["--mca", "btl", "tcp,self"]])
    func deterministicReductionIsBitIdenticalToOneProcessWithTheSameShards(_ transport: [String]) throws {
        // Adam, batch normalization and a short last batch (1000 = 26·38 + 12: shards of 19 and 19, then 6 and 6):
        // rank r's shard in 2 ranks is micro-batch r in one process, summed in the same order.
        let flags = Self.common.map { $0 == "40" ? "38" : $0 } + ["--batchnorm", "--optimizer", "adam", "--steps", "60", "--reduction", "deterministic"]
        let two = Self.directory(), one = Self.directory()
        let distributed = try Self.run(ranks: 2, flags + ["--distributed", "--out", two], mpi: transport)
        #expect(distributed.status == 0, "\(distributed.error)")
        let single = try Self.run(ranks: nil, flags + ["--micro-batches", "2", "--out", one])
        #expect(single.status == 0, "\(single.error)")
        let a = try Self.parameters(two), b = try Self.parameters(one)
        // Weights and biases only: each rank's BatchNorm running statistics are its shard's.
        let trained = a.keys.filter { !$0.contains("running") && !$0.contains("num_batches") }
        #expect(trained.count == 10)
        for name in trained { #expect(a[name] == b[name], "\(name) differs") }
    }

    @Test func synchronizedBatchNormMatchesOneProcessWithTheWholeBatch() throws {
        // With SyncBN every rank normalizes with the whole batch's statistics, so 2 ranks train
        // as one process does — running statistics included — up to the order of sums. Batches
        // of 39 give unequal shards (19 and 20), which the backward pass must weight.
        let flags = Self.common.map { $0 == "40" ? "39" : $0 } + ["--batchnorm", "--optimizer", "sgd", "--lr", "0.1"]
        let two = Self.directory(), one = Self.directory(), perRank = Self.directory()
        let synchronized = try Self.run(ranks: 2, flags + ["--distributed", "--sync-batchnorm", "--out", two])
        #expect(synchronized.status == 0, "\(synchronized.error)")
        #expect(try Self.run(ranks: nil, flags + ["--out", one]).status == 0)
        let a = try Self.parameters(two), b = try Self.parameters(one)
        #expect(a.keys.contains("1.running_mean") && a.keys.contains("1.running_var"))
        #expect(Self.relativeNorm(a, b) <= 1e-5)
        // The running statistics, per tensor: they are the global batch's, not a shard's.
        for name in ["1.running_mean", "1.running_var", "4.running_mean", "4.running_var"] {
            #expect(Self.relativeDifference([name: a[name] ?? []], [name: b[name] ?? []]) <= 1e-5, "\(name)")
        }
        // Per-rank BatchNorm (the default) normalizes by shard statistics: visibly different.
        #expect(try Self.run(ranks: 2, flags + ["--distributed", "--out", perRank]).status == 0)
        #expect(Self.relativeNorm(try Self.parameters(perRank), b) > 1e-4)
    }

    @Test(arguments: [[String](), ["--mca", "btl", "tcp,self"]])
    func aDeadRankEndsTheJobAndTheCheckpointResumesOnAnotherRankCount(_ transport: [String]) throws {
        let flags = Self.common.filter { $0 != "--steps" && $0 != "50" } + ["--epochs", "4", "--reduction", "deterministic"]
        // Uninterrupted: 4 epochs on 2 ranks.
        let straight = Self.directory()
        let reference = try Self.run(ranks: 2, flags + ["--distributed", "--out", straight])
        #expect(reference.status == 0, "\(reference.error)")
        // Rank 1 dies in epoch 3 (after step 60; checkpoints are written after epochs 1 and 2).
        let broken = Self.directory()
        let failed = try Self.run(ranks: 2, flags + ["--distributed", "--out", broken, "--fail-at", "1:60"], mpi: transport)
        #expect(failed.status != 0)
        #expect(failed.error.contains("rank 0: ended by mpirun"), "\(failed.error)")
        #expect(failed.error.contains("checkpoint.safetensors"))
        // The checkpoint is whole, and one process with the same two shards continues it to
        // exactly the uninterrupted run's parameters.
        let info = try Self.run(ranks: nil, ["info", (broken as NSString).appendingPathComponent("checkpoint.safetensors")])
        #expect(info.status == 0, "\(info.error)")
        let resumed = try Self.run(ranks: nil, flags + ["--micro-batches", "2", "--out", broken, "--resume"])
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(try Self.parameters(broken) == Self.parameters(straight))
    }

    @Test func aHungRankIsCaughtByTheWatchdogAndResumesOnMoreRanks() throws {
        let flags = Self.common.filter { $0 != "--steps" && $0 != "50" } + ["--epochs", "3"]
        let out = Self.directory()
        let hung = try Self.run(ranks: 2, flags + ["--distributed", "--out", out, "--fail-at", "1:30:hang", "--collective-timeout", "2"])
        #expect(hung.status != 0)
        #expect(hung.error.contains("made no progress for"), "\(hung.error)")
        // One epoch (25 steps) was checkpointed; 3 ranks finish the run.
        let resumed = try Self.run(ranks: 3, flags + ["--distributed", "--out", out, "--resume"])
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(resumed.output.contains("trained 75 steps"), "\(resumed.output)")
    }

    @Test func localSGDAveragingEveryStepIsSynchronousSGDAndElasticAveragingTrains() throws {
        // Plain SGD: averaging θ − η·g_r over the ranks is θ − η·mean(g_r), the synchronous
        // update, as the shards are equal (20 examples each).
        let flags = Self.common + ["--optimizer", "sgd", "--lr", "0.1"]
        let local = Self.directory(), synchronous = Self.directory(), rarely = Self.directory()
        #expect(try Self.run(ranks: 2, flags + ["--distributed", "--local-sgd", "1", "--out", local]).status == 0)
        #expect(try Self.run(ranks: 2, flags + ["--distributed", "--out", synchronous]).status == 0)
        #expect(Self.relativeDifference(try Self.parameters(local), try Self.parameters(synchronous)) <= 1e-5)
        // Elastic averaging (every 2 steps, α = 0.45) trains too, to a center of its own.
        let elastic = Self.directory()
        let run = try Self.run(ranks: 2, flags + ["--distributed", "--elastic-averaging", "2", "--out", elastic])
        #expect(run.status == 0, "\(run.error)")
        let accuracy = run.output.split(separator: "\n").first { $0.hasPrefix("test accuracy:") }
            .flatMap { Float($0.dropFirst("test accuracy: ".count).dropLast()) }
        #expect((accuracy ?? 0) > 75, "\(run.output)")
        #expect(Self.relativeDifference(try Self.parameters(elastic), try Self.parameters(synchronous)) > 1e-4)
        // Averaging every 10 steps is a different algorithm: not the same parameters.
        #expect(try Self.run(ranks: 2, flags + ["--distributed", "--local-sgd", "10", "--out", rarely]).status == 0)
        #expect(Self.relativeDifference(try Self.parameters(rarely), try Self.parameters(synchronous)) > 1e-4)
    }
}

/// Reads a pipe to its end on another thread, so neither of a child's pipes fills and blocks it.
private final class ErrorReader: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()
    init(_ pipe: Pipe) {
        Thread {
            self.data = pipe.fileHandleForReading.readDataToEndOfFile()
            self.done.signal()
        }.start()
    }
    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}
