import Foundation
import SwiftProtobuf

/// Writes a TensorBoard event file: TFRecord-framed `Event` protocol buffers — first the
/// `file_version` "brain.Event:2" event, then summaries of scalars and histograms — that
/// TensorBoard (or `event_accumulator`) reads from the folder.
///
/// Why appended, not written atomically like Backprop's other files: an event file is a log
/// that TensorBoard reads while training runs, so each event is appended (one `write` per
/// event) and a crash leaves every earlier event intact; a reader ignores a torn last record.
public final class TensorBoardWriter {
    /// The event file's path.
    public let path: String
    private let handle: FileHandle

    /// Creates `directory` if needed and a new event file in it, named as TensorFlow names them
    /// (`events.out.tfevents.<seconds>.<host>`, which is how TensorBoard finds it).
    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970) throws(WriteError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotWrite(path: directory, reason: error.localizedDescription)
        }
        let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "/", with: "_")
        path = (directory as NSString).appendingPathComponent("events.out.tfevents.\(Int(wallTime)).\(host).\(getpid())")
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw .cannotWrite(path: path, reason: "cannot create the event file")
        }
        self.handle = handle
        var first = Tensorboard_Event()
        first.wallTime = wallTime
        first.fileVersion = "brain.Event:2"
        try append(first)
    }

    deinit { try? handle.close() }

    /// Logs scalars (tag → value) at `step`, in one event.
    public func addScalars(_ values: [(tag: String, value: Float)], step: Int,
                           wallTime: Double = Date().timeIntervalSince1970) throws(WriteError) {
        var summary = Tensorboard_Summary()
        summary.value = values.map { tag, value in
            var v = Tensorboard_Summary.Value()
            v.tag = tag
            v.simpleValue = value
            return v
        }
        try append(summary: summary, step: step, wallTime: wallTime)
    }

    /// Logs histograms (tag → values) at `step`, in one event.
    public func addHistograms(_ values: [(tag: String, values: [Float])], step: Int,
                              wallTime: Double = Date().timeIntervalSince1970) throws(WriteError) {
        var summary = Tensorboard_Summary()
        summary.value = values.map { tag, data in
            var v = Tensorboard_Summary.Value()
            v.tag = tag
            v.histo = Self.histogram(data)
            return v
        }
        try append(summary: summary, step: step, wallTime: wallTime)
    }

    /// A histogram of the finite values in `bucketCount` equal buckets from their minimum to their
    /// maximum; bucket i counts values in (limit[i−1], limit[i]] (the first also takes the minimum).
    static func histogram(_ values: [Float], bucketCount: Int = 30) -> Tensorboard_HistogramProto {
        var h = Tensorboard_HistogramProto()
        let finite = values.lazy.filter(\.isFinite).map(Double.init)
        guard let low = finite.min(), let high = finite.max() else { return h }
        h.min = low
        h.max = high
        let n = high > low ? bucketCount : 1
        let width = (high - low) / Double(n)
        h.bucketLimit = (1...n).map { $0 == n ? high : low + Double($0) * width }
        var counts = [Double](repeating: 0, count: n)
        for v in finite {
            h.num += 1
            h.sum += v
            h.sumSquares += v * v
            let index = width > 0 ? Int(((v - low) / width).rounded(.up)) - 1 : 0
            counts[min(max(index, 0), n - 1)] += 1
        }
        h.bucket = counts
        return h
    }

    private func append(summary: Tensorboard_Summary, step: Int, wallTime: Double) throws(WriteError) {
        var event = Tensorboard_Event()
        event.wallTime = wallTime
        event.step = Int64(step)
        event.summary = summary
        try append(event)
    }

    private func append(_ event: Tensorboard_Event) throws(WriteError) {
        let data: [UInt8]
        do {
            data = try event.serializedBytes()
        } catch {
            preconditionFailure("TensorBoardWriter: cannot serialize an event: \(error)")
        }
        do {
            try handle.write(contentsOf: Data(TFRecord.frame(data)))
        } catch {
            throw .cannotWrite(path: path, reason: error.localizedDescription)
        }
    }
}
