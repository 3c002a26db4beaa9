/// An array in NumPy's .npy format (NEP 1, https://numpy.org/neps/nep-0001-npy-format.html),
/// read and written without Python.
///
/// The format: the magic bytes `93 4E 55 4D 50 59` ("\x93NUMPY"), a major and minor version
/// byte, the header length (little-endian `UInt16` for version 1.0, `UInt32` for 2.0 and 3.0),
/// then the header — a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }` padded with spaces and
/// ended by a newline so that the data starts on a 64-byte boundary — then the elements.
///
/// Supported: versions 1.0, 2.0 and 3.0; element types `u1`, `i1`, `i2`, `i4`, `i8`, `f4`, `f8`
/// with byte order `<` (little), `>` (big), `=` (native, which is little on every platform Backprop
/// runs on) or `|` (not applicable, for one-byte types only); C (row-major) order only. Anything
/// else — structured dtypes, Fortran order, a header that is not exactly the three keys — is a
/// ``DataError`` that names the field, never a guess.
public struct NumPyArray: Sendable, Equatable {
    /// How elements are stored (kind, size, byte order).
    public var encoding: ElementEncoding
    /// The size of each dimension (empty for a 0-dimensional array, which holds one element).
    public var shape: [Int]
    /// The elements' bytes as stored, in C order.
    public var payload: [UInt8]

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// Headers longer than this are rejected before being parsed (NumPy's own limit is 10,000
    /// bytes unless told otherwise).
    static let maxHeaderLength = 1 << 16

    /// An array from its parts.
    ///
    /// - Throws: ``DataError/countMismatch(path:field:expected:actual:)`` when `payload` does not
    ///   hold exactly the bytes `shape` and `encoding` need.
    public init(encoding: ElementEncoding, shape: [Int], payload: [UInt8]) throws(DataError) {
        let (_, bytes) = try checkedSize(shape: shape, elementSize: encoding.size, path: "<array>")
        guard bytes == payload.count else {
            throw .countMismatch(path: "<array>", field: "payload bytes for shape \(shape) of \(encoding)",
                                 expected: bytes, actual: payload.count)
        }
        self.encoding = encoding
        self.shape = shape
        self.payload = payload
    }

