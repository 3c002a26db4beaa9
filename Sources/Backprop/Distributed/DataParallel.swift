import Foundation

/// How the shards' gradients of one global mini-batch become the gradient every rank applies.
public enum GradientReduction: String, Sendable, Codable, CaseIterable {
    /// One allreduce (MPI_SUM) per bucket: the fastest, but the summation order is the
    /// transport's, so results differ from one process's in the last bits.
    case allReduce = "allreduce"
    /// Every rank gathers every shard's bucket and sums them in shard order: the same bits
    /// whatever the number of ranks, as long as the shards are the same (``DataParallel``'s
    /// `shardsPerRank` lets one process compute them all in turn). Costs size× the receive
    /// memory and bandwidth of an allreduce.
    case deterministic
}

/// What the ranks keep in step.
public enum ParameterSynchronization: Sendable, Equatable {
    /// Synchronous data parallelism: every step's gradient is averaged over all shards, so
    /// every rank applies the same update (one large mini-batch spread over the ranks).
    case gradients
    /// Local SGD (periodic parameter averaging): each rank steps on its own shard's gradient
    /// and the parameters are averaged every `period` steps (and before every evaluation).
    case localSGD(period: Int)
    /// Elastic Averaging SGD (Zhang, Choromanska & LeCun 2015), synchronous form: each rank
    /// steps on its own shard; every `period` steps each rank's parameters x_r move towards a
    /// center variable x̃ and the center towards the ranks,
    /// x_r ← x_r − α(x_r − x̃),  x̃ ← x̃ + α·Σ_r (x_r − x̃)
    /// (the same x̃ on every rank: it is computed from one allreduce). Before every evaluation
    /// the ranks take the center's values, so rank 0 evaluates and checkpoints x̃.
    case elasticAveraging(period: Int, alpha: Float)

    /// Steps between parameter exchanges (nil: gradients every step).
    var period: Int? {
        switch self {
        case .gradients: return nil
        case .localSGD(let period), .elasticAveraging(let period, _): return period
        }
    }
}

/// Synchronous data-parallel training over a ``Collective``: each global mini-batch is cut into
/// `size · shardsPerRank` contiguous shards (every rank knows the same global order, from the
/// same seed); each rank computes the gradients of its shards, and they are combined into the
/// average over the whole mini-batch — weighted by shard size, so a short last batch averages
/// correctly — through a flat buffer reduced in a few large buckets.
///
/// The flat buffer holds every parameter's gradient back to back, then the shard's loss sum,
/// correct count and example count, so one reduction also gives every rank the global
/// training loss and accuracy (and a NaN on one rank stops all of them at the same step).
///
/// With one process and `shardsPerRank: N` the same code is gradient accumulation over N
/// micro-batches: with ``GradientReduction/deterministic`` it gives bit for bit the update of
/// N ranks with one shard each.
public final class DataParallel {
    /// The group of processes or threads the gradients are combined over.
    public let collective: any Collective
    /// How gradients are summed (all-reduce, or in a fixed order for bit-identical results).
    public let reduction: GradientReduction
    /// What is synchronized: gradients every step, or parameters every few steps.
    public let synchronization: ParameterSynchronization
    /// Shards (micro-batches) each rank computes in turn per step.
    public let shardsPerRank: Int
    /// Floats per reduction bucket (the flat buffer is reduced in pieces of this size).
    public let bucketCount: Int

    /// Seconds spent in collectives (gradient and parameter reductions) so far.
    public private(set) var communicationSeconds: Double = 0
    /// Bytes this rank handed to reductions so far.
    public private(set) var reducedBytes: Int = 0

    /// This process's rank in ``collective``, 0-based.
    public var rank: Int { collective.rank }
    /// The number of ranks.
    public var size: Int { collective.size }
    /// Shards per global batch.
    public var shardCount: Int { collective.size * shardsPerRank }

