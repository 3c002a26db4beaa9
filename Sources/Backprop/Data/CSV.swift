#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A numeric table read from a CSV file: every field a finite number, every row the same width.
public struct CSVTable: Sendable, Equatable {
    /// The header row's names, or nil when the file has no header.
    public var columnNames: [String]?
    /// The number of data rows.
    public var rowCount: Int
    /// The number of columns.
    public var columnCount: Int
    /// The values, row-major (`rowCount × columnCount`).
    public var values: [Float]

    /// The index of the column called `name`, if the table has a header with that name.
    public func columnIndex(named name: String) -> Int? {
        columnNames?.firstIndex(of: name)
    }

    /// The values of column `index`.
    public func column(_ index: Int) -> [Float] {
        precondition(index >= 0 && index < columnCount, "CSVTable: column \(index) out of 0..<\(columnCount)")
        return (0..<rowCount).map { values[$0 * columnCount + index] }
    }
}

/// Comma-separated numeric data (RFC 4180 syntax): one example per line, features then a label
/// column, or any columns chosen by the names in a header row.
///
/// Accepted syntax: fields separated by the delimiter (`,` by default); `\n` or `\r\n` line ends;
/// blank lines skipped; spaces around a field ignored; fields may be double-quoted (a quote inside
/// written `""`), but a quoted field may not span lines. A number is an optional sign, digits with
/// an optional decimal point, and an optional exponent (`-1.5e-3`); `nan`, `inf`, hexadecimal and
/// values beyond `Float`'s range are errors, as are empty fields and rows of another width.
/// Every error is a ``DataError`` naming the file, the 1-based line and column, the text found
/// and what was expected.
public enum CSV {
    /// Whether the first non-blank line holds column names.
    public enum HeaderRow: Sendable {
        /// A header if any field of the first line is not a number.
        case automatic
        /// The first line is a header, whatever it holds.
        case present
        /// There is no header: the first line is data.
        case absent
    }

    /// Which column holds the class labels.
    public enum LabelColumn: Sendable, Equatable {
        /// The last column (features then label, the common layout).
        case last
        /// The first column (the layout of the popular MNIST-as-CSV files).
        case first
        /// The column with this name in the header.
        case named(String)
    }

    /// Reads a CSV file of numbers. The file is memory-mapped, not copied, while it is parsed.
    ///
    /// - Throws: ``DataError`` (see the type's documentation); also when the file has no data row.
    public static func read(contentsOf path: String, header: HeaderRow = .automatic,
                            delimiter: UInt8 = UInt8(ascii: ",")) throws(DataError) -> CSVTable {
        let file = try MappedFile(path: path)
        file.advise(.sequential)
        return try file.withUnsafeBytes { (bytes) throws(DataError) in
            try parse(bytes, path: path, header: header, delimiter: delimiter)
        }
    }

    /// Parses CSV text; `path` only labels errors.
    public static func parse(_ text: [UInt8], path: String, header: HeaderRow = .automatic,
                             delimiter: UInt8 = UInt8(ascii: ",")) throws(DataError) -> CSVTable {
        try withBytes(of: text) { (bytes) throws(DataError) in
            try parse(bytes, path: path, header: header, delimiter: delimiter)
        }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, path: String, header: HeaderRow,
                      delimiter: UInt8) throws(DataError) -> CSVTable {
        var names: [String]?
        var values: [Float] = []
        var rows = 0
        var width = 0
        try scan(bytes, path: path, header: header, delimiter: delimiter,
                 onHeader: { names = $0 },
                 onRow: { (row: [Float]) throws(DataError) in
                     values.append(contentsOf: row)
                     rows += 1
                     width = row.count
                 })
        return CSVTable(columnNames: names, rowCount: rows, columnCount: width, values: values)
    }

