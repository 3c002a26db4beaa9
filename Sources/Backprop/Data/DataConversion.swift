#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Foundation


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
        /// The shape of the written array (examples first).
        public var shape: [Int]
        /// How each written element is stored.
        public var encoding: ElementEncoding
        /// The size of the written file in bytes.
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
    /// The array's shape (for CSV: rows × columns of numbers).
    public var shape: [Int]
    /// How each element is stored (CSV files are read as 32-bit floats).
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

    /// E.g. `IDX (gzip): shape [60000, 28, 28], dtype |u1`, with the column names of a CSV header.
    public var description: String {
        var s = "\(format): shape [\(shape.map(String.init).joined(separator: ", "))], dtype \(encoding)"
        if let names = columnNames { s += ", columns: \(names.joined(separator: ", "))" }
        return s
    }
}