    /// The flat buffers, sized by the first step.
    private var layout: Layout?
    /// Elastic averaging's center variable x̃ (the same on every rank).
    private var center: [Float]?
    /// Set when BatchNorm layers are synchronized (SyncBN).
    public private(set) var batchNormSynchronizer: BatchNormSynchronizer?

    /// Totals of one global mini-batch after a step.
    public struct Totals: Sendable, Equatable {
        /// The sum of the per-example losses over the global batch.
        public var lossSum: Double
        /// Examples of the global batch predicted right.
        public var correct: Int
        /// Examples in the global batch.
        public var examples: Int
        /// ``lossSum`` / ``examples`` (the loss of an empty batch reads as 0).
        public var meanLoss: Float { Float(lossSum / Double(max(examples, 1))) }
    }

    /// A data-parallel driver over `collective`.
    ///
    /// - Parameters:
    ///   - collective: the ranks to combine over (``SingleProcessCollective`` for gradient
    ///     accumulation in one process).
    ///   - reduction: how gradients are summed.
    ///   - synchronization: gradients every step, or a periodic or elastic parameter average.
    ///   - shardsPerRank: micro-batches each rank computes per step (≥ 1).
    ///   - bucketCount: floats per reduction bucket (≥ 1).
    /// - Throws: ``TrainingError/invalidConfiguration(_:)`` for counts below 1 or an invalid
    ///   averaging period or elastic α.
    public init(collective: any Collective, reduction: GradientReduction = .allReduce,
                synchronization: ParameterSynchronization = .gradients, shardsPerRank: Int = 1,
                bucketCount: Int = 1 << 22) throws(TrainingError) {
        guard shardsPerRank >= 1 else { throw .invalidConfiguration("shards per rank must be at least 1, got \(shardsPerRank)") }
        guard bucketCount >= 1 else { throw .invalidConfiguration("bucket size must be at least 1 float, got \(bucketCount)") }
        if let period = synchronization.period, period < 1 {
            throw .invalidConfiguration("the averaging period must be at least 1 step, got \(period)")
        }
        if case .elasticAveraging(_, let alpha) = synchronization, !(alpha > 0 && alpha <= 1) {
            throw .invalidConfiguration("the elastic averaging α must be in (0, 1], got \(alpha)")
        }
        self.collective = collective
        self.reduction = reduction
        self.synchronization = synchronization
        self.shardsPerRank = shardsPerRank
        self.bucketCount = bucketCount
    }

    // MARK: Sharding

    /// Shard `s` of `count` examples: positions s·count/S ..< (s+1)·count/S (S = ``shardCount``),
    /// so shard sizes differ by at most one and every example belongs to exactly one shard.
    public static func shard(_ s: Int, of count: Int, shards: Int) -> Range<Int> {
        (s * count / shards) ..< ((s + 1) * count / shards)
    }

    /// This rank's positions in a global batch of `count` examples (its shards together).
    public func rankRange(ofBatch count: Int) -> Range<Int> { rankPart(count) }

    /// ``rankRange(ofBatch:)`` as a function a ``DataLoader`` can call from its prefetch thread.
    public var rankPart: @Sendable (_ count: Int) -> Range<Int> {
        let first = rank * shardsPerRank, last = first + shardsPerRank - 1, shards = shardCount
        return { count in Self.shard(first, of: count, shards: shards).lowerBound ..< Self.shard(last, of: count, shards: shards).upperBound }
    }

    /// This rank's shards of a global batch of `count` examples, as ranges of positions within
    /// the rank's part (``rankRange(ofBatch:)``).
    public func localShards(ofBatch count: Int) -> [Range<Int>] {
        let base = rankRange(ofBatch: count).lowerBound
        return (0..<shardsPerRank).map { j in
            let r = Self.shard(rank * shardsPerRank + j, of: count, shards: shardCount)
            return (r.lowerBound - base) ..< (r.upperBound - base)
        }
    }

    // MARK: Gradients

