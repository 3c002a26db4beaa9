import Foundation

/// What an experiment leaves in its output folder: PNG and SVG figures, the numbers behind them
/// as CSV, and a Markdown report that shows each figure with its caption and numbers.
public final class ExperimentOutput {
    /// The folder the files are written to.
    public let directory: String
    /// The report's title, its first heading.
    public let title: String
    private var sections: [String] = []

    /// Creates the output folder (and its parents) if needed.
    ///
    /// - Throws: ``WriteError`` when the folder cannot be created.
    public init(directory: String, title: String) throws(WriteError) {
        self.directory = directory
        self.title = title
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotWrite(path: directory, reason: error.localizedDescription)
        }
    }

    /// The path of a file in the output folder.
    public func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// Writes `figure` as NAME.png and NAME.svg and adds it to the report with its caption.
    public func add(_ figure: Figure, name: String, caption: String) throws(WriteError) {
        try figure.write(png: path("\(name).png"))
        try figure.write(svg: path("\(name).svg"))
        sections.append("![\(caption)](\(name).png)\n\n\(caption)\n")
    }

    /// Writes rows as NAME.csv (atomically) and adds a link to the report.
    public func add(table rows: [[String]], header: [String], name: String, caption: String) throws(WriteError) {
        let text = ([header] + rows).map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
        try AtomicFile.write(Array(text.utf8), to: path("\(name).csv"))
        var markdown = "| " + header.joined(separator: " | ") + " |\n|" + String(repeating: " --- |", count: header.count) + "\n"
        for row in rows.prefix(40) { markdown += "| " + row.joined(separator: " | ") + " |\n" }
        sections.append("\(caption) ([\(name).csv](\(name).csv))\n\n\(markdown)")
    }

    /// Adds a paragraph to the report.
    public func add(text: String) { sections.append(text + "\n") }

    /// Writes report.md.
    public func writeReport() throws(WriteError) {
        let body = "# \(title)\n\n" + sections.joined(separator: "\n")
        try AtomicFile.write(Array(body.utf8), to: path("report.md"))
    }
}
