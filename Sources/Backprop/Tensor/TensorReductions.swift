extension Tensor {
    /// The sum of all elements.
    public func sum() -> Float { Elementwise.sum(pointer, count: count) }

    /// The mean of all elements (NaN for an empty tensor).
    public func mean() -> Float { count == 0 ? .nan : sum() / Float(count) }

    /// The largest element (NaN if any element is NaN).
    public func max() -> Float { Elementwise.maxIndex(pointer, count: count).value }

    /// Sums a matrix over `axis`: 0 gives the column sums [columns], 1 the row sums [rows].
    public func sum(alongAxis axis: Int) -> Tensor {
        let (r, c) = matrixDimensions("sum(alongAxis:)")
        switch axis {
        case 0:
            var out = Tensor(uninitializedShape: [c])
            Elementwise.columnSums(pointer, rows: r, columns: c, into: out.mutablePointer(), accumulate: false)
            return out
        case 1:
            var out = Tensor(uninitializedShape: [r])
            Elementwise.rowSums(pointer, rows: r, columns: c, into: out.mutablePointer())
            return out
        default:
            preconditionFailure("sum(alongAxis:): axis \(axis) out of range for shape \(shape)")
        }
    }

    /// Means of a matrix over `axis` (0: per column, 1: per row).
    public func mean(alongAxis axis: Int) -> Tensor {
        let (r, c) = matrixDimensions("mean(alongAxis:)")
        return sum(alongAxis: axis) * (1 / Float(axis == 0 ? r : c))
    }

    /// Maxima of a matrix over `axis` (0: per column, 1: per row).
    public func max(alongAxis axis: Int) -> Tensor {
        let (r, c) = matrixDimensions("max(alongAxis:)")
        let p = pointer
        switch axis {
        case 1:
            return Tensor(shape: [r], scalars: (0..<r).map { Elementwise.maxIndex(p + $0 * c, count: c).value })
        case 0:
            return transposed.max(alongAxis: 1)
        default:
            preconditionFailure("max(alongAxis:): axis \(axis) out of range for shape \(shape)")
        }
    }

    /// For each row of a matrix, the index of its largest element (the first, on ties).
    public func argmaxRows() -> [Int] {
        let (r, c) = matrixDimensions("argmaxRows")
        let p = pointer
        return (0..<r).map { Elementwise.maxIndex(p + $0 * c, count: c).index }
    }

    /// Rows and columns of a rank-2 tensor, or stops naming the shape.
    func matrixDimensions(_ operation: String) -> (Int, Int) {
        precondition(rank == 2, "\(operation): needs a matrix, got shape \(shape)")
        return (shape[0], shape[1])
    }
}