    /// Starts a step over `parameters` (allocates the buffers on first use).
    func beginStep(_ parameters: [Variable]) {
        if layout == nil || layout?.parameters.count != parameters.count
            || zip(layout?.parameters ?? [], parameters).contains(where: { $0 !== $1 }) {
            layout = Layout(parameters, slots: shardsPerRank)
        }
    }

    /// Stores the gradients of local shard `j` (already computed by `backward()`), times the
    /// shard's example count, with its loss and accuracy, into slot `j`.
    func storeShard(_ j: Int, examples: Int, meanLoss: Float, correct: Int) {
        guard let layout else { preconditionFailure("DataParallel: storeShard before beginStep") }
        layout.store(slot: j, scale: Float(examples),
                     tail: [meanLoss * Float(examples), Float(correct), Float(examples)])
    }

    /// Combines the slots of every shard of every rank into the average gradient (written to
    /// each parameter's `grad`) and returns the global totals.
    func finishStep() throws(CollectiveError) -> Totals {
        guard let layout else { preconditionFailure("DataParallel: finishStep before beginStep") }
        if let error = batchNormSynchronizer?.takeError() { throw error }
        let start = DispatchTime.now().uptimeNanoseconds
        let combined = layout.combined
        let length = layout.length
        switch (synchronization, reduction) {
        case (.localSGD, _), (.elasticAveraging, _):
            // Only this rank's shards: the ranks drift apart until the next averaging.
            Layout.sumInOrder(UnsafeBufferPointer(layout.slots), slotLength: length, slots: shardsPerRank,
                              range: 0..<length, into: combined)
        case (.gradients, .allReduce):
            Layout.sumInOrder(UnsafeBufferPointer(layout.slots), slotLength: length, slots: shardsPerRank,
                              range: 0..<length, into: combined)
            var lower = 0
            while lower < length {
                let upper = min(length, lower + bucketCount)
                try collective.allReduceSum(UnsafeMutableBufferPointer(rebasing: combined[lower..<upper]))
                lower = upper
            }
            reducedBytes += length * MemoryLayout<Float>.stride
        case (.gradients, .deterministic):
            // Bucket by bucket: gather every rank's slots of the bucket, sum in global shard order.
            let slotsPerRank = shardsPerRank, ranks = size
            let bucket = min(bucketCount, length)
            let (send, gathered) = layout.gatherBuffers(send: slotsPerRank * bucket, receive: ranks * slotsPerRank * bucket)
            var lower = 0
            while lower < length {
                let n = min(length, lower + bucket) - lower
                for j in 0..<slotsPerRank {
                    (send.baseAddress! + j * n).update(from: layout.slots.baseAddress! + j * length + lower, count: n)
                }
                try collective.allGather(UnsafeBufferPointer(rebasing: send[0..<(slotsPerRank * n)]),
                                         into: UnsafeMutableBufferPointer(rebasing: gathered[0..<(ranks * slotsPerRank * n)]))
                Layout.sumInOrder(UnsafeBufferPointer(gathered), slotLength: n, slots: ranks * slotsPerRank,
                                  range: 0..<n, into: UnsafeMutableBufferPointer(rebasing: combined[lower..<(lower + n)]))
                lower += n
            }
            reducedBytes += length * MemoryLayout<Float>.stride * ranks
        }
        communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        let tail = combined.baseAddress! + layout.count
        let totals = Totals(lossSum: Double(tail[0]), correct: Int(tail[1].rounded()), examples: Int(tail[2].rounded()))
        layout.scatter(scale: 1 / Float(max(totals.examples, 1)))
        return totals
    }

    // MARK: Batch normalization

