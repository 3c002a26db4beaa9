import Foundation
import Synchronization

/// Hogwild! (Niu, Recht, Ré & Wright, 2011; Ruder §4.1): threads run SGD on one shared weight
/// vector without any lock. Each thread takes its own examples; for each it reads the weights of
/// the example's non-zero features, computes the logistic-loss gradient and writes those
/// weights back, w_j ← w_j − η·g·x_j, while other threads do the same. On a sparse problem two
/// threads rarely touch the same weight at once, so the rare lost update costs less than a lock
/// on every update would (the paper proves near-linear speed-up when conflicts are rare).
///
/// Weights are relaxed atomics: every read and write of a Float is whole (no torn values) and
/// well-defined between threads, but read–modify–write is not atomic — that is the algorithm:
/// an update that races with another may overwrite it. `locked: true` runs the same loop under
/// one lock per update instead (the baseline Hogwild! is measured against).
@available(macOS 15.0, *)
public enum Hogwild {
    /// Trains logistic regression on `data` with `threads` threads for `epochs` passes.
    ///
    /// Each epoch visits a fresh permutation of the examples (from `seed` and the epoch), dealt
    /// round-robin to the threads; the learning rate decays as η/(1 + epoch). With one thread
    /// this is exactly serial SGD in that order.
    ///
    /// - Returns: the weights.
    public static func train(_ data: SparseExamples, threads: Int, epochs: Int, learningRate: Float,
                             seed: UInt64, locked: Bool = false) -> [Float] {
        precondition(threads >= 1 && epochs >= 0, "Hogwild.train: need threads ≥ 1 and epochs ≥ 0")
        let weights = SharedWeights(count: data.featureCount)
        let lock = Mutex(())
        for epoch in 0..<epochs {
            var generator = BatchOrder.generator(seed: seed, epoch: epoch)
            let order = generator.permutation(data.count)
            let eta = learningRate / Float(1 + epoch)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var position = t
                while position < order.count {
                    let i = order[position]
                    if locked {
                        lock.withLock { _ in step(data, example: i, weights: weights, eta: eta) }
                    } else {
                        step(data, example: i, weights: weights, eta: eta)
                    }
                    position += threads
                }
            }
        }
        return weights.values()
    }

    /// One SGD step on example `i`: touches only its non-zero features.
    @inline(__always)
    private static func step(_ data: SparseExamples, example i: Int, weights: SharedWeights, eta: Float) {
        let range = data.rowStarts[i]..<data.rowStarts[i + 1]
        var score: Float = 0
        for k in range { score += weights.load(Int(data.indices[k])) * data.values[k] }
        let y = data.labels[i]
        // d/dscore log(1 + exp(−y·score)) = −y·σ(−y·score).
        let g = -y / (1 + Float(exp(Double(y * score))))
        for k in range {
            let j = Int(data.indices[k])
            weights.store(j, weights.load(j) - eta * g * data.values[k])
        }
    }
}

/// A weight vector shared by threads: relaxed atomic loads and stores of each Float's bits.
@available(macOS 15.0, *)
private final class SharedWeights: @unchecked Sendable {
    let count: Int
    private let bits: UnsafeMutablePointer<Atomic<UInt32>>

    init(count: Int) {
        self.count = count
        bits = .allocate(capacity: max(count, 1))
        for i in 0..<count { (bits + i).initialize(to: Atomic<UInt32>(0)) }
    }

    deinit {
        bits.deinitialize(count: count)
        bits.deallocate()
    }

    @inline(__always) func load(_ j: Int) -> Float { Float(bitPattern: bits[j].load(ordering: .relaxed)) }
    @inline(__always) func store(_ j: Int, _ value: Float) { bits[j].store(value.bitPattern, ordering: .relaxed) }
    func values() -> [Float] { (0..<count).map { load($0) } }
}
