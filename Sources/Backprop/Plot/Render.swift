import Foundation

enum TextAlign { case start, middle, end }
enum TextBaseline { case top, middle, bottom }

/// What a figure draws with: the same calls paint a ``Canvas`` or write an SVG document, so
/// both outputs share one layout.
protocol RenderTarget {
    /// What text is measured and drawn with (the figure's ``Theme/typeface``).
    var typeface: Typeface { get set }
    mutating func fill(_ rect: PixelRect, _ color: Color)
    mutating func fillPolygon(_ points: [PixelPoint], _ color: Color)
    mutating func stroke(_ paths: [[PixelPoint]], _ color: Color, width: Double, dash: [Double]?)
    mutating func circle(_ center: PixelPoint, radius: Double, fill: Color)
    /// Text in the bitmap font, positioned by `align` (horizontal) and `valign` (vertical)
    /// relative to `point`; `rotated` text reads upwards, aligned the same way around its box.
    mutating func text(_ string: String, at point: PixelPoint, align: TextAlign, valign: TextBaseline,
                       scale: Int, color: Color, rotated: Bool, bold: Bool)
    /// Colours row-major, row 0 at the top, stretched over `rect` without smoothing.
    mutating func raster(_ pixels: [Color], columns: Int, rows: Int, in rect: PixelRect)
    /// Restricts later drawing to `rect`, or lifts the restriction.
    mutating func clip(to rect: PixelRect?)
    /// Marks the start and end of one series (a group with a title in SVG).
    mutating func beginGroup(_ name: String)
    mutating func endGroup()
}

extension RenderTarget {
    mutating func text(_ string: String, at point: PixelPoint, align: TextAlign = .start, valign: TextBaseline = .top,
                       scale: Int, color: Color, rotated: Bool = false, bold: Bool = false) {
        text(string, at: point, align: align, valign: valign, scale: scale, color: color, rotated: rotated, bold: bold)
    }
}

/// The text box's top-left corner for an aligned, possibly rotated, string.
func textOrigin(_ string: String, at p: PixelPoint, align: TextAlign, valign: TextBaseline, scale: Int,
                rotated: Bool, bold: Bool, typeface: Typeface) -> PixelPoint {
    let size = typeface.size(of: string, scale: scale, bold: bold)
    let w = Double(rotated ? size.height : size.width), h = Double(rotated ? size.width : size.height)
    let x: Double = align == .start ? p.x : align == .middle ? p.x - w / 2 : p.x - w
    let y: Double = valign == .top ? p.y : valign == .middle ? p.y - h / 2 : p.y - h
    return PixelPoint(x: x, y: y)
}

extension Canvas: RenderTarget {
    mutating func fill(_ rect: PixelRect, _ color: Color) { fill(rect, color: color) }
    mutating func fillPolygon(_ points: [PixelPoint], _ color: Color) { fillPolygon(points, color: color) }
    mutating func stroke(_ paths: [[PixelPoint]], _ color: Color, width: Double, dash: [Double]?) {
        stroke(paths, color: color, width: width, dash: dash)
    }
    mutating func circle(_ center: PixelPoint, radius: Double, fill: Color) {
        fillCircle(center: center, radius: radius, color: fill)
    }
    mutating func text(_ string: String, at point: PixelPoint, align: TextAlign, valign: TextBaseline,
                       scale: Int, color: Color, rotated: Bool, bold: Bool) {
        let origin = textOrigin(string, at: point, align: align, valign: valign, scale: scale, rotated: rotated,
                                bold: bold, typeface: typeface)
        drawText(string, at: origin, scale: scale, color: color, rotated: rotated, bold: bold)
    }
    mutating func raster(_ pixels: [Color], columns: Int, rows: Int, in rect: PixelRect) {
        drawImage(pixels, columns: columns, rows: rows, in: rect)
    }
    mutating func clip(to rect: PixelRect?) {
        clip = rect ?? PixelRect(x: 0, y: 0, width: Double(width), height: Double(height))
    }
    mutating func beginGroup(_ name: String) {}
    mutating func endGroup() {}
}