    /// Makes every ``BatchNorm1d`` of `model` normalize with the statistics of the whole global
    /// batch (SyncBN) instead of this rank's shard.
    ///
    /// - Throws: when a rank computes several shards in turn (`shardsPerRank > 1`), whose
    ///   statistics cannot be gathered before each other's forward pass.
    public func synchronizeBatchNorm(in model: Sequential) throws(TrainingError) {
        guard shardsPerRank == 1 else {
            throw .invalidConfiguration("synchronized BatchNorm needs one shard per rank, not \(shardsPerRank) micro-batches")
        }
        guard case .gradients = synchronization else {
            throw .invalidConfiguration("synchronized BatchNorm needs synchronous gradients, not local SGD or elastic averaging")
        }
        let synchronizer = BatchNormSynchronizer(collective: collective)
        for layer in model.layers {
            if let bn = layer as? BatchNorm1d { bn.synchronizer = synchronizer }
        }
        batchNormSynchronizer = synchronizer
    }

    /// Checks that every shard of a global batch of `count` examples can go through the
    /// model's BatchNorm layers (every rank decides the same, so all stop together).
    func checkShards(ofBatch count: Int, model: Sequential) throws(TrainingError) {
        guard model.layers.contains(where: { $0 is BatchNorm1d }) else { return }
        let smallest = (0..<shardCount).map { Self.shard($0, of: count, shards: shardCount).count }.min() ?? 0
        if batchNormSynchronizer != nil {
            if smallest < 1 || count < 2 {
                throw .invalidConfiguration("a mini-batch of \(count) examples leaves a rank of \(size) without examples for synchronized BatchNorm; use a batch size that is a multiple of the ranks with no short last batch")
            }
        } else if smallest < 2 {
            throw .invalidConfiguration("a mini-batch of \(count) examples cut into \(shardCount) shards leaves a shard of \(smallest) example(s), too few for BatchNorm's batch statistics; use a batch size that is a multiple of the shards with no short last batch, or synchronized BatchNorm")
        }
    }

    // MARK: Parameters

    /// Copies rank 0's parameters and buffers (BatchNorm statistics) to every rank, and gives
    /// each rank's dropout and noise generators a stream of their own.
    public func broadcastState(of model: Sequential) throws(CollectiveError) {
        let variables = model.parameters + model.namedBuffers().map(\.buffer)
        try Self.withFlatValues(variables) { (flat) throws(CollectiveError) in
            try collective.broadcast(flat, root: 0)
        }
        if case .elasticAveraging = synchronization {
            center = model.parameters.flatMap(\.value.scalars)
        }
        guard rank > 0 else { return }
        for layer in model.layers {
            if let d = layer as? Dropout { d.generator = RandomGenerator(seed: d.generator.state, stream: UInt64(rank)) }
            if let n = layer as? GaussianNoise { n.generator = RandomGenerator(seed: n.generator.state, stream: UInt64(rank)) }
        }
    }

    /// After optimizer step `step`: the periodic exchange of local SGD or elastic averaging.
    public func afterStep(_ step: Int, model: Sequential) throws(CollectiveError) {
        guard let period = synchronization.period, step % period == 0 else { return }
        switch synchronization {
        case .gradients: return
        case .localSGD: try averageParameters(of: model)
        case .elasticAveraging(_, let alpha): try elasticAverage(model, alpha: alpha)
        }
    }