    /// A little-endian `float32` array.
    ///
    /// - Precondition: `floats.count` is the product of `shape`.
    public init(shape: [Int], floats: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == floats.count,
                     "NumPyArray: \(floats.count) floats for shape \(shape)")
        encoding = ElementEncoding(.float32)
        self.shape = shape
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 * floats.count)
        for f in floats {
            let bits = f.bitPattern
            for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt32(k)))) }
        }
        payload = bytes
    }

    /// An unsigned-byte array.
    ///
    /// - Precondition: `bytes.count` is the product of `shape`.
    public init(shape: [Int], uint8 bytes: [UInt8]) {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == bytes.count,
                     "NumPyArray: \(bytes.count) bytes for shape \(shape)")
        encoding = ElementEncoding(.uint8)
        self.shape = shape
        payload = bytes
    }

    /// Reads a .npy file. The header is validated against the file's size before anything is
    /// allocated, so a forged shape cannot make the reader allocate more than the file holds.
    ///
    /// - Throws: ``DataError`` naming the file and the field (see the type's documentation).
    public init(contentsOf path: String) throws(DataError) {
        let array = try MappedArray(npyAt: path)
        encoding = array.encoding
        shape = array.shape
        payload = array.file.bytes(in: array.dataOffset..<array.file.count)
    }

    /// Parses the bytes of a .npy file; `path` only labels errors.
    public init(parsing bytes: [UInt8], path: String) throws(DataError) {
        let header = try withBytes(of: bytes) { (raw) throws(DataError) in try Header.parse(raw, path: path) }
        let (_, size) = try checkedSize(shape: header.shape, elementSize: header.encoding.size, path: path)
        let available = bytes.count - header.dataOffset
        guard available >= size else {
            throw .truncated(path: path, field: "data for shape \(header.shape) of \(header.encoding)",
                             expectedBytes: size, actualBytes: available)
        }
        guard available == size else {
            throw .trailingBytes(path: path, expectedBytes: header.dataOffset + size, actualBytes: bytes.count)
        }
        encoding = header.encoding
        shape = header.shape
        payload = Array(bytes[header.dataOffset...])
    }

    /// The elements converted to `Float`.
    public func floats() -> [Float] {
        var out = [Float](repeating: 0, count: count)
        payload.withUnsafeBytes { bytes in
            out.withUnsafeMutableBufferPointer { dst in
                encoding.decode(bytes, from: 0, count: dst.count, scale: 1, into: dst, at: 0)
            }
        }
        return out
    }

    /// The file's bytes: a version 1.0 header (2.0 if the header would exceed 65,535 bytes),
    /// padded so the data starts on a 64-byte boundary, then the payload.
    public func encoded() -> [UInt8] {
        Header.encode(encoding: encoding, shape: shape) + payload
    }

    /// Writes the array to `path` atomically (see ``AtomicFileWriter``): readers never see a
    /// partly written file, and a failed write leaves any previous file in place.
    ///
    /// - Throws: ``DataError/unreadable(path:reason:)`` when the file cannot be written.
    public func write(to path: String) throws(DataError) {
        let writer = try AtomicFileWriter(destination: path)
        try writer.write(Header.encode(encoding: encoding, shape: shape))
        try writer.write(payload)
        try writer.commit()
    }

    /// A parsed .npy header.
    struct Header {
        var encoding: ElementEncoding
        var shape: [Int]
        var dataOffset: Int

        /// Parses the magic, version and header dictionary at the start of `bytes` (which may be
        /// the whole file or just its beginning). Does not look at the data.
        static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws(DataError) -> Header {
            guard bytes.count >= 8 else {
                throw .truncated(path: path, field: "magic and version", expectedBytes: 8, actualBytes: bytes.count)
            }
            guard Array(bytes[0..<6]) == NumPyArray.magic else {
                throw .wrongMagic(path: path, expected: "0x934E554D5059 (\"\\x93NUMPY\")",
                                  actual: "0x" + Checksum.hex(Array(bytes[0..<6])).uppercased())
            }
            let major = bytes[6], minor = bytes[7]
            guard (1...3).contains(major), minor == 0 else {
                throw .invalidField(path: path, field: "format version", value: "\(major).\(minor)",
                                    expected: "1.0, 2.0 or 3.0")
            }
            let lengthBytes = major == 1 ? 2 : 4
            guard bytes.count >= 8 + lengthBytes else {
                throw .truncated(path: path, field: "header length", expectedBytes: 8 + lengthBytes, actualBytes: bytes.count)
            }
            var length = 0
            for i in 0..<lengthBytes { length |= Int(bytes[8 + i]) << (8 * i) }
            guard length <= NumPyArray.maxHeaderLength else {
                throw .invalidField(path: path, field: "header length", value: "\(length)",
                                    expected: "at most \(NumPyArray.maxHeaderLength) bytes")
            }
            let start = 8 + lengthBytes
            guard bytes.count - start >= length else {
                throw .truncated(path: path, field: "header", expectedBytes: length, actualBytes: bytes.count - start)
            }
            var parser = DictParser(bytes: Array(bytes[start..<(start + length)]), path: path)
            let (encoding, shape) = try parser.parseHeader()
            return Header(encoding: encoding, shape: shape, dataOffset: start + length)
        }

        /// Version 1.0 (or 2.0 when needed) header bytes for an array, padded with spaces and a
        /// final newline to a multiple of 64 bytes. `minimumSize` pads further, so a streaming
        /// writer can reserve room before it knows the final shape.
        static func encode(encoding: ElementEncoding, shape: [Int], minimumSize: Int = 0) -> [UInt8] {
            let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
            let dict = Array("{'descr': '\(encoding.numpyDescriptor)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
            var prefixSize = 10
            if dict.count + 1 + 10 > 65535 { prefixSize = 12 }
            var total = prefixSize + dict.count + 1
            total = max(total, minimumSize)
            total = (total + 63) / 64 * 64
            let headerLength = total - prefixSize
            var out = NumPyArray.magic + [prefixSize == 10 ? 1 : 2, 0]
            for i in 0..<(prefixSize - 8) { out.append(UInt8(truncatingIfNeeded: headerLength >> (8 * i))) }
            out += dict
            out += [UInt8](repeating: 0x20, count: total - out.count - 1)
            out.append(0x0A)
            return out
        }
    }
}

