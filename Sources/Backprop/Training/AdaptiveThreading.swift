import Dispatch

/// Decides, while a training loop runs, whether its steps split their kernels over the thread
/// pool or run on the calling thread alone — by timing both, again and again.
///
/// Why: splitting a step's operations over threads pays only when the threads can hand data to
/// each other quickly. On a virtual machine the distance between the vCPUs changes over minutes
/// (a cache-line round trip of ~100 ns on one die, ~400 ns across dies); far apart, a small
/// network's step on 2 threads is *slower* than on 1 (measured: `bench train` config (a),
/// 784-100-100-100-10 at batch 60, 230k samples/s on 2 threads against 330k on 1), while near,
/// 2 threads win by 35%. A fixed choice is wrong half the time; a timing says which is right now.
///
/// How: after a warm-up, each mode runs a measuring window (at least ``minimumWindowSteps``
/// steps and ``minimumWindowSeconds``), the faster median step time wins, and the winner runs
/// ``exploitFactor`` times as long as the two windows' steps took (counting step time only, so
/// evaluations between steps do not stretch it) before both are measured again. Ties
/// go to the pool. The cost is the loser's window: a few percent of the loser's slowdown.
///
/// Results do not depend on the choice: every kernel gives the same bits on any number of
/// threads (rows or columns of an output go to threads whole; no reduction is split), which
/// the tests check for whole training runs that switch on every step. So the same seed still
/// gives the same numbers, whatever the timings decide.
public final class AdaptiveThreading {
    /// The backend whose pool the steps may use.
    public let pooled: Backend
    /// The same buffers and settings, one thread.
    public let serial: Backend
    /// Steps run on each mode so far.
    public private(set) var pooledSteps = 0
    /// Steps run on ``serial`` so far.
    public private(set) var serialSteps = 0

    /// Steps and seconds of step time each measuring window lasts at least.
    public static let minimumWindowSteps = 8
    /// The least seconds of step time a measuring window lasts.
    public static let minimumWindowSeconds = 0.02
    /// The winner runs this many times the measuring windows' length before the next measurement.
    public static let exploitFactor = 30.0
    /// Steps before the first measurement (the buffer pool and caches fill; not timed).
    public static let warmUpSteps = 5

    private enum Phase {
        case warmUp(remaining: Int)
        /// `spent`: step seconds measured in this round so far (both windows): the next round
        /// comes after `exploitFactor` times that, counted in step time too, so evaluations and
        /// checkpoints between steps neither stretch nor shrink it.
        case measuring(pooled: Bool, durations: [Double], otherMedian: Double?, spent: Double)
        /// `left`: step seconds until the next round of measurements.
        case exploiting(pooled: Bool, left: Double)
    }
    private var phase: Phase = .warmUp(remaining: AdaptiveThreading.warmUpSteps)
    private let alternatesEveryStep: Bool
    private var nextStepUsesPool = true

    /// Nil when `backend` has one thread: there is nothing to choose.
    public convenience init?(backend: Backend) {
        guard backend.threads.threadCount > 1 else { return nil }
        self.init(pooled: backend, alternatesEveryStep: false)
    }

    /// A policy that ignores timings and switches mode on every step (tests use it to show that
    /// switching changes no result).
    public static func alternating(_ backend: Backend) -> AdaptiveThreading {
        AdaptiveThreading(pooled: backend, alternatesEveryStep: true)
    }

    private init(pooled: Backend, alternatesEveryStep: Bool) {
        self.pooled = pooled
        self.serial = Backend(threads: ThreadPool(threadCount: 1), buffers: pooled.buffers,
                              sparseInputDensity: pooled.sparseInputDensity)
        self.alternatesEveryStep = alternatesEveryStep
    }

    /// Whether the next step should use the pool.
    public var usesPool: Bool {
        if alternatesEveryStep { return nextStepUsesPool }
        switch phase {
        case .warmUp: return true
        case .measuring(let pooled, _, _, _): return pooled
        case .exploiting(let pooled, _): return pooled
        }
    }

    /// The backend for the next step.
    public var backend: Backend { usesPool ? pooled : serial }

    private var stepStart: UInt64 = 0

    /// Marks the start of a step (to be run on ``backend``); ``stepFinished()`` times it.
    public func stepStarted() { stepStart = DispatchTime.now().uptimeNanoseconds }

    /// Records the step begun at the last ``stepStarted()``.
    public func stepFinished() { record(seconds: Double(DispatchTime.now().uptimeNanoseconds &- stepStart) * 1e-9) }

    /// Reports the step just run (on ``backend``): it took `seconds`.
    public func record(seconds: Double) {
        if usesPool { pooledSteps += 1 } else { serialSteps += 1 }
        if alternatesEveryStep {
            nextStepUsesPool.toggle()
            return
        }
        switch phase {
        case .warmUp(let remaining):
            phase = remaining > 1 ? .warmUp(remaining: remaining - 1)
                : .measuring(pooled: true, durations: [], otherMedian: nil, spent: 0)
        case .measuring(let pooled, var durations, let otherMedian, let spent):
            durations.append(seconds)
            let spentNow = spent + seconds
            guard durations.count >= Self.minimumWindowSteps,
                  durations.reduce(0, +) >= Self.minimumWindowSeconds else {
                phase = .measuring(pooled: pooled, durations: durations, otherMedian: otherMedian, spent: spentNow)
                return
            }
            let median = Self.median(durations)
            guard let other = otherMedian else {
                phase = .measuring(pooled: !pooled, durations: [], otherMedian: median, spent: spentNow)
                return
            }
            let (pooledMedian, serialMedian) = pooled ? (median, other) : (other, median)
            phase = .exploiting(pooled: pooledMedian <= serialMedian, left: Self.exploitFactor * spentNow)
        case .exploiting(let pooled, let left):
            if left - seconds <= 0 {
                // Measure the current winner last, so the steps right after a measurement keep it.
                phase = .measuring(pooled: !pooled, durations: [], otherMedian: nil, spent: 0)
            } else {
                phase = .exploiting(pooled: pooled, left: left - seconds)
            }
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
