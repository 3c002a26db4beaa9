import Foundation
import Testing
import Backprop

@Suite struct IDXTests {
    static let valid = idxBytes(shape: [3, 2, 2], payload: Array(0..<12))

    func failure(_ bytes: [UInt8]) -> DataError? {
        do { _ = try IDXArray(parsing: bytes, path: "x.idx"); return nil } catch { return error }
    }

    @Test func brokenIDXInputsAreClearErrors() throws {
        #expect(failure(Self.valid) == nil)
        #expect(failure([0, 0, 8]) == .truncated(path: "x.idx", field: "magic number", expectedBytes: 4, actualBytes: 3))
        #expect(failure(Array(Self.valid.prefix(10))) == .truncated(path: "x.idx", field: "header (3 dimension sizes)",
                                                                    expectedBytes: 16, actualBytes: 10))
        #expect(failure(Array(Self.valid.dropLast())) == .truncated(path: "x.idx", field: "data for shape [3, 2, 2] of uint8",
                                                                    expectedBytes: 12, actualBytes: 11))
        // Header larger than the file: sizes promising gigabytes in a few bytes.
        if case .truncated? = failure(idxBytes(shape: [60000, 28, 28], payload: [1, 2, 3])) {} else { Issue.record("header > file") }
        #expect(failure(Self.valid + [0]) == .trailingBytes(path: "x.idx", expectedBytes: 28, actualBytes: 29))
        if case .wrongMagic? = failure([1, 0, 8, 1, 0, 0, 0, 1, 5]) {} else { Issue.record("wrong magic") }
        if case .invalidField(_, let field, _, _)? = failure([0, 0, 0x0A, 1, 0, 0, 0, 1, 5]) {
            #expect(field == "element type code")
        } else { Issue.record("unknown type code") }
        if case .invalidField(_, let field, _, _)? = failure([0, 0, 8, 0]) {
            #expect(field == "number of dimensions")
        } else { Issue.record("zero dimensions") }
        // A zero-sized dimension is a valid (empty) array; every size overflowing is not.
        #expect(failure(idxBytes(shape: [0, 28], payload: [])) == nil)
        if case .invalidField? = failure(idxBytes(type: 0x0E, shape: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], payload: [])) {} else {
            Issue.record("overflowing sizes")
        }
    }

    @Test func brokenGzipInputsAreClearErrors() throws {
        let directory = try DataTestDirectory()
        let gz = Gzip.compress(Self.valid)
        let good = directory.write("good.gz", gz)
        #expect(try IDXArray(contentsOf: good).payload == Array(0..<12))
        func failure(_ bytes: [UInt8]) -> DataError? {
            let path = directory.write("f-\(UUID().uuidString).gz", bytes)
            do { _ = try IDXArray(contentsOf: path); return nil } catch { return error }
        }
        // Not gzip at all (and not IDX): reported as a wrong magic number.
        if case .wrongMagic? = failure(Array("plain text, no magic".utf8)) {} else { Issue.record("not gzip") }
        #expect(throws: DataError.self) { try Gzip.decompress(Array("plain".utf8), path: "p") }
        // Truncated: the stream ends early.
        if case .truncated? = failure(Array(gz.prefix(gz.count / 2))) {} else { Issue.record("truncated gzip") }
        if case .truncated? = failure(Array(gz.prefix(12))) {} else { Issue.record("gzip header only") }
        // Corrupt: flipped bytes in the deflate data or the CRC.
        var corrupt = gz
        corrupt[12] ^= 0xFF
        corrupt[13] ^= 0x55
        #expect(failure(corrupt) != nil)
        var badCRC = gz
        badCRC[badCRC.count - 6] ^= 0x01
        if case .compression? = failure(badCRC) {} else { Issue.record("bad CRC") }
        // Garbage after the gzip stream.
        if case .compression? = failure(gz + Array("junk".utf8)) {} else { Issue.record("trailing junk") }
        // A valid gzip whose content is a broken IDX still reports the IDX error.
        if case .trailingBytes? = failure(Gzip.compress(Self.valid + [9])) {} else { Issue.record("gzip of bad IDX") }
        #expect(throws: DataError.self) { try IDXArray(contentsOf: directory.path("absent.gz")) }
    }

    /// The shipped MNIST loads with the published per-class counts (LeCun et al.'s table).
    @Test func shippedMNISTHasThePublishedLabelCounts() throws {
        let (train, test) = try MNIST.loadBundled()
        #expect(train.count == 60000 && test.count == 10000)
        #expect(train.height == 28 && train.width == 28)
        func counts(_ labels: [Int32]) -> [Int] {
            labels.reduce(into: [Int](repeating: 0, count: 10)) { $0[Int($1)] += 1 }
        }
        #expect(counts(train.labels) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        #expect(counts(test.labels) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        let directory = try #require(MNIST.bundledDirectory)
        for file in Dataset.mnist.files {
            try DatasetLocator.verify((directory as NSString).appendingPathComponent(file.name), against: file)
        }
    }
}

