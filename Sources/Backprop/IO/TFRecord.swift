/// TFRecord framing, the container of TensorBoard event files. Each record is
///
///     uint64 length (little-endian) · uint32 masked CRC-32C of those 8 bytes
///     data (length bytes)           · uint32 masked CRC-32C of the data
public enum TFRecord {
    /// One framed record.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
        out += length
        appendLittleEndian(CRC32C.masked(CRC32C.checksum(length)), to: &out)
        out += data
        appendLittleEndian(CRC32C.masked(CRC32C.checksum(data)), to: &out)
        return out
    }

    /// Splits framed bytes into records, checking both checksums of each.
    ///
    /// - Throws: ``DataError`` naming `path` and the record for a truncated record or a
    ///   checksum mismatch.
    public static func records(in bytes: [UInt8], path: String) throws(DataError) -> [[UInt8]] {
        var records: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let (data, end) = try record(in: bytes, at: offset, index: records.count, path: path)
            records.append(data)
            offset = end
        }
        return records
    }

    /// The whole records from the start of `bytes` up to the first truncated or damaged one (a
    /// log a killed writer left), each with the byte range of its frame.
    public static func wholeRecords(in bytes: [UInt8]) -> [(data: [UInt8], frame: Range<Int>)] {
        var records: [(data: [UInt8], frame: Range<Int>)] = []
        var offset = 0
        while offset < bytes.count, let (data, end) = try? record(in: bytes, at: offset, index: records.count, path: "") {
            records.append((data, offset..<end))
            offset = end
        }
        return records
    }

    /// The record framed at `offset` and the offset after it.
    private static func record(in bytes: [UInt8], at offset: Int, index: Int, path: String) throws(DataError) -> ([UInt8], Int) {
        let field = "record \(index) at byte \(offset)"
        guard bytes.count - offset >= 12 else {
            throw .truncated(path: path, field: "\(field): header", expectedBytes: 12, actualBytes: bytes.count - offset)
        }
        let lengthBytes = Array(bytes[offset..<(offset + 8)])
        let length = lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let lengthCRC = littleEndian32(bytes, at: offset + 8)
        let expectedLengthCRC = CRC32C.masked(CRC32C.checksum(lengthBytes))
        guard lengthCRC == expectedLengthCRC else {
            throw .checksumMismatch(path: path, expected: hex(expectedLengthCRC), actual: "\(hex(lengthCRC)) (\(field): length)")
        }
        let available = bytes.count - offset - 12
        guard length <= UInt64(available), available - Int(length) >= 4 else {
            throw .truncated(path: path, field: "\(field): data", expectedBytes: Int(clamping: length) &+ 4, actualBytes: available)
        }
        let start = offset + 12, end = start + Int(length)
        let data = Array(bytes[start..<end])
        let dataCRC = littleEndian32(bytes, at: end)
        let expectedDataCRC = CRC32C.masked(CRC32C.checksum(data))
        guard dataCRC == expectedDataCRC else {
            throw .checksumMismatch(path: path, expected: hex(expectedDataCRC), actual: "\(hex(dataCRC)) (\(field): data)")
        }
        return (data, end + 4)
    }

    private static func appendLittleEndian(_ value: UInt32, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }

    private static func littleEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
