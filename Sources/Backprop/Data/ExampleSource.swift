import CBackpropSupport

/// Labelled examples that a ``DataLoader`` can gather into mini-batches: an in-memory float
/// data set, image bytes, or (for data larger than memory) a memory-mapped file.
public protocol ExampleSource: Sendable {
    /// The number of examples.
    var count: Int { get }
    /// Features per example.
    var featureCount: Int { get }
    /// The number of classes.
    var classCount: Int { get }
    /// The class of example `index`.
    func label(_ index: Int) -> Int32
    /// Writes the features of the examples at `indices`, one row each, into `destination`
    /// (`indices.count × featureCount` floats).
    func gatherFeatures(_ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>)
    /// Real-valued targets per example (regression); 0 for a source of class labels.
    var targetCount: Int { get }
    /// Writes the targets of the examples at `indices`, one row each, into `destination`
    /// (`indices.count × targetCount` floats).
    func gatherTargets(_ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>)
}

extension ExampleSource {
    /// The examples at `indices` as a feature tensor and labels; the gather is split over
    /// `threads` (halves of the rows) when it is big enough to pay for waking them.
    public func batch(_ indices: ArraySlice<Int>, threads: ThreadPool? = nil) -> (features: Tensor, labels: [Int32]) {
        // Every element is written by the gather: no need to zero the (pooled, reused) buffer.
        var features = Tensor(uninitializedShape: [indices.count, featureCount])
        let f = featureCount
        features.withUnsafeMutableBufferPointer { out in
            let tasks = min(threads?.threadCount ?? 1, indices.count)
            guard tasks > 1, indices.count * f >= 1 << 14, let threads, let base = out.baseAddress else {
                gatherFeatures(indices, into: out)
                return
            }
            threads.parallelFor(tasks) { task in
                let lower = indices.count * task / tasks, upper = indices.count * (task + 1) / tasks
                let part = indices[(indices.startIndex + lower)..<(indices.startIndex + upper)]
                gatherFeatures(part, into: UnsafeMutableBufferPointer(start: base + lower * f, count: part.count * f))
            }
        }
        return (features, indices.map { label($0) })
    }

    /// All labels, in order.
    public var allLabels: [Int32] { (0..<count).map { label($0) } }

    /// No targets: a source of class labels.
    public var targetCount: Int { 0 }
    /// Writes nothing: a source without targets has none to gather.
    public func gatherTargets(_ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {}

    /// The targets of the examples at `indices` ([indices.count, targetCount]), nil for a
    /// source without targets.
    public func targets(_ indices: ArraySlice<Int>) -> Tensor? {
        guard targetCount > 0 else { return nil }
        var targets = Tensor(uninitializedShape: [indices.count, targetCount])
        targets.withUnsafeMutableBufferPointer { gatherTargets(indices, into: $0) }
        return targets
    }
}

extension LabeledData: ExampleSource {
    /// The number of columns of ``LabeledData/features``.
    public var featureCount: Int { features.shape[1] }
    /// The class of example `index`.
    public func label(_ index: Int) -> Int32 { labels[index] }
    /// Copies the rows `indices` of ``LabeledData/features``, in that order, into `destination`.
    public func gatherFeatures(_ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        gatherRows(of: features, indices, into: destination)
    }
}

/// Copies rows `indices` of the [rows, width] `table` one after another into `destination`.
func gatherRows(of table: Tensor, _ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
    let width = table.shape[1], rows = table.shape[0]
    precondition(destination.count >= indices.count * width, "gatherRows: destination too small")
    guard let out = destination.baseAddress else { return }
    table.withUnsafeBufferPointer { source in
        guard let base = source.baseAddress else { return }
        var d = out
        for i in indices {
            precondition(i >= 0 && i < rows, "gatherRows: index \(i) out of range 0..<\(rows)")
            d.update(from: base + i * width, count: width)
            d += width
        }
    }
}

extension ImageDataset: ExampleSource {
    /// The class of image `index`.
    public func label(_ index: Int) -> Int32 { labels[index] }
    /// Pixels scaled from bytes to [0, 1].
    public func gatherFeatures(_ indices: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        let f = featureCount
        precondition(destination.count >= indices.count * f, "gatherFeatures: destination too small")
        guard let out = destination.baseAddress else { return }
        pixels.withUnsafeBufferPointer { src in
            guard let base = src.baseAddress else { return }
            // Rows a few ahead are requested from memory while this one converts: shuffled
            // rows of a 47 MB set miss every cache, and the conversion otherwise waits on them.
            let ahead = 4
            for j in indices.prefix(ahead) where j >= 0 && j < count { bp_prefetch(base + j * f, f) }
            var d = out
            var position = indices.startIndex
            for i in indices {
                precondition(i >= 0 && i < count, "gatherFeatures: index \(i) out of range 0..<\(count)")
                let next = position + ahead
                if next < indices.endIndex {
                    let j = indices[next]
                    if j >= 0 && j < count { bp_prefetch(base + j * f, f) }
                }
                Elementwise.convertBytes(base + i * f, scale: 1 / 255, d, count: f)
                d += f
                position += 1
            }
        }
    }
}

/// A subset of another source, by index (a train/validation split without copying data).
public struct SubsetSource<Base: ExampleSource>: ExampleSource {
    /// The source the subset selects from.
    public let base: Base
    /// The selected examples' indices in ``base``, in the subset's order (repeats allowed).
    public let indices: [Int]

