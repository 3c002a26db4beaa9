#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Foundation

// This file is the one place in Data/ that holds raw pointers into files: a memory map
// (``MappedFile``), typed array views over one (``MappedArray``), and the POSIX writes behind
// atomic file replacement (``AtomicFileWriter``). Everything above it works with indices, arrays
// and tensors.

/// A whole file mapped read-only into memory (`mmap(2)`, `PROT_READ`, `MAP_PRIVATE`).
///
/// Why map instead of read: pages are loaded on first touch and can be dropped again by the
/// kernel under memory pressure, so a data set larger than RAM can be trained on from disk, and
/// opening a file costs no time or memory however big it is. The mapping is removed when the
/// object is released.
///
/// The bytes must not change while mapped: if another process truncates the file, touching the
/// lost pages raises SIGBUS. Data sets are written once (``AtomicFileWriter`` replaces a file by
/// renaming a new one over it, which leaves existing mappings of the old one intact).
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The file's size in bytes.
    public let count: Int
    // nil for an empty file (mmap cannot map zero bytes). Immutable after init, which is what
    // makes sharing the object between threads safe.
    private let base: UnsafeRawPointer?

    /// Maps the file at `path`.
    ///
    /// - Throws: ``DataError/unreadable(path:reason:)`` when the file cannot be opened, is not a
    ///   regular file, or cannot be mapped; the reason is the system's.
    public init(path: String) throws(DataError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: Self.lastError()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: Self.lastError()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(path: path, reason: "not a regular file")
        }
        count = Int(info.st_size)
        if count == 0 {
            base = nil
            return
        }
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .unreadable(path: path, reason: "mmap failed: \(Self.lastError())")
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// Calls `body` with the file's bytes. The buffer is valid only inside `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(self) { () throws(E) -> R in
            try body(UnsafeRawBufferPointer(start: base, count: count))
        }
    }

    /// A copy of the bytes in `range` (clamped to the file).
    public func bytes(in range: Range<Int>) -> [UInt8] {
        let lower = max(0, min(range.lowerBound, count)), upper = max(lower, min(range.upperBound, count))
        return withUnsafeBytes { Array($0[lower..<upper]) }
    }

    /// Access pattern hints for the kernel's read-ahead (`madvise(2)`); purely advisory.
    public enum AccessPattern: Sendable {
        /// Shuffled mini-batches: do not read ahead.
        case random
        /// One pass front to back (conversion, checksums): read ahead aggressively.
        case sequential
    }

    /// Tells the kernel how the pages will be read.
    public func advise(_ pattern: AccessPattern) {
        guard let base else { return }
        let advice = pattern == .random ? MADV_RANDOM : MADV_SEQUENTIAL
        _ = madvise(UnsafeMutableRawPointer(mutating: base), count, advice)
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}

/// How one array element is stored in a file: its numeric kind, size and byte order.
public struct ElementEncoding: Sendable, Hashable, CustomStringConvertible {
    /// The numeric kinds the loaders read.
    public enum Kind: Sendable, Hashable, CaseIterable {
        case uint8, int8, int16, int32, int64, float32, float64
    }

    public var kind: Kind
    /// Whether multi-byte elements are big-endian (IDX always is; .npy says so with '>').
    public var isBigEndian: Bool

    public init(_ kind: Kind, bigEndian: Bool = false) {
        self.kind = kind
        self.isBigEndian = bigEndian && kind != .uint8 && kind != .int8
    }

    /// Bytes per element.
    public var size: Int {
        switch kind {
        case .uint8, .int8: return 1
        case .int16: return 2
        case .int32, .float32: return 4
        case .int64, .float64: return 8
        }
    }

    /// Whether the kind holds integers (usable as class labels).
    public var isInteger: Bool { kind != .float32 && kind != .float64 }

    /// The NumPy type string, e.g. `<f4`, `>i4`, `|u1`.
    public var numpyDescriptor: String {
        let order = size == 1 ? "|" : (isBigEndian ? ">" : "<")
        switch kind {
        case .uint8: return "|u1"
        case .int8: return "|i1"
        case .int16: return order + "i2"
        case .int32: return order + "i4"
        case .int64: return order + "i8"
        case .float32: return order + "f4"
        case .float64: return order + "f8"
        }
    }

