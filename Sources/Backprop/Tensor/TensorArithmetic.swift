/// How the two operands of an elementwise operation line up.
///
/// Backprop broadcasts the way training uses it: equal shapes, a scalar (one element) on
/// either side, a row vector over the rows of a batch ([n] or [1, n] against [m, n]), and a
/// column vector over the columns ([m, 1] against [m, n]).
enum Broadcast {
    case same
    case scalarRight, scalarLeft
    case rowRight(rows: Int, columns: Int), rowLeft(rows: Int, columns: Int)
    case columnRight(rows: Int, columns: Int), columnLeft(rows: Int, columns: Int)

    static func resolve(_ a: [Int], _ b: [Int], _ operation: String) -> (Broadcast, [Int]) {
        if a == b { return (.same, a) }
        let ca = a.reduce(1, *), cb = b.reduce(1, *)
        if cb == 1 && b.count <= a.count { return (.scalarRight, a) }
        if ca == 1 && a.count <= b.count { return (.scalarLeft, b) }
        if a.count == 2, isRow(b, a[1]) { return (.rowRight(rows: a[0], columns: a[1]), a) }
        if b.count == 2, isRow(a, b[1]) { return (.rowLeft(rows: b[0], columns: b[1]), b) }
        if a.count == 2, b == [a[0], 1] { return (.columnRight(rows: a[0], columns: a[1]), a) }
        if b.count == 2, a == [b[0], 1] { return (.columnLeft(rows: b[0], columns: b[1]), b) }
        preconditionFailure("\(operation): shapes \(a) and \(b) do not broadcast")
    }

    private static func isRow(_ s: [Int], _ columns: Int) -> Bool {
        s == [columns] || s == [1, columns]
    }
}

extension Tensor {
    /// Applies a binary operation with broadcasting (see ``Broadcast``).
    @inline(__always)
    static func broadcasting(
        _ a: Tensor, _ b: Tensor, _ name: String,
        _ vector: (Elementwise.V, Elementwise.V) -> Elementwise.V, _ scalar: (Float, Float) -> Float
    ) -> Tensor {
        let (mode, shape) = Broadcast.resolve(a.shape, b.shape, name)
        var out = Tensor(uninitializedShape: shape)
        let c = out.mutablePointer()
        let pa = a.pointer, pb = b.pointer
        switch mode {
        case .same:
            Elementwise.zip(pa, pb, c, count: out.count, vector, scalar)
        case .scalarRight:
            let s = pb.pointee, sv = Elementwise.V(repeating: s)
            Elementwise.map(pa, c, count: out.count, { vector($0, sv) }, { scalar($0, s) })
        case .scalarLeft:
            let s = pa.pointee, sv = Elementwise.V(repeating: s)
            Elementwise.map(pb, c, count: out.count, { vector(sv, $0) }, { scalar(s, $0) })
        case let .rowRight(r, n):
            Elementwise.zipRows(pa, row: pb, c, rows: r, columns: n, vector, scalar)
        case let .rowLeft(r, n):
            Elementwise.zipRows(pb, row: pa, c, rows: r, columns: n, { vector($1, $0) }, { scalar($1, $0) })
        case let .columnRight(r, n):
            Elementwise.zipColumns(pa, column: pb, c, rows: r, columns: n, vector, scalar)
        case let .columnLeft(r, n):
            Elementwise.zipColumns(pb, column: pa, c, rows: r, columns: n, { vector($1, $0) }, { scalar($1, $0) })
        }
        return out
    }

    /// Applies `f` to every element.
    @inline(__always)
    func mapped(_ vector: (Elementwise.V) -> Elementwise.V, _ scalar: (Float) -> Float) -> Tensor {
        var out = Tensor(uninitializedShape: shape)
        Elementwise.map(pointer, out.mutablePointer(), count: count, vector, scalar)
        return out
    }