    /// The examples `indices` of `base`, in that order.
    ///
    /// - Precondition: every index lies in 0..<base.count.
    public init(_ base: Base, indices: [Int]) {
        precondition(indices.allSatisfy { $0 >= 0 && $0 < base.count }, "SubsetSource: index out of range 0..<\(base.count)")
        self.base = base
        self.indices = indices
    }

    /// The number of selected examples.
    public var count: Int { indices.count }
    /// ``base``'s feature count.
    public var featureCount: Int { base.featureCount }
    /// ``base``'s class count.
    public var classCount: Int { base.classCount }
    /// The class of the subset's example `index`, `base.label(indices[index])`.
    public func label(_ index: Int) -> Int32 { base.label(indices[index]) }
    /// Gathers the subset's rows `rows`, that is, `base`'s rows `indices[rows]`.
    public func gatherFeatures(_ rows: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        base.gatherFeatures(ArraySlice(rows.map { indices[$0] }), into: destination)
    }
    /// ``base``'s target count.
    public var targetCount: Int { base.targetCount }
    /// Gathers the targets of the subset's rows `rows`, that is, `base`'s rows `indices[rows]`.
    public func gatherTargets(_ rows: ArraySlice<Int>, into destination: UnsafeMutableBufferPointer<Float>) {
        base.gatherTargets(ArraySlice(rows.map { indices[$0] }), into: destination)
    }
}

/// Splits `count` examples into training and validation index sets, shuffled by `seed`, with
/// `validationFraction` of them (rounded) held out. Model selection uses the validation part;
/// the test set is never touched by training decisions.
public func trainValidationSplit(count: Int, validationFraction: Float, seed: UInt64) -> (train: [Int], validation: [Int]) {
    precondition(validationFraction >= 0 && validationFraction < 1, "trainValidationSplit: fraction \(validationFraction) must be in [0, 1)")
    var generator = RandomGenerator(seed: seed, stream: 0x5917)
    let order = generator.permutation(count)
    let held = Int((Float(count) * validationFraction).rounded())
    return (Array(order[held...]).sorted(), Array(order[..<held]).sorted())
}

/// The examples of `source` at `indices`, in that order (repeats allowed), for a source known
/// only as an existential: opens it for ``SubsetSource``.
func subset<Source: ExampleSource>(of source: Source, indices: [Int]) -> any ExampleSource {
    SubsetSource(source, indices: indices)
}