    public var description: String { numpyDescriptor }

    /// The IDX type code (IDX has no 64-bit integers).
    var idxTypeCode: UInt8? {
        switch kind {
        case .uint8: return 0x08
        case .int8: return 0x09
        case .int16: return 0x0B
        case .int32: return 0x0C
        case .float32: return 0x0D
        case .float64: return 0x0E
        case .int64: return nil
        }
    }

    init?(idxTypeCode code: UInt8) {
        switch code {
        case 0x08: self.init(.uint8)
        case 0x09: self.init(.int8)
        case 0x0B: self.init(.int16, bigEndian: true)
        case 0x0C: self.init(.int32, bigEndian: true)
        case 0x0D: self.init(.float32, bigEndian: true)
        case 0x0E: self.init(.float64, bigEndian: true)
        default: return nil
        }
    }

    /// Decodes `count` elements starting at byte `offset` of `bytes` into `out` (as `Float`,
    /// times `scale`). The caller has checked the range.
    func decode(_ bytes: UnsafeRawBufferPointer, from offset: Int, count: Int, scale: Float,
                into out: UnsafeMutableBufferPointer<Float>, at start: Int) {
        let big = isBigEndian
        switch kind {
        case .uint8:
            for i in 0..<count { out[start + i] = Float(bytes[offset + i]) * scale }
        case .int8:
            for i in 0..<count { out[start + i] = Float(Int8(bitPattern: bytes[offset + i])) * scale }
        case .int16:
            for i in 0..<count {
                let raw = bytes.loadUnaligned(fromByteOffset: offset + 2 * i, as: UInt16.self)
                out[start + i] = Float(Int16(bitPattern: big ? UInt16(bigEndian: raw) : UInt16(littleEndian: raw))) * scale
            }
        case .int32:
            for i in 0..<count {
                let raw = bytes.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)
                out[start + i] = Float(Int32(bitPattern: big ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw))) * scale
            }
        case .int64:
            for i in 0..<count {
                let raw = bytes.loadUnaligned(fromByteOffset: offset + 8 * i, as: UInt64.self)
                out[start + i] = Float(Int64(bitPattern: big ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw))) * scale
            }
        case .float32:
            for i in 0..<count {
                let raw = bytes.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)
                out[start + i] = Float(bitPattern: big ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)) * scale
            }
        case .float64:
            for i in 0..<count {
                let raw = bytes.loadUnaligned(fromByteOffset: offset + 8 * i, as: UInt64.self)
                out[start + i] = Float(Double(bitPattern: big ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw))) * scale
            }
        }
    }

    /// Decodes an integer element at byte `offset` (for labels), or nil for float kinds.
    func integer(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int64? {
        let big = isBigEndian
        switch kind {
        case .uint8: return Int64(bytes[offset])
        case .int8: return Int64(Int8(bitPattern: bytes[offset]))
        case .int16:
            let raw = bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
            return Int64(Int16(bitPattern: big ? UInt16(bigEndian: raw) : UInt16(littleEndian: raw)))
        case .int32:
            let raw = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            return Int64(Int32(bitPattern: big ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)))
        case .int64:
            let raw = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            return Int64(bitPattern: big ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw))
        case .float32, .float64: return nil
        }
    }
}

/// The header of an IDX file (see ``IDXArray``): element encoding, shape, and where the data
/// starts. Parsed and validated from the first bytes alone, so it works on a map or a stream.
struct IDXHeader {
    var encoding: ElementEncoding
    var shape: [Int]
    var size: Int { 4 + 4 * shape.count }
    var elementCount: Int
    var payloadBytes: Int

