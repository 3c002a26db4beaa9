import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``Collective`` whose members are threads of one process: data-parallel training with one
/// model replica per core, the gradients summed through shared memory.
///
/// Why replicas rather than splitting each operation over threads: a network like the BN
/// paper's 784-100-100-100-10 runs dozens of small operations per step, and splitting every one
/// over the cores costs a hand-over of data and a wait per operation — on a virtual machine whose
/// two cores may sit on different dies, a cache-line round trip of ~0.4 µs each. A replica per
/// core runs its shard of the batch through the whole step alone; the cores meet once per step,
/// in ``allReduceSum(_:)``.
///
/// Every operation publishes the member's buffer, waits for all members (a spinning barrier that
/// yields the core after a while), works on shared memory, and waits again so no member reuses
/// its buffer early. The sum runs over members in rank order, so it is deterministic. A member
/// that stops with an error calls ``ThreadGroup/abort(reason:)``; the others' operations then
/// throw ``CollectiveError/aborted(operation:rank:reason:)`` instead of waiting forever, and an
/// operation that waits longer than the group's timeout throws ``CollectiveError/timeout(operation:rank:seconds:)``.
public final class ThreadCollective: Collective {
    /// The shared state of the members.
    public let group: ThreadGroup
    /// This member's rank, 0..<size.
    public let rank: Int
    /// The number of members.
    public var size: Int { group.size }

    /// Member `rank` of `group`.
    public init(group: ThreadGroup, rank: Int) {
        precondition(rank >= 0 && rank < group.size, "ThreadCollective: rank \(rank) outside 0..<\(group.size)")
        self.group = group
        self.rank = rank
    }

    /// Replaces `buffer` on every member by the elementwise sum over members, in rank order (the
    /// same bits on every member and every run).
    ///
    /// - Throws: ``CollectiveError`` when the counts differ between members, the group was aborted,
    ///   or the wait timed out.
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws(CollectiveError) {
        let operation = "allreduce"
        try publish(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, operation, kind: 1)
        // Each member sums its own slice of the buffers, over members in rank order, and writes
        // the sum into every member's buffer; slices are disjoint, so no two threads write the
        // same element.
        let n = buffer.count, size = group.size
        let slice = (rank * n / size) ..< ((rank + 1) * n / size)
        if !slice.isEmpty {
            let first = group.floats(0)
            for r in 1..<size {
                // first + 1·other rounds once, exactly as first + other.
                Elementwise.axpy(1, group.floats(r) + slice.lowerBound, first + slice.lowerBound, count: slice.count)
            }
            for r in 1..<size {
                (group.floats(r) + slice.lowerBound).update(from: first + slice.lowerBound, count: slice.count)
            }
        }
        try group.barrier(rank: rank, operation)
    }

