import Foundation
import Testing
import Backprop

/// Bytes from hex text (test fixtures made with NumPy 2.4's `np.save`).
func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16) ?? 0) }
    return out
}

@Suite struct NumPyTests {
    // np.save(np.array([[1.5, -2, 3.25], [0, 1e-3, 7]], dtype='<f4'))
    static let float32Matrix = hexBytes("934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000c03f000000c000005040000000006f12833a0000e040")

    @Test func readsEveryDtypeWrittenByNumPy() throws {
        let f4 = try NumPyArray(parsing: Self.float32Matrix, path: "f4.npy")
        #expect(f4.shape == [2, 3] && f4.encoding == ElementEncoding(.float32))
        #expect(f4.floats() == [1.5, -2, 3.25, 0, 1e-3, 7])
        let cases: [(String, [Int], [Float], String)] = [
            ("934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000f03f000000000000e0bf", [2], [1, -0.5], "<f8"),
            ("934e554d5059010076007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2032292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00ff0708", [2, 2], [0, 255, 7, 8], "|u1"),
            ("934e554d5059010076007b276465736372273a20277c6931272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a807f00", [3], [-128, 127, 0], "|i1"),
            ("934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200affffffff0200000000000100", [3], [-1, 2, 65536], "<i4"),
            ("934e554d5059010076007b276465736372273a20273c6938272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200afdffffffffffffff0400000000000000", [2], [-3, 4], "<i8"),
            ("934e554d5059010076007b276465736372273a20273e6934272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200affffffff0000000200010000", [3], [-1, 2, 65536], ">i4"),
            // Format versions 2.0 and 3.0 (4-byte header length).
            ("934e554d50590200740000007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000803f00000040", [2], [1, 2], "<f4"),
            ("934e554d50590300740000007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000803f00000040", [2], [1, 2], "<f4"),
            // A 0-dimensional array and an empty one.
            ("934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000a040", [], [5], "<f4"),
            ("934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028302c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a", [0, 3], [], "<f4"),
        ]
        for (hex, shape, values, descr) in cases {
            let array = try NumPyArray(parsing: hexBytes(hex), path: "\(descr).npy")
            #expect(array.shape == shape, "\(descr)")
            #expect(array.floats() == values, "\(descr)")
            #expect(array.encoding.numpyDescriptor == descr)
        }
    }

    @Test func writesExactlyWhatNumPyWrites() throws {
        let array = NumPyArray(shape: [2, 3], floats: [1.5, -2, 3.25, 0, 1e-3, 7])
        #expect(array.encoded() == Self.float32Matrix)
        let bytes = NumPyArray(shape: [2, 2], uint8: [0, 255, 7, 8])
        #expect(bytes.encoded() == hexBytes("934e554d5059010076007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2032292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00ff0708"))
    }

    @Test func roundTripsThroughAtomicWrite() throws {
        let directory = try DataTestDirectory()
        let path = directory.path("a.npy")
        for encoding in ElementEncoding.Kind.allCases.flatMap({ [ElementEncoding($0), ElementEncoding($0, bigEndian: true)] }) {
            let shape = [3, 5]
            var payload: [UInt8] = []
            for i in 0..<(15 * encoding.size) { payload.append(UInt8(truncatingIfNeeded: i &* 37)) }
            let array = try NumPyArray(encoding: encoding, shape: shape, payload: payload)
            try array.write(to: path)
            let back = try NumPyArray(contentsOf: path)
            #expect(back == array, "\(encoding)")
            let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            #expect((size - payload.count) % 64 == 0, "data starts on a 64-byte boundary")
        }
        // Only the final file is left: no temporaries.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.root) == ["a.npy"])
        // Writing into a folder that does not exist is a clear error, not a crash.
        let nowhere = directory.path("missing/b.npy")
        #expect(throws: DataError.self) { try NumPyArray(shape: [1], floats: [1]).write(to: nowhere) }
        #expect(!FileManager.default.fileExists(atPath: nowhere))
    }

