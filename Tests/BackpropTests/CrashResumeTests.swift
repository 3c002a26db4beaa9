import Foundation
import Testing
import Backprop

/// `backprop train` killed (SIGKILL, from strace's syscall injection) at each of its `fsync` and
/// `rename` calls, then resumed, ends as the uninterrupted run does: each epoch once in the
/// logs and TensorBoard's events, the same model and checkpoint tensors bit for bit, and no
/// temporary file left behind (issue 16).
@Suite struct CrashResumeTests {
    /// Debian's strace, if installed and allowed to trace here (ptrace may be refused in a
    /// container).
    static let strace: String? = {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/strace"
            guard FileManager.default.isExecutableFile(atPath: path) else { continue }
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: path)
            probe.arguments = ["-f", "-qq", "-o", "/dev/null", "/bin/true"]
            probe.standardError = FileHandle.nullDevice
            guard (try? probe.run()) != nil else { return nil }
            probe.waitUntilExit()
            return probe.terminationStatus == 0 ? path : nil
        }
        return nil
    }()

    /// A tiny run that improves on validation in more than one epoch, so the best model is
    /// written more than once; 4 epochs × 6 steps, TensorBoard events on.
    static let flags = ["train", "--dataset", "moons", "--examples", "200", "--epochs", "4", "--layers", "2,8,2",
                        "--lr", "0.05", "--batch-size", "32", "--quiet", "--tensorboard"]

    struct Outcome { var status: Int32; var killed: Bool; var error: String }

    /// Runs `backprop` under strace with `straceArguments` (nil: without strace).
    static func run(_ arguments: [String], strace straceArguments: [String]? = nil) throws -> Outcome {
        let process = Process()
        if let straceArguments, let strace {
            process.executableURL = URL(fileURLWithPath: strace)
            process.arguments = straceArguments + [CommandLineTests.executable.path] + arguments
        } else {
            process.executableURL = CommandLineTests.executable
            process.arguments = arguments
        }
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        // strace ends itself with the tracee's signal, or exits 128 + signal.
        let killed = process.terminationReason == .uncaughtSignal ? process.terminationStatus == SIGKILL
            : process.terminationStatus == 128 + SIGKILL
        return Outcome(status: process.terminationStatus, killed: killed, error: String(decoding: e, as: UTF8.self))
    }

    static func file(_ folder: String, _ name: String) -> String { (folder as NSString).appendingPathComponent(name) }

    /// Each row without its last field (the wall-clock seconds, which no two runs share).
    static func rows(_ folder: String) -> [String] {
        ResumeLogTests.read(file(folder, "metrics.csv")).split(separator: "\n")
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).dropLast().joined(separator: ",") }
    }

    static func jsonlEpochs(_ folder: String) -> [Int] {
        struct Epoch: Decodable { var epoch: Int }
        return ResumeLogTests.read(file(folder, "metrics.jsonl")).split(separator: "\n")
            .map { (try? JSONDecoder().decode(Epoch.self, from: Data($0.utf8)).epoch) ?? -1 }
    }

    static func tensors(_ path: String) throws -> [String: [UInt8]] {
        let file = try Safetensors(contentsOf: path)
        return Dictionary(file.entries.map { ($0.name, $0.entry.bytes) }, uniquingKeysWith: { a, _ in a })
    }

    /// The steps of every event in the folder's event files, sorted, without the `file_version`
    /// events each session starts its file with (step 0).
    static func eventSteps(_ folder: String) throws -> [Int] {
        var steps: [Int] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasPrefix("events.out.tfevents.") {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file(folder, name))))
            // A killed session's file may end in a torn record: its whole records count.
            steps += TFRecord.wholeRecords(in: bytes).map { ResumeLogTests.eventStep($0.data) }.filter { $0 > 0 }
        }
        return steps.sorted()
    }

    @Test(.enabled(if: strace != nil, "needs Debian's strace (apt-get install strace) with permission to trace"))
    func killedAtEveryFsyncAndRenameAndResumedEqualsTheUninterruptedRun() throws {
        let reference = CommandLineTests.temporaryDirectory()
        let straight = try Self.run(Self.flags + ["--out", reference])
        #expect(straight.status == 0, "\(straight.error)")
        let referenceRows = Self.rows(reference)
        #expect(referenceRows.dropFirst().map { $0.prefix { $0 != "," } } == ["1", "2", "3", "4"])
        let referenceModel = try Self.tensors(Self.file(reference, "model.safetensors"))
        let referenceCheckpoint = try Self.tensors(Self.file(reference, "checkpoint.safetensors"))
        let referenceSteps = try Self.eventSteps(reference)

        // How many of each call an uninterrupted run makes (strace counts per call and per
        // thread; the writes all come from the main thread, so the total bounds it).
        let traced = CommandLineTests.temporaryDirectory()
        let trace = traced + ".strace"
        let counting = try Self.run(Self.flags + ["--out", traced], strace: ["-f", "-qq", "-o", trace, "-e", "trace=fsync,rename"])
        #expect(counting.status == 0, "\(counting.error)")
        let calls = ResumeLogTests.read(trace).split(separator: "\n")
        var kills = 0
        for call in ["fsync", "rename"] {
            let count = calls.filter { $0.contains(" \(call)(") }.count
            #expect(count >= 4, "\(call): \(count) calls traced")
            for n in 1...count {
                let folder = CommandLineTests.temporaryDirectory()
                let point = "killed at \(call) #\(n)"
                let killed = try Self.run(Self.flags + ["--out", folder],
                                          strace: ["-f", "-qq", "-o", "/dev/null", "-e", "trace=\(call)",
                                                   "-e", "inject=\(call):signal=KILL:when=\(n)"])
                if killed.killed { kills += 1 } else { #expect(killed.status == 0, "\(point): \(killed.error)") }
                // As a user would: resume from the checkpoint if there is one, else start again.
                let resumable = FileManager.default.fileExists(atPath: Self.file(folder, "checkpoint.safetensors"))
                let resumed = try Self.run(Self.flags + ["--out", folder] + (resumable ? ["--resume"] : []))
                #expect(resumed.status == 0, "\(point): \(resumed.error)")
                #expect(Self.rows(folder) == referenceRows, "\(point): metrics.csv")
                #expect(Self.jsonlEpochs(folder) == [1, 2, 3, 4], "\(point): metrics.jsonl")
                #expect(try Self.eventSteps(folder) == referenceSteps, "\(point): TensorBoard events")
                #expect(try Self.tensors(Self.file(folder, "model.safetensors")) == referenceModel, "\(point): model")
                #expect(try Self.tensors(Self.file(folder, "checkpoint.safetensors")) == referenceCheckpoint, "\(point): checkpoint")
                let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder)
                    .filter { $0.hasPrefix(".") && ($0.contains(".tmp-") || $0.contains(".partial-") || $0.contains("nosync")) }
                #expect(leftovers.isEmpty, "\(point): temporaries left: \(leftovers)")
                try? FileManager.default.removeItem(atPath: folder)
            }
        }
        // Most injections land before the run ends (the last calls may come from a thread
        // other than the one counted, and then nothing is killed).
        #expect(kills >= 20, "only \(kills) runs were killed")
    }
}
