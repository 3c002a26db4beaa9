import Foundation
import Testing
import Backprop

#if canImport(Glibc)
import Glibc
#endif

/// A resumed run's logs hold each evaluation once, and a killed writer's temporary files do not
/// outlive the next run (issue 16).
@Suite struct ResumeLogTests {
    static let header = "epoch,step,learning_rate,train_loss,train_accuracy,validation_loss,validation_accuracy,test_loss,test_accuracy,seconds\n"

    static func read(_ path: String) -> String {
        String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }

    static func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Rows past the checkpoint's step and a torn last line go; the rows it knows stay byte for byte.
    @Test func resumingCutsTheMetricsLogsBackToTheCheckpointsStep() throws {
        let directory = TrainerTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let csv = (directory as NSString).appendingPathComponent("metrics.csv")
        let jsonl = (directory as NSString).appendingPathComponent("metrics.jsonl")
        let rows = ["1,4,0.01,0.9,0.5,,,,,0.100\n", "2,8,0.01,0.7,0.6,,,,,0.200\n", "3,12,0.01,0.5,0.7,,,,,0.300\n"]
        let lines = [#"{"epoch":1,"step":4}"# + "\n", #"{"epoch":2,"step":8}"# + "\n", #"{"epoch":3,"step":12}"# + "\n"]
        try Self.write(Self.header + rows.joined() + "4,16,0.0", to: csv)
        try Self.write(lines.joined() + #"{"epoch":4,"st"#, to: jsonl)

        _ = try MetricsLog(directory: directory, resumingAtStep: 8)
        #expect(Self.read(csv) == Self.header + rows[0] + rows[1])
        #expect(Self.read(jsonl) == lines[0] + lines[1])

        // A whole log already at the checkpoint is left as it is.
        _ = try MetricsLog(directory: directory, resumingAtStep: 8)
        #expect(Self.read(csv) == Self.header + rows[0] + rows[1])
    }

    /// A line that is not one of this log's rows is an error naming the file and line, not dropped.
    @Test func aForeignLineInTheMetricsLogIsAnError() throws {
        let directory = TrainerTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let csv = (directory as NSString).appendingPathComponent("metrics.csv")
        try Self.write(Self.header + "1,4,0.01,0.9,0.5,,,,,0.100\nhello\n", to: csv)
        #expect {
            _ = try MetricsLog(directory: directory, resumingAtStep: 8)
        } throws: { error in
            let text = "\(error)"
            return text.contains(csv) && text.contains("line 3")
        }
    }

    /// The crash of issue 16, without a kill: an epoch logged after the last checkpoint (the
    /// checkpoint put back to the one before it). The resumed run logs each epoch once, as the
    /// uninterrupted run did.
    @Test func aResumedRunLogsTheEpochsAfterItsCheckpointOnce() throws {
        let straight = TrainerTests.temporaryDirectory()
        _ = try EarlyStoppingTests.makeTrainer(epochs: 3, patience: 100, directory: straight).fit()

        let directory = TrainerTests.temporaryDirectory()
        let first = try EarlyStoppingTests.makeTrainer(epochs: 2, patience: 100, directory: directory)
        _ = try first.fit()
        let checkpoint = try #require(first.checkpointPath)
        let atEpoch2 = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        let second = try EarlyStoppingTests.makeTrainer(epochs: 3, patience: 100, directory: directory)
        try second.resume(from: checkpoint)
        _ = try second.fit()
        // Killed after logging epoch 3, before its checkpoint replaced epoch 2's.
        try atEpoch2.write(to: URL(fileURLWithPath: checkpoint))

        let third = try EarlyStoppingTests.makeTrainer(epochs: 3, patience: 100, directory: directory)
        try third.resume(from: checkpoint)
        _ = try third.fit()
        func epochs(_ folder: String) -> [String] {
            Self.read((folder as NSString).appendingPathComponent("metrics.csv")).split(separator: "\n").dropFirst()
                .map { String($0.prefix { $0 != "," }) }
        }
        #expect(epochs(directory) == ["1", "2", "3"])
        let jsonl = Self.read((directory as NSString).appendingPathComponent("metrics.jsonl")).split(separator: "\n")
        #expect(jsonl.count == 3)
        #expect(epochs(straight) == ["1", "2", "3"])
    }

    /// Event files are cut back too: later steps and a torn record go, a file with nothing to
    /// drop is not rewritten.
    @Test func resumingCutsTensorBoardEventFilesBackToTheCheckpointsStep() throws {
        let directory = TrainerTests.temporaryDirectory()
        let writer = try TensorBoardWriter(directory: directory, wallTime: 1_700_000_000)
        for step in 1...5 { try writer.addScalars([("loss", Float(step))], step: step) }
        let handle = try #require(FileHandle(forWritingAtPath: writer.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([7, 0, 0, 0, 0, 0]))  // a record's header, cut short
        try handle.close()
        let other = try TensorBoardWriter(directory: directory, wallTime: 1_700_000_100)
        let otherBytes = try Data(contentsOf: URL(fileURLWithPath: other.path))
        func inode(_ path: String) -> UInt64 {
            var info = stat()
            return stat(path, &info) == 0 ? UInt64(info.st_ino) : 0
        }
        let otherInode = inode(other.path)

        try TensorBoardWriter.cutEventFiles(in: directory, throughStep: 3)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: writer.path)))
        // Strict reading: every record whole; the steps are the file_version event's 0, then 1…3.
        let steps = try TFRecord.records(in: bytes, path: writer.path).map(Self.eventStep)
        #expect(steps == [0, 1, 2, 3])
        #expect(try Data(contentsOf: URL(fileURLWithPath: other.path)) == otherBytes)
        #expect(inode(other.path) == otherInode && otherInode != 0)
    }

    /// An Event's `step` (field 2, a varint), read by hand from the protocol buffer so the test
    /// does not lean on the generated code the writer uses; 0 when absent.
    static func eventStep(_ data: [UInt8]) -> Int {
        var i = 0
        func varint() -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while i < data.count {
                let byte = data[i]
                i += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { break }
                shift += 7
            }
            return value
        }
        var step = 0
        while i < data.count {
            let key = varint()
            switch key & 7 {
            case 0:
                let value = varint()
                if key >> 3 == 2 { step = Int(value) }
            case 1: i += 8
            case 2: i += Int(varint())
            case 5: i += 4
            default: return step
            }
        }
        return step
    }

    /// The PID of a process that has ended (a killed writer's, for the names of leftovers).
    static func exitedProcess() throws -> pid_t {
        let exited = Process()
        exited.executableURL = URL(fileURLWithPath: "/bin/true")
        try exited.run()
        exited.waitUntilExit()
        return exited.processIdentifier
    }

    /// Leftovers of dead writers go; a live process's (this one's, and PID 1's) stay, and so do
    /// files that only look alike.
    @Test func staleTemporariesOfDeadWritersAreRemoved() throws {
        let directory = TrainerTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dead = try Self.exitedProcess()
        let names = [
            ".model.safetensors.tmp-\(dead)-123456",        // dead: removed
            ".data.idx.partial-\(dead)-aB3xYz",              // dead: removed
            ".checkpoint.safetensors.tmp-\(getpid())-42",   // this process: kept
            ".metrics.csv.tmp-1-42",                         // PID 1 lives: kept
            "model.safetensors",                             // not a temporary
            ".notes.tmp-x-1",                                // no PID
            ".tmp-\(dead)-1",                                // no destination name
        ]
        for name in names { try Self.write("x", to: (directory as NSString).appendingPathComponent(name)) }
        let removed = AtomicFile.removeStaleTemporaries(in: directory).map { ($0 as NSString).lastPathComponent }
        #expect(Set(removed) == Set(names[0...1]))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: directory)) == Set(names[2...]))
    }

    /// A run folder's stale temporaries are removed when training starts in it.
    @Test func trainingRemovesTheRunFoldersStaleTemporaries() throws {
        let directory = TrainerTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stale = (directory as NSString).appendingPathComponent(".model.safetensors.tmp-\(try Self.exitedProcess())-7")
        try Self.write("half a model", to: stale)
        _ = try EarlyStoppingTests.makeTrainer(epochs: 1, patience: 100, directory: directory).fit()
        #expect(!FileManager.default.fileExists(atPath: stale))
    }
}