    /// The elementwise sum, broadcasting as training needs it: equal shapes, a one-element
    /// operand on either side, a row vector ([n] or [1, n]) added to every row of an [m, n]
    /// matrix, or a column vector ([m, 1]) to every column.
    ///
    /// ```swift
    /// let batch = Tensor([[1, 2, 3], [4, 5, 6]])
    /// let bias = Tensor([10, 20, 30])
    /// let shifted = batch + bias   // [[11, 22, 33], [14, 25, 36]]
    /// ```
    ///
    /// - Precondition: the shapes broadcast in one of those ways; anything else (e.g. [2, 3] and
    ///   [3, 2]) is a programming error that stops with both shapes in the message.
    public static func + (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, "+", { $0 + $1 }, { $0 + $1 }) }
    /// The elementwise difference `a − b`, broadcasting as `+` does.
    public static func - (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, "-", { $0 - $1 }, { $0 - $1 }) }
    /// The elementwise (Hadamard) product, broadcasting as `+` does.
    public static func * (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, "*", { $0 * $1 }, { $0 * $1 }) }
    /// The elementwise quotient `a / b`, broadcasting as `+` does; IEEE
    /// rules apply (x / 0 is ±∞, 0 / 0 is NaN).
    public static func / (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, "/", { $0 / $1 }, { $0 / $1 }) }

    /// Adds `s` to every element.
    public static func + (a: Tensor, s: Float) -> Tensor { a.mapped({ $0 + s }, { $0 + s }) }
    /// Subtracts `s` from every element.
    public static func - (a: Tensor, s: Float) -> Tensor { a.mapped({ $0 - s }, { $0 - s }) }
    /// Multiplies every element by `s`.
    public static func * (a: Tensor, s: Float) -> Tensor { a.mapped({ $0 * s }, { $0 * s }) }
    /// Divides every element by `s` (IEEE rules: dividing by 0 gives ±∞ or NaN).
    public static func / (a: Tensor, s: Float) -> Tensor { a.mapped({ $0 / s }, { $0 / s }) }
    /// Adds `s` to every element.
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    /// Multiplies every element by `s`.
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    /// `s − x` for every element x.
    public static func - (s: Float, a: Tensor) -> Tensor { a.mapped({ s - $0 }, { s - $0 }) }
    /// Negates every element (0 becomes −0).
    public static prefix func - (a: Tensor) -> Tensor { a.mapped({ -$0 }, { -$0 }) }

    /// Adds `b` into `a`; in place (no new buffer) when the shapes are equal and `a`'s storage is
    /// not shared, otherwise as `a = a + b` with broadcasting.
    public static func += (a: inout Tensor, b: Tensor) {
        if a.shape == b.shape {
            let n = a.count
            Elementwise.axpy(1, b.pointer, a.mutablePointer(), count: n)
        } else {
            a = a + b
        }
    }
    /// `a = a − b`, broadcasting as `-` does.
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    /// Multiplies every element of `a` by `s`, in place.
    public static func *= (a: inout Tensor, s: Float) {
        let n = a.count
        let p = a.mutablePointer()
        Elementwise.scale(s, p, p, count: n)
    }

    /// Elementwise square.
    public func squared() -> Tensor { mapped({ $0 * $0 }, { $0 * $0 }) }
    /// Elementwise square root (vector square roots: SIMD16's `squareRoot()` is 16 scalar calls).
    public func squareRoot() -> Tensor { mapped({ Elementwise.squareRoot($0) }, { $0.squareRoot() }) }
    /// Elementwise absolute value.
    public func magnitude() -> Tensor { mapped({ $0.replacing(with: -$0, where: $0 .< 0) }, { abs($0) }) }
    /// Elementwise function of each element (scalar path; for kernels, prefer the vector ones).
    public func map(_ f: (Float) -> Float) -> Tensor { mapped({ v in var o = v; for i in 0..<16 { o[i] = f(v[i]) }; return o }, f) }
}
