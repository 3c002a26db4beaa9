import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of persistent worker threads that run data-parallel loops.
///
/// Why a hand-made pool rather than GCD or Swift concurrency: GEMM and the other kernels call
/// `parallelFor` thousands of times per training epoch, often on problems that take only tens of
/// microseconds. Spawning work through `DispatchQueue.concurrentPerform` or a task group costs
/// several microseconds per call and gives no control over how many OS threads participate; a
/// pool whose workers briefly spin on an atomic generation counter between jobs wakes them in well
/// under a microsecond when calls come back to back, and sleeps them on a condition variable when
/// the process goes quiet, so an idle pool costs no CPU.
///
/// Semantics of ``parallelFor(_:_:)``:
/// - the calling thread participates, so a pool of `threadCount` threads owns `threadCount - 1`
///   background workers;
/// - indices are handed out dynamically (one atomic fetch-add per index), which balances load when
///   the machine is shared and one thread gets descheduled;
/// - a call made from inside a body (of this or any other pool) runs serially on the calling
///   thread rather than deadlocking on workers that are all busy;
/// - concurrent calls from unrelated threads are serialized.
public final class ThreadPool: @unchecked Sendable {
    /// Number of threads that execute a ``parallelFor(_:_:)`` body, the caller included.
    public let threadCount: Int

    private let state: PoolState
    private let submitLock = NSLock()

    /// The process-wide pool: one thread per active processor, or `BACKPROP_THREADS` if that
    /// environment variable holds a positive integer (useful to share a machine or to benchmark
    /// single-threaded code paths without recompiling).
    public static let shared: ThreadPool = {
        if let text = ProcessInfo.processInfo.environment["BACKPROP_THREADS"],
           let count = Int(text.trimmingCharacters(in: .whitespaces)), count > 0 {
            return ThreadPool(threadCount: count)
        }
        return ThreadPool(threadCount: max(1, ProcessInfo.processInfo.activeProcessorCount))
    }()

    /// Creates a pool that runs loop bodies on `threadCount` threads (the caller plus
    /// `threadCount - 1` workers started now and kept until the pool is released).
    public init(threadCount: Int) {
        precondition(threadCount >= 1, "ThreadPool needs at least one thread, got \(threadCount)")
        self.threadCount = threadCount
        self.state = PoolState(workerCount: threadCount - 1)
        for index in 0..<(threadCount - 1) {
            let state = self.state
            let thread = Thread { state.workerLoop() }
            thread.name = "backprop-pool-\(index + 1)"
            thread.start()
        }
    }

    deinit {
        state.shutdown()
    }

    /// Calls `body` exactly once for every index in `0..<count`, spread over the pool's threads,
    /// and returns when all calls have finished. The order of calls is unspecified.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        if count == 1 || threadCount == 1 || PoolState.isInsideBody {
            PoolState.runSerially(count, body)
            return
        }
        submitLock.lock()
        defer { submitLock.unlock() }
        withoutActuallyEscaping(body) { escapable in
            state.run(count, escapable)
        }
    }
}

/// The state shared between a pool and its workers. Kept apart from `ThreadPool` so that the
/// workers do not keep the pool alive: releasing the pool shuts the workers down.
private final class PoolState: @unchecked Sendable {
    let workerCount: Int
    /// Bumped (release) to publish a new job; workers wait for it to change.
    let generation = Atomic<Int>(0)
    /// Next index to hand out.
    let nextIndex = Atomic<Int>(0)
    /// Workers that have not yet finished with the current generation.
    let pending = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)

    // Written by the submitter before `generation` is bumped, read by workers after they observe
    // the bump (acquire), so the plain stores are ordered by the atomic.
    nonisolated(unsafe) var body: ((Int) -> Void)?
    nonisolated(unsafe) var count = 0

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    nonisolated(unsafe) private var sleepers = 0

    /// How long a worker polls for the next job before it sleeps. Back-to-back GEMMs in a
    /// training step are separated by a few microseconds of element-wise work; 200 000 polls
    /// (~100 µs) covers that gap without burning a shared machine's CPU when the process idles.
    private static let spinIterations = 200_000

    init(workerCount: Int) {
        self.workerCount = workerCount
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    // MARK: Nesting detection

    /// Marks the threads currently inside a body; a nested `parallelFor` then runs serially.
    private static let insideBodyKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var isInsideBody: Bool { pthread_getspecific(insideBodyKey) != nil }

    @inline(__always)
    static func withInsideBodyMark<R>(_ work: () -> R) -> R {
        let previous = pthread_getspecific(insideBodyKey)
        pthread_setspecific(insideBodyKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(insideBodyKey, previous) }
        return work()
    }

    static func runSerially(_ count: Int, _ body: (Int) -> Void) {
        withInsideBodyMark {
            for index in 0..<count { body(index) }
        }
    }

    // MARK: Submitting

    func run(_ count: Int, _ body: @escaping (Int) -> Void) {
        self.body = body
        self.count = count
        nextIndex.store(0, ordering: .relaxed)
        pending.store(workerCount, ordering: .relaxed)
        generation.add(1, ordering: .releasing)
        pthread_mutex_lock(mutex)
        if sleepers > 0 { pthread_cond_broadcast(condition) }
        pthread_mutex_unlock(mutex)

        drain(body, count)

        // Every worker must have left this generation before `body` (a non-escaping closure in
        // disguise) goes out of scope.
        var polls = 0
        while pending.load(ordering: .acquiring) != 0 {
            polls += 1
            if polls > 1_000 { sched_yield() }
        }
        self.body = nil
    }

    @inline(__always)
    private func drain(_ body: (Int) -> Void, _ count: Int) {
        PoolState.withInsideBodyMark {
            while true {
                let index = nextIndex.add(1, ordering: .relaxed).oldValue
                if index >= count { break }
                body(index)
            }
        }
    }

    // MARK: Workers

    func workerLoop() {
        // Generation 0 is "no job yet". Reading the counter here instead would race with a job
        // submitted before this thread first runs, and the worker would never acknowledge it.
        var seen = 0
        while true {
            var current = generation.load(ordering: .acquiring)
            var polls = 0
            while current == seen && polls < PoolState.spinIterations {
                polls += 1
                current = generation.load(ordering: .acquiring)
            }
            if current == seen {
                pthread_mutex_lock(mutex)
                while generation.load(ordering: .acquiring) == seen
                        && !stopping.load(ordering: .acquiring) {
                    sleepers += 1
                    pthread_cond_wait(condition, mutex)
                    sleepers -= 1
                }
                pthread_mutex_unlock(mutex)
                current = generation.load(ordering: .acquiring)
            }
            if stopping.load(ordering: .acquiring) { return }
            seen = current
            if let body = self.body {
                drain(body, count)
            }
            pending.subtract(1, ordering: .releasing)
        }
    }

    func shutdown() {
        stopping.store(true, ordering: .releasing)
        generation.add(1, ordering: .releasing)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
