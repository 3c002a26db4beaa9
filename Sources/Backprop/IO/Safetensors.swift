import Foundation

/// The safetensors format (Hugging Face), written and read without a library:
///
///     [8 bytes: N, little-endian UInt64][N bytes: JSON header][data]
///
/// The header maps each tensor name to `{"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}`
/// (offsets relative to the start of the data section) and may hold `"__metadata__"`, a map of
/// strings to strings. Data is raw little-endian.
///
/// Reading validates everything a corrupt or hostile file could get wrong — a header length
/// past the end of the file, a header that is not a JSON object, unknown dtypes, negative or
/// overflowing shapes, offsets that disagree with the shape, point past the data, overlap, or
/// leave holes — and throws a ``DataError`` naming the file and the tensor. It never allocates
/// more than the file's size.
///
/// Every file written here also carries two SHA-256 checksums in its metadata (see
/// ``ChecksumKey``), one of the tensors and one of the rest of the metadata, and reading checks
/// them: the format itself promises only that offsets fit, so a flipped bit in a weight or in
/// a normalization statistic would otherwise load as a different model without a word.
public struct Safetensors: Sendable {
    /// The metadata keys of the checksums, and what each covers. Both values are
    /// `sha256:` followed by 64 lowercase hex digits of a SHA-256 over a canonical byte string
    /// (so any writer can reproduce them, whatever its JSON looks like):
    ///
    /// - ``tensors``: for every tensor in the order of the UTF-8 bytes of its name: the name,
    ///   the dtype name (`F32`, …), the rank and each dimension, and the raw data bytes — each
    ///   string or byte run preceded by its length, and every number, as a little-endian UInt64.
    /// - ``metadata``: for every other metadata key in the order of its UTF-8 bytes: the key and
    ///   the value, each preceded by its length as a little-endian UInt64. The two checksum keys
    ///   themselves are left out (a checksum cannot cover itself; a damaged one fails to match).
    public enum ChecksumKey {
        /// SHA-256 of the tensors, in name order (see the README's byte layout).
        public static let tensors = "checksum.tensors"
        /// SHA-256 of every other metadata entry, in key order.
        public static let metadata = "checksum.metadata"
        static let prefix = "sha256:"
    }

    /// Whether the file as read carried both checksums (which then matched: a mismatch is an
    /// error). False for files written without them — by Backprop before it wrote them, or by
    /// other tools (PyTorch's state dicts) — and for files built in memory.
    public private(set) var checksumsVerified = false