/// An SVG document built by the same drawing calls as a canvas.
struct SVGDocument: RenderTarget {
    let width: Int
    let height: Int
    private var body: [String] = []
    private var clipCount = 0
    private var clipOpen = false
    var typeface: Typeface = .standard

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    func finished() -> String {
        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" \
        width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)">

        """
        s += body.joined(separator: "\n")
        if clipOpen { s += "\n</g>" }
        s += "\n</svg>\n"
        return s
    }

    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(format: "%.2f", r)
    }

    static func escaped(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 forbids most control characters.
                if let a = c.asciiValue, a < 32 { out += " " } else { out.append(c) }
            }
        }
        return out
    }

    private func paint(_ color: Color, _ attribute: String) -> String {
        let opacity = color.alpha < 1 ? " \(attribute)-opacity=\"\(Self.number(color.alpha))\"" : ""
        return "\(attribute)=\"\(color.hexString)\"\(opacity)"
    }

    mutating func fill(_ rect: PixelRect, _ color: Color) {
        guard rect.width > 0, rect.height > 0, color.alpha > 0 else { return }
        let n = Self.number
        body.append("<rect x=\"\(n(rect.x))\" y=\"\(n(rect.y))\" width=\"\(n(rect.width))\" height=\"\(n(rect.height))\" \(paint(color, "fill"))/>")
    }

    mutating func fillPolygon(_ points: [PixelPoint], _ color: Color) {
        guard points.count >= 3 else { return }
        let list = points.map { "\(Self.number($0.x)),\(Self.number($0.y))" }.joined(separator: " ")
        body.append("<polygon points=\"\(list)\" \(paint(color, "fill"))/>")
    }

    mutating func stroke(_ paths: [[PixelPoint]], _ color: Color, width: Double, dash: [Double]?) {
        let dashAttribute = dash.map { " stroke-dasharray=\"\($0.map(Self.number).joined(separator: ","))\"" } ?? ""
        for path in paths where !path.isEmpty {
            if path.count == 1 {
                circle(path[0], radius: width / 2, fill: color)
                continue
            }
            let list = path.map { "\(Self.number($0.x)),\(Self.number($0.y))" }.joined(separator: " ")
            body.append("<polyline points=\"\(list)\" fill=\"none\" \(paint(color, "stroke")) stroke-width=\"\(Self.number(width))\" stroke-linejoin=\"round\"\(dashAttribute)/>")
        }
    }

    mutating func circle(_ center: PixelPoint, radius: Double, fill: Color) {
        body.append("<circle cx=\"\(Self.number(center.x))\" cy=\"\(Self.number(center.y))\" r=\"\(Self.number(radius))\" \(paint(fill, "fill"))/>")
    }

    mutating func text(_ string: String, at point: PixelPoint, align: TextAlign, valign: TextBaseline,
                       scale: Int, color: Color, rotated: Bool, bold: Bool) {
        guard !string.isEmpty else { return }
        // The same box as the PNG's: measured with the figure's typeface, and named first in the
        // font-family list at the same em (the bitmap font's 7-unit glyphs match a monospace
        // font of size 10 units).
        let origin = textOrigin(string, at: point, align: align, valign: valign, scale: scale, rotated: rotated,
                                bold: bold, typeface: typeface)
        let size = typeface.size(of: string, scale: scale, bold: bold)
        let weight = bold ? " font-weight=\"bold\"" : ""
        let em = typeface.isBitmap ? 10 * scale : Typeface.pixelSize(scale: scale)
        let font = "font-family=\"\(typeface.svgFamily)\" font-size=\"\(em)\"\(weight) \(paint(color, "fill"))"
        let n = Self.number
        if rotated {
            let cx = origin.x + Double(size.height) / 2, cy = origin.y + Double(size.width) / 2
            body.append("<text transform=\"translate(\(n(cx)),\(n(cy))) rotate(-90)\" x=\"0\" y=\"\(n(typeface.ascent(scale: scale) - Double(size.height) / 2))\" text-anchor=\"middle\" \(font)>\(Self.escaped(string))</text>")
        } else {
            let cx = origin.x + Double(size.width) / 2, baseline = origin.y + typeface.ascent(scale: scale)
            body.append("<text x=\"\(n(cx))\" y=\"\(n(baseline))\" text-anchor=\"middle\" \(font)>\(Self.escaped(string))</text>")
        }
    }

    mutating func raster(_ pixels: [Color], columns: Int, rows: Int, in rect: PixelRect) {
        var bytes = [UInt8](repeating: 0, count: columns * rows * 4)
        for (i, c) in pixels.enumerated() {
            let b = c.bytes
            bytes[4 * i] = b.r; bytes[4 * i + 1] = b.g; bytes[4 * i + 2] = b.b; bytes[4 * i + 3] = b.a
        }
        guard let png = try? PNGImage(width: columns, height: rows, format: .rgba, pixels: bytes).encoded() else { return }
        let data = Data(png).base64EncodedString()
        let n = Self.number
        body.append("<image x=\"\(n(rect.x))\" y=\"\(n(rect.y))\" width=\"\(n(rect.width))\" height=\"\(n(rect.height))\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" xlink:href=\"data:image/png;base64,\(data)\"/>")
    }

    mutating func clip(to rect: PixelRect?) {
        if clipOpen { body.append("</g>"); clipOpen = false }
        guard let rect else { return }
        clipCount += 1
        let n = Self.number
        body.append("<clipPath id=\"clip\(clipCount)\"><rect x=\"\(n(rect.x))\" y=\"\(n(rect.y))\" width=\"\(n(rect.width))\" height=\"\(n(rect.height))\"/></clipPath>")
        body.append("<g clip-path=\"url(#clip\(clipCount))\">")
        clipOpen = true
    }

    mutating func beginGroup(_ name: String) {
        body.append("<g class=\"series\"><title>\(Self.escaped(name))</title>")
    }

    mutating func endGroup() {
        body.append("</g>")
    }
}