    /// Reads a labelled classification set: features and integer class labels.
    ///
    /// - Parameters:
    ///   - path: the CSV file.
    ///   - label: the label column. Labels must be whole numbers in 0..<`classCount`.
    ///   - features: the feature columns by header name, in this order; nil means every column
    ///     but the label's.
    ///   - classCount: the number of classes; nil means the largest label + 1.
    ///   - header: whether the first line is a header; by default, when any of its fields is
    ///     not a number.
    ///   - delimiter: the field separator byte (a comma by default).
    /// - Throws: ``DataError`` for any syntax error, a named column the header does not have
    ///   (or names without a header), a label that is not a whole number in range, or no rows.
    public static func readLabeled(contentsOf path: String, label: LabelColumn = .last, features: [String]? = nil,
                                   classCount: Int? = nil, header: HeaderRow = .automatic,
                                   delimiter: UInt8 = UInt8(ascii: ",")) throws(DataError) -> LabeledData {
        let table = try read(contentsOf: path, header: header, delimiter: delimiter)
        return try labeled(table, path: path, label: label, features: features, classCount: classCount)
    }

    /// Splits a table into features and labels (see ``readLabeled(contentsOf:label:features:classCount:header:delimiter:)``).
    public static func labeled(_ table: CSVTable, path: String, label: LabelColumn = .last, features: [String]? = nil,
                               classCount: Int? = nil) throws(DataError) -> LabeledData {
        guard table.columnCount >= 2 else {
            throw .invalidField(path: path, field: "number of columns", value: "\(table.columnCount)",
                                expected: "at least 2 (features and a label)")
        }
        func column(named name: String) throws(DataError) -> Int {
            guard let names = table.columnNames else {
                throw .invalidField(path: path, field: "header row", value: "none",
                                    expected: "a header naming the column '\(name)'")
            }
            guard let index = names.firstIndex(of: name) else {
                throw .invalidField(path: path, field: "column name", value: "'\(name)'",
                                    expected: "one of the header's columns: \(names.joined(separator: ", "))")
            }
            return index
        }
        let labelIndex: Int
        switch label {
        case .last: labelIndex = table.columnCount - 1
        case .first: labelIndex = 0
        case .named(let name): labelIndex = try column(named: name)
        }
        var featureIndices: [Int] = []
        if let features {
            for name in features { featureIndices.append(try column(named: name)) }
            guard !featureIndices.isEmpty else {
                throw .invalidField(path: path, field: "feature columns", value: "none", expected: "at least one column")
            }
        } else {
            featureIndices = (0..<table.columnCount).filter { $0 != labelIndex }
        }
        if let classCount, classCount < 1 {
            throw .invalidField(path: path, field: "class count", value: "\(classCount)", expected: "at least 1")
        }
        // Labels are bounded so that a stray large number cannot make a caller allocate a
        // one-hot matrix of absurd width.
        let limit = classCount ?? 1 << 16
        var labels: [Int32] = []
        labels.reserveCapacity(table.rowCount)
        for r in 0..<table.rowCount {
            let value = table.values[r * table.columnCount + labelIndex]
            guard value == value.rounded(), value >= 0, value < Float(limit) else {
                throw .invalidField(path: path, field: "label (column \(labelIndex + 1)) of data row \(r + 1)", value: "\(value)",
                                    expected: "a class label: a whole number in 0..<\(limit)")
            }
            labels.append(Int32(value))
        }
        let classes = classCount ?? Int(labels.max() ?? 0) + 1
        var x: [Float] = []
        x.reserveCapacity(table.rowCount * featureIndices.count)
        for r in 0..<table.rowCount {
            let base = r * table.columnCount
            for c in featureIndices { x.append(table.values[base + c]) }
        }
        return LabeledData(features: Tensor(shape: [table.rowCount, featureIndices.count], scalars: x),
                           labels: labels, classCount: classes)
    }

    /// Which columns of a regression table hold the targets.
    public enum TargetColumns: Sendable, Equatable {
        /// The last k columns (features, then the targets).
        case last(Int)
        /// The columns with these names in the header, in this order.
        case named([String])
    }