    /// Element types. Backprop computes in F32; I64 carries integer counters such as
    /// BatchNorm's `num_batches_tracked`.
    public enum DType: String, Sendable, CaseIterable {
        /// Floating point: 64-, 32- and 16-bit IEEE, and bfloat16.
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
        /// Integers (64, 32, 16, 8 bits signed; 8 bits unsigned) and booleans (one byte).
        case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .f64, .i64: return 8
            case .f32, .i32: return 4
            case .f16, .bf16, .i16: return 2
            case .i8, .u8, .bool: return 1
            }
        }
    }

    /// One stored tensor.
    public struct Entry: Sendable {
        /// The element type.
        public var dtype: DType
        /// The tensor's shape (empty for a scalar).
        public var shape: [Int]
        /// Raw little-endian bytes.
        public var bytes: [UInt8]

        /// An entry from its raw bytes.
        ///
        /// - Precondition: `bytes.count` is the shape's element count times the dtype's size.
        public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
            precondition(shape.reduce(1, *) * dtype.size == bytes.count,
                         "Safetensors.Entry: \(bytes.count) bytes for \(dtype.rawValue) \(shape)")
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// A Float32 tensor entry.
        public init(_ tensor: Tensor) {
            var bytes = [UInt8](repeating: 0, count: tensor.count * 4)
            tensor.withUnsafeBufferPointer { src in
                bytes.withUnsafeMutableBytes { dst in
                    for (i, v) in src.enumerated() { dst.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
                }
            }
            self.init(dtype: .f32, shape: tensor.shape, bytes: bytes)
        }

        /// A 64-bit integer scalar entry (shape []).
        public init(int64 value: Int64) {
            self.init(dtype: .i64, shape: [], bytes: withUnsafeBytes(of: value.littleEndian) { Array($0) })
        }

        /// The entry as a Float32 tensor (F32, F64 and integer types convert; F16/BF16 too).
        public func tensor() -> Tensor {
            let n = shape.reduce(1, *)
            var values = [Float](repeating: 0, count: n)
            bytes.withUnsafeBytes { raw in
                for i in 0..<n {
                    switch dtype {
                    case .f32: values[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    case .f64: values[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                    case .f16: values[i] = Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                    case .bf16: values[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                    case .i64: values[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                    case .i32: values[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                    case .i16: values[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                    case .i8: values[i] = Float(Int8(bitPattern: raw[i]))
                    case .u8, .bool: values[i] = Float(raw[i])
                    }
                }
            }
            return Tensor(shape: shape, scalars: values)
        }

        /// The first element as an integer (for counters stored as I64 or another type).
        public var integerValue: Int64? {
            guard !bytes.isEmpty else { return nil }
            if dtype == .i64 { return bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) } }
            let v = tensor().scalars.first ?? 0
            // Int64(v) traps outside ±2⁶³ (a corrupt or foreign file can hold anything).
            return v.isFinite && abs(v) < 9.2e18 ? Int64(v) : nil
        }
    }

    /// The tensors, in file order.
    public var entries: [(name: String, entry: Entry)]
    /// String metadata (`__metadata__`).
    public var metadata: [String: String]

    /// A file's contents, to be written with ``write(to:)`` or read back.
    public init(entries: [(name: String, entry: Entry)] = [], metadata: [String: String] = [:]) {
        self.entries = entries
        self.metadata = metadata
    }

    /// The entry named `name`.
    public subscript(name: String) -> Entry? {
        entries.first { $0.name == name }?.entry
    }

    /// The largest header accepted, as in the reference implementation (100 MB).
    public static let maximumHeaderSize = 100_000_000

    // MARK: Writing

    /// The file's bytes, with the checksums of ``ChecksumKey`` in the metadata (replacing any
    /// there) unless `checksums` is false: then the metadata is written as it is, as another
    /// tool would write it (for tests of files without checksums, or with damaged ones).
    public func encoded(checksums: Bool = true) -> [UInt8] {
        var metadata = self.metadata
        if checksums {
            metadata[ChecksumKey.tensors] = ChecksumKey.prefix + Self.tensorDigest(entries)
            metadata[ChecksumKey.metadata] = ChecksumKey.prefix + Self.metadataDigest(metadata)
        }
        var header: [String: Any] = [:]
        var offset = 0
        for (name, entry) in entries {
            header[name] = ["dtype": entry.dtype.rawValue, "shape": entry.shape,
                            "data_offsets": [offset, offset + entry.bytes.count]] as [String: Any]
            offset += entry.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        // Pad the header with spaces so the data section starts 8-byte aligned (as the
        // reference writer does), which lets readers map F64/I64 data in place.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        out.reserveCapacity(8 + json.count + offset)
        out += json
        for (_, entry) in entries { out += entry.bytes }
        return out
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    public func write(to path: String) throws(WriteError) {
        try AtomicFile.write(encoded(), to: path)
    }

    // MARK: Reading

    /// Reads and validates a file.
    public init(contentsOf path: String) throws(DataError) {
        let bytes: [UInt8]
        do {
            bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .unreadable(path: path, reason: IDXArray.reason(error))
        }
        try self.init(parsing: bytes, path: path)
    }

    /// Parses and validates the bytes of a file; `path` only labels errors.
    public init(parsing bytes: [UInt8], path: String) throws(DataError) {
        guard bytes.count >= 8 else {
            throw .truncated(path: path, field: "header length", expectedBytes: 8, actualBytes: bytes.count)
        }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(Self.maximumHeaderSize) else {
            throw .invalidField(path: path, field: "header length", value: "\(headerLength)",
                                expected: "at most \(Self.maximumHeaderSize) bytes")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw .truncated(path: path, field: "JSON header", expectedBytes: Int(headerLength), actualBytes: bytes.count - 8)
        }
        let headerEnd = 8 + Int(headerLength)
        let headerBytes = bytes[8..<headerEnd]
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw .invalidField(path: path, field: "header", value: "starting with \(headerBytes.first.map { String(format: "0x%02X", $0) } ?? "nothing")",
                                expected: "a JSON object starting with '{'")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(headerBytes))
        } catch {
            throw .invalidField(path: path, field: "header", value: "invalid JSON", expected: "a JSON object")
        }
        guard let header = object as? [String: Any] else {
            throw .invalidField(path: path, field: "header", value: "a JSON value that is not an object", expected: "a JSON object")
        }
        let dataSize = bytes.count - headerEnd
        var metadata: [String: String] = [:]
        var spans: [(name: String, begin: Int, end: Int, dtype: DType, shape: [Int])] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw .invalidField(path: path, field: "__metadata__", value: "not an object", expected: "a map of strings to strings")
                }
                for (k, v) in map {
                    guard let s = v as? String else {
                        throw .invalidField(path: path, field: "__metadata__.\(k)", value: "not a string", expected: "a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else {
                throw .invalidField(path: path, field: "tensor \(name)", value: "not an object", expected: "{dtype, shape, data_offsets}")
            }
            guard let dtypeName = info["dtype"] as? String, let dtype = DType(rawValue: dtypeName) else {
                throw .invalidField(path: path, field: "dtype of \(name)", value: "\(info["dtype"] ?? "missing")",
                                    expected: "one of \(DType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let shapeValues = info["shape"] as? [Any] else {
                throw .invalidField(path: path, field: "shape of \(name)", value: "missing", expected: "an array of sizes")
            }
            var shape: [Int] = []
            var elements = 1
            for s in shapeValues {
                guard let n = Self.integer(s), n >= 0 else {
                    throw .invalidField(path: path, field: "shape of \(name)", value: "\(shapeValues)", expected: "non-negative integers")
                }
                let (p, overflow) = elements.multipliedReportingOverflow(by: n)
                guard !overflow, p <= dataSize else {
                    throw .invalidField(path: path, field: "shape of \(name)", value: "\(shapeValues)",
                                        expected: "a size that fits in the file's \(dataSize) data bytes")
                }
                shape.append(n)
                elements = p
            }
            guard let offsets = info["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = Self.integer(offsets[0]), let end = Self.integer(offsets[1]) else {
                throw .invalidField(path: path, field: "data_offsets of \(name)", value: "\(info["data_offsets"] ?? "missing")",
                                    expected: "[begin, end]")
            }
            guard begin >= 0, begin <= end else {
                throw .invalidField(path: path, field: "data_offsets of \(name)", value: "[\(begin), \(end)]", expected: "0 ≤ begin ≤ end")
            }
            guard end <= dataSize else {
                throw .truncated(path: path, field: "data of \(name) (offsets \(begin)..<\(end))", expectedBytes: end, actualBytes: dataSize)
            }
            guard end - begin == elements * dtype.size else {
                throw .countMismatch(path: path, field: "byte length of \(name) (\(dtype.rawValue) \(shape))",
                                     expected: elements * dtype.size, actual: end - begin)
            }
            spans.append((name, begin, end, dtype, shape))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for span in spans {
            if span.begin < cursor {
                throw .invalidField(path: path, field: "data_offsets of \(span.name)", value: "[\(span.begin), \(span.end)]",
                                    expected: "a range that does not overlap another tensor's (which ends at \(cursor))")
            }
            if span.begin > cursor {
                throw .invalidField(path: path, field: "data_offsets of \(span.name)", value: "[\(span.begin), \(span.end)]",
                                    expected: "data that starts where the previous tensor ends (\(cursor)): no holes")
            }
            cursor = span.end
        }
        guard cursor == dataSize else {
            throw .trailingBytes(path: path, expectedBytes: headerEnd + cursor, actualBytes: bytes.count)
        }
        let entries = spans.map { span in
            (name: span.name, entry: Entry(dtype: span.dtype, shape: span.shape, bytes: Array(bytes[(headerEnd + span.begin)..<(headerEnd + span.end)])))
        }
        self.checksumsVerified = try Self.verifyChecksums(&metadata, entries: entries, path: path)
        self.metadata = metadata
        self.entries = entries
    }

    // MARK: Checksums

    /// Checks the checksums in `metadata` (and removes them from it, so a file read and written
    /// again gets fresh ones). Returns whether there were any.
    private static func verifyChecksums(_ metadata: inout [String: String], entries: [(name: String, entry: Entry)],
                                        path: String) throws(DataError) -> Bool {
        let recordedTensors = metadata.removeValue(forKey: ChecksumKey.tensors)
        let recordedMetadata = metadata.removeValue(forKey: ChecksumKey.metadata)
        switch (recordedTensors, recordedMetadata) {
        case (nil, nil):
            return false
        case let (tensors?, meta?):
            // Metadata first: a damaged description is the likelier cause when both differ.
            let computedMetadata = ChecksumKey.prefix + metadataDigest(metadata)
            guard meta == computedMetadata else {
                throw .corrupted(path: path, part: "metadata", key: ChecksumKey.metadata, recorded: meta, computed: computedMetadata)
            }
            let computedTensors = ChecksumKey.prefix + tensorDigest(entries)
            guard tensors == computedTensors else {
                throw .corrupted(path: path, part: "tensors (names, dtypes, shapes, data)", key: ChecksumKey.tensors,
                                 recorded: tensors, computed: computedTensors)
            }
            return true
        case (nil, _?):
            throw .invalidField(path: path, field: "__metadata__.\(ChecksumKey.tensors)", value: "missing",
                                expected: "both checksums or neither (\(ChecksumKey.metadata) is present)")
        case (_?, nil):
            throw .invalidField(path: path, field: "__metadata__.\(ChecksumKey.metadata)", value: "missing",
                                expected: "both checksums or neither (\(ChecksumKey.tensors) is present)")
        }
    }

    /// The SHA-256 of the tensors, as ``ChecksumKey/tensors`` defines it, in lowercase hex.
    static func tensorDigest(_ entries: [(name: String, entry: Entry)]) -> String {
        var h = SHA256()
        for (name, entry) in entries.sorted(by: { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }) {
            feed(&h, Array(name.utf8))
            feed(&h, Array(entry.dtype.rawValue.utf8))
            feed(&h, UInt64(entry.shape.count))
            for d in entry.shape { feed(&h, UInt64(d)) }
            feed(&h, entry.bytes)
        }
        return h.hexDigest()
    }

    /// The SHA-256 of the metadata other than the checksum keys, as ``ChecksumKey/metadata``
    /// defines it, in lowercase hex.
    static func metadataDigest(_ metadata: [String: String]) -> String {
        var h = SHA256()
        let keys = metadata.keys.filter { $0 != ChecksumKey.tensors && $0 != ChecksumKey.metadata }
        for key in keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            feed(&h, Array(key.utf8))
            feed(&h, Array((metadata[key] ?? "").utf8))
        }
        return h.hexDigest()
    }

    private static func feed(_ h: inout SHA256, _ n: UInt64) {
        withUnsafeBytes(of: n.littleEndian) { h.update($0) }
    }

    /// A length-prefixed byte run, so that no two different sequences of runs hash alike.
    private static func feed(_ h: inout SHA256, _ bytes: [UInt8]) {
        feed(&h, UInt64(bytes.count))
        h.update(bytes)
    }

    private static func integer(_ value: Any) -> Int? {
        if let n = value as? Int { return n }
        if let d = value as? Double, d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        return nil
    }
}
