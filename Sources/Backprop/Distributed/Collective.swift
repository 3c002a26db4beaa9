/// A group of processes that exchange buffers: the few collective operations data-parallel
/// training needs. ``DataParallel`` is written against this protocol, so the training code does
/// not depend on MPI; the MPI implementation (`MPICommunicator`, in the `BackpropMPI` module,
/// built with `--traits MPI`) is one conformance, ``SingleProcessCollective`` another.
///
/// Every process of the group must call the same operations in the same order with buffers of
/// the same length, as with MPI.
public protocol Collective: AnyObject {
    /// This process's index in the group, 0..<size. Rank 0 logs, evaluates and writes files.
    var rank: Int { get }
    /// The number of processes in the group.
    var size: Int { get }
    /// Replaces `buffer` on every process by the element-wise sum over all processes (in an
    /// order the implementation chooses: not bit-reproducible across group sizes).
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws(CollectiveError)
    /// Gathers every process's `send` into `receive`, rank r's at offset r·send.count
    /// (`receive.count` must be size·send.count).
    func allGather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>) throws(CollectiveError)
    /// Copies `root`'s bytes into `buffer` on every other process.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws(CollectiveError)
    /// Returns once every process has called it.
    func barrier() throws(CollectiveError)
}

/// A collective operation that failed: a process of the group died, the network failed, or the
/// processes disagreed.
public enum CollectiveError: Error, CustomStringConvertible, Equatable {
    /// The transport reported an error (MPI's error string, with its code).
    case failed(operation: String, rank: Int, code: Int32, message: String)
    /// No progress for this long: a process probably died or hangs.
    case timeout(operation: String, rank: Int, seconds: Double)
    /// The processes disagreed (e.g. on a buffer's length).
    case mismatch(operation: String, rank: Int, reason: String)
    /// Another member of the group stopped with an error, so this operation cannot complete.
    case aborted(operation: String, rank: Int, reason: String)

    /// A one-line message naming the operation, the rank and the cause.
    public var description: String {
        switch self {
        case let .failed(operation, rank, code, message):
            return "rank \(rank): \(operation) failed (MPI error \(code): \(message)); another rank probably died or the network failed"
        case let .timeout(operation, rank, seconds):
            return "rank \(rank): \(operation) made no progress for \(Int(seconds)) s; another rank probably died or hangs"
        case let .mismatch(operation, rank, reason):
            return "rank \(rank): \(operation): \(reason)"
        case let .aborted(operation, rank, reason):
            return "rank \(rank): \(operation) abandoned: \(reason)"
        }
    }
}

extension Collective {
    /// Broadcasts a byte array of any length from `root` (its length first, then its bytes):
    /// for checkpoints and encoded state. Other ranks' `bytes` are replaced.
    public func broadcast(_ bytes: inout [UInt8], root: Int = 0) throws(CollectiveError) {
        // The standard library's pointer scopes rethrow untyped errors: carry ours out as a value.
        var failure: CollectiveError?
        var length = Int64(rank == root ? bytes.count : 0)
        withUnsafeMutableBytes(of: &length) { p in
            do throws(CollectiveError) { try broadcast(p, root: root) } catch { failure = error }
        }
        if let failure { throw failure }
        guard length >= 0 else { throw .mismatch(operation: "broadcast", rank: rank, reason: "negative length \(length)") }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length)) }
        guard length > 0 else { return }
        bytes.withUnsafeMutableBytes { p in
            do throws(CollectiveError) { try broadcast(p, root: root) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Broadcasts floats from `root`.
    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>, root: Int = 0) throws(CollectiveError) {
        try broadcast(UnsafeMutableRawBufferPointer(values), root: root)
    }
}

/// The group of one process: every collective is the identity. Lets the same training code run
/// without MPI.
public final class SingleProcessCollective: Collective {
    /// The collective of a process training alone.
    public init() {}
    /// 0: the only rank.
    public var rank: Int { 0 }
    /// 1: a group of one.
    public var size: Int { 1 }
    /// Does nothing: the sum over one rank is the buffer itself.
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws(CollectiveError) {}
    /// Copies `send` into `receive`, the gather of one rank.
    ///
    /// - Throws: ``CollectiveError/mismatch(operation:rank:reason:)`` when the counts differ.
    public func allGather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>) throws(CollectiveError) {
        guard receive.count == send.count else {
            throw .mismatch(operation: "allgather", rank: 0, reason: "receive has \(receive.count) floats for \(send.count) sent")
        }
        if let s = send.baseAddress, let r = receive.baseAddress { r.update(from: s, count: send.count) }
    }
    /// Does nothing: the root's buffer is already everyone's.
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws(CollectiveError) {}
    /// Returns at once: there is no one to wait for.
    public func barrier() throws(CollectiveError) {}
}
