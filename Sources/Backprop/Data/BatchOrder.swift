/// The order a data loader visits examples in, and how it cuts them into mini-batches.
///
/// Ruder's three variants of gradient descent are batch sizes here, not different code:
/// batch gradient descent is batch size N (one step per epoch), stochastic is 1, mini-batch
/// anything between. The order is
/// - ``sequential``: 0, 1, …, N−1 every epoch (batches are contiguous row ranges, so a loader
///   can slice them without copying);
/// - ``shuffled(seed:)``: a fresh permutation every epoch, so successive epochs' gradient
///   estimates are not correlated by a fixed order (Ruder §6). Epoch e's permutation comes from
///   a generator seeded by mixing (seed, e), not from a generator carried across epochs, so a
///   run resumed at epoch e sees the same order as an uninterrupted one;
/// - ``curriculum(_:)``: one fixed order given by the user — typically easy examples first
///   (Bengio et al. 2009; Ruder §6 mentions that a meaningful order can help). Build it with
///   ``curriculum(keys:)``, which sorts stably by a key.
public enum BatchOrder: Sendable, Equatable {
    /// 0, 1, …, N−1 every epoch; batches are contiguous row ranges, which a loader can slice without
    /// copying.
    case sequential
    /// A fresh permutation every epoch, drawn from a generator seeded by mixing `seed` with the
    /// epoch number, so a resumed run visits the examples in the same order as an uninterrupted one.
    case shuffled(seed: UInt64)
    /// A fixed permutation of 0..<N, used every epoch.
    case curriculum([Int])

    /// A curriculum that visits examples in ascending order of `keys[i]` (e.g. sequence
    /// length, or a difficulty score), ties in index order (a stable sort).
    public static func curriculum<Key: Comparable>(keys: [Key]) -> BatchOrder {
        let order = keys.indices.sorted { a, b in keys[a] < keys[b] || (!(keys[b] < keys[a]) && a < b) }
        return .curriculum(order)
    }

    /// The permutation of 0..<count for epoch `epoch` (0-based).
    ///
    /// - Throws: ``BatchOrderError`` when a curriculum is not a permutation of 0..<count.
    public func indices(epoch: Int, count: Int) throws(BatchOrderError) -> [Int] {
        guard count >= 0 else { throw .invalidCount(count) }
        switch self {
        case .sequential:
            return Array(0..<count)
        case .shuffled(let seed):
            var generator = Self.generator(seed: seed, epoch: epoch)
            return generator.permutation(count)
        case .curriculum(let order):
            guard order.count == count else { throw .curriculumLength(order.count, expected: count) }
            var seen = [Bool](repeating: false, count: count)
            for i in order {
                guard i >= 0 && i < count && !seen[i] else { throw .notAPermutation(i) }
                seen[i] = true
            }
            return order
        }
    }

    /// The epoch's order cut into batches of `batchSize` (the last one shorter unless
    /// `dropLast`, which drops it so every step averages over the same number of examples).
    public func plan(epoch: Int, count: Int, batchSize: Int, dropLast: Bool = false) throws(BatchOrderError) -> BatchPlan {
        guard batchSize >= 1 else { throw .invalidBatchSize(batchSize) }
        return BatchPlan(order: try indices(epoch: epoch, count: count), batchSize: batchSize, dropLast: dropLast)
    }

    /// The generator for one epoch of a shuffled order: SplitMix64 of the seed and the epoch,
    /// so nearby seeds and epochs give unrelated streams.
    public static func generator(seed: UInt64, epoch: Int) -> RandomGenerator {
        RandomGenerator(seed: splitMix64(seed ^ splitMix64(UInt64(bitPattern: Int64(epoch)) &+ 0x9E37_79B9_7F4A_7C15)))
    }

    static func splitMix64(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One epoch's order and its batches: batch b holds `order[ranges[b]]`.
public struct BatchPlan: Sendable, Equatable, RandomAccessCollection {
    /// The example indices in visiting order.
    public let order: [Int]
    /// Examples per batch; the last batch may be smaller unless ``dropLast``.
    public let batchSize: Int
    /// Whether a last, smaller batch is dropped.
    public let dropLast: Bool
    /// Each batch's range of positions in ``order``.
    public let ranges: [Range<Int>]

    init(order: [Int], batchSize: Int, dropLast: Bool) {
        self.order = order
        self.batchSize = batchSize
        self.dropLast = dropLast
        let n = order.count
        let full = n / batchSize
        var ranges = (0..<full).map { $0 * batchSize ..< ($0 + 1) * batchSize }
        if !dropLast && n % batchSize != 0 { ranges.append(full * batchSize ..< n) }
        self.ranges = ranges
    }

    /// 0: batches are numbered from zero.
    public var startIndex: Int { 0 }
    /// The number of batches.
    public var endIndex: Int { ranges.count }
    /// The example indices of batch `b`.
    public subscript(b: Int) -> ArraySlice<Int> { order[ranges[b]] }

    /// Batch `b` as a contiguous range of example indices, when it is one (always for a
    /// sequential order): a loader can then slice rows without gathering.
    public func contiguousRange(_ b: Int) -> Range<Int>? {
        let batch = self[b]
        guard let first = batch.first, let last = batch.last, last - first + 1 == batch.count else { return nil }
        for (k, i) in batch.enumerated() where i != first + k { return nil }
        return first ..< last + 1
    }
}

/// Bad input to a ``BatchOrder``.
public enum BatchOrderError: Error, Equatable, CustomStringConvertible {
    /// A batch size below 1.
    case invalidBatchSize(Int)
    /// A negative number of examples.
    case invalidCount(Int)
    /// A curriculum's length differs from the number of examples.
    case curriculumLength(Int, expected: Int)
    /// A curriculum that is not a permutation of 0..<N (the associated value is the first index
    /// out of range or repeated).
    case notAPermutation(Int)

    /// A one-line message naming the bad value.
    public var description: String {
        switch self {
        case .invalidBatchSize(let b): return "batch size must be at least 1, got \(b)"
        case .invalidCount(let n): return "example count must be non-negative, got \(n)"
        case let .curriculumLength(n, expected):
            return "curriculum order has \(n) indices for \(expected) examples"
        case .notAPermutation(let i):
            return "curriculum order is not a permutation: index \(i) is out of range or repeated"
        }
    }
}