    /// Before an evaluation (which rank 0 alone makes, and which may write a checkpoint): the
    /// ranks agree on one model — the average (local SGD) or the center (elastic averaging).
    public func beforeEvaluation(model: Sequential) throws(CollectiveError) {
        switch synchronization {
        case .gradients: return
        case .localSGD: try averageParameters(of: model)
        case .elasticAveraging:
            guard let center else { return }
            var offset = 0
            for p in model.parameters {
                let n = p.value.count
                p.value.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<n { dst[i] = center[offset + i] }
                }
                offset += n
            }
        }
    }

    /// One elastic-averaging exchange: x_r ← x_r − α(x_r − x̃), x̃ ← x̃ + α(Σ_r x_r − p·x̃).
    public func elasticAverage(_ model: Sequential, alpha: Float) throws(CollectiveError) {
        let start = DispatchTime.now().uptimeNanoseconds
        var center = self.center ?? model.parameters.flatMap(\.value.scalars)
        let p = Float(size)
        try Self.withFlatValues(model.parameters) { (flat) throws(CollectiveError) in
            let sum = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(flat.count, 1))
            defer { sum.deallocate() }
            _ = sum.initialize(fromContentsOf: flat)
            var lower = 0
            while lower < flat.count {
                let upper = min(flat.count, lower + bucketCount)
                try collective.allReduceSum(UnsafeMutableBufferPointer(rebasing: sum[lower..<upper]))
                lower = upper
            }
            for i in flat.indices {
                let c = center[i]
                flat[i] -= alpha * (flat[i] - c)
                center[i] = c + alpha * (sum[i] - p * c)
            }
            reducedBytes += flat.count * MemoryLayout<Float>.stride
        }
        self.center = center
        communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Replaces every rank's parameters by their average over the ranks (local SGD).
    public func averageParameters(of model: Sequential) throws(CollectiveError) {
        guard size > 1 else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        let scale = 1 / Float(size)
        try Self.withFlatValues(model.parameters) { (flat) throws(CollectiveError) in
            var lower = 0
            while lower < flat.count {
                let upper = min(flat.count, lower + bucketCount)
                try collective.allReduceSum(UnsafeMutableBufferPointer(rebasing: flat[lower..<upper]))
                lower = upper
            }
            for i in flat.indices { flat[i] *= scale }
            reducedBytes += flat.count * MemoryLayout<Float>.stride
        }
        communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Rank 0's decision (to stop) and scheduler, for every rank, after an evaluation that only
    /// rank 0 made.
    func agree(stop: Bool, scheduler: inout LearningRateScheduler) throws(CollectiveError) -> Bool {
        guard size > 1 else { return stop }
        // The plateau schedule's best loss starts at +∞, which plain JSON cannot carry.
        let floats = (positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var bytes: [UInt8] = []
        if rank == 0 {
            let encoder = JSONEncoder()
            encoder.nonConformingFloatEncodingStrategy = .convertToString(
                positiveInfinity: floats.positiveInfinity, negativeInfinity: floats.negativeInfinity, nan: floats.nan)
            do { bytes = [stop ? 1 : 0] + Array(try encoder.encode(scheduler)) } catch {
                // Still send the decision, so no rank waits; the others report the failure.
                bytes = [stop ? 1 : 0]
            }
        }
        try collective.broadcast(&bytes, root: 0)
        guard let flag = bytes.first else {
            throw .mismatch(operation: "broadcast", rank: rank, reason: "rank 0 sent no decision")
        }
        if rank != 0 {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(
                positiveInfinity: floats.positiveInfinity, negativeInfinity: floats.negativeInfinity, nan: floats.nan)
            do { scheduler = try decoder.decode(LearningRateScheduler.self, from: Data(bytes.dropFirst())) } catch {
                throw .mismatch(operation: "broadcast", rank: rank, reason: "rank 0's scheduler state could not be read: \(error)")
            }
        }
        return flag != 0
    }

    /// Calls `body` with the variables' values flattened into one buffer, then copies the
    /// buffer back into them.
    static func withFlatValues(_ variables: [Variable],
                               _ body: (UnsafeMutableBufferPointer<Float>) throws(CollectiveError) -> Void) throws(CollectiveError) {
        let total = variables.reduce(0) { $0 + $1.value.count }
        let flat = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(total, 1))
        defer { flat.deallocate() }
        var offset = 0
        for v in variables {
            v.value.withUnsafeBufferPointer { src in
                if let s = src.baseAddress { (flat.baseAddress! + offset).update(from: s, count: src.count) }
            }
            offset += v.value.count
        }
        try body(UnsafeMutableBufferPointer(rebasing: flat[0..<total]))
        offset = 0
        for v in variables {
            let n = v.value.count
            v.value.withUnsafeMutableBufferPointer { dst in
                if let d = dst.baseAddress { d.update(from: flat.baseAddress! + offset, count: n) }
            }
            offset += n
        }
    }
}

