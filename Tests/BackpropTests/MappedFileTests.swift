import Foundation
import Testing
import Backprop

/// A temporary folder for one test, removed when the test ends.
final class DataTestDirectory {
    let root: String

    init() throws {
        root = (NSTemporaryDirectory() as NSString).appendingPathComponent("backprop-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func path(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = path(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
}

/// An IDX file's bytes: magic, big-endian sizes, payload.
func idxBytes(type: UInt8 = 0x08, shape: [Int], payload: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0, 0, type, UInt8(shape.count)]
    for d in shape { out += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
    return out + payload
}

@Suite struct MappedFileTests {
    @Test func mapsIDXAndNPYAndGathersRows() throws {
        let directory = try DataTestDirectory()
        let pixels = (0..<24).map { UInt8($0 * 10) }
        let idx = directory.write("x.idx", idxBytes(shape: [4, 2, 3], payload: pixels))
        let array = try MappedArray(contentsOf: idx)
        #expect(array.format == .idx && array.shape == [4, 2, 3] && array.rowCount == 4 && array.rowWidth == 6)
        #expect(array.row(2) == (12..<18).map { Float($0 * 10) })
        let batch = array.rows([3, 0], scale: 0.5)
        #expect(batch.shape == [2, 6])
        let expectedBatch: [Float] = (18..<24).map { Float($0 * 5) } + (0..<6).map { Float($0 * 5) }
        #expect(batch.scalars == expectedBatch)
        #expect(array[23] == 230)

        let floats = (0..<12).map { Float($0) - 5.5 }
        let npyPath = directory.path("x.npy")
        try NumPyArray(shape: [3, 4], floats: floats).write(to: npyPath)
        let npy = try MappedArray(contentsOf: npyPath)
        #expect(npy.format == .npy && npy.shape == [3, 4] && npy.encoding == ElementEncoding(.float32))
        #expect(npy.rows([1]).scalars == Array(floats[4..<8]))
        // Big-endian float IDX decodes the same values.
        var be: [UInt8] = []
        for f in floats { let b = f.bitPattern; be += [UInt8(b >> 24), UInt8(b >> 16 & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b & 0xFF)] }
        let idxFloat = try MappedArray(idxAt: directory.write("f.idx", idxBytes(type: 0x0D, shape: [3, 4], payload: be)))
        #expect(idxFloat.rows(0..<3).scalars == floats)

        let labels = try MappedArray(contentsOf: directory.write("l.idx", idxBytes(shape: [5], payload: [0, 9, 3, 3, 1])))
        #expect(try labels.labels(classCount: 10) == [0, 9, 3, 3, 1])
        #expect(throws: DataError.self) { try labels.labels(classCount: 5) }
        #expect(throws: DataError.self) { try array.labels(classCount: 10) }
    }

    @Test func brokenMappedFilesAreClearErrors() throws {
        let directory = try DataTestDirectory()
        func error(_ bytes: [UInt8]) -> DataError? {
            do {
                _ = try MappedArray(contentsOf: directory.write("b-\(UUID().uuidString)", bytes))
                return nil
            } catch { return error }
        }
        #expect(error(idxBytes(shape: [2, 2], payload: [1, 2, 3, 4])) == nil)
        guard case .truncated? = error(idxBytes(shape: [2, 2], payload: [1, 2, 3])) else { Issue.record("short payload"); return }
        guard case .trailingBytes? = error(idxBytes(shape: [2, 2], payload: [1, 2, 3, 4, 5])) else { Issue.record("trailing"); return }
        guard case .truncated? = error(Array(idxBytes(shape: [2, 2], payload: []).prefix(7))) else { Issue.record("short header"); return }
        guard case .invalidField? = error([0, 0, 0x07, 1, 0, 0, 0, 0]) else { Issue.record("type code"); return }
        guard case .invalidField? = error([0, 0, 0x08, 0]) else { Issue.record("rank 0"); return }
        guard case .wrongMagic? = error(Array("hello world".utf8)) else { Issue.record("magic"); return }
        // Sizes whose product overflows, and a header promising 4 GB in a 20-byte file.
        guard case .invalidField? = error(idxBytes(type: 0x0E, shape: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], payload: [])) else {
            Issue.record("overflow"); return
        }
        guard case .truncated? = error(idxBytes(shape: [0xFFFF_FFFF], payload: [1, 2, 3, 4])) else { Issue.record("huge"); return }
        guard case .compression? = error(Gzip.compress(idxBytes(shape: [1], payload: [1]))) else { Issue.record("gzip"); return }
        guard case .truncated? = error([]) else { Issue.record("empty"); return }
        #expect(throws: DataError.self) { try MappedFile(path: directory.path("absent")) }
        #expect(throws: DataError.self) { try MappedFile(path: directory.root) }
    }

    @Test func convertsGzipIDXAndCSVIntoMappableFiles() throws {
        let directory = try DataTestDirectory()
        let mnist = try #require(MNIST.bundledDirectory)
        let gz = (mnist as NSString).appendingPathComponent("t10k-images-idx3-ubyte.gz")
        let reference = try IDXArray(contentsOf: gz)
        for format in DataConversion.Format.allCases {
            let out = directory.path("test-images.\(format.rawValue)")
            let summary = try DataConversion.convert(gz, to: out, format: format)
            #expect(summary.shape == [10000, 28, 28])
            let mapped = try MappedArray(contentsOf: out)
            #expect(mapped.shape == reference.shape && mapped.format.rawValue == format.rawValue)
            let rows = [0, 4321, 9999]
            let expected = rows.flatMap { r in reference.payload[(r * 784)..<((r + 1) * 784)].map { Float($0) * (1 / 255) } }
            #expect(mapped.rows(rows, scale: 1 / 255).scalars == expected)
        }
        let labels = directory.path("labels.npy")
        try DataConversion.convert((mnist as NSString).appendingPathComponent("t10k-labels-idx1-ubyte.gz"), to: labels, format: .npy)
        let counts = try MappedArray(contentsOf: labels).labels(classCount: 10).reduce(into: [Int](repeating: 0, count: 10)) { $0[Int($1)] += 1 }
        #expect(counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])

        let csv = directory.write("t.csv", Array("a,b,label\n1,2,0\n3.5,-4,1\n\n5,6e2,2\n".utf8))
        for format in DataConversion.Format.allCases {
            let out = directory.path("t.\(format.rawValue)")
            try DataConversion.convert(csv, to: out, format: format)
            let mapped = try MappedArray(contentsOf: out)
            #expect(mapped.shape == [3, 3])
            #expect(mapped.rows(0..<3).scalars == [1, 2, 0, 3.5, -4, 1, 5, 600, 2])
            #expect(try DataFileInfo(path: out).shape == [3, 3])
        }
        #expect(try DataFileInfo(path: gz).description == "IDX (gzip): shape [10000, 28, 28], dtype |u1")
        #expect(try DataFileInfo(path: csv).columnNames == ["a", "b", "label"])

        // A failed conversion leaves nothing behind.
        let bad = directory.write("bad.csv", Array("1,2\n3,nan\n".utf8))
        #expect(throws: DataError.self) { try DataConversion.convert(bad, to: directory.path("bad.npy"), format: .npy) }
        let truncated = directory.write("short.gz", Array(Gzip.compress(idxBytes(shape: [100], payload: [UInt8](repeating: 1, count: 100))).dropLast(12)))
        #expect(throws: DataError.self) { try DataConversion.convert(truncated, to: directory.path("short.idx"), format: .idx) }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.root)
        #expect(!leftovers.contains { $0.hasPrefix(".") || $0 == "bad.npy" || $0 == "short.idx" }, "\(leftovers)")
    }

    @Test func atomicWriterReplacesWholeFilesOnly() throws {
        let directory = try DataTestDirectory()
        let path = directory.write("data.bin", [1, 2, 3])
        let old = try MappedFile(path: path)
        do {
            let writer = try AtomicFileWriter(destination: path)
            try writer.write([9, 9, 9, 9])
            // Dropped without commit: the old file stays, the temporary disappears.
        }
        #expect(FileManager.default.contents(atPath: path) == Data([1, 2, 3]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.root) == ["data.bin"])
        try AtomicFileWriter.write([7, 7], to: path)
        #expect(FileManager.default.contents(atPath: path) == Data([7, 7]))
        // A mapping of the replaced file still reads the old bytes.
        #expect(old.bytes(in: 0..<3) == [1, 2, 3])
    }

    /// The point of mapping: a 256 MB file is opened and sampled without being read into memory.
    /// Measured two ways: the mapping's own resident size from /proc/self/smaps (exact, and not
    /// disturbed by tests running in parallel), and the process's VmRSS (coarse).
    @Test func residentMemoryStaysFarBelowFileSize() throws {
        #if os(Linux)
        let directory = try DataTestDirectory()
        let path = directory.path("big.npy")
        let rows = 65536, width = 1024  // 256 MiB of float32
        let writer = try AtomicFileWriter(destination: path)
        try writer.write(headerFor(rows: rows, width: width))
        var chunk = [Float](repeating: 0, count: 64 * width)
        for block in 0..<(rows / 64) {
            for r in 0..<64 {
                for c in 0..<width { chunk[r * width + c] = Float(((block * 64 + r) &* 31 &+ c) & 0xFFFFF) }
            }
            try chunk.withUnsafeBytes { try writer.write($0) }
        }
        try writer.commit()
        let fileSize = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(fileSize > 256 << 20)

        let before = try Self.processRSS()
        let array = try MappedArray(npyAt: path)
        array.file.advise(.random)
        #expect(array.shape == [rows, width])
        let picks = [0, 777, 12345, 40000, 65535]
        let batch = array.rows(picks)
        for (k, r) in picks.enumerated() {
            for c in [0, 1, 511, 1023] { #expect(batch[k, c] == Float((r &* 31 &+ c) & 0xFFFFF)) }
        }
        // The mapping lives as long as `array`; keep it alive until it has been measured.
        let (mappingRSS, after) = try withExtendedLifetime(array) { (try Self.mappingRSS(path: path), try Self.processRSS()) }
        #expect(mappingRSS < 8 << 20, "mapping resident: \(mappingRSS) bytes of \(fileSize)")
        #expect(after - before < fileSize / 2, "VmRSS grew by \(after - before) bytes for a \(fileSize)-byte file")
        // Control: touching every page does make the mapping resident, so the measure can fail.
        var sum: Float = 0
        for r in 0..<rows { sum += array[r * width] }
        #expect(sum > 0)
        let touched = try withExtendedLifetime(array) { try Self.mappingRSS(path: path) }
        #expect(touched > fileSize / 2, "after reading every page the mapping holds \(touched) bytes")
        #endif
    }

    private func headerFor(rows: Int, width: Int) -> [UInt8] {
        // The header NumPy writes for a [rows, width] float32 array (data at byte 128).
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(width)), }"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, 118, 0] + Array(dict.utf8)
        out += [UInt8](repeating: 0x20, count: 127 - out.count) + [0x0A]
        return out
    }

    static func processRSS() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kb = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kb * 1024
    }

    static func mappingRSS(path: String) throws -> Int {
        // procfs files report size 0: read until end of file rather than trusting the size.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var inMapping = false, total = 0, found = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5, !first.hasSuffix(":") {
                inMapping = fields.count >= 6 && fields[5...].joined(separator: " ") == path
                found = found || inMapping
            } else if inMapping, fields.first == "Rss:", fields.count >= 2, let kb = Int(fields[1]) {
                total += kb * 1024
            }
        }
        try #require(found, "no mapping of \(path) in /proc/self/smaps: \(smaps.split(separator: "\n").filter { $0.contains("big.npy") })")
        return total
    }
}
