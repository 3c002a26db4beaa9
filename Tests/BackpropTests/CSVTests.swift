import Foundation
import Testing
import Backprop

@Suite struct CSVTests {
    func parse(_ text: String, header: CSV.HeaderRow = .automatic) throws(DataError) -> CSVTable {
        try CSV.parse(Array(text.utf8), path: "t.csv", header: header)
    }

    @Test func parsesNumbersHeadersQuotesAndLineEndings() throws {
        let table = try parse("x1, x2 ,\"label\"\r\n0.5,-1e-3,1\r\n\n  2 ,+3.25E2, 0\n")
        #expect(table.columnNames == ["x1", "x2", "label"])
        #expect(table.rowCount == 2 && table.columnCount == 3)
        #expect(table.values == [0.5, -0.001, 1, 2, 325, 0])
        #expect(table.column(1) == [-0.001, 325])
        #expect(table.columnIndex(named: "label") == 2)
        let headerless = try parse("1,2\n3,4")
        #expect(headerless.columnNames == nil && headerless.values == [1, 2, 3, 4])
        #expect(try parse("\"1\",2\n", header: .absent).values == [1, 2])
        // An explicit header is taken even when it looks numeric.
        #expect(try parse("1,2\n3,4\n", header: .present).rowCount == 1)
        #expect(try CSV.parse(Array("1;2\n".utf8), path: "t.csv", delimiter: UInt8(ascii: ";")).values == [1, 2])
    }

    /// A UTF-8 byte-order mark at the start is skipped: it neither turns the first data row into
    /// a header (dropping an example) nor garbles the first column's name.
    @Test func byteOrderMarkIsSkipped() throws {
        let bare = try CSV.parse([0xEF, 0xBB, 0xBF] + Array("1,2,0\n3,4,1\n".utf8), path: "t.csv")
        #expect(bare.columnNames == nil && bare.rowCount == 2 && bare.values == [1, 2, 0, 3, 4, 1])
        let named = try CSV.parse([0xEF, 0xBB, 0xBF] + Array("a,b,label\n1,2,0\n".utf8), path: "t.csv")
        #expect(named.columnNames == ["a", "b", "label"] && named.rowCount == 1)
    }

    @Test func loadsFeaturesThenLabelOrNamedColumns() throws {
        let directory = try DataTestDirectory()
        let path = directory.write("iris.csv", Array("a,b,c,species\n1,2,3,0\n4,5,6,2\n7,8,9,1\n".utf8))
        let data = try CSV.readLabeled(contentsOf: path)
        #expect(data.features.shape == [3, 3] && data.labels == [0, 2, 1] && data.classCount == 3)
        #expect(data.features.scalars == [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let named = try CSV.readLabeled(contentsOf: path, label: .named("species"), features: ["c", "a"], classCount: 4)
        #expect(named.features.scalars == [3, 1, 6, 4, 9, 7] && named.classCount == 4)
        let first = try CSV.readLabeled(contentsOf: directory.write("m.csv", Array("1,0.5,0.25\n0,1,1\n".utf8)), label: .first)
        #expect(first.labels == [1, 0] && first.features.scalars == [0.5, 0.25, 1, 1])
    }

    @Test func brokenInputsAreClearErrors() throws {
        func failure(_ text: String) -> DataError? {
            do { _ = try parse(text); return nil } catch { return error }
        }
        // NaN, infinity and out-of-range values name line, column and text.
        #expect(failure("1,2\n3,nan\n") == .invalidValue(path: "t.csv", line: 2, column: 2, text: "nan", expected: "a finite number"))
        #expect(failure("1,2\n3,inf\n") == .invalidValue(path: "t.csv", line: 2, column: 2, text: "inf", expected: "a finite number"))
        #expect(failure("1,2\n3,1e39\n") == .invalidValue(path: "t.csv", line: 2, column: 2, text: "1e39", expected: "a finite number"))
        #expect(failure("a,b\n1,\n") == .invalidValue(path: "t.csv", line: 2, column: 2, text: "", expected: "a number (the field is empty)"))
        #expect(failure("1,2\n3,4x\n") == .invalidValue(path: "t.csv", line: 2, column: 2, text: "4x", expected: "a finite number"))
        #expect(failure("1,2\n0x10,4\n") != nil)
        #expect(failure("1,2\n3,4,5\n") == .countMismatch(path: "t.csv", field: "number of fields on line 2", expected: 2, actual: 3))
        #expect(failure("1,\"2\n3,4\n") != nil)
        #expect(failure("1,\"2\"x\n") != nil)
        #expect(failure("") == .invalidField(path: "t.csv", field: "contents", value: "no rows", expected: "at least one row of numbers"))
        #expect(failure("a,b\n") == .invalidField(path: "t.csv", field: "contents", value: "a header and no data rows",
                                                  expected: "at least one row of numbers"))
        if case .invalidValue(_, let line, _, _, _)? = failure("a,b\n1,2\n\n3,x\n") {
            #expect(line == 4, "blank lines still count in line numbers")
        } else { Issue.record("bad value accepted") }

        let directory = try DataTestDirectory()
        let path = directory.write("l.csv", Array("x,y\n1,0\n2,1.5\n".utf8))
        #expect(throws: DataError.invalidField(path: path, field: "label (column 2) of data row 2", value: "1.5",
                                               expected: "a class label: a whole number in 0..<65536")) {
            try CSV.readLabeled(contentsOf: path)
        }
        let negative = directory.write("n.csv", Array("1,-1\n".utf8))
        #expect(throws: DataError.self) { try CSV.readLabeled(contentsOf: negative) }
        let huge = directory.write("h.csv", Array("1,1e30\n".utf8))
        #expect(throws: DataError.self) { try CSV.readLabeled(contentsOf: huge) }
        let tooMany = directory.write("c.csv", Array("1,3\n".utf8))
        #expect(throws: DataError.self) { try CSV.readLabeled(contentsOf: tooMany, classCount: 3) }
        #expect(throws: DataError.self) { try CSV.readLabeled(contentsOf: path, features: ["nope"]) }
        #expect(throws: DataError.self) { try CSV.readLabeled(contentsOf: tooMany, label: .named("y")) }
        #expect(throws: DataError.self) { try CSV.read(contentsOf: directory.path("absent.csv")) }
        do {
            _ = try parse("1,2\n3,nan\n")
        } catch {
            #expect(error.description == "t.csv:2: column 2 holds 'nan', expected a finite number")
        }
    }
}