/// The flat gradient buffers of one model: a slot per local shard and the combined buffer,
/// each `count` gradient floats then 3 totals (loss sum, correct, examples).
private final class Layout {
    let parameters: [Variable]
    let offsets: [Int]
    /// Gradient floats.
    let count: Int
    /// Floats per slot (gradients and totals).
    var length: Int { count + 3 }
    let slots: UnsafeMutableBufferPointer<Float>
    let combined: UnsafeMutableBufferPointer<Float>

    init(_ parameters: [Variable], slots slotCount: Int) {
        self.parameters = parameters
        var offsets: [Int] = []
        var total = 0
        for p in parameters {
            offsets.append(total)
            total += p.value.count
        }
        self.offsets = offsets
        self.count = total
        slots = .allocate(capacity: slotCount * (total + 3))
        combined = .allocate(capacity: total + 3)
    }

    /// The deterministic reduction's send and receive buffers, allocated on first use.
    private var sendBuffer: UnsafeMutableBufferPointer<Float>?
    private var receiveBuffer: UnsafeMutableBufferPointer<Float>?

    deinit {
        slots.deallocate()
        combined.deallocate()
        sendBuffer?.deallocate()
        receiveBuffer?.deallocate()
    }

    /// Buffers of at least these sizes, kept from one step to the next.
    func gatherBuffers(send: Int, receive: Int) -> (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) {
        if (sendBuffer?.count ?? -1) < send {
            sendBuffer?.deallocate()
            sendBuffer = .allocate(capacity: send)
        }
        if (receiveBuffer?.count ?? -1) < receive {
            receiveBuffer?.deallocate()
            receiveBuffer = .allocate(capacity: receive)
        }
        return (sendBuffer.unsafelyUnwrapped, receiveBuffer.unsafelyUnwrapped)
    }

    /// slot[j] = scale · gradients (0 for a parameter without one), then `tail`.
    func store(slot j: Int, scale: Float, tail: [Float]) {
        let base = slots.baseAddress! + j * length
        for (p, offset) in zip(parameters, offsets) {
            let n = p.value.count
            if let g = p.grad {
                g.withUnsafeBufferPointer { src in Elementwise.scale(scale, src.baseAddress!, base + offset, count: n) }
            } else {
                (base + offset).update(repeating: 0, count: n)
            }
        }
        for (k, t) in tail.enumerated() { base[count + k] = t }
    }

    /// Every parameter's `grad` = scale · its part of the combined buffer.
    func scatter(scale: Float) {
        let base = combined.baseAddress!
        for (p, offset) in zip(parameters, offsets) {
            var g = p.grad ?? Tensor.zeros(p.value.shape)
            p.grad = nil
            g.withUnsafeMutableBufferPointer { dst in Elementwise.scale(scale, base + offset, dst.baseAddress!, count: dst.count) }
            p.grad = g
        }
    }

    /// into[i] = Σ over slots s in order of source[s·slotLength + i], for i in `range`: the one
    /// summation both the deterministic reduction and one-process accumulation use, so the two
    /// agree bit for bit.
    static func sumInOrder(_ source: UnsafeBufferPointer<Float>, slotLength: Int, slots: Int,
                           range: Range<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        guard !range.isEmpty else { return }
        let s = source.baseAddress! + range.lowerBound, d = destination.baseAddress! + range.lowerBound
        d.update(from: s, count: range.count)
        // d + 1·row rounds once, exactly as d + row: the vector loop keeps the sums bit for bit.
        for slot in 1..<max(slots, 1) {
            Elementwise.axpy(1, s + slot * slotLength, d, count: range.count)
        }
    }
}
