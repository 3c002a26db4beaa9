import Foundation
import Synchronization
import Testing
import Backprop

/// Every `backprop train` flag against every kind of model: each combination is honored (the
/// trained tensors differ from the same run without the flag, or — for the flags whose point is
/// to keep the numbers — they are equal and the flag's own effect is there) or refused (a
/// non-zero exit with a message naming the flag). None is silently ignored.
///
/// Runs are small (two moons, 200 examples, 3 epochs of batches of 20), so the whole table takes
/// seconds; the tensors compared are every tensor of every `.safetensors` file the run wrote
/// (model and checkpoint; an ensemble's members' too), so a flag that only changes the last
/// epoch, or which model is kept, still shows.
@Suite struct TrainFlagMatrixTests {
    enum Kind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case single, ensemble, experts, replicas, microBatches

        var flags: [String] {
            switch self {
            case .single: return ["--layers", "2,8,2"]
            case .ensemble: return ["--layers", "2,8,2", "--ensemble", "2"]
            case .experts: return ["--experts", "2", "--expert-layers", "8"]
            case .replicas: return ["--layers", "2,8,2", "--replicas", "2"]
            case .microBatches: return ["--layers", "2,8,2", "--micro-batches", "2"]
            }
        }
        /// The flag that makes this kind (nil: a plain network).
        var definingFlag: String? {
            switch self {
            case .single: return nil
            case .ensemble: return "--ensemble"
            case .experts: return "--experts"
            case .replicas: return "--replicas"
            case .microBatches: return "--micro-batches"
            }
        }
        var testDescription: String { rawValue }
    }

    /// What an honored flag does to the trained tensors.
    enum Effect: Sendable {
        /// They change.
        case changes
        /// They keep their bits (the flag's promise: threads, timeouts, logging), and the flag's
        /// own effect is seen in the run folder.
        case keepsBits(check: @Sendable (_ runFolder: String) -> Bool)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var flags: [String]
        var effect: Effect = .changes
        /// The run compared against: the kind's with these flags instead of the row's.
        var reference: [String] = []
        /// Kinds that refuse the flag, with a fragment of the one-line message.
        var refusedBy: [Kind: String] = [:]
        var testDescription: String { flags.joined(separator: " ") }
    }

    static let base = ["train", "--dataset", "moons", "--examples", "200", "--epochs", "3", "--batch-size", "20",
                       "--seed", "3", "--quiet", "--lr", "0.01"]

    static func all(_ fragment: String) -> [Kind: String] {
        Dictionary(uniqueKeysWithValues: Kind.allCases.map { ($0, fragment) })
    }

    static func all(but kinds: Set<Kind>, _ fragment: String) -> [Kind: String] {
        all(fragment).filter { !kinds.contains($0.key) }
    }

    static let sameBits: Effect = .keepsBits { _ in true }

    static let rows: [Row] = [
        // The model.
        Row(flags: ["--layers", "2,6,2"], refusedBy: [.experts: "--layers"]),
        Row(flags: ["--activation", "tanh"]),
        // A short last batch of 3 cannot be cut into 2 shards of at least 2 examples: refused
        // before the first step; without it BatchNorm trains in shards too.
        Row(flags: ["--batchnorm"], refusedBy: [.experts: "--batchnorm", .replicas: "BatchNorm", .microBatches: "BatchNorm"]),
        Row(flags: ["--batchnorm", "--drop-last"], reference: ["--drop-last"], refusedBy: [.experts: "--batchnorm"]),
        Row(flags: ["--dropout", "0.3"]),
        Row(flags: ["--input-noise", "0.2"]),
        Row(flags: ["--ensemble", "3"],
            refusedBy: [.experts: "--experts", .replicas: "--replicas", .microBatches: "--micro-batches"]),
        Row(flags: ["--bagging"], refusedBy: all(but: [.ensemble], "--bagging")),
        Row(flags: ["--experts", "3"],
            refusedBy: [.single: "--layers", .ensemble: "--experts", .replicas: "--experts", .microBatches: "--experts"]),
        Row(flags: ["--top-k", "1"], refusedBy: all(but: [.experts], "--top-k")),
        Row(flags: ["--expert-layers", "6"], refusedBy: all(but: [.experts], "--expert-layers")),
        Row(flags: ["--gate-layers", "4"], refusedBy: all(but: [.experts], "--gate-layers")),
        // The objective.
        Row(flags: ["--loss", "cross-entropy"], effect: sameBits),
        Row(flags: ["--loss", "bce", "--layers", "2,8,1"], refusedBy: [.experts: "--loss"]),
        Row(flags: ["--loss", "mse"], refusedBy: all(but: [.experts], "class labels").merging([.experts: "--loss"]) { $1 }),
        Row(flags: ["--targets", "1"], refusedBy: all("--targets")),
        // The data.
        Row(flags: ["--examples", "150"]),
        Row(flags: ["--validation-fraction", "0.25"]),
        Row(flags: ["--augment", "affine"], refusedBy: all("image data sets")),
        Row(flags: ["--data-dir", "/tmp"], refusedBy: all("--data-dir")),
        // Optimization.
        Row(flags: ["--optimizer", "momentum"]),
        Row(flags: ["--lr", "0.003"]),
        Row(flags: ["--schedule", "step:every=4,gamma=0.5"]),
        Row(flags: ["--batch-size", "24"]),
        Row(flags: ["--drop-last"]),
        Row(flags: ["--epochs", "4"]),
        Row(flags: ["--steps", "7"]),
        Row(flags: ["--seed", "4"]),
        // Regularization.
        Row(flags: ["--weight-decay", "0.01"]),
        Row(flags: ["--clip-norm", "0.01"]),
        Row(flags: ["--gradient-noise", "0.5"]),
        Row(flags: ["--early-stopping", "1", "--epochs", "12"], reference: ["--epochs", "12"]),
        // Parallel training.
        Row(flags: ["--micro-batches", "4"], refusedBy: [.ensemble: "--micro-batches", .experts: "--micro-batches"]),
        Row(flags: ["--replicas", "4"], refusedBy: [.ensemble: "--replicas", .experts: "--replicas"]),
        Row(flags: ["--reduction", "deterministic"], effect: sameBits,
            refusedBy: [.single: "--reduction", .ensemble: "--reduction", .experts: "--reduction"]),
        Row(flags: ["--collective-timeout", "60"], effect: sameBits, refusedBy: all(but: [.replicas], "--collective-timeout")),
        Row(flags: ["--distributed"], refusedBy: all("--distributed")),
        Row(flags: ["--sync-batchnorm"], refusedBy: all("--distributed")),
        Row(flags: ["--local-sgd", "2"], refusedBy: all("--local-sgd")),
        Row(flags: ["--elastic-averaging", "2"], refusedBy: all("--elastic-averaging")),
        Row(flags: ["--elastic-alpha", "0.5"], refusedBy: all("--elastic-alpha")),
        // How it runs: the same numbers.
        Row(flags: ["--threads", "1"], effect: sameBits, refusedBy: [.replicas: "--threads"]),
        Row(flags: ["--no-adaptive-threads"], effect: sameBits),
        Row(flags: ["--tensorboard"], effect: .keepsBits { folder in
            (try? FileManager.default.contentsOfDirectory(atPath: folder))?.contains { $0.hasPrefix("events.out.tfevents") } == true
        }, refusedBy: [.ensemble: "--tensorboard"]),
    ]

    /// Every tensor of every safetensors file under `directory`, by relative path and name.
    static func tensors(under directory: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return out }
        for case let relative as String in walker where relative.hasSuffix(".safetensors") {
            let file = try Safetensors(contentsOf: (directory as NSString).appendingPathComponent(relative))
            for (name, entry) in file.entries { out["\(relative):\(name)"] = entry.bytes }
        }
        return out
    }

    static func train(_ kind: Kind, _ flags: [String]) throws -> (run: CommandLineTests.Run, out: String) {
        let out = CommandLineTests.temporaryDirectory()
        let run = try CommandLineTests.run(base + kind.flags + flags + ["--out", out])
        return (run, out)
    }

    @Test(arguments: Kind.allCases)
    func everyKindTrainsWithoutFlags(_ kind: Kind) throws {
        let (run, out) = try Self.train(kind, [])
        #expect(run.status == 0, "\(run.error)")
        #expect(try !Self.tensors(under: out).isEmpty)
    }

    @Test(arguments: rows, Kind.allCases)
    func flagIsHonoredOrRefused(_ row: Row, _ kind: Kind) throws {
        // The flag that makes a kind is that kind's own (--ensemble on an ensemble).
        if let flag = row.flags.first, flag == kind.definingFlag { return }
        let (run, out) = try Self.train(kind, row.flags)
        if let fragment = row.refusedBy[kind] {
            #expect(run.status != 0, "\(row.flags) with \(kind) should be refused; it ran")
            #expect(run.error.contains(fragment), "\(row.flags) with \(kind): '\(run.error)' does not name \(fragment)")
            #expect(run.error.split(separator: "\n").count <= 3, "not one clear line: \(run.error)")
            return
        }
        #expect(run.status == 0, "\(row.flags) with \(kind) should be honored; it failed: \(run.error)")
        guard run.status == 0 else { return }
        let trained = try Self.tensors(under: out), reference = try Self.reference(kind, row.reference)
        #expect(!trained.isEmpty)
        switch row.effect {
        case .changes:
            #expect(trained != reference, "\(row.flags) with \(kind) was silently ignored: the same tensors as without it")
        case .keepsBits(let check):
            #expect(trained == reference, "\(row.flags) with \(kind) changed the numbers")
            #expect(check(out), "\(row.flags) with \(kind): its effect is missing from \(out)")
        }
        try? FileManager.default.removeItem(atPath: out)
    }

    /// `--resume` continues every kind of model bit for bit: 2 epochs, then resumed to 4, gives
    /// the tensors of 4 epochs in one go (an ensemble's members each from their own checkpoint).
    @Test(arguments: [Kind.single, .ensemble, .experts, .microBatches])
    func resumeContinuesEveryKindBitForBit(_ kind: Kind) throws {
        let (straight, straightOut) = try Self.train(kind, ["--epochs", "4"])
        #expect(straight.status == 0, "\(straight.error)")
        let out = CommandLineTests.temporaryDirectory()
        let first = try CommandLineTests.run(Self.base + kind.flags + ["--epochs", "2", "--out", out])
        #expect(first.status == 0, "\(first.error)")
        let resumed = try CommandLineTests.run(Self.base + kind.flags + ["--epochs", "4", "--out", out, "--resume"])
        #expect(resumed.status == 0, "\(resumed.error)")
        let expected = try Self.tensors(under: straightOut), actual = try Self.tensors(under: out)
        #expect(!expected.isEmpty && actual == expected, "\(kind): resumed tensors differ from the uninterrupted run's")
        // Resuming a finished run trains nothing more and changes nothing.
        let again = try CommandLineTests.run(Self.base + kind.flags + ["--epochs", "4", "--out", out, "--resume"])
        #expect(again.status == 0, "\(again.error)")
        #expect(try Self.tensors(under: out) == expected)
    }

    /// `--resume` where there is nothing to resume is an error naming the missing checkpoint.
    @Test(arguments: [Kind.single, .ensemble, .experts])
    func resumeWithoutACheckpointIsRefused(_ kind: Kind) throws {
        let run = try CommandLineTests.run(Self.base + kind.flags + ["--out", CommandLineTests.temporaryDirectory(), "--resume"])
        #expect(run.status != 0)
        #expect(run.error.contains("checkpoint.safetensors"), "\(run.error)")
    }

    /// `--steps` ends every kind of run after that many steps (it used to run an ensemble for
    /// Int.max / 2 epochs).
    @Test(arguments: Kind.allCases)
    func stepsLimitEveryKind(_ kind: Kind) throws {
        let run = try CommandLineTests.run(["train", "--dataset", "moons", "--examples", "200", "--batch-size", "20", "--steps", "13"]
                                           + kind.flags + ["--out", CommandLineTests.temporaryDirectory()])
        #expect(run.status == 0, "\(run.error)")
        if kind == .ensemble {
            #expect(run.output.components(separatedBy: "13 steps): test accuracy").count == 3, "\(run.output)")
        } else {
            #expect(run.output.contains("trained 13 steps"), "\(run.output)")
        }
    }

    /// The tensors of the kind's run with `flags`, trained once and kept for every row that
    /// compares against it.
    static func reference(_ kind: Kind, _ flags: [String]) throws -> [String: [UInt8]] {
        let key = "\(kind) \(flags)"
        if let known = references.withLock({ $0[key] }) { return known }
        let (run, out) = try train(kind, flags)
        guard run.status == 0 else { throw ReferenceFailure(message: "\(kind) \(flags): \(run.error)") }
        let tensors = try Self.tensors(under: out)
        try? FileManager.default.removeItem(atPath: out)
        references.withLock { $0[key] = tensors }
        return tensors
    }

    struct ReferenceFailure: Error { var message: String }

    static let references = Mutex<[String: [String: [UInt8]]]>([:])
}