    /// Reads a regression set: features and real-valued targets (every other column is a feature).
    ///
    /// - Returns: the data and the targets' names (from the header; nil without one).
    /// - Throws: ``DataError`` for any syntax error, a target column the file does not have, no
    ///   feature column left, or no rows.
    public static func readRegression(contentsOf path: String, targets: TargetColumns, header: HeaderRow = .automatic,
                                      delimiter: UInt8 = UInt8(ascii: ",")) throws(DataError) -> (data: RegressionData, targetNames: [String]?) {
        let table = try read(contentsOf: path, header: header, delimiter: delimiter)
        return try regression(table, path: path, targets: targets)
    }

    /// Splits a table into features and targets (see ``readRegression(contentsOf:targets:header:delimiter:)``).
    public static func regression(_ table: CSVTable, path: String, targets: TargetColumns) throws(DataError) -> (data: RegressionData, targetNames: [String]?) {
        var targetIndices: [Int] = []
        switch targets {
        case .last(let k):
            guard k >= 1, k < table.columnCount else {
                throw .invalidField(path: path, field: "target columns", value: "the last \(k) of \(table.columnCount)",
                                    expected: "at least 1 target and 1 feature column")
            }
            targetIndices = Array((table.columnCount - k)..<table.columnCount)
        case .named(let names):
            guard let header = table.columnNames else {
                throw .invalidField(path: path, field: "header row", value: "none",
                                    expected: "a header naming the target columns \(names.joined(separator: ", "))")
            }
            for name in names {
                guard let index = header.firstIndex(of: name) else {
                    throw .invalidField(path: path, field: "target column", value: "'\(name)'",
                                        expected: "one of the header's columns: \(header.joined(separator: ", "))")
                }
                guard !targetIndices.contains(index) else {
                    throw .invalidField(path: path, field: "target column", value: "'\(name)' twice", expected: "each target once")
                }
                targetIndices.append(index)
            }
            guard !names.isEmpty, targetIndices.count < table.columnCount else {
                throw .invalidField(path: path, field: "target columns", value: "\(names.count) of \(table.columnCount)",
                                    expected: "at least 1 target and 1 feature column")
            }
        }
        let featureIndices = (0..<table.columnCount).filter { !targetIndices.contains($0) }
        var x: [Float] = [], t: [Float] = []
        x.reserveCapacity(table.rowCount * featureIndices.count)
        t.reserveCapacity(table.rowCount * targetIndices.count)
        for r in 0..<table.rowCount {
            let base = r * table.columnCount
            for c in featureIndices { x.append(table.values[base + c]) }
            for c in targetIndices { t.append(table.values[base + c]) }
        }
        let data = RegressionData(features: Tensor(shape: [table.rowCount, featureIndices.count], scalars: x),
                                  targets: Tensor(shape: [table.rowCount, targetIndices.count], scalars: t))
        return (data, table.columnNames.map { names in targetIndices.map { names[$0] } })
    }

