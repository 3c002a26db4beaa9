import Foundation

/// The index of an experiments folder: `report.md` and `index.html` beside the experiment
/// folders, showing every experiment's figures, captions and tables. It is built by scanning
/// the folders that hold a `report.md`, so experiments added later appear without changes here.
public enum ExperimentIndex {
    /// One experiment folder's report.
    public struct Entry: Sendable, Equatable {
        /// The folder's name, relative to the root.
        public var folder: String
        /// The report's first `# ` heading (the folder name when there is none).
        public var title: String
        /// The report without its title, with relative links made relative to the root.
        public var body: String
    }

    /// Why the index could not be built.
    public enum IndexError: Error, CustomStringConvertible {
        /// An experiment folder's report could not be read.
        case unreadable(path: String, reason: String)
        /// The root holds no experiment folders (subfolders with a `report.md`).
        case empty(root: String)
        /// The index files could not be written.
        case write(WriteError)

        /// A one-line message naming the folder or file and the cause.
        public var description: String {
            switch self {
            case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
            case let .empty(root): return "\(root): no experiment folders (subfolders with a report.md) to index"
            case let .write(error): return error.description
            }
        }
    }

    /// The experiment folders under `root`, those named in `order` first in that order, then
    /// the rest alphabetically.
    public static func entries(in root: String, order: [String] = []) throws(IndexError) -> [Entry] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: root) } catch {
            throw .unreadable(path: root, reason: error.localizedDescription)
        }
        let folders = names.filter { FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent("\($0)/report.md")) }
        let ranked = folders.sorted { a, b in
            let ra = order.firstIndex(of: a) ?? order.count, rb = order.firstIndex(of: b) ?? order.count
            return ra != rb ? ra < rb : a < b
        }
        var entries: [Entry] = []
        for folder in ranked {
            let path = (root as NSString).appendingPathComponent("\(folder)/report.md")
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw .unreadable(path: path, reason: error.localizedDescription)
            }
            var lines = text.components(separatedBy: "\n")
            var title = folder
            if let first = lines.firstIndex(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }), lines[first].hasPrefix("# ") {
                title = String(lines[first].dropFirst(2)).trimmingCharacters(in: .whitespaces)
                lines.removeSubrange(0...first)
            }
            let body = lines.map { line in line.hasPrefix("#") ? "#" + line : rebase(line, folder: folder) }.joined(separator: "\n")
            entries.append(Entry(folder: folder, title: title, body: body.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return entries
    }

    /// `line` with every relative link target `](name)` prefixed by `folder/`; absolute paths,
    /// URLs and in-page anchors are left alone.
    static func rebase(_ line: String, folder: String) -> String {
        var result = ""
        var rest = Substring(line)
        while let open = rest.range(of: "](") {
            result += rest[..<open.upperBound]
            rest = rest[open.upperBound...]
            let target = rest.prefix { $0 != ")" }
            if !(target.hasPrefix("/") || target.hasPrefix("#") || target.contains("://")) { result += folder + "/" }
        }
        return result + rest
    }

    /// An anchor for a folder name.
    static func anchor(_ folder: String) -> String {
        "exp-" + String(folder.map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }

    /// The combined Markdown report.
    public static func markdown(_ entries: [Entry]) -> String {
        var text = "# Backprop: the course's experiments\n\nEach section is one `backprop experiment NAME` run; its folder holds the figures (PNG and SVG), the numbers (CSV) and its own report.md.\n\n"
        for e in entries { text += "- [\(e.title)](#\(anchor(e.folder))) (`\(e.folder)`)\n" }
        for e in entries { text += "\n<a id=\"\(anchor(e.folder))\"></a>\n\n## \(e.title)\n\nFolder: [\(e.folder)/](\(e.folder)/report.md)\n\n\(e.body)\n" }
        return text
    }

    /// The same content as one HTML page.
    public static func html(_ entries: [Entry]) -> String {
        var page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Backprop experiments</title>
        <style>
        body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
        img { max-width: 100%; border: 1px solid #ddd; }
        figure { margin: 1.5em 0 0.5em 0; }
        table { border-collapse: collapse; margin: 0.5em 0 1.5em 0; font-size: 0.9em; }
        th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
        th { background: #f3f3f3; }
        section { border-top: 2px solid #444; margin-top: 2.5em; }
        </style></head><body>
        <h1>Backprop: the course's experiments</h1>
        <p>Each section is one <code>backprop experiment NAME</code> run; its folder holds the figures (PNG and SVG), the numbers (CSV) and its own report.md.</p>
        <ul>

        """
        for e in entries { page += "<li><a href=\"#\(anchor(e.folder))\">\(escape(e.title))</a> (<code>\(escape(e.folder))</code>)</li>\n" }
        page += "</ul>\n"
        for e in entries {
            page += "<section id=\"\(anchor(e.folder))\">\n<h2>\(escape(e.title))</h2>\n"
            page += "<p>Folder: <a href=\"\(escape(e.folder))/report.md\">\(escape(e.folder))/</a></p>\n"
            page += htmlBody(e.body) + "</section>\n"
        }
        return page + "</body></html>\n"
    }

    /// The Markdown that ``ExperimentOutput`` writes (headings, figure lines, paragraphs with
    /// links, pipe tables) as HTML.
    static func htmlBody(_ markdown: String) -> String {
        var html = "", paragraph: [String] = [], table: [String] = []
        func flush() {
            if !paragraph.isEmpty { html += "<p>\(inline(paragraph.joined(separator: " ")))</p>\n"; paragraph = [] }
            if !table.isEmpty {
                let rows = table.filter { !$0.replacingOccurrences(of: " ", with: "").allSatisfy { "|-:".contains($0) } }
                html += "<table>\n"
                for (i, row) in rows.enumerated() {
                    let cells = row.trimmingCharacters(in: .whitespaces).dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false)
                    let tag = i == 0 ? "th" : "td"
                    html += "<tr>" + cells.map { "<\(tag)>\(inline($0.trimmingCharacters(in: .whitespaces)))</\(tag)>" }.joined() + "</tr>\n"
                }
                html += "</table>\n"
                table = []
            }
        }
        for line in markdown.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("|") { if !paragraph.isEmpty { flush() }; table.append(trimmed); continue }
            flush()
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("#") {
                let level = min(6, trimmed.prefix { $0 == "#" }.count)
                html += "<h\(level)>\(inline(trimmed.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)))</h\(level)>\n"
            } else if trimmed.hasPrefix("!["), trimmed.hasSuffix(")"), let split = trimmed.range(of: "](", options: .backwards) {
                // The last "](" : a caption (the alt text) may itself hold links.
                let source = String(trimmed[split.upperBound...].dropLast())
                let alt = String(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 2)..<split.lowerBound])
                html += "<figure><a href=\"\(escape(source))\"><img src=\"\(escape(source))\" alt=\"\(escape(alt))\"></a></figure>\n"
            } else if trimmed.hasPrefix("<a id=") {
                html += trimmed + "\n"
            } else {
                paragraph.append(trimmed)
            }
        }
        flush()
        return html
    }

    /// Escapes text and turns `[text](href)` into links and `` `code` `` into code.
    static func inline(_ text: String) -> String {
        var out = "", rest = Substring(text)
        while let open = rest.firstIndex(where: { $0 == "[" || $0 == "`" }) {
            out += escape(String(rest[..<open]))
            if rest[open] == "`", let close = rest[rest.index(after: open)...].firstIndex(of: "`") {
                out += "<code>\(escape(String(rest[rest.index(after: open)..<close])))</code>"
                rest = rest[rest.index(after: close)...]
            } else if rest[open] == "[", let middle = rest[open...].range(of: "]("),
                      let close = rest[middle.upperBound...].firstIndex(of: ")") {
                let label = String(rest[rest.index(after: open)..<middle.lowerBound])
                let href = String(rest[middle.upperBound..<close])
                out += "<a href=\"\(escape(href))\">\(escape(label))</a>"
                rest = rest[rest.index(after: close)...]
            } else {
                out += escape(String(rest[open]))
                rest = rest[rest.index(after: open)...]
            }
        }
        return out + escape(String(rest))
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Writes `root`/report.md and `root`/index.html for the experiment folders under `root`.
    ///
    /// - Returns: the entries indexed.
    /// - Throws: ``IndexError`` when `root` cannot be read, holds no experiment folder, or the
    ///   files cannot be written.
    @discardableResult
    public static func write(root: String, order: [String] = []) throws(IndexError) -> [Entry] {
        let found = try entries(in: root, order: order)
        guard !found.isEmpty else { throw .empty(root: root) }
        do {
            try AtomicFile.write(Array(markdown(found).utf8), to: (root as NSString).appendingPathComponent("report.md"))
            try AtomicFile.write(Array(html(found).utf8), to: (root as NSString).appendingPathComponent("index.html"))
        } catch {
            throw .write(error)
        }
        return found
    }
}