    /// Concatenates every member's `send`, in rank order, into every member's `receive`.
    ///
    /// - Throws: ``CollectiveError`` when `receive` is not size × `send.count`, the group was
    ///   aborted, or the wait timed out.
    public func allGather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>) throws(CollectiveError) {
        let operation = "allgather"
        guard receive.count == send.count * group.size else {
            group.abort(reason: "rank \(rank) passed allgather a receive buffer of \(receive.count) floats for \(send.count) × \(group.size)")
            throw .mismatch(operation: operation, rank: rank, reason: "receive buffer holds \(receive.count) floats, expected \(send.count * group.size)")
        }
        try publish(UnsafeMutableRawPointer(mutating: send.baseAddress), count: send.count, operation, kind: 2)
        if let base = receive.baseAddress {
            for r in 0..<group.size where send.count > 0 {
                (base + r * send.count).update(from: group.floats(r), count: send.count)
            }
        }
        try group.barrier(rank: rank, operation)
    }

    /// Copies member `root`'s buffer into every member's.
    ///
    /// - Throws: ``CollectiveError`` when `root` is not a member, the sizes differ, the group was
    ///   aborted, or the wait timed out.
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws(CollectiveError) {
        let operation = "broadcast"
        guard root >= 0 && root < group.size else {
            throw .mismatch(operation: operation, rank: rank, reason: "root \(root) outside 0..<\(group.size)")
        }
        try publish(buffer.baseAddress, count: buffer.count, operation, kind: 3 + 8 * root)
        if rank != root, buffer.count > 0, let source = group.pointer(root), let target = buffer.baseAddress {
            target.copyMemory(from: source, byteCount: buffer.count)
        }
        try group.barrier(rank: rank, operation)
    }

    /// Waits until every member has reached the barrier.
    ///
    /// - Throws: ``CollectiveError`` when the group was aborted or the wait timed out.
    public func barrier() throws(CollectiveError) {
        // Published like the others, so a member in a barrier and one in another operation
        // both see the disagreement instead of exchanging a stale buffer.
        try publish(nil, count: 0, "barrier", kind: 4)
        // As every operation: nobody publishes the next one while another still checks this one.
        try group.barrier(rank: rank, "barrier")
    }

    /// Puts this member's buffer in its slot, waits for everyone, and checks the lengths agree.
    private func publish(_ pointer: UnsafeMutableRawPointer?, count: Int, _ operation: String, kind: Int) throws(CollectiveError) {
        group.setSlot(rank, pointer: pointer, count: count, kind: kind)
        try group.barrier(rank: rank, operation)
        // Every member sees the same slots, so every member throws; the abort also releases
        // any member that got past this check some other way.
        for r in 0..<group.size where group.kind(r) != kind {
            let reason = "rank \(r) is in a different collective operation (or the same with another root)"
            group.abort(reason: reason)
            throw .mismatch(operation: operation, rank: rank, reason: reason)
        }
        for r in 0..<group.size where group.count(r) != count {
            let reason = "rank \(r) passed \(group.count(r)) elements, rank \(rank) \(count)"
            group.abort(reason: reason)
            throw .mismatch(operation: operation, rank: rank, reason: reason)
        }
    }
}

/// The shared state of a group of ``ThreadCollective`` members: one slot per member for the
/// buffer of the operation in progress, and a reusable barrier.
public final class ThreadGroup: @unchecked Sendable {
    /// The number of members.
    public let size: Int
    /// Seconds an operation may wait for the other members before it throws.
    public let timeoutSeconds: Double

    private let arrived = PoolAtomic()
    private let generation = PoolAtomic()
    private let failed = PoolAtomic()
    private let reasonLock = NSLock()
    nonisolated(unsafe) private var failureReason = ""
    // Slot r is written by member r before a barrier and read by all after it; the barrier's
    // sequentially consistent atomics order those accesses.
    private let pointers: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let counts: UnsafeMutablePointer<Int>
    private let kinds: UnsafeMutablePointer<Int>
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    /// Members sleeping in ``barrier(rank:_:)`` (guarded by `mutex`).
    nonisolated(unsafe) private var sleepers = 0

