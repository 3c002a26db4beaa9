/// An n-dimensional array of `Float`, row-major, with value semantics.
///
/// Copies are cheap: tensors share a 64-byte-aligned buffer until one of them is mutated, and
/// then that one copies (copy-on-write). Row slices (``rows(_:)``) share the buffer too, so
/// taking a mini-batch out of a data set copies nothing.
///
/// Programming mistakes — adding tensors whose shapes do not broadcast, indexing out of range —
/// stop with a message that names the shapes. Shapes that come from user input are checked with
/// the throwing initializers, which report a ``TensorError``.
public struct Tensor: @unchecked Sendable {
    var storage: TensorStorage
    var offset: Int
    /// The size of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The number of elements.
    public private(set) var count: Int

    // MARK: Creating tensors

    /// A tensor whose elements are not yet initialized; every caller writes all of them.
    init(uninitializedShape shape: [Int], backend: Backend = .current) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        let n = shape.reduce(1, *)
        self.storage = TensorStorage(capacity: n, pool: backend.buffers)
        self.offset = 0
        self.shape = shape
        self.count = n
    }

    init(storage: TensorStorage, offset: Int, shape: [Int]) {
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.count = shape.reduce(1, *)
    }

    /// A tensor of the given shape with every element equal to `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(uninitializedShape: shape)
        let p = storage.base
        Elementwise.fill(p, value, count: count)
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
    /// A tensor of ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }
    /// A tensor filled with `value`.
    public static func filled(_ shape: [Int], with value: Float) -> Tensor {
        Tensor(shape: shape, repeating: value)
    }

    /// A tensor of the given shape holding `scalars` in row-major order.
    ///
    /// - Precondition: `scalars.count` equals the product of `shape`. Use
    ///   ``init(validatingShape:scalars:)`` for data that comes from outside the program.
    public init(shape: [Int], scalars: [Float]) {
        let n = shape.reduce(1, *)
        precondition(n == scalars.count,
                     "Tensor(shape:scalars:): shape \(shape) needs \(n) elements, got \(scalars.count)")
        self.init(uninitializedShape: shape)
        let p = storage.base
        scalars.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { p.update(from: s, count: n) }
        }
    }

    /// A tensor built from data that comes from user input: throws instead of stopping.
    public init(validatingShape shape: [Int], scalars: [Float]) throws(TensorError) {
        if let bad = shape.first(where: { $0 < 0 }) {
            throw .invalidShape(shape, reason: "dimension \(bad) is negative")
        }
        let n = shape.reduce(1, *)
        guard n == scalars.count else {
            throw .countMismatch(expected: n, actual: scalars.count, shape: shape)
        }
        self.init(shape: shape, scalars: scalars)
    }

    /// A 1-D tensor.
    public init(_ scalars: [Float]) {
        self.init(shape: [scalars.count], scalars: scalars)
    }

    /// A 2-D tensor from rows of equal length.
    public init(_ rows: [[Float]]) {
        let columns = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == columns },
                     "Tensor(rows): rows have different lengths \(rows.map(\.count))")
        self.init(shape: [rows.count, columns], scalars: rows.flatMap { $0 })
    }

    /// A rank-0 tensor holding one value.
    public init(scalar: Float) {
        self.init(shape: [], scalars: [scalar])
    }

    // MARK: Shape

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The row width of a matrix view: the product of every dimension but the first.
    var rowWidth: Int { shape.count <= 1 ? 1 : shape.dropFirst().reduce(1, *) }

    // MARK: Elements

    /// The elements in row-major order.
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.base + offset, count: count))
    }

    /// The single element of a tensor with one element.
    public var scalar: Float {
        precondition(count == 1, "Tensor.scalar: tensor of shape \(shape) has \(count) elements")
        return storage.base[offset]
    }

    /// The element at a multi-dimensional index.
    public subscript(_ indices: Int...) -> Float {
        get { storage.base[offset + flatIndex(indices)] }
        set {
            let i = flatIndex(indices)
            makeUnique()
            storage.base[offset + i] = newValue
        }
    }

    private func flatIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == shape.count,
                     "Tensor subscript: \(indices.count) indices for shape \(shape)")
        var flat = 0
        for (i, (index, dim)) in zip(indices, shape).enumerated() {
            precondition(index >= 0 && index < dim,
                         "Tensor subscript: index \(index) out of range 0..<\(dim) in dimension \(i) of shape \(shape)")
            flat = flat * dim + index
        }
        return flat
    }

    // MARK: Storage access

    /// Copies the buffer if another tensor shares it, so that writes stay private.
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let fresh = TensorStorage(capacity: count, pool: storage.pool ?? Backend.current.buffers)
            fresh.base.update(from: storage.base + offset, count: count)
            storage = fresh
            offset = 0
        }
    }

    /// Calls `body` with the elements, read-only.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base + offset, count: count))
    }

    /// Calls `body` with the elements, writable; copies first if the buffer is shared.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.base + offset, count: count))
    }

    /// Read-only pointer to the first element, for kernels. Valid while `self` is alive.
    var pointer: UnsafePointer<Float> { UnsafePointer(storage.base + offset) }

    /// Writable pointer to the first element, for kernels, after ensuring uniqueness.
    mutating func mutablePointer() -> UnsafeMutablePointer<Float> {
        makeUnique()
        return storage.base + offset
    }

    /// Whether two tensors share a buffer (for tests of copy-on-write and zero-copy slicing).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }
}

extension Tensor: Equatable {
    /// Same shape and the same elements (NaN is unequal to itself, as for `Float`).
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        lhs.shape == rhs.shape && lhs.scalars == rhs.scalars
    }
}

extension Tensor: CustomStringConvertible {
    /// The shape and the first 16 elements, e.g. `Tensor(shape: [2, 2], [1.0, 2.0, 3.0, 4.0])`.
    public var description: String {
        let shown = scalars.prefix(16).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 16 ? ", …" : "")])"
    }
}
