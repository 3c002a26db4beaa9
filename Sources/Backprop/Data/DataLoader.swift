import Foundation

/// One mini-batch: features [batchSize, featureCount] and their labels.
public struct Batch: Sendable {
    /// [rows, featureCount], normalized (and transformed) as the loader was told.
    public var features: Tensor
    /// The class of each row (zeros for a regression source).
    public var labels: [Int32]
    /// Real-valued targets, [rows, targets] (regression sources); nil for class labels.
    public var targets: Tensor? = nil
    /// The examples' indices in the source.
    public var indices: ArraySlice<Int>
    /// Examples in the whole mini-batch this one is a shard of (data-parallel training);
    /// `labels.count` otherwise.
    public var globalCount: Int
}

/// Serves mini-batches of a source for one epoch after another: visits the examples in a
/// ``BatchOrder`` (shuffled per epoch from a seed, sequential, or a curriculum), gathers each
/// batch into a fresh pooled tensor, normalizes and optionally transforms it (augmentation) —
/// the next batch on a background thread while the caller trains on the current one.
///
/// Batch size N (the whole set) gives batch gradient descent, 1 stochastic, anything between
/// mini-batch: the training loop needs no special case for any of them.
public final class DataLoader: @unchecked Sendable {
    /// The examples served.
    public let source: any ExampleSource
    /// Examples per mini-batch, at most the source's count.
    public let batchSize: Int
    /// The order examples are visited in, epoch by epoch.
    public let order: BatchOrder
    /// Whether each epoch's last, smaller batch is dropped.
    public let dropLast: Bool
    /// Applied to every batch's features.
    public let normalization: Normalization
    /// Applied to every batch's features after normalization (e.g. augmentation); it receives
    /// a generator seeded from (seed, epoch, batch), so augmentation is reproducible.
    public let transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)?
    /// The seed of the shuffled order and of the transform's generators.
    public let seed: UInt64
    /// Whether batches are prepared on a background thread.
    public let prefetches: Bool
    /// For data-parallel training: the positions of a global batch of n examples that this
    /// process takes (every process plans the same global batches and keeps its own part).
    public let shard: (@Sendable (_ globalCount: Int) -> Range<Int>)?

    private let queue = DispatchQueue(label: "backprop.dataloader")

    /// A loader over `source`.
    ///
    /// - Parameters:
    ///   - source: the examples.
    ///   - batchSize: examples per batch (≥ 1); a size above the source's count serves the whole
    ///     source as one batch (batch gradient descent).
    ///   - order: the visiting order.
    ///   - dropLast: drop each epoch's last, smaller batch.
    ///   - normalization: applied to every batch's features.
    ///   - seed: the seed of the shuffled order and of the transform.
    ///   - prefetches: prepare the next batch on a background thread.
    ///   - shard: for data-parallel training, the positions of a global batch this process takes.
    ///   - transform: applied to every batch's features after normalization.
    public init(_ source: any ExampleSource, batchSize: Int, order: BatchOrder, dropLast: Bool = false,
                normalization: Normalization = .none, seed: UInt64 = 0, prefetches: Bool = true,
                shard: (@Sendable (_ globalCount: Int) -> Range<Int>)? = nil,
                transform: (@Sendable (inout Tensor, inout RandomGenerator) -> Void)? = nil) {
        precondition(batchSize >= 1, "DataLoader: batch size \(batchSize) must be at least 1")
        self.source = source
        self.batchSize = min(batchSize, max(source.count, 1))
        self.order = order
        self.dropLast = dropLast
        self.normalization = normalization
        self.seed = seed
        self.prefetches = prefetches
        self.shard = shard
        self.transform = transform
    }

    /// Batches per epoch.
    public var batchesPerEpoch: Int {
        dropLast ? source.count / batchSize : (source.count + batchSize - 1) / batchSize
    }

    /// The index plan of `epoch` (0-based).
    public func plan(epoch: Int) -> BatchPlan {
        // The order's own errors concern the count and batch size, both validated at init.
        (try? order.plan(epoch: epoch, count: source.count, batchSize: batchSize, dropLast: dropLast))
            ?? BatchPlan(order: [], batchSize: batchSize, dropLast: dropLast)
    }

    /// Prepares batch `b` of `plan`, gathering on `threads` when given.
    public func makeBatch(_ plan: BatchPlan, _ b: Int, epoch: Int, threads: ThreadPool? = nil) -> Batch {
        let global = plan[b]
        let part = shard.map { $0(global.count) } ?? 0..<global.count
        let indices = global[(global.startIndex + part.lowerBound)..<(global.startIndex + part.upperBound)]
        var (features, labels) = source.batch(indices, threads: threads)
        normalization.apply(to: &features)
        if let transform {
            var generator = RandomGenerator(seed: seed ^ 0xA5A5_5A5A, stream: UInt64(epoch) << 32 | UInt64(b))
            transform(&features, &generator)
        }
        return Batch(features: features, labels: labels, targets: source.targets(indices), indices: indices,
                     globalCount: global.count)
    }

    /// The batches of `epoch`, starting at batch `first` (to resume mid-epoch).
    public func batches(epoch: Int, startingAt first: Int = 0) -> AnyIterator<Batch> {
        let plan = plan(epoch: epoch)
        var next = first
        guard prefetches else {
            // Without a prefetch thread the training loop waits for the gather: split it over
            // the kernels' threads (the backend in force where the batches are asked for).
            let threads = Backend.current.threads
            return AnyIterator {
                guard next < plan.count else { return nil }
                defer { next += 1 }
                return self.makeBatch(plan, next, epoch: epoch, threads: threads)
            }
        }
        let pending = PrefetchSlot()
        func schedule(_ b: Int) {
            guard b < plan.count else { return }
            queue.async { pending.finish(self.makeBatch(plan, b, epoch: epoch)) }
        }
        schedule(next)
        return AnyIterator {
            guard next < plan.count else { return nil }
            let batch = pending.wait()
            next += 1
            schedule(next)
            return batch
        }
    }
}

/// A one-element handoff between the prefetch thread and the training loop.
private final class PrefetchSlot: @unchecked Sendable {
    private let ready = DispatchSemaphore(value: 0)
    private var value: Batch?

    func finish(_ batch: Batch) {
        value = batch
        ready.signal()
    }

    func wait() -> Batch {
        ready.wait()
        guard let batch = value else { preconditionFailure("DataLoader: prefetch slot signalled without a batch") }
        value = nil
        return batch
    }
}