    /// A group of `size` members.
    ///
    /// - Parameters:
    ///   - size: at least 1.
    ///   - timeoutSeconds: how long an operation waits for the others before it throws.
    public init(size: Int, timeoutSeconds: Double = 600) {
        precondition(size >= 1, "ThreadGroup needs at least one member, got \(size)")
        self.size = size
        self.timeoutSeconds = timeoutSeconds
        pointers = .allocate(capacity: size)
        pointers.initialize(repeating: nil, count: size)
        counts = .allocate(capacity: size)
        counts.initialize(repeating: 0, count: size)
        kinds = .allocate(capacity: size)
        kinds.initialize(repeating: 0, count: size)
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pointers.deallocate()
        counts.deallocate()
        kinds.deallocate()
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Makes every member's current and future operations throw: a member failed.
    public func abort(reason: String) {
        pthread_mutex_lock(mutex)
        abortLocked(reason: reason)
        pthread_mutex_unlock(mutex)
    }

    /// ``abort(reason:)`` with `mutex` held.
    private func abortLocked(reason: String) {
        reasonLock.lock()
        if failed.load() == 0 { failureReason = reason }
        failed.store(1)
        reasonLock.unlock()
        pthread_cond_broadcast(condition)
    }

    /// Whether a member has called ``abort(reason:)``.
    public var isAborted: Bool { failed.load() != 0 }

    func setSlot(_ rank: Int, pointer: UnsafeMutableRawPointer?, count: Int, kind: Int) {
        pointers[rank] = pointer
        counts[rank] = count
        kinds[rank] = kind
    }

    func kind(_ rank: Int) -> Int { kinds[rank] }

    func pointer(_ rank: Int) -> UnsafeMutableRawPointer? { pointers[rank] }
    func count(_ rank: Int) -> Int { counts[rank] }
    func floats(_ rank: Int) -> UnsafeMutablePointer<Float> {
        pointers[rank].unsafelyUnwrapped.assumingMemoryBound(to: Float.self)
    }

    /// Returns once all members have called it (for the same operation, in the same order).
    ///
    /// Waiting spins briefly (the other replicas usually arrive within microseconds), then
    /// sleeps on a condition variable: on a machine with more runnable threads than cores a
    /// spinning waiter would take the core the late replica needs.
    func barrier(rank: Int, _ operation: String) throws(CollectiveError) {
        if failed.load() != 0 { throw abortError(operation, rank) }
        let entered = generation.load()
        if arrived.addReturningNew(1) == UInt64(size) {
            arrived.store(0)
            pthread_mutex_lock(mutex)
            // A member that timed out counted as arrived but has left: do not release the
            // others into buffers it no longer owns.
            if failed.load() != 0 {
                pthread_mutex_unlock(mutex)
                throw abortError(operation, rank)
            }
            generation.add(1)
            if sleepers > 0 { pthread_cond_broadcast(condition) }
            pthread_mutex_unlock(mutex)
            return
        }
        var polls = 0
        while generation.load() == entered && polls < 20_000 {
            polls += 1
        }
        if generation.load() == entered {
            let start = DispatchTime.now().uptimeNanoseconds
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            while generation.load() == entered {
                if failed.load() != 0 { throw abortError(operation, rank) }
                let waited = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                if waited > timeoutSeconds {
                    // Marked failed before leaving (under the mutex the last arriver checks), so
                    // no later arrival completes this barrier without this member.
                    abortLocked(reason: "rank \(rank) waited \(Int(waited)) s in \(operation)")
                    throw .timeout(operation: operation, rank: rank, seconds: waited)
                }
                // Wake at least every 50 ms to notice an abort or the timeout.
                var deadline = timespec()
                clock_gettime(CLOCK_REALTIME, &deadline)
                deadline.tv_nsec += 50_000_000
                if deadline.tv_nsec >= 1_000_000_000 {
                    deadline.tv_sec += 1
                    deadline.tv_nsec -= 1_000_000_000
                }
                sleepers += 1
                pthread_cond_timedwait(condition, mutex, &deadline)
                sleepers -= 1
            }
        }
        if failed.load() != 0 && generation.load() == entered { throw abortError(operation, rank) }
    }

    private func abortError(_ operation: String, _ rank: Int) -> CollectiveError {
        reasonLock.lock()
        defer { reasonLock.unlock() }
        return .aborted(operation: operation, rank: rank, reason: failureReason)
    }
}

/// Runs data-parallel training as `replicas` threads of this process, each with its own model
/// replica, a one-thread ``Backend`` of its own and a ``ThreadCollective`` over a shared
/// ``ThreadGroup``.
public enum ThreadReplicas {
    /// Core-to-core round trip (ns) from which replicas pay: measured on this project's VM,
    /// two replicas beat per-operation threading by 35–55% on the BN paper's network and a
    /// 784-256-256-10 one when its two cores were ~400 ns apart, and lost 7–10% at ~100 ns.
    public static let distantCoresNanoseconds = 250.0

    /// How many replicas `auto` chooses for a network with `parameterCount` parameters trained
    /// in batches of `batchSize` on `threads` threads: one per thread when the cores are far
    /// apart (``distantCoresNanoseconds``, from ``TrainingBenchmark/coreRoundTripNanoseconds(roundTrips:)``),
    /// the network has no BatchNorm (whose statistics would otherwise be each replica's
    /// shard's), each replica gets at least 16 examples, and the parameters are few (≤ 1M:
    /// every replica repeats the optimizer step, and the gradient sum moves them all); else 1.
    /// A round trip of microseconds means the cores are busy elsewhere: 1 then too.
    public static func recommendedCount(threads: Int, parameterCount: Int, batchNorm: Bool, batchSize: Int,
                                        roundTripNanoseconds: Double?) -> Int {
        // Far above a die-to-die trip (microseconds) the other thread was not running at all:
        // the cores are busy with other work, and replicas would wait on each other.
        guard threads > 1, !batchNorm, batchSize >= 16 * threads, parameterCount <= 1_000_000,
              let roundTrip = roundTripNanoseconds, roundTrip >= distantCoresNanoseconds, roundTrip <= 2_000 else { return 1 }
        return threads
    }

