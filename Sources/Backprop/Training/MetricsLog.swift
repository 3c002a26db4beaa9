import Foundation

/// One evaluation's numbers, as logged.
public struct MetricsRecord: Sendable, Codable, Equatable {
    /// The epoch the record was taken after (1-based; 0 before training).
    public var epoch: Int
    /// Optimizer steps taken so far.
    public var step: Int
    /// η at the last step.
    public var learningRate: Float
    /// The mean loss over the epoch's training batches (as seen in training: dropout and noise on).
    public var trainLoss: Float
    /// The fraction of the epoch's training examples classified right (0 for regression).
    public var trainAccuracy: Float
    /// The loss on the validation set, if there is one.
    public var validationLoss: Float?
    /// The accuracy on the validation set, if there is one.
    public var validationAccuracy: Float?
    /// The loss on the test set, if there is one (reported only; never used to choose).
    public var testLoss: Float?
    /// The accuracy on the test set, if there is one.
    public var testAccuracy: Float?
    /// Seconds of training so far.
    public var seconds: Double
}

/// Appends every evaluation to `metrics.csv` and `metrics.jsonl` in a run folder, so a run can
/// be plotted or compared without parsing console output.
public final class MetricsLog {
    /// The run folder holding `metrics.csv` and `metrics.jsonl`.
    public let directory: String
    private static let columns = ["epoch", "step", "learning_rate", "train_loss", "train_accuracy", "validation_loss",
                                  "validation_accuracy", "test_loss", "test_accuracy", "seconds"]

    /// Opens (creating) the log; `append` keeps earlier lines when resuming.
    public init(directory: String, append: Bool) throws(WriteError) {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotWrite(path: directory, reason: error.localizedDescription)
        }
        let csv = (directory as NSString).appendingPathComponent("metrics.csv")
        if !append || !FileManager.default.fileExists(atPath: csv) {
            try AtomicFile.write(Array((Self.columns.joined(separator: ",") + "\n").utf8), to: csv)
            try AtomicFile.write([], to: (directory as NSString).appendingPathComponent("metrics.jsonl"))
        }
    }

    /// Opens the log of a run resumed from a checkpoint taken at `step`, cut back to it: rows
    /// with a larger step, and a torn last line, are dropped (each file rewritten atomically).
    ///
    /// Why cut on resume rather than order the writes: an epoch's row is appended before its
    /// checkpoint is renamed into place, so a crash between the two leaves a row the checkpoint
    /// does not know, and the resumed run logs that epoch again. Writing the checkpoint first
    /// would only move the hole (a crash after it loses the row), whereas the checkpoint's step
    /// says exactly which rows it knows; the rows it does not know are recomputed bit for bit by
    /// the resumed run. The cut is idempotent, so a crash during it is mended by the next resume.
    ///
    /// - Throws: ``WriteError`` naming the file and line when a whole line has no readable step
    ///   (a log that is not this one's), or when a file cannot be rewritten.
    public convenience init(directory: String, resumingAtStep step: Int) throws(WriteError) {
        try self.init(directory: directory, append: true)
        try Self.cut(path: (directory as NSString).appendingPathComponent("metrics.csv"), header: true, throughStep: step) { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            return fields.count == Self.columns.count ? Int(fields[1]) : nil
        }
        try Self.cut(path: (directory as NSString).appendingPathComponent("metrics.jsonl"), header: false, throughStep: step) { line in
            struct Step: Decodable { var step: Int }
            return try? JSONDecoder().decode(Step.self, from: Data(line.utf8)).step
        }
    }

    /// Rewrites the log at `path` (if it exists) without the lines whose step exceeds `step` and
    /// without a last line lacking its newline (a write cut short); unchanged files stay as they are.
    private static func cut(path: String, header: Bool, throughStep step: Int, stepOf: (Substring) -> Int?) throws(WriteError) {
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // The piece after the last newline: empty for a whole file, a torn row otherwise.
        lines.removeLast()
        var kept: [Substring] = []
        for (index, line) in lines.enumerated() {
            if header && index == 0 { kept.append(line); continue }
            guard let rowStep = stepOf(line) else {
                throw .cannotWrite(path: path, reason: "line \(index + 1) has no step (expected a row of this run's log); cannot cut the log back to the checkpoint's step \(step)")
            }
            if rowStep <= step { kept.append(line) }
        }
        let cut = kept.map { $0 + "\n" }.joined()
        if cut.utf8.count != data.count { try AtomicFile.write(Array(cut.utf8), to: path) }
    }

    /// Appends one record to both files, as a CSV row and a JSON line.
    ///
    /// - Throws: ``WriteError`` when a file cannot be written.
    public func append(_ r: MetricsRecord) throws(WriteError) {
        func f(_ v: Float?) -> String { v.map { "\($0)" } ?? "" }
        let row = ["\(r.epoch)", "\(r.step)", f(r.learningRate), f(r.trainLoss), f(r.trainAccuracy), f(r.validationLoss),
                   f(r.validationAccuracy), f(r.testLoss), f(r.testAccuracy), String(format: "%.3f", r.seconds)]
        try appendLine(row.joined(separator: ","), to: "metrics.csv")
        try appendLine(Checkpoint.json(r), to: "metrics.jsonl")
    }

    private func appendLine(_ line: String, to name: String) throws(WriteError) {
        let path = (directory as NSString).appendingPathComponent(name)
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw .cannotWrite(path: path, reason: "cannot open for appending")
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((line + "\n").utf8))
        } catch {
            throw .cannotWrite(path: path, reason: error.localizedDescription)
        }
    }
}
