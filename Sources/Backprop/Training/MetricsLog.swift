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