/// Random corruption of valid files: every mutant must parse or throw ``DataError`` — never
/// trap, hang, or allocate beyond what the file holds (the harness would crash or time out).
@Suite struct CorruptInputFuzzTests {
    /// Applies one of: flip bits, overwrite a byte with an extreme value, truncate, duplicate a
    /// slice, insert random bytes.
    static func mutate(_ bytes: [UInt8], _ g: inout RandomGenerator) -> [UInt8] {
        var b = bytes
        switch g.nextInt(below: 5) {
        case 0:
            for _ in 0..<(1 + g.nextInt(below: 4)) where !b.isEmpty { b[g.nextInt(below: b.count)] ^= UInt8(1 << g.nextInt(below: 8)) }
        case 1:
            if !b.isEmpty { b[g.nextInt(below: b.count)] = [0x00, 0xFF, 0x7F, 0x80, 0x2C, 0x0A, 0x28, 0x29][g.nextInt(below: 8)] }
        case 2:
            b = Array(b.prefix(g.nextInt(below: b.count + 1)))
        case 3:
            if b.count > 2 {
                let i = g.nextInt(below: b.count - 1), n = 1 + g.nextInt(below: min(16, b.count - i))
                b.insert(contentsOf: b[i..<(i + n)], at: i)
            }
        default:
            let at = g.nextInt(below: b.count + 1)
            b.insert(contentsOf: (0..<(1 + g.nextInt(below: 8))).map { _ in UInt8(truncatingIfNeeded: g.next32()) }, at: at)
        }
        return b
    }

    @Test func mutatedIDXFilesParseOrThrow() throws {
        var g = RandomGenerator(seed: 2024)
        let valid = idxBytes(type: 0x0D, shape: [2, 3], payload: (0..<24).map { UInt8($0) })
        let directory = try DataTestDirectory()
        var errors = 0
        for i in 0..<2000 {
            let mutant = Self.mutate(valid, &g)
            do { _ = try IDXArray(parsing: mutant, path: "m.idx") } catch { errors += 1 }
            // Every 10th mutant also goes through the memory-mapped reader and the converter.
            if i % 10 == 0 {
                let path = directory.write("m\(i).idx", mutant)
                _ = try? MappedArray(contentsOf: path)
                _ = try? DataConversion.convert(path, to: directory.path("o\(i).npy"), format: .npy)
            }
        }
        #expect(errors > 500, "most mutants are rejected (\(errors) of 2000)")
    }

    @Test func mutatedGzipFilesParseOrThrow() throws {
        var g = RandomGenerator(seed: 7)
        let valid = Gzip.compress(idxBytes(shape: [4, 4], payload: (0..<16).map { UInt8($0 * 3) }))
        let directory = try DataTestDirectory()
        for i in 0..<400 {
            let path = directory.write("g\(i).gz", Self.mutate(valid, &g))
            _ = try? IDXArray(contentsOf: path)
            _ = try? DataConversion.convert(path, to: directory.path("g\(i).idx"), format: .idx)
        }
    }

    @Test func mutatedNPYFilesParseOrThrow() throws {
        var g = RandomGenerator(seed: 99)
        let valid = NumPyArray(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]).encoded()
        let directory = try DataTestDirectory()
        var errors = 0
        for i in 0..<2000 {
            let mutant = Self.mutate(valid, &g)
            do { _ = try NumPyArray(parsing: mutant, path: "m.npy") } catch { errors += 1 }
            if i % 10 == 0 {
                _ = try? MappedArray(contentsOf: directory.write("m\(i).npy", mutant))
            }
        }
        #expect(errors > 300, "\(errors) of 2000 mutants rejected")
    }

    @Test func mutatedCSVFilesParseOrThrow() throws {
        var g = RandomGenerator(seed: 5)
        let valid = Array("f1,f2,label\n0.5,1e-3,0\n-2,3.25,1\n4,5,2\n".utf8)
        for _ in 0..<3000 {
            let mutant = Self.mutate(valid, &g)
            if let table = try? CSV.parse(mutant, path: "m.csv") {
                #expect(table.values.allSatisfy { $0.isFinite })
                _ = try? CSV.labeled(table, path: "m.csv")
            }
        }
    }
}
