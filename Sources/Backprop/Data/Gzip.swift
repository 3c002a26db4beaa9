import CZlib
import Foundation

/// Decompression of gzip files (RFC 1952) through the system zlib.
public enum Gzip {
    /// Whether `bytes` start with the gzip magic number 1f 8b.
    public static func isGzip(_ bytes: some Collection<UInt8>) -> Bool {
        var it = bytes.makeIterator()
        return it.next() == 0x1f && it.next() == 0x8b
    }

    /// The decompressed contents of a gzip stream (concatenated members included).
    ///
    /// - Throws: ``DataError/compression(path:reason:)`` when the bytes are not gzip or the
    ///   stream is corrupt, ``DataError/truncated(path:field:expectedBytes:actualBytes:)`` when it
    ///   ends early. `path` only labels the error.
    ///
    /// The output grows as it is produced rather than trusting the size recorded in the gzip
    /// trailer, so a forged trailer cannot make it allocate more than the data really inflates to.
    /// With `limit`, inflation stops once `limit` bytes are out and those are returned: a reader
    /// that knows from a header how much data to expect asks for no more than that (plus one byte
    /// to notice trailing data), so a small "decompression bomb" cannot allocate gigabytes.
    public static func decompress(_ input: [UInt8], path: String, limit: Int = .max) throws(DataError) -> [UInt8] {
        guard isGzip(input) else {
            throw .compression(path: path, reason: "not a gzip file (it does not start with the bytes 1f 8b)")
        }
        var stream = z_stream()
        // 15 window bits + 16: expect a gzip header and trailer, not a raw zlib stream.
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .compression(path: path, reason: "zlib could not be initialized")
        }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        output.reserveCapacity(min(input.count * 4, 1 << 28, limit))
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        var status: Int32 = Z_OK
        var consumed = 0
        try input.withUnsafeBufferPointer { (inBuffer: UnsafeBufferPointer<UInt8>) throws(DataError) in
            guard let base = inBuffer.baseAddress else { return }
            stream.next_in = UnsafeMutablePointer(mutating: base)
            stream.avail_in = uInt(inBuffer.count)
            while true {
                let produced = buffer.withUnsafeMutableBufferPointer { out -> Int in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunk - Int(stream.avail_out)
                }
                output.append(contentsOf: buffer[0..<produced])
                if output.count >= limit {
                    output.removeLast(output.count - limit)
                    return
                }
                consumed = inBuffer.count - Int(stream.avail_in)
                if status == Z_STREAM_END {
                    // Another gzip member may follow (gzip files may be concatenated).
                    let rest = inBuffer[consumed...]
                    if rest.isEmpty || rest.allSatisfy({ $0 == 0 }) { return }
                    guard isGzip(rest) else {
                        throw .compression(path: path, reason: "unexpected bytes after the end of the gzip stream")
                    }
                    inflateReset(&stream)
                    continue
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 {
                    throw .truncated(path: path, field: "compressed stream", expectedBytes: inBuffer.count + 1,
                                     actualBytes: inBuffer.count)
                }
                guard status == Z_OK else {
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw .compression(path: path, reason: "corrupt gzip data: \(message)")
                }
            }
        }
        return output
    }

    /// Compresses `bytes` into a gzip stream (used to write test fixtures and converted files).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        precondition(deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK,
                     "Gzip.compress: zlib could not be initialized")
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
        let written = bytes.withUnsafeBufferPointer { input -> Int in
            output.withUnsafeMutableBufferPointer { out -> Int in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                let status = deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "Gzip.compress: deflate returned \(status)")
                return out.count - Int(stream.avail_out)
            }
        }
        return Array(output[0..<written])
    }
}