/// A parser for the restricted Python literal of a .npy header: a dict with string keys whose
/// values are strings, `True`/`False`, or tuples of non-negative integers. Anything else is an
/// error naming what was found.
private struct DictParser {
    let bytes: [UInt8]
    let path: String
    var position = 0

    init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    enum Value {
        case string(String)
        case bool(Bool)
        case tuple([Int])
    }

    mutating func parseHeader() throws(DataError) -> (ElementEncoding, [Int]) {
        skipSpace()
        try expect(UInt8(ascii: "{"), what: "'{' opening the header dictionary")
        var entries: [String: Value] = [:]
        while true {
            skipSpace()
            if peek() == UInt8(ascii: "}") { position += 1; break }
            let key = try parseString()
            skipSpace()
            try expect(UInt8(ascii: ":"), what: "':' after key '\(key)'")
            skipSpace()
            let value = try parseValue(for: key)
            guard entries[key] == nil else {
                throw fail("key", "'\(key)' twice", "each key once")
            }
            entries[key] = value
            skipSpace()
            if peek() == UInt8(ascii: ",") { position += 1; continue }
            skipSpace()
            try expect(UInt8(ascii: "}"), what: "',' or '}' after the value of '\(key)'")
            break
        }
        // Padding: spaces, ending with a newline (NumPy also accepts it without).
        while position < bytes.count {
            guard [0x20, 0x0A, 0x0D, 0x09, 0x00].contains(bytes[position]) else {
                throw fail("header", "text '\(snippet())' after the dictionary", "only space padding and a newline")
            }
            position += 1
        }
        guard Set(entries.keys) == ["descr", "fortran_order", "shape"] else {
            throw fail("header keys", entries.keys.sorted().joined(separator: ", "), "exactly descr, fortran_order and shape")
        }
        guard case .string(let descr)? = entries["descr"] else {
            throw fail("descr", "a non-string value", "a type string such as '<f4' (structured dtypes are not supported)")
        }
        guard case .bool(let fortran)? = entries["fortran_order"] else {
            throw fail("fortran_order", "a non-boolean value", "True or False")
        }
        guard !fortran else {
            throw fail("fortran_order", "True", "False (C order); save the array with numpy.ascontiguousarray first")
        }
        guard case .tuple(let shape)? = entries["shape"] else {
            throw fail("shape", "a non-tuple value", "a tuple of non-negative integers")
        }
        return (try Self.encoding(descr, path: path), shape)
    }