    /// The streaming core: calls `onHeader` with the header's names (if any) and `onRow` with
    /// each data row's values, so a converter can write rows out as they are parsed.
    static func scan(_ bytes: UnsafeRawBufferPointer, path: String, header: HeaderRow, delimiter: UInt8,
                     onHeader: ([String]) -> Void,
                     onRow: ([Float]) throws(DataError) -> Void) throws(DataError) {
        // A UTF-8 byte-order mark (as spreadsheet programs write) is not part of the first field:
        // read with it, a header's first name or a first data row's first number is garbled.
        var position = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
        var line = 0
        var width: Int?
        var fields: [(start: Int, end: Int, quoted: Bool)] = []
        var row: [Float] = []
        var sawHeaderLine = false
        var rows = 0
        var number = NumberParser()
        while position < bytes.count {
            line += 1
            // Find the line's end.
            var end = position
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            let next = end + 1
            var lineEnd = end
            if lineEnd > position, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            defer { position = next }
            // Skip blank lines.
            var blank = true
            for i in position..<lineEnd where bytes[i] != 0x20 && bytes[i] != 0x09 { blank = false; break }
            if blank { continue }

            try splitFields(bytes, from: position, to: lineEnd, delimiter: delimiter, path: path, line: line, into: &fields)
            if let width, fields.count != width {
                throw .countMismatch(path: path, field: "number of fields on line \(line)", expected: width, actual: fields.count)
            }
            width = fields.count

            if !sawHeaderLine {
                sawHeaderLine = true
                let isHeader: Bool
                switch header {
                case .present: isHeader = true
                case .absent: isHeader = false
                case .automatic:
                    isHeader = fields.contains { f in number.parse(bytes, f.start, f.end) == nil }
                }
                if isHeader {
                    onHeader(fields.map { f in String(decoding: UnsafeRawBufferPointer(rebasing: bytes[f.start..<f.end]), as: UTF8.self) })
                    continue
                }
            }
            row.removeAll(keepingCapacity: true)
            for (column, f) in fields.enumerated() {
                guard let value = number.parse(bytes, f.start, f.end) else {
                    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[f.start..<min(f.end, f.start + 40)]), as: UTF8.self)
                    throw .invalidValue(path: path, line: line, column: column + 1, text: text,
                                        expected: f.start == f.end ? "a number (the field is empty)" : "a finite number")
                }
                row.append(value)
            }
            try onRow(row)
            rows += 1
        }
        guard rows > 0 else {
            throw .invalidField(path: path, field: "contents", value: sawHeaderLine ? "a header and no data rows" : "no rows",
                                expected: "at least one row of numbers")
        }
    }

    /// Splits one line into field ranges (quotes removed from quoted fields; `""` escapes are left
    /// in, which only matters for header names).
    private static func splitFields(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, delimiter: UInt8,
                                    path: String, line: Int,
                                    into fields: inout [(start: Int, end: Int, quoted: Bool)]) throws(DataError) {
        fields.removeAll(keepingCapacity: true)
        var i = start
        while true {
            while i < end, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
            if i < end, bytes[i] == UInt8(ascii: "\"") {
                let open = i
                i += 1
                let contentStart = i
                while true {
                    guard i < end else {
                        throw .invalidValue(path: path, line: line, column: fields.count + 1,
                                            text: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[open..<min(end, open + 40)]), as: UTF8.self),
                                            expected: "a closing quote on the same line")
                    }
                    if bytes[i] == UInt8(ascii: "\"") {
                        if i + 1 < end, bytes[i + 1] == UInt8(ascii: "\"") { i += 2; continue }
                        break
                    }
                    i += 1
                }
                fields.append((contentStart, i, true))
                i += 1
                while i < end, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
                if i < end, bytes[i] != delimiter {
                    throw .invalidValue(path: path, line: line, column: fields.count,
                                        text: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[open..<min(end, open + 40)]), as: UTF8.self),
                                        expected: "a delimiter after the closing quote")
                }
            } else {
                let fieldStart = i
                while i < end, bytes[i] != delimiter { i += 1 }
                var fieldEnd = i
                while fieldEnd > fieldStart, bytes[fieldEnd - 1] == 0x20 || bytes[fieldEnd - 1] == 0x09 { fieldEnd -= 1 }
                fields.append((fieldStart, fieldEnd, false))
            }
            guard i < end else { return }
            i += 1  // the delimiter
        }
    }

    /// Strict decimal number parsing: the syntax is checked here, the value comes from `strtod`
    /// (correctly rounded), then narrowed to `Float` and required finite.
    struct NumberParser {
        private var buffer = [CChar](repeating: 0, count: 64)

        mutating func parse(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Float? {
            let n = end - start
            guard n > 0, n < 63 else { return nil }
            var i = start
            if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            var digits = 0
            while i < end, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1; digits += 1 }
            if i < end, bytes[i] == UInt8(ascii: ".") {
                i += 1
                while i < end, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1; digits += 1 }
            }
            guard digits > 0 else { return nil }
            if i < end, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < end, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                var exponentDigits = 0
                while i < end, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1; exponentDigits += 1 }
                guard exponentDigits > 0 else { return nil }
            }
            guard i == end else { return nil }
            for k in 0..<n { buffer[k] = CChar(bitPattern: bytes[start + k]) }
            buffer[n] = 0
            guard let value = buffer.withUnsafeBufferPointer({ $0.baseAddress.map { strtod($0, nil) } }) else { return nil }
            let narrowed = Float(value)
            return narrowed.isFinite ? narrowed : nil
        }
    }
}
