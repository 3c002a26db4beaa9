import Foundation
import Testing
import Backprop

@Suite struct SafetensorsTests {
    static func sample() -> Safetensors {
        Safetensors(entries: [
            ("0.weight", .init(Tensor([[1, 2, 3], [4, 5, 6]]))),
            ("0.bias", .init(Tensor([0.5, -0.5]))),
            ("1.num_batches_tracked", .init(int64: 42)),
        ], metadata: ["format": "test"])
    }

    /// Builds a file from a header string and data bytes, to forge broken files.
    static func file(header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + data
    }

    @Test func roundTripsTensorsMetadataAndLayout() throws {
        let bytes = Self.sample().encoded()
        // The layout of the format: 8-byte little-endian length, then JSON, then raw data.
        let n = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect(bytes[8] == UInt8(ascii: "{"))
        #expect((8 + n) % 8 == 0)
        #expect(bytes.count == 8 + n + 6 * 4 + 2 * 4 + 8)
        let parsed = try Safetensors(parsing: bytes, path: "sample")
        #expect(parsed["0.weight"]?.tensor() == Tensor([[1, 2, 3], [4, 5, 6]]))
        #expect(parsed["0.bias"]?.shape == [2])
        #expect(parsed["1.num_batches_tracked"]?.integerValue == 42)
        #expect(parsed["1.num_batches_tracked"]?.dtype == .i64)
        #expect(parsed.metadata == ["format": "test"])
        // Raw little-endian float32 bits of 1.0 at the weight's offset.
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        #expect(header.contains("\"dtype\":\"F32\""))
    }

    @Test func atomicWriteReplacesTheFileWhole() throws {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("bp-\(UUID().uuidString)/m.safetensors")
        try Self.sample().write(to: path)
        try Safetensors(entries: [("x", .init(Tensor([7])))]).write(to: path)
        let reread = try Safetensors(contentsOf: path)
        #expect(reread.entries.map(\.name) == ["x"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        #expect(leftovers == ["m.safetensors"])
    }

    @Test func brokenFilesAreClearErrors() {
        let valid = Self.sample().encoded()
        let cases: [(String, [UInt8], String)] = [
            ("empty", [], "header length"),
            ("header longer than the file", Array(valid.prefix(8)) + Array(repeating: UInt8(ascii: " "), count: 4), "JSON header"),
            ("truncated data", Array(valid.dropLast(3)), "data of"),
            ("not JSON", Self.file(header: "{not json", data: []), "header"),
            ("not an object", Self.file(header: "[1, 2]", data: []), "header"),
            ("unknown dtype", Self.file(header: #"{"a":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "dtype of a"),
            ("negative shape", Self.file(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "shape of a"),
            ("offsets past the end", Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]), "data of a"),
            ("length disagrees with shape", Self.file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)), "byte length of a"),
            ("overlapping", Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)), "overlap"),
            ("hole", Self.file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)), "no holes"),
            ("huge header length", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F] + Array("{}".utf8), "header length"),
            ("metadata not strings", Self.file(header: #"{"__metadata__":{"k":1}}"#, data: []), "__metadata__"),
        ]
        for (name, bytes, mention) in cases {
            do {
                _ = try Safetensors(parsing: bytes, path: "broken.safetensors")
                Issue.record("\(name): parsed without error")
            } catch {
                #expect(error.description.contains("broken.safetensors"), "\(name): \(error)")
                #expect(error.description.contains(mention), "\(name): \(error)")
            }
        }
    }

    @Test func randomMutationsNeverTrap() {
        let valid = Self.sample().encoded()
        var g = RandomGenerator(seed: 99)
        var parsed = 0
        for _ in 0..<3000 {
            var bytes = valid
            switch g.nextInt(below: 3) {
            case 0: bytes = Array(bytes.prefix(g.nextInt(below: bytes.count)))
            case 1:
                for _ in 0..<(1 + g.nextInt(below: 4)) { bytes[g.nextInt(below: bytes.count)] = UInt8(g.nextInt(below: 256)) }
            default:
                bytes.insert(UInt8(g.nextInt(below: 256)), at: g.nextInt(below: bytes.count))
            }
            if (try? Safetensors(parsing: bytes, path: "fuzz")) != nil { parsed += 1 }
        }
        #expect(parsed < 3000)   // most mutations are caught; none trapped to get here
    }
}

@Suite struct DecompressionLimitTests {
    /// A gzip file of a few kilobytes that inflates to 64 MiB of zeros behind an IDX header
    /// declaring 16 bytes: the reader inflates only what the header declares, plus one byte,
    /// and reports the trailing data.
    @Test func idxReaderDoesNotInflateBeyondItsHeader() throws {
        var bytes: [UInt8] = [0, 0, 0x08, 1, 0, 0, 0, 16] + Array(repeating: 7, count: 16)
        bytes += [UInt8](repeating: 0, count: 64 << 20)
        let bomb = Gzip.compress(bytes, level: 9)
        #expect(bomb.count < 1 << 20)
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("bomb-\(UUID().uuidString).gz")
        try Data(bomb).write(to: URL(fileURLWithPath: path))
        #expect(throws: DataError.trailingBytes(path: path, expectedBytes: 24, actualBytes: 25)) {
            _ = try IDXArray(contentsOf: path)
        }
        #expect(try Gzip.decompress(bomb, path: path, limit: 100).count == 100)
    }
}