    /// Reads the header, pulling bytes from `read(n)` (which returns fewer at end of input).
    static func parse(path: String, read: (Int) throws(DataError) -> [UInt8]) throws(DataError) -> IDXHeader {
        let magic = try read(4)
        guard magic.count == 4 else {
            throw .truncated(path: path, field: "magic number", expectedBytes: 4, actualBytes: magic.count)
        }
        guard magic[0] == 0, magic[1] == 0 else {
            throw .wrongMagic(path: path, expected: "0x0000TTDD (two zero bytes, type, dimensions)",
                              actual: "0x" + Checksum.hex(magic).uppercased())
        }
        guard let encoding = ElementEncoding(idxTypeCode: magic[2]) else {
            throw .invalidField(path: path, field: "element type code", value: "0x" + Checksum.hex([magic[2]]).uppercased(),
                                expected: "one of 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E")
        }
        let rank = Int(magic[3])
        guard rank >= 1 else {
            throw .invalidField(path: path, field: "number of dimensions", value: "0", expected: "at least 1")
        }
        let sizes = try read(4 * rank)
        guard sizes.count == 4 * rank else {
            throw .truncated(path: path, field: "header (\(rank) dimension sizes)", expectedBytes: 4 + 4 * rank,
                             actualBytes: 4 + sizes.count)
        }
        var shape: [Int] = []
        for d in 0..<rank {
            shape.append(Int(sizes[4 * d]) << 24 | Int(sizes[4 * d + 1]) << 16 | Int(sizes[4 * d + 2]) << 8 | Int(sizes[4 * d + 3]))
        }
        let (elements, bytes) = try checkedSize(shape: shape, elementSize: encoding.size, path: path)
        return IDXHeader(encoding: encoding, shape: shape, elementCount: elements, payloadBytes: bytes)
    }
}

/// The element count and byte size of `shape`, or an error when either overflows `Int`.
func checkedSize(shape: [Int], elementSize: Int, path: String) throws(DataError) -> (elements: Int, bytes: Int) {
    var elements = 1
    for size in shape {
        let (product, overflow) = elements.multipliedReportingOverflow(by: size)
        guard !overflow, size >= 0 else {
            throw .invalidField(path: path, field: "shape", value: "\(shape)", expected: "sizes whose product fits in 64 bits")
        }
        elements = product
    }
    let (bytes, overflow) = elements.multipliedReportingOverflow(by: elementSize)
    guard !overflow else {
        throw .invalidField(path: path, field: "shape", value: "\(shape)", expected: "sizes whose product fits in 64 bits")
    }
    return (elements, bytes)
}

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
        case idx, npy
    }

    /// The mapped file.
    public let file: MappedFile
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

/// `Array.withUnsafeBytes` for a body that throws ``DataError`` (the standard library's version
/// only rethrows untyped errors).
func withBytes<R>(of array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(DataError) -> R) throws(DataError) -> R {
    let result: Result<R, DataError> = array.withUnsafeBytes { raw in
        do throws(DataError) { return .success(try body(raw)) } catch { return .failure(error) }
    }
    return try result.get()
}

/// `write(2)`, named so that methods called `write` can reach it.
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }

/// Writes a file by writing a temporary file next to it and renaming it into place, so readers
/// see either the old file or the complete new one — never a half-written file, even if the
/// process dies or the disk fills mid-write.
///
/// Protocol: `mkstemp` a hidden temporary in the destination's directory (a rename is atomic
/// only within one file system), write, `fsync` the data, `rename(2)` over the destination,
/// then `fsync` the directory so the new name survives a crash. A writer released without
/// ``commit()`` removes its temporary file.
public final class AtomicFileWriter {
    /// The path the file will have once committed.
    public let destination: String
    /// The temporary file being written.
    public let temporaryPath: String
    private var fd: Int32
    private var committed = false
    /// Bytes written so far (by ``write(_:)``).
    public private(set) var size = 0

