#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Foundation


/// An array in an uncompressed IDX or .npy file, read through a memory map: opening it reads
/// only the header, and gathering rows touches only their pages. This is how a data set bigger
/// than RAM is trained on — a loader gathers each shuffled mini-batch of rows into a `Float`
/// tensor with ``rows(_:scale:)``.
///
/// "Row" means an index into the first dimension; a row holds the product of the other
/// dimensions' sizes (an MNIST images file [60000, 28, 28] has 60,000 rows of 784 elements).
/// A rank-0 .npy array is one row of one element.
public struct MappedArray: Sendable {
    /// The file formats a mapped array can come from.
    public enum Format: String, Sendable {
        /// `idx`: an uncompressed IDX file; `npy`: a NumPy `.npy` file, version 1.0 in C order.
        case idx, npy
    }

    /// The mapped file.
    public let file: MappedFile
    /// Whether the file is IDX or NumPy `.npy`.
    public let format: Format
    /// How each element is stored.
    public let encoding: ElementEncoding
    /// The size of each dimension.
    public let shape: [Int]
    /// The byte offset of the first element.
    public let dataOffset: Int

    /// Maps an uncompressed IDX or .npy file, choosing the format by its magic bytes.
    ///
    /// - Throws: ``DataError`` naming the file and field: unreadable, gzip-compressed (a
    ///   compressed file cannot be mapped — convert it with `backprop data convert`), neither
    ///   format's magic, or any header error of ``init(idxAt:)`` / ``init(npyAt:)``.
    public init(contentsOf path: String) throws(DataError) {
        let file = try MappedFile(path: path)
        guard file.count >= 4 else {
            throw .truncated(path: path, field: "magic number", expectedBytes: 4, actualBytes: file.count)
        }
        let head = file.bytes(in: 0..<6)
        if head.starts(with: NumPyArray.magic) {
            try self.init(npy: file)
        } else if Gzip.isGzip(head) {
            throw .compression(path: path, reason: "gzip-compressed files cannot be memory-mapped; decompress it with `backprop data convert \(path) OUTPUT`")
        } else if head.count >= 2, head[0] == 0, head[1] == 0 {
            try self.init(idx: file)
        } else {
            throw .wrongMagic(path: path, expected: "an IDX (00 00 TT DD) or .npy (93 'NUMPY') file",
                              actual: "0x" + Checksum.hex(head).uppercased())
        }
    }

    /// Maps an uncompressed IDX file.
    ///
    /// - Throws: ``DataError`` for the header errors of ``IDXArray`` (wrong magic, unknown type,
    ///   zero dimensions, truncated header or data, trailing bytes).
    public init(idxAt path: String) throws(DataError) {
        try self.init(idx: try MappedFile(path: path))
    }

    /// Maps an uncompressed .npy file.
    ///
    /// - Throws: ``DataError`` for the header errors of ``NumPyArray`` (wrong magic, version,
    ///   malformed header dictionary, unsupported dtype, Fortran order, data size mismatch).
    public init(npyAt path: String) throws(DataError) {
        try self.init(npy: try MappedFile(path: path))
    }

    private init(idx file: MappedFile) throws(DataError) {
        if Gzip.isGzip(file.bytes(in: 0..<2)) {
            throw .compression(path: file.path, reason: "gzip-compressed files cannot be memory-mapped; decompress it with `backprop data convert \(file.path) OUTPUT`")
        }
        var position = 0
        let header = try IDXHeader.parse(path: file.path) { (n: Int) throws(DataError) -> [UInt8] in
            defer { position += n }
            return file.bytes(in: position..<(position + n))
        }
        try Self.checkPayload(file: file, offset: header.size, bytes: header.payloadBytes, shape: header.shape,
                              encoding: header.encoding)
        self.file = file
        self.format = .idx
        self.encoding = header.encoding
        self.shape = header.shape
        self.dataOffset = header.size
    }

    private init(npy file: MappedFile) throws(DataError) {
        let header = try file.withUnsafeBytes { (bytes) throws(DataError) in
            try NumPyArray.Header.parse(bytes, path: file.path)
        }
        let (_, payload) = try checkedSize(shape: header.shape, elementSize: header.encoding.size, path: file.path)
        try Self.checkPayload(file: file, offset: header.dataOffset, bytes: payload, shape: header.shape,
                              encoding: header.encoding)
        self.file = file
        self.format = .npy
        self.encoding = header.encoding
        self.shape = header.shape
        self.dataOffset = header.dataOffset
    }