    static func encoding(_ descr: String, path: String) throws(DataError) -> ElementEncoding {
        let expected = "one of <f4 <f8 |u1 |i1 <i2 <i4 <i8 (byte order <, >, = or |)"
        let chars = Array(descr.utf8)
        guard chars.count == 3, let order = chars.first, "<>=|".utf8.contains(order) else {
            throw .invalidField(path: path, field: "descr", value: "'\(descr)'", expected: expected)
        }
        let kind: ElementEncoding.Kind
        switch (chars[1], chars[2]) {
        case (UInt8(ascii: "u"), UInt8(ascii: "1")): kind = .uint8
        case (UInt8(ascii: "i"), UInt8(ascii: "1")): kind = .int8
        case (UInt8(ascii: "i"), UInt8(ascii: "2")): kind = .int16
        case (UInt8(ascii: "i"), UInt8(ascii: "4")): kind = .int32
        case (UInt8(ascii: "i"), UInt8(ascii: "8")): kind = .int64
        case (UInt8(ascii: "f"), UInt8(ascii: "4")): kind = .float32
        case (UInt8(ascii: "f"), UInt8(ascii: "8")): kind = .float64
        default: throw .invalidField(path: path, field: "descr", value: "'\(descr)'", expected: expected)
        }
        let encoding = ElementEncoding(kind, bigEndian: order == UInt8(ascii: ">"))
        guard order != UInt8(ascii: "|") || encoding.size == 1 else {
            throw .invalidField(path: path, field: "descr", value: "'\(descr)'",
                                expected: "an explicit byte order (< or >) for a \(encoding.size)-byte type")
        }
        return encoding
    }

    private func fail(_ field: String, _ value: String, _ expected: String) -> DataError {
        .invalidField(path: path, field: field, value: value, expected: expected)
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipSpace() {
        while let c = peek(), c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { position += 1 }
    }

    private func snippet() -> String {
        let end = min(bytes.count, position + 20)
        return String(decoding: bytes[min(position, end)..<end], as: UTF8.self)
    }

    private mutating func expect(_ c: UInt8, what: String) throws(DataError) {
        guard peek() == c else {
            throw fail("header dictionary", peek() == nil ? "end of header" : "'\(snippet())' at byte \(position)", what)
        }
        position += 1
    }

    private mutating func parseString() throws(DataError) -> String {
        guard let quote = peek(), quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else {
            throw fail("header dictionary", peek() == nil ? "end of header" : "'\(snippet())' at byte \(position)", "a quoted string")
        }
        position += 1
        let start = position
        while let c = peek(), c != quote {
            guard c != UInt8(ascii: "\\"), c != 0x0A else {
                throw fail("header dictionary", "an escape or line break inside a string", "a plain quoted string")
            }
            position += 1
        }
        guard peek() == quote else { throw fail("header dictionary", "an unterminated string", "a closing quote") }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        position += 1
        return text
    }

    private mutating func parseValue(for key: String) throws(DataError) -> Value {
        switch peek() {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "("):
            position += 1
            var values: [Int] = []
            while true {
                skipSpace()
                if peek() == UInt8(ascii: ")") { position += 1; break }
                values.append(try parseInteger(key: key))
                skipSpace()
                if peek() == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: ")"), what: "',' or ')' in the \(key) tuple")
                break
            }
            return .tuple(values)
        default:
            if matchWord("True") { return .bool(true) }
            if matchWord("False") { return .bool(false) }
            throw fail(key, peek() == nil ? "end of header" : "'\(snippet())'",
                       key == "descr" ? "a type string such as '<f4' (structured dtypes are not supported)"
                                      : "a string, True, False or a tuple of integers")
        }
    }

    private mutating func matchWord(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard bytes.count - position >= w.count, Array(bytes[position..<(position + w.count)]) == w else { return false }
        position += w.count
        return true
    }

    /// A non-negative decimal integer (Python 2 NumPy wrote a trailing `L`, accepted).
    private mutating func parseInteger(key: String) throws(DataError) -> Int {
        var value = 0, digits = 0
        while let c = peek(), c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw fail(key, "a dimension with more than 18 digits", "a size that fits in 64 bits") }
            value = sum
            digits += 1
            position += 1
        }
        guard digits > 0 else {
            throw fail(key, peek() == nil ? "end of header" : "'\(snippet())'", "a non-negative integer")
        }
        if peek() == UInt8(ascii: "L") { position += 1 }
        return value
    }
}
