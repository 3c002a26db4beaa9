#if MPI
import Backprop
import CMPI
import Foundation

/// MPI_COMM_WORLD as a ``Collective``: the processes `mpirun` started (or this process alone,
/// as an MPI singleton, when it was started without `mpirun`).
///
/// Errors are returned, not fatal (MPI_ERRORS_RETURN on the communicator), so a failed
/// collective — a peer that died, a broken connection — becomes a thrown ``CollectiveError``
/// with MPI's own message. A collective that blocks instead (a peer that hangs, or died
/// without the transport noticing) is caught by a watchdog thread: past `timeout` seconds in
/// one operation it prints which operation on which rank stalled, and what `note` says (e.g.
/// where the last checkpoint is), then ends the process so `mpirun` ends the job.
///
/// MPI is initialized once per process (MPI_THREAD_FUNNELED: only the thread that made the
/// communicator calls MPI); call ``finalize()`` before the process exits normally.
public final class MPICommunicator: Collective, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Seconds one collective may block before the watchdog ends the process (nil: no limit).
    public let timeout: Double?
    private let comm: MPI_Comm
    private let watch = Watch()
    private var terminationSource: (any DispatchSourceSignal)?

    /// Joins MPI_COMM_WORLD, initializing MPI if needed.
    public init(timeout: Double? = 300) throws(CollectiveError) {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            let code = MPI_Init_thread(nil, nil, bp_mpi_thread_funneled(), &provided)
            guard code == bp_mpi_success() else { throw Self.error("MPI_Init_thread", rank: -1, code) }
        }
        comm = bp_mpi_comm_world()
        MPI_Comm_set_errhandler(comm, bp_mpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(comm, &r)
        MPI_Comm_size(comm, &s)
        rank = Int(r)
        size = Int(s)
        self.timeout = timeout
        if size > 1 {
            // mpirun ends the surviving ranks with SIGTERM when one fails: say so on each of
            // them (on a dispatch thread, where printing is safe), with the note.
            signal(SIGTERM, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
            let watch = self.watch, rank = self.rank
            source.setEventHandler {
                let note = watch.note
                let message = "rank \(rank): ended by mpirun (SIGTERM): another rank failed or the job was cancelled"
                    + (note.isEmpty ? "" : "; \(note)") + "\n"
                FileHandle.standardError.write(Data(message.utf8))
                _exit(143)
            }
            source.resume()
            terminationSource = source
        }
        if let timeout {
            let watch = self.watch, rank = self.rank
            let thread = Thread { watch.run(timeout: timeout, rank: rank) }
            thread.name = "backprop.mpi.watchdog"
            thread.start()
        }
    }

    /// Text the watchdog prints when it ends the process (where the last checkpoint is).
    public var note: String {
        get { watch.note }
        set { watch.note = newValue }
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws(CollectiveError) {
        var lower = 0
        while lower < buffer.count {
            let n = min(buffer.count - lower, Self.chunk)
            try call("MPI_Allreduce") {
                MPI_Allreduce(bp_mpi_in_place(), buffer.baseAddress! + lower, Int32(n), bp_mpi_float(), bp_mpi_sum(), comm)
            }
            lower += n
        }
    }

    public func allGather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>) throws(CollectiveError) {
        guard receive.count == size * send.count else {
            throw .mismatch(operation: "MPI_Allgather", rank: rank,
                            reason: "receive has \(receive.count) floats for \(size) × \(send.count)")
        }
        guard send.count <= Self.chunk else {
            throw .mismatch(operation: "MPI_Allgather", rank: rank, reason: "\(send.count) floats exceed one call's limit \(Self.chunk)")
        }
        guard send.count > 0 else { return }
        try call("MPI_Allgather") {
            MPI_Allgather(send.baseAddress, Int32(send.count), bp_mpi_float(),
                          receive.baseAddress, Int32(send.count), bp_mpi_float(), comm)
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws(CollectiveError) {
        var lower = 0
        while lower < buffer.count {
            let n = min(buffer.count - lower, Self.chunk)
            try call("MPI_Bcast") { MPI_Bcast(buffer.baseAddress! + lower, Int32(n), bp_mpi_byte(), Int32(root), comm) }
            lower += n
        }
    }

    public func barrier() throws(CollectiveError) {
        try call("MPI_Barrier") { MPI_Barrier(comm) }
    }

    /// Ends MPI normally (every rank must call it).
    public func finalize() {
        watch.stop()
        MPI_Finalize()
    }

    /// Ends every process of the job (after a rank's unrecoverable error), with `code`.
    public func abort(code: Int32 = 1) -> Never {
        MPI_Abort(comm, code)
        exit(code)
    }

    /// Elements per MPI call: counts are 32-bit.
    static let chunk = 1 << 30

    private func call(_ operation: String, _ body: () -> Int32) throws(CollectiveError) {
        watch.begin(operation)
        let code = body()
        watch.end()
        guard code == bp_mpi_success() else { throw Self.error(operation, rank: rank, code) }
    }

    private static func error(_ operation: String, rank: Int, _ code: Int32) -> CollectiveError {
        var text = [CChar](repeating: 0, count: Int(bp_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        let message = String(decoding: text.prefix(Int(max(length, 0))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return .failed(operation: operation, rank: rank, code: code, message: message)
    }
}

/// The watchdog's view of the operation in flight.
private final class Watch: @unchecked Sendable {
    private let lock = NSLock()
    private var operation: String?
    private var since: UInt64 = 0
    private var stopped = false
    private var storedNote = ""

    var note: String {
        get { lock.withLock { storedNote } }
        set { lock.withLock { storedNote = newValue } }
    }

    func begin(_ name: String) {
        lock.withLock {
            operation = name
            since = DispatchTime.now().uptimeNanoseconds
        }
    }

    func end() { lock.withLock { operation = nil } }
    func stop() { lock.withLock { stopped = true } }

    func run(timeout: Double, rank: Int) {
        while true {
            Thread.sleep(forTimeInterval: min(1, timeout / 4))
            let (name, started, done, note) = lock.withLock { (operation, since, stopped, storedNote) }
            if done { return }
            guard let name else { continue }
            let waited = Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
            if waited > timeout {
                let message = CollectiveError.timeout(operation: name, rank: rank, seconds: waited).description
                    + (note.isEmpty ? "" : "; \(note)") + "\n"
                FileHandle.standardError.write(Data(message.utf8))
                // MPI may not be called from this thread (MPI_THREAD_FUNNELED): end the process;
                // mpirun then ends the others.
                _exit(75)
            }
        }
    }
}
#endif
