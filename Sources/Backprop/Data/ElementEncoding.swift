#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Foundation


/// How one array element is stored in a file: its numeric kind, size and byte order.
public struct ElementEncoding: Sendable, Hashable, CustomStringConvertible {
    /// The numeric kinds the loaders read.
    public enum Kind: Sendable, Hashable, CaseIterable {
        /// Unsigned and signed 8-, 16-, 32- and 64-bit integers, and IEEE 754 single and double
        /// precision floats.
        case uint8, int8, int16, int32, int64, float32, float64
    }

    /// The element's numeric kind.
    public var kind: Kind
    /// Whether multi-byte elements are big-endian (IDX always is; .npy says so with '>').
    public var isBigEndian: Bool

    /// An encoding of `kind`; single-byte kinds are never big-endian, whatever `bigEndian` says.
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

    /// ``numpyDescriptor``, e.g. `<f4` or `|u1`.
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
