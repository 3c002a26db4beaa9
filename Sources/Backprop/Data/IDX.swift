import Foundation

/// An array read from an IDX file, the format of MNIST and Fashion-MNIST
/// (http://yann.lecun.com/exdb/mnist/): a 4-byte magic number (two zero bytes, a type code, the
/// number of dimensions), one big-endian 32-bit size per dimension, then the elements in
/// row-major order, big-endian.
public struct IDXArray: Sendable {
    /// The element type codes of the format.
    public enum ElementType: UInt8, Sendable, CaseIterable {
        /// The format's type codes: 0x08 unsigned byte, 0x09 signed byte, 0x0B 16-bit, 0x0C 32-bit
        /// integer, 0x0D 32-bit and 0x0E 64-bit float.
        case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int16: return 2
            case .int32, .float32: return 4
            case .float64: return 8
            }
        }
    }

    /// The element type.
    public var elementType: ElementType
    /// The size of each dimension.
    public var shape: [Int]
    /// The elements' bytes, as stored (big-endian for multi-byte types).
    public var payload: [UInt8]
    /// The magic number, for checks against a specific file kind (MNIST images: 2051).
    public var magic: UInt32 { UInt32(elementType.rawValue) << 8 | UInt32(shape.count) }

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Reads an IDX file, gzip-compressed (detected by its magic bytes) or not.
    ///
    /// - Throws: ``DataError`` naming the file and the field: unreadable file, corrupt or
    ///   truncated gzip, a magic number without its two zero bytes or with an unknown type code,
    ///   zero dimensions, a header or payload shorter than the header says, or trailing bytes.
    public init(contentsOf path: String) throws(DataError) {
        let raw: [UInt8]
        do {
            raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .unreadable(path: path, reason: Self.reason(error))
        }
        guard Gzip.isGzip(raw) else {
            try self.init(parsing: raw, path: path)
            return
        }
        // Inflate only as much as the header says the file holds (plus one byte, to report
        // trailing data), so a forged header or a decompression bomb cannot exhaust memory.
        let magic = try Gzip.decompress(raw, path: path, limit: 4)
        let rank = magic.count == 4 ? Int(magic[3]) : 0
        let header = try Gzip.decompress(raw, path: path, limit: 4 + 4 * rank)
        let expected = Self.declaredSize(header) ?? header.count
        try self.init(parsing: Gzip.decompress(raw, path: path, limit: expected == Int.max ? expected : expected + 1), path: path)
    }

    /// Parses the bytes of an (uncompressed) IDX file; `path` only labels errors.
    public init(parsing bytes: [UInt8], path: String) throws(DataError) {
        guard bytes.count >= 4 else {
            throw .truncated(path: path, field: "magic number", expectedBytes: 4, actualBytes: bytes.count)
        }
        let magicText = String(format: "0x%02X%02X%02X%02X", bytes[0], bytes[1], bytes[2], bytes[3])
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw .wrongMagic(path: path, expected: "0x0000TTDD (two zero bytes, type, dimensions)", actual: magicText)
        }
        guard let type = ElementType(rawValue: bytes[2]) else {
            throw .invalidField(path: path, field: "element type code", value: String(format: "0x%02X", bytes[2]),
                                expected: "one of 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E")
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else {
            throw .invalidField(path: path, field: "number of dimensions", value: "0", expected: "at least 1")
        }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw .truncated(path: path, field: "header (\(rank) dimension sizes)", expectedBytes: headerSize,
                             actualBytes: bytes.count)
        }
        var shape: [Int] = []
        var elements = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let size = Int(UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3]))
            shape.append(size)
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow, product <= Int(Int32.max) * 16 else {
                throw .invalidField(path: path, field: "dimension sizes", value: "\(shape)",
                                    expected: "a total size that fits in memory")
            }
            elements = product
        }
        let payloadSize = elements * type.size
        let available = bytes.count - headerSize
        guard available >= payloadSize else {
            throw .truncated(path: path, field: "data for shape \(shape) of \(type)", expectedBytes: payloadSize,
                             actualBytes: available)
        }
        guard available == payloadSize else {
            throw .trailingBytes(path: path, expectedBytes: headerSize + payloadSize, actualBytes: bytes.count)
        }
        self.elementType = type
        self.shape = shape
        self.payload = Array(bytes[headerSize...])
    }

    /// The total file size a header declares (header plus payload), nil when the header is
    /// incomplete or malformed (the parser then reports why), `Int.max` on overflow.
    static func declaredSize(_ header: [UInt8]) -> Int? {
        guard header.count >= 4, header[0] == 0, header[1] == 0,
              let type = ElementType(rawValue: header[2]) else { return nil }
        let rank = Int(header[3])
        guard rank >= 1, header.count >= 4 + 4 * rank else { return nil }
        var total = type.size
        for d in 0..<rank {
            let o = 4 + 4 * d
            let size = Int(UInt32(header[o]) << 24 | UInt32(header[o + 1]) << 16 | UInt32(header[o + 2]) << 8 | UInt32(header[o + 3]))
            let (p, overflow) = total.multipliedReportingOverflow(by: size)
            if overflow { return .max }
            total = p
        }
        let (sum, overflow) = total.addingReportingOverflow(4 + 4 * rank)
        return overflow ? .max : sum
    }

    /// The elements converted to `Float` (multi-byte types decoded from big-endian).
    public func floats() -> [Float] {
        let n = count
        var out = [Float](repeating: 0, count: n)
        payload.withUnsafeBufferPointer { p in
            switch elementType {
            case .uint8: for i in 0..<n { out[i] = Float(p[i]) }
            case .int8: for i in 0..<n { out[i] = Float(Int8(bitPattern: p[i])) }
            case .int16: for i in 0..<n { out[i] = Float(Int16(bitPattern: UInt16(p[2 * i]) << 8 | UInt16(p[2 * i + 1]))) }
            case .int32: for i in 0..<n { out[i] = Float(Int32(bitPattern: Self.word(p, 4 * i))) }
            case .float32: for i in 0..<n { out[i] = Float(bitPattern: Self.word(p, 4 * i)) }
            case .float64:
                for i in 0..<n {
                    let bits = UInt64(Self.word(p, 8 * i)) << 32 | UInt64(Self.word(p, 8 * i + 4))
                    out[i] = Float(Double(bitPattern: bits))
                }
            }
        }
        return out
    }

    /// Serializes the array in IDX format (uncompressed).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [0, 0, elementType.rawValue, UInt8(shape.count)]
        for d in shape { out += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16), UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)] }
        return out + payload
    }

    /// An array of bytes with the given shape (for writing files).
    public init(uint8 payload: [UInt8], shape: [Int]) {
        precondition(shape.reduce(1, *) == payload.count, "IDXArray: \(payload.count) bytes for shape \(shape)")
        self.elementType = .uint8
        self.shape = shape
        self.payload = payload
    }

    private static func word(_ p: UnsafeBufferPointer<UInt8>, _ o: Int) -> UInt32 {
        UInt32(p[o]) << 24 | UInt32(p[o + 1]) << 16 | UInt32(p[o + 2]) << 8 | UInt32(p[o + 3])
    }

    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}