    /// Creates the temporary file.
    ///
    /// - Throws: ``DataError/unreadable(path:reason:)`` naming the directory when the temporary
    ///   file cannot be created there.
    public init(destination: String) throws(DataError) {
        self.destination = destination
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { String(destination[..<$0]) } ?? "."
        let name = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        var template = Array(((directory.isEmpty ? "" : directory) + "/." + name + ".partial-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { $0.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else {
            throw .unreadable(path: directory.isEmpty ? "/" : directory, reason: "cannot create a temporary file: \(MappedFile.lastError())")
        }
        self.fd = fd
        // mkstemp replaced the X's in place; drop the terminating NUL.
        self.temporaryPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        _ = fchmod(fd, 0o644)
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(DataError) {
        try write(bytes, at: nil)
        size += bytes.count
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws(DataError) {
        try withBytes(of: bytes) { (b) throws(DataError) in try write(b) }
    }

    /// Overwrites bytes at `offset` (to fill in a header once the data's size is known).
    public func overwrite(_ bytes: [UInt8], at offset: Int) throws(DataError) {
        try withBytes(of: bytes) { (b) throws(DataError) in try write(b, at: offset) }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: Int?) throws(DataError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let p = base + done
            let n = offset.map { pwrite(fd, p, bytes.count - done, off_t($0 + done)) } ?? systemWrite(fd, p, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: temporaryPath, reason: "write failed: \(MappedFile.lastError())")
            }
            done += n
        }
    }

    /// Flushes the data to disk and renames the file into place.
    ///
    /// - Throws: ``DataError/unreadable(path:reason:)`` when `fsync` or `rename` fails; the
    ///   temporary file is then removed and the destination is unchanged.
    public func commit() throws(DataError) {
        precondition(!committed, "AtomicFileWriter.commit: already committed")
        guard fsync(fd) == 0 else {
            throw .unreadable(path: temporaryPath, reason: "fsync failed: \(MappedFile.lastError())")
        }
        close(fd)
        fd = -1
        guard rename(temporaryPath, destination) == 0 else {
            throw .unreadable(path: destination, reason: "cannot rename \(temporaryPath) into place: \(MappedFile.lastError())")
        }
        committed = true
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { String(destination[..<$0]) } ?? "."
        let dfd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws(DataError) {
        let writer = try AtomicFileWriter(destination: path)
        try writer.write(bytes)
        try writer.commit()
    }
}

/// Turns data files into the uncompressed IDX or .npy files that ``MappedArray`` maps, so that
/// data sets too big for memory can be trained on from disk.
///
/// Every conversion streams: a gzip-compressed IDX file is inflated in 1 MiB pieces straight
/// into the output, and a CSV file is parsed row by row from a memory map, so neither the input
/// nor the output is ever held whole. The output is written through ``AtomicFileWriter``: it
/// appears complete or not at all.
public enum DataConversion {
    /// The output formats.
    public enum Format: String, Sendable, CaseIterable {
        /// IDX, big-endian elements (as MNIST's files).
        case idx
        /// NumPy .npy version 1.0, C order.
        case npy
    }

    /// What a conversion wrote.
    public struct Summary: Sendable, Equatable {
        public var shape: [Int]
        public var encoding: ElementEncoding
        public var bytes: Int
    }

    /// Converts `input` — an IDX file (gzip-compressed or not) or a CSV file of numbers — into an
    /// uncompressed `format` file at `output`. IDX elements keep their type (an IDX → .npy
    /// conversion writes big-endian dtypes such as `>f4`, which NumPy reads natively); CSV
    /// values become `float32`, all columns (a label column included) in a [rows, columns] array.
    ///
    /// - Throws: ``DataError`` for any error of the input (see ``IDXArray`` and ``CSV``), an
    ///   input that is neither format, or an output that cannot be written. Nothing is left at
    ///   `output` on failure.
    @discardableResult
    public static func convert(_ input: String, to output: String, format: Format) throws(DataError) -> Summary {
        let head = try peek(input, count: 4)
        if Gzip.isGzip(head) || (head.count >= 2 && head[0] == 0 && head[1] == 0) {
            return try convertIDX(input, to: output, format: format)
        }
        if head.starts(with: [0x93, 0x4E, 0x55, 0x4D]) {
            throw .invalidField(path: input, field: "input format", value: ".npy",
                                expected: "an IDX (.gz or not) or CSV file; a .npy file can be mapped as it is")
        }
        return try convertCSV(input, to: output, format: format)
    }

    private static func peek(_ path: String, count: Int) throws(DataError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: MappedFile.lastError()) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, count) }
        guard n >= 0 else { throw .unreadable(path: path, reason: MappedFile.lastError()) }
        return Array(bytes[0..<n])
    }

    static func header(shape: [Int], encoding: ElementEncoding, format: Format, minimumSize: Int = 0) -> [UInt8] {
        switch format {
        case .npy:
            return NumPyArray.Header.encode(encoding: encoding, shape: shape, minimumSize: minimumSize)
        case .idx:
            var out: [UInt8] = [0, 0, encoding.idxTypeCode ?? 0x0D, UInt8(shape.count)]
            for d in shape {
                out += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16),
                        UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)]
            }
            return out
        }
    }

    /// A zlib `gzFile` reader: reads gzip streams (concatenated members included) and, when the
    /// input is not gzip, the plain bytes.
    private final class GzipReader {
        let path: String
        let file: gzFile

        init(path: String) throws(DataError) {
            self.path = path
            guard let file = gzopen(path, "rb") else {
                throw .unreadable(path: path, reason: MappedFile.lastError())
            }
            self.file = file
            gzbuffer(file, 1 << 18)
        }

        deinit { gzclose(file) }

        /// Up to `count` bytes into `buffer` (fewer only at the end of the data).
        func read(into buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
            guard let base = buffer.baseAddress else { return 0 }
            var total = 0
            while total < buffer.count {
                let n = gzread(file, base + total, UInt32(buffer.count - total))
                if n < 0 {
                    var code: Int32 = 0
                    let message = gzerror(file, &code).map { String(cString: $0) } ?? "zlib error"
                    throw .compression(path: path, reason: "corrupt gzip data: \(message)")
                }
                if n == 0 {
                    var code: Int32 = 0
                    let message = gzerror(file, &code).map { String(cString: $0) } ?? ""
                    if code == Z_BUF_ERROR {
                        throw .truncated(path: path, field: "compressed stream (\(message))", expectedBytes: total + 1,
                                         actualBytes: total)
                    }
                    if code != Z_OK {
                        throw .compression(path: path, reason: "corrupt gzip data: \(message)")
                    }
                    break
                }
                total += Int(n)
            }
            return total
        }

        func read(_ count: Int) throws(DataError) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            let result: Result<Int, DataError> = bytes.withUnsafeMutableBytes { buffer in
                do throws(DataError) { return .success(try read(into: buffer)) } catch { return .failure(error) }
            }
            return Array(bytes[0..<(try result.get())])
        }
    }

    /// Streams an IDX file (gzip or not) into `output`, or with `output` nil only validates it.
    static func convertIDX(_ input: String, to output: String?, format: Format) throws(DataError) -> Summary {
        let reader = try GzipReader(path: input)
        let header = try IDXHeader.parse(path: input) { (n: Int) throws(DataError) -> [UInt8] in try reader.read(n) }
        let writer = try output.map { (path) throws(DataError) in try AtomicFileWriter(destination: path) }
        try writer?.write(Self.header(shape: header.shape, encoding: header.encoding, format: format))
        var remaining = header.payloadBytes
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while remaining > 0 {
            let want = min(remaining, chunk.count)
            let got = try readChunk(reader, into: &chunk, count: want)
            guard got == want else {
                throw .truncated(path: input, field: "data for shape \(header.shape) of \(header.encoding)",
                                 expectedBytes: header.payloadBytes, actualBytes: header.payloadBytes - remaining + got)
            }
            if let writer {
                try withBytes(of: chunk) { (b) throws(DataError) in try writer.write(UnsafeRawBufferPointer(rebasing: b[0..<got])) }
            }
            remaining -= got
        }
        let extra = try readChunk(reader, into: &chunk, count: 1)
        guard extra == 0 else {
            throw .trailingBytes(path: input, expectedBytes: header.size + header.payloadBytes,
                                 actualBytes: header.size + header.payloadBytes + extra)
        }
        try writer?.commit()
        return Summary(shape: header.shape, encoding: header.encoding, bytes: header.size + header.payloadBytes)
    }

    private static func readChunk(_ reader: GzipReader, into chunk: inout [UInt8], count: Int) throws(DataError) -> Int {
        let result: Result<Int, DataError> = chunk.withUnsafeMutableBytes { buffer in
            do throws(DataError) {
                return .success(try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    private static func convertCSV(_ input: String, to output: String, format: Format) throws(DataError) -> Summary {
        let file = try MappedFile(path: input)
        file.advise(.sequential)
        let encoding = format == .npy ? ElementEncoding(.float32) : ElementEncoding(.float32, bigEndian: true)
        // The row count is known only at the end: reserve a header big enough for any shape and
        // fill it in last.
        let reserved = header(shape: [Int(Int32.max), Int(Int32.max)], encoding: encoding, format: format, minimumSize: 128).count
        let writer = try AtomicFileWriter(destination: output)
        try writer.write([UInt8](repeating: 0x20, count: reserved))
        var rows = 0, columns = 0
        var pending: [UInt8] = []
        pending.reserveCapacity(1 << 20)
        try file.withUnsafeBytes { (bytes) throws(DataError) in
            try CSV.scan(bytes, path: input, header: .automatic, delimiter: UInt8(ascii: ","), onHeader: { _ in },
                         onRow: { (row: [Float]) throws(DataError) in
                             columns = row.count
                             rows += 1
                             for v in row {
                                 let bits = encoding.isBigEndian ? v.bitPattern.bigEndian : v.bitPattern.littleEndian
                                 withUnsafeBytes(of: bits) { pending.append(contentsOf: $0) }
                             }
                             if pending.count >= 1 << 20 {
                                 try writer.write(pending)
                                 pending.removeAll(keepingCapacity: true)
                             }
                         })
        }
        try writer.write(pending)
        guard rows <= Int(UInt32.max) else {
            throw .invalidField(path: input, field: "number of rows", value: "\(rows)", expected: "at most 2³² − 1 for IDX")
        }
        let final = header(shape: [rows, columns], encoding: encoding, format: format, minimumSize: reserved)
        precondition(final.count == reserved, "DataConversion: header grew from \(reserved) to \(final.count) bytes")
        try writer.overwrite(final, at: 0)
        try writer.commit()
        return Summary(shape: [rows, columns], encoding: encoding, bytes: writer.size)
    }
}

/// What a data file holds, read from its header (IDX, .npy) or by parsing it (CSV).
public struct DataFileInfo: Sendable, Equatable, CustomStringConvertible {
    /// "IDX", "IDX (gzip)", "NPY" or "CSV".
    public var format: String
    public var shape: [Int]
    public var encoding: ElementEncoding
    /// CSV column names, when the file has a header.
    public var columnNames: [String]?

    /// Inspects `path`. IDX and .npy files are validated in full (sizes included); a gzip IDX
    /// file is decompressed as a stream to check its length, without holding it.
    ///
    /// - Throws: ``DataError`` for the formats' errors.
    public init(path: String) throws(DataError) {
        let file = try MappedFile(path: path)
        let head = file.bytes(in: 0..<6)
        if head.starts(with: NumPyArray.magic) || (head.count >= 2 && head[0] == 0 && head[1] == 0) {
            let array = try MappedArray(contentsOf: path)
            format = array.format == .npy ? "NPY" : "IDX"
            shape = array.shape
            encoding = array.encoding
        } else if Gzip.isGzip(head) {
            let summary = try DataConversion.convertIDX(path, to: nil, format: .idx)
            format = "IDX (gzip)"
            shape = summary.shape
            encoding = summary.encoding
        } else {
            let table = try CSV.read(contentsOf: path)
            format = "CSV"
            shape = [table.rowCount, table.columnCount]
            encoding = ElementEncoding(.float32)
            columnNames = table.columnNames
        }
    }

    public var description: String {
        var s = "\(format): shape [\(shape.map(String.init).joined(separator: ", "))], dtype \(encoding)"
        if let names = columnNames { s += ", columns: \(names.joined(separator: ", "))" }
        return s
    }
}
