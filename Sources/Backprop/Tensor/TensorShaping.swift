extension Tensor {
    /// The same elements viewed with another shape (no copy). One dimension may be -1 and is
    /// then inferred.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var shape = newShape
        let inferred = shape.indices.filter { shape[$0] == -1 }
        precondition(inferred.count <= 1, "reshaped: more than one -1 in \(newShape)")
        if let at = inferred.first {
            let known = shape.enumerated().filter { $0.offset != at }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0,
                         "reshaped: cannot infer a dimension reshaping \(self.shape) to \(newShape)")
            shape[at] = count / known
        }
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == count,
                     "reshaped: shape \(self.shape) (\(count) elements) cannot be viewed as \(newShape)")
        return Tensor(storage: storage, offset: offset, shape: shape)
    }

    /// The transpose of a matrix (a copy; tensors are always contiguous).
    public var transposed: Tensor {
        precondition(rank == 2, "transposed: needs a matrix, got shape \(shape)")
        let (r, c) = (shape[0], shape[1])
        var out = Tensor(uninitializedShape: [c, r])
        Elementwise.transpose(pointer, rows: r, columns: c, into: out.mutablePointer())
        return out
    }

    /// Rows `range` of the outermost dimension, sharing this tensor's buffer (no copy).
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1, "rows: a rank-0 tensor has no rows")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "rows: range \(range) out of 0..<\(shape[0]) for shape \(shape)")
        var s = shape
        s[0] = range.count
        return Tensor(storage: storage, offset: offset + range.lowerBound * rowWidth, shape: s)
    }

    /// A new tensor made of the given rows, in order (a gather; copies).
    public func gatheringRows(_ indices: some Collection<Int>) -> Tensor {
        precondition(rank >= 1, "gatheringRows: a rank-0 tensor has no rows")
        var s = shape
        s[0] = indices.count
        var out = Tensor(uninitializedShape: s)
        let w = rowWidth
        let src = pointer
        let dst = out.mutablePointer()
        for (k, i) in indices.enumerated() {
            precondition(i >= 0 && i < shape[0], "gatheringRows: row \(i) out of 0..<\(shape[0])")
            (dst + k * w).update(from: src + i * w, count: w)
        }
        return out
    }

    /// The tensors stacked along the outermost dimension; all must agree on the other ones.
    public static func concatenatingRows(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "concatenatingRows: no tensors")
        let inner = Array(parts[0].shape.dropFirst())
        for p in parts {
            precondition(Array(p.shape.dropFirst()) == inner,
                         "concatenatingRows: shapes \(parts[0].shape) and \(p.shape) differ beyond the first dimension")
        }
        let rows = parts.reduce(0) { $0 + $1.shape[0] }
        var out = Tensor(uninitializedShape: [rows] + inner)
        var dst = out.mutablePointer()
        for p in parts {
            dst.update(from: p.pointer, count: p.count)
            dst += p.count
        }
        return out
    }
}