    private static func checkPayload(file: MappedFile, offset: Int, bytes: Int, shape: [Int],
                                     encoding: ElementEncoding) throws(DataError) {
        let available = file.count - offset
        guard available >= bytes else {
            throw .truncated(path: file.path, field: "data for shape \(shape) of \(encoding)", expectedBytes: bytes,
                             actualBytes: max(0, available))
        }
        guard available == bytes else {
            throw .trailingBytes(path: file.path, expectedBytes: offset + bytes, actualBytes: file.count)
        }
    }

    /// The number of rows (the first dimension; 1 for a rank-0 array).
    public var rowCount: Int { shape.first ?? 1 }
    /// Elements per row (the product of the other dimensions).
    public var rowWidth: Int { shape.dropFirst().reduce(1, *) }
    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// The element at row-major index `index`, as `Float`.
    public subscript(index: Int) -> Float {
        precondition(index >= 0 && index < count, "MappedArray: index \(index) out of 0..<\(count) in \(file.path)")
        var value: Float = 0
        withUnsafeMutablePointer(to: &value) { p in
            file.withUnsafeBytes { bytes in
                encoding.decode(bytes, from: dataOffset + index * encoding.size, count: 1, scale: 1,
                                into: UnsafeMutableBufferPointer(start: p, count: 1), at: 0)
            }
        }
        return value
    }

    /// Row `row` as floats.
    public func row(_ row: Int) -> [Float] {
        rows([row]).scalars
    }

    /// The rows at `indices` (in that order) as a [indices.count, rowWidth] tensor, each element
    /// converted to `Float` and multiplied by `scale` (1/255 turns bytes into [0, 1]). Only the
    /// pages holding those rows are read.
    ///
    /// - Precondition: every index lies in 0..<rowCount (indices come from the program, e.g. a
    ///   ``BatchPlan``, not from the file).
    public func rows(_ indices: some Collection<Int>, scale: Float = 1) -> Tensor {
        var out = Tensor.zeros([indices.count, rowWidth])
        out.withUnsafeMutableBufferPointer { dst in gatherRows(indices, scale: scale, into: dst) }
        return out
    }

    /// Writes the rows at `indices` into `destination` (row after row), so a loader can reuse
    /// one buffer for every mini-batch.
    ///
    /// - Precondition: `destination.count == indices.count * rowWidth` and every index is in range.
    public func gatherRows(_ indices: some Collection<Int>, scale: Float = 1,
                           into destination: UnsafeMutableBufferPointer<Float>) {
        let width = rowWidth, rows = rowCount, rowBytes = width * encoding.size
        precondition(destination.count == indices.count * width,
                     "MappedArray.gatherRows: destination holds \(destination.count) floats, need \(indices.count) × \(width)")
        file.withUnsafeBytes { bytes in
            for (k, i) in indices.enumerated() {
                precondition(i >= 0 && i < rows, "MappedArray: row \(i) out of 0..<\(rows) in \(file.path)")
                encoding.decode(bytes, from: dataOffset + i * rowBytes, count: width, scale: scale,
                                into: destination, at: k * width)
            }
        }
    }

    /// The elements of a one-dimensional integer array as class labels, each checked to lie in
    /// 0..<classCount (labels files are small; they are read whole).
    ///
    /// - Throws: ``DataError/invalidField(path:field:value:expected:)`` when the array is not
    ///   one-dimensional integers or a label is out of range.
    public func labels(classCount: Int) throws(DataError) -> [Int32] {
        guard shape.count == 1, encoding.isInteger else {
            throw .invalidField(path: file.path, field: "labels array", value: "\(encoding) of shape \(shape)",
                                expected: "a one-dimensional array of integers")
        }
        let n = shape[0], size = encoding.size
        return try file.withUnsafeBytes { (bytes) throws(DataError) -> [Int32] in
            var out = [Int32](repeating: 0, count: n)
            for i in 0..<n {
                let value = encoding.integer(bytes, at: dataOffset + i * size) ?? -1
                guard value >= 0, value < Int64(classCount) else {
                    throw .invalidField(path: file.path, field: "label of example \(i)", value: "\(value)",
                                        expected: "a class in 0..<\(classCount)")
                }
                out[i] = Int32(value)
            }
            return out
        }
    }
}
