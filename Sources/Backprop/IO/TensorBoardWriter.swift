import Foundation
import SwiftProtobuf
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        // open(2), not FileManager.createFile: that writes even an empty file through a
        // temporary (`.dat.nosync…`) and a rename, and a kill between the two leaves the
        // temporary behind, under a name that says nothing of its writer.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .cannotWrite(path: path, reason: "cannot create the event file: \(String(cString: strerror(errno)))")
        }
        self.handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var first = Tensorboard_Event()
        first.wallTime = wallTime
        first.fileVersion = "brain.Event:2"
        try append(first)
    }

    deinit { try? handle.close() }

    /// Cuts every event file in `directory` back to `step` for a run resumed from a checkpoint
    /// taken there: events of later steps (which a killed session logged after its last
    /// checkpoint, and the resumed run logs again) and a torn last record are dropped, each
    /// changed file rewritten atomically. Cutting the files, rather than relying on a reader's
    /// purge of "orphaned" steps after a restart, keeps every reader's view (TensorBoard's
    /// accumulators, the Rust data server, `tf.data`) free of the duplicates. A file with nothing
    /// to drop (such as a new session's, holding only its `file_version` event) is left alone,
    /// so an open writer's file is never replaced under it.
    ///
    /// - Throws: ``WriteError`` naming a file that cannot be read or rewritten.
    public static func cutEventFiles(in directory: String, throughStep step: Int) throws(WriteError) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names.sorted() where name.hasPrefix("events.out.tfevents.") {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .cannotWrite(path: path, reason: "cannot read the event file to cut it back to step \(step)")
            }
            let bytes = [UInt8](data)
            var kept: [UInt8] = []
            for record in TFRecord.wholeRecords(in: bytes) {
                // An event that does not parse is kept: it is whole (its checksums hold), and
                // a reader, not this cut, decides what it means.
                let eventStep = (try? Tensorboard_Event(serializedBytes: record.data)).map { Int($0.step) } ?? 0
                if eventStep <= step { kept += bytes[record.frame] }
            }
            if kept.count != bytes.count { try AtomicFile.write(kept, to: path) }
        }
    }

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