    @Test func acceptsByteOrderMarksAndPython2Headers() throws {
        for descr in ["=f4", "<f4", "|u1", "<u1", ">f8", "=i8", "|i1"] {
            let header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (1,), }"
            let size = ["1": 1, "2": 2, "4": 4, "8": 8][String(descr.last!)]!
            let array = try NumPyArray(parsing: Self.npy(header: header, payload: [UInt8](repeating: 0, count: size)), path: "x.npy")
            #expect(array.count == 1, "\(descr)")
        }
        // Python 2 NumPy wrote long integers with an L suffix and double quotes are legal too.
        let old = try NumPyArray(parsing: Self.npy(header: "{\"descr\": \"<f4\", \"shape\": (2L,), \"fortran_order\": False}",
                                                   payload: [UInt8](repeating: 0, count: 8)), path: "old.npy")
        #expect(old.shape == [2])
    }

    /// Builds a version 1.0 file around a header text (no padding: the reader does not require it).
    static func npy(header: String, payload: [UInt8], version: UInt8 = 1) -> [UInt8] {
        let text = Array((header + "\n").utf8)
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        if version == 1 {
            out += [UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
        } else {
            out += [UInt8(text.count & 0xFF), UInt8(text.count >> 8 & 0xFF), 0, 0]
        }
        return out + text + payload
    }

    @Test func brokenFilesAreClearErrors() throws {
        let ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
        let eight = [UInt8](repeating: 0, count: 8)
        func field(_ bytes: [UInt8]) -> String? {
            do {
                _ = try NumPyArray(parsing: bytes, path: "bad.npy")
                return nil
            } catch {
                switch error {
                case .invalidField(_, let field, _, _): return field
                case .truncated(_, let field, _, _): return "truncated " + field
                case .trailingBytes: return "trailing"
                case .wrongMagic: return "magic"
                default: return "\(error)"
                }
            }
        }
        #expect(field(Self.npy(header: ok, payload: eight)) == nil)
        #expect(field(Array("PK\u{3}\u{4}xxxxxxxx".utf8)) == "magic")
        #expect(field([0x93] + Array("NUMP".utf8)) == "truncated magic and version")
        #expect(field(Self.npy(header: ok, payload: eight, version: 4)) == "format version")
        #expect(field(Array(Self.npy(header: ok, payload: eight).prefix(9))) == "truncated header length")
        #expect(field(Array(Self.npy(header: ok, payload: eight).prefix(40))) == "truncated header")
        #expect(field(Self.npy(header: ok, payload: Array(eight.prefix(7)))) == "truncated data for shape [2] of <f4")
        #expect(field(Self.npy(header: ok, payload: eight + [0])) == "trailing")
        #expect(field(Self.npy(header: "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", payload: eight)) == "fortran_order")
        #expect(field(Self.npy(header: "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", payload: eight)) == "descr")
        #expect(field(Self.npy(header: "{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", payload: eight)) == "descr")
        #expect(field(Self.npy(header: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", payload: eight)) == "descr")
        #expect(field(Self.npy(header: "{'descr': '<f4', 'shape': (2,), }", payload: eight)) == "header keys")
        #expect(field(Self.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", payload: eight)) == "x")
        #expect(field(Self.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", payload: eight)) == "shape")
        #expect(field(Self.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) }", payload: eight))
                == "truncated data for shape [2, 3] of <f4")
        #expect(field(Self.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", payload: eight)) == "shape")
        #expect(field(Self.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", payload: eight)) == "shape")
        #expect(field(Self.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", payload: eight)) == "header")
        #expect(field(Self.npy(header: "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", payload: eight)) == "key")
        // A header length far beyond the file: an error, not a huge allocation.
        var huge = Self.npy(header: ok, payload: eight, version: 2)
        huge[8] = 0xFF; huge[9] = 0xFF; huge[10] = 0xFF; huge[11] = 0x7F
        #expect(field(huge) == "header length")
    }

    @Test func errorMessagesNameFileFieldAndExpectation() {
        do {
            _ = try NumPyArray(parsing: Self.npy(header: "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                                                 payload: [UInt8](repeating: 0, count: 8)), path: "weights.npy")
            Issue.record("Fortran order accepted")
        } catch {
            #expect(error.description.contains("weights.npy"))
            #expect(error.description.contains("fortran_order"))
            #expect(error.description.contains("C order"))
        }
    }
}