    /// Calls `body` on `replicas` threads at once (the caller's thread is rank 0), each with
    /// its rank's ``DataParallel`` and a one-thread backend in force, and returns rank 0's
    /// result. See ``runMembers(_:timeoutSeconds:_:)`` for errors.
    public static func run<Result>(
        _ replicas: Int, reduction: GradientReduction = .allReduce, timeoutSeconds: Double = 600,
        _ body: @escaping @Sendable (_ parallel: DataParallel) throws -> Result
    ) throws -> Result {
        try runMembers(replicas, timeoutSeconds: timeoutSeconds) { collective in
            try body(try DataParallel(collective: collective, reduction: reduction))
        }
    }

    /// Calls `body` on `replicas` threads at once (the caller's thread is rank 0), each with
    /// its member of one group and a one-thread backend in force, and returns rank 0's result.
    /// When any rank throws, the group is aborted so the others stop at their next collective
    /// instead of waiting, and the first error that is not such an echo (in rank order) is
    /// rethrown.
    public static func runMembers<Result>(
        _ replicas: Int, timeoutSeconds: Double = 600,
        _ body: @escaping @Sendable (_ collective: ThreadCollective) throws -> Result
    ) throws -> Result {
        precondition(replicas >= 1, "ThreadReplicas: at least one replica, got \(replicas)")
        let group = ThreadGroup(size: replicas, timeoutSeconds: timeoutSeconds)
        let outcomes = OutcomeBox<Result>(count: replicas)
        let sparseInputDensity = Backend.current.sparseInputDensity
        @Sendable func member(_ rank: Int) {
            let backend = Backend(threads: ThreadPool(threadCount: 1), buffers: BufferPool(),
                                  sparseInputDensity: sparseInputDensity)
            Backend.$current.withValue(backend) {
                do {
                    outcomes.set(rank, .success(try body(ThreadCollective(group: group, rank: rank))))
                    // A member still in a collective would otherwise wait for this one until
                    // the timeout; after the last collective, nobody is waiting.
                    group.abort(reason: "replica \(rank) had already finished")
                } catch {
                    group.abort(reason: "replica \(rank) stopped: \(error)")
                    outcomes.set(rank, .failure(error))
                }
            }
        }
        let finished = DispatchGroup()
        for rank in 1..<replicas {
            finished.enter()
            let thread = Thread {
                member(rank)
                finished.leave()
            }
            // Room for deep recursion in backward passes of long graphs, as on the main thread.
            thread.stackSize = 8 << 20
            thread.start()
        }
        member(0)
        // A replica stuck outside any collective cannot be stopped from here: after a failure,
        // wait at most the group's timeout for it, then report.
        if outcomes.values().contains(where: { if case .failure? = $0 { return true } else { return false } }) {
            _ = finished.wait(timeout: .now() + timeoutSeconds)
        } else {
            finished.wait()
        }
        let all = outcomes.values()
        // The cause, not the echoes: the other ranks only report that the group was aborted.
        func isEcho(_ error: any Error) -> Bool {
            if case .aborted? = error as? CollectiveError { return true }
            if case .distributed(.aborted)? = error as? TrainingError { return true }
            return "\(error)".contains(" abandoned: ")
        }
        for case .failure(let error)? in all where !isEcho(error) { throw error }
        for case .failure(let error)? in all { throw error }
        guard case .success(let value)? = all[0] else {
            preconditionFailure("ThreadReplicas: rank 0 recorded no outcome")
        }
        return value
    }
}

/// Outcomes written by the replica threads, read after they have all finished.
private final class OutcomeBox<Result>: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [Swift.Result<Result, any Error>?]

    init(count: Int) { outcomes = Array(repeating: nil, count: count) }

    func set(_ rank: Int, _ outcome: Swift.Result<Result, any Error>) {
        lock.lock()
        outcomes[rank] = outcome
        lock.unlock()
    }

    func values() -> [Swift.Result<Result, any Error>?] {
        lock.lock()
        defer { lock.unlock() }
        return outcomes
    }
}
