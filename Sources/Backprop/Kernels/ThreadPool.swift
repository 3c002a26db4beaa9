import Foundation
#if !canImport(Darwin)
import Synchronization
#endif

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
///
/// Protocol: one atomic word holds (job generation << 32 | next index). A thread claims index
/// `i` of generation `g` by compare-and-swapping `(g, i)` to `(g, i + 1)`, so a worker that wakes
/// late can never run an index of a finished job, and the submitter waits only for indices that
/// were actually claimed (`completed == count`), never for workers that were descheduled before
/// they joined. On a shared machine that difference is a scheduler time slice per call.
private final class PoolState: @unchecked Sendable {
    /// (generation << 32) | next unclaimed index of the current job.
    let ticket = PoolAtomic()
    /// Indices of the current job whose body has returned.
    let completed = PoolAtomic()
    let stopping = PoolAtomic()

    // Written by the submitter before it publishes a new generation (release) and read only by a
    // thread that has claimed an index of that generation, which keeps the job alive until the
    // body returns; so these plain fields never race.
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

    @inline(__always)
    static func generation(_ ticket: UInt64) -> UInt64 { ticket >> 32 }

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
        precondition(count < 1 << 31, "parallelFor count \(count) too large")
        // Close the previous job before `body` and `count` change. A worker that loaded the
        // previous job's exhausted ticket (g, i) may still be about to compare i with `count`;
        // if it saw the new, larger count while the ticket still read (g, i), its compare-and-swap
        // would succeed and it would run index i of the new job a second time, leaving
        // `completed` at count + 1 so that the wait below never ends. A closing generation whose
        // index is past any count makes every such claim fail; the job gets the next generation.
        let closing = PoolState.generation(ticket.load()) &+ 1
        ticket.store(closing << 32 | 0xFFFF_FFFF)
        self.body = body
        self.count = count
        completed.store(0)
        let generation = closing &+ 1
        ticket.store(generation << 32)
        pthread_mutex_lock(mutex)
        if sleepers > 0 { pthread_cond_broadcast(condition) }
        pthread_mutex_unlock(mutex)

        work(generation: generation)

        // Wait for indices other threads claimed; they are running, so this wait is short.
        var polls = 0
        while completed.load() != UInt64(count) {
            polls += 1
            if polls > 1_000 { sched_yield() }
        }
        self.body = nil
    }

    /// Claims and runs indices of job `generation` until none is left or a newer job appears.
    private func work(generation: UInt64) {
        PoolState.withInsideBodyMark {
            while true {
                let current = ticket.load()
                guard PoolState.generation(current) == generation else { return }
                let index = Int(truncatingIfNeeded: current & 0xFFFF_FFFF)
                guard index < count else { return }
                guard ticket.compareExchange(expected: current, desired: current + 1) else { continue }
                runClaimed(index)
                completed.add(1)
            }
        }
    }

    /// Runs one claimed index; a separate function so the closure copy is released before the
    /// index is reported complete.
    @inline(never)
    private func runClaimed(_ index: Int) {
        body.unsafelyUnwrapped(index)
    }

    // MARK: Workers

    func workerLoop() {
        var seen: UInt64 = 0
        while true {
            var current = PoolState.generation(ticket.load())
            var polls = 0
            while current == seen && polls < PoolState.spinIterations {
                polls += 1
                current = PoolState.generation(ticket.load())
            }
            if current == seen {
                pthread_mutex_lock(mutex)
                while PoolState.generation(ticket.load()) == seen
                        && stopping.load() == 0 {
                    sleepers += 1
                    pthread_cond_wait(condition, mutex)
                    sleepers -= 1
                }
                pthread_mutex_unlock(mutex)
                current = PoolState.generation(ticket.load())
            }
            if stopping.load() != 0 { return }
            seen = current
            work(generation: current)
        }
    }

    func shutdown() {
        stopping.store(1)
        // A generation no job uses wakes spinning workers.
        ticket.add(1 << 32)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}

/// A 64-bit atomic cell with sequentially consistent operations.
///
/// Why a wrapper: `Synchronization.Atomic` needs macOS 15 / iOS 18 while the package supports
/// macOS 13, and stored properties cannot be availability-gated. Linux (and any platform without
/// Darwin) uses the lock-free `Atomic`; Apple platforms fall back to a mutex per operation, which
/// is correct and only slows the spin-wait polling.
final class PoolAtomic: @unchecked Sendable {
    #if !canImport(Darwin)
    private let value = Atomic<UInt64>(0)

    @inline(__always) func load() -> UInt64 { value.load(ordering: .sequentiallyConsistent) }
    @inline(__always) func store(_ newValue: UInt64) { value.store(newValue, ordering: .sequentiallyConsistent) }
    @inline(__always) func add(_ delta: UInt64) { value.wrappingAdd(delta, ordering: .sequentiallyConsistent) }
    @inline(__always) func addReturningNew(_ delta: UInt64) -> UInt64 {
        value.wrappingAdd(delta, ordering: .sequentiallyConsistent).newValue
    }
    @inline(__always) func compareExchange(expected: UInt64, desired: UInt64) -> Bool {
        value.compareExchange(expected: expected, desired: desired, ordering: .sequentiallyConsistent).exchanged
    }
    #else
    private var value: UInt64 = 0
    private let lock = NSLock()

    func load() -> UInt64 { lock.lock(); defer { lock.unlock() }; return value }
    func store(_ newValue: UInt64) { lock.lock(); value = newValue; lock.unlock() }
    func add(_ delta: UInt64) { lock.lock(); value &+= delta; lock.unlock() }
    func addReturningNew(_ delta: UInt64) -> UInt64 { lock.lock(); defer { lock.unlock() }; value &+= delta; return value }
    func compareExchange(expected: UInt64, desired: UInt64) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard value == expected else { return false }
        value = desired
        return true
    }
    #endif
}
