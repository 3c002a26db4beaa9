import Foundation

/// A point in pixel coordinates: x to the right, y down; pixel (i, j) covers [i, i+1) × [j, j+1).
public struct PixelPoint: Sendable, Equatable {
    /// The horizontal coordinate, growing to the right.
    public var x: Double
    /// The vertical coordinate, growing downwards.
    public var y: Double
    /// A point at (x, y).
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// A rectangle in pixel coordinates.
public struct PixelRect: Sendable, Equatable {
    /// The left edge.
    public var x: Double
    /// The top edge.
    public var y: Double
    /// The width (a rectangle of width 0 contains only its edge).
    public var width: Double
    /// The height.
    public var height: Double
    /// A rectangle from its top-left corner and size.
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    /// The left edge, ``x``.
    public var minX: Double { x }
    /// The top edge, ``y``.
    public var minY: Double { y }
    /// The right edge, x + width.
    public var maxX: Double { x + width }
    /// The bottom edge, y + height.
    public var maxY: Double { y + height }
    /// The horizontal centre.
    public var midX: Double { x + width / 2 }
    /// The vertical centre.
    public var midY: Double { y + height / 2 }
    /// Whether `p` lies inside or on the edge.
    public func contains(_ p: PixelPoint) -> Bool { p.x >= minX && p.x <= maxX && p.y >= minY && p.y <= maxY }
    /// The rectangle shrunk by `dx` on the left and right and `dy` at the top and bottom (grown for
    /// negative insets); the size never goes below 0.
    public func insetBy(dx: Double, dy: Double) -> PixelRect {
        PixelRect(x: x + dx, y: y + dy, width: max(0, width - 2 * dx), height: max(0, height - 2 * dy))
    }
    func intersection(_ o: PixelRect) -> PixelRect {
        let x0 = max(minX, o.minX), y0 = max(minY, o.minY)
        let x1 = min(maxX, o.maxX), y1 = min(maxY, o.maxY)
        return PixelRect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }
}

/// An RGBA raster with anti-aliased drawing: filled rectangles and polygons, thick and dashed
/// polylines, discs, bitmap text and scaled images, composited with alpha blending inside a clip
/// rectangle. Pixels are stored premultiplied, as floats.
public struct Canvas: Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    var data: [Float]
    /// Drawing outside this rectangle is discarded.
    public var clip: PixelRect
    /// What ``drawText(_:at:scale:color:rotated:bold:)`` draws with.
    public var typeface: Typeface = .standard

    /// A canvas filled with `background`.
    ///
    /// - Precondition: positive sizes.
    public init(width: Int, height: Int, background: Color = .white) {
        precondition(width > 0 && height > 0, "Canvas: size \(width)×\(height)")
        self.width = width
        self.height = height
        let a = Float(background.alpha)
        let px: [Float] = [Float(background.red) * a, Float(background.green) * a, Float(background.blue) * a, a]
        data = [Float](unsafeUninitializedCapacity: width * height * 4) { buffer, count in
            for i in 0..<(width * height) { for c in 0..<4 { buffer[4 * i + c] = px[c] } }
            count = width * height * 4
        }
        clip = PixelRect(x: 0, y: 0, width: Double(width), height: Double(height))
    }

    /// The colour of pixel (`x`, `y`), straight alpha.
    public func color(x: Int, y: Int) -> Color {
        let i = 4 * (y * width + x)
        let a = Double(data[i + 3])
        guard a > 0 else { return .clear }
        return Color(red: Double(data[i]) / a, green: Double(data[i + 1]) / a, blue: Double(data[i + 2]) / a, alpha: a)
    }

    /// The canvas as an 8-bit RGBA image.
    public func image() -> PNGImage {
        var bytes = [UInt8](repeating: 0, count: width * height * 4)
        for i in 0..<(width * height) {
            let a = data[4 * i + 3]
            let inv: Float = a > 0 ? 1 / a : 0
            for c in 0..<3 { bytes[4 * i + c] = UInt8(max(0, min(255, (data[4 * i + c] * inv * 255).rounded()))) }
            bytes[4 * i + 3] = UInt8(max(0, min(255, (a * 255).rounded())))
        }
        return PNGImage(width: width, height: height, format: .rgba, pixels: bytes)
    }

    /// The clip rectangle in whole pixels: x0..<x1, y0..<y1.
    var clipBounds: (x0: Int, y0: Int, x1: Int, y1: Int) {
        (max(0, Int(clip.minX.rounded(.down))), max(0, Int(clip.minY.rounded(.down))),
         min(width, Int(clip.maxX.rounded(.up))), min(height, Int(clip.maxY.rounded(.up))))
    }

    /// Composites `color` over pixel (x, y) with the given coverage (0...1).
    @inline(__always)
    mutating func blend(x: Int, y: Int, color: Color, coverage: Float) {
        let a = Float(color.alpha) * coverage
        guard a > 0 else { return }
        let i = 4 * (y * width + x)
        let k = 1 - a
        data[i] = Float(color.red) * a + data[i] * k
        data[i + 1] = Float(color.green) * a + data[i + 1] * k
        data[i + 2] = Float(color.blue) * a + data[i + 2] * k
        data[i + 3] = a + data[i + 3] * k
    }

    /// Fills `rect`, with partial coverage at fractional edges.
    public mutating func fill(_ rect: PixelRect, color: Color) {
        let r = rect.intersection(clip)
        guard r.width > 0, r.height > 0 else { return }
        let x0 = Int(r.minX.rounded(.down)), x1 = Int(r.maxX.rounded(.up))
        let y0 = Int(r.minY.rounded(.down)), y1 = Int(r.maxY.rounded(.up))
        for y in max(0, y0)..<min(height, y1) {
            let cy = min(r.maxY, Double(y + 1)) - max(r.minY, Double(y))
            for x in max(0, x0)..<min(width, x1) {
                let cx = min(r.maxX, Double(x + 1)) - max(r.minX, Double(x))
                blend(x: x, y: y, color: color, coverage: Float(cx * cy))
            }
        }
    }

    /// Fills a polygon (non-zero winding), anti-aliased.
    public mutating func fillPolygon(_ points: [PixelPoint], color: Color) {
        guard points.count >= 3, var mask = CoverageMask(bounding: points, margin: 1, clip: clipBounds) else { return }
        mask.addPolygon(points)
        composite(mask, color: color)
    }

    /// Strokes polylines of `width` pixels with round joins and butt ends, optionally dashed
    /// (`dash` alternates on and off lengths in pixels). Overlaps within one call are drawn once,
    /// so translucent lines do not darken where they cross themselves.
    public mutating func stroke(_ paths: [[PixelPoint]], color: Color, width: Double = 1, dash: [Double]? = nil) {
        let pieces = dash.map { pattern in paths.flatMap { Self.dashed($0, pattern) } } ?? paths
        let all = pieces.flatMap { $0 }
        guard !all.isEmpty, var mask = CoverageMask(bounding: all, margin: width / 2 + 2, clip: clipBounds) else { return }
        let h = width / 2
        for path in pieces {
            if path.count == 1 { mask.addDisc(center: path[0], radius: h); continue }
            for i in 0..<(path.count - 1) {
                let a = path[i], b = path[i + 1]
                let dx = b.x - a.x, dy = b.y - a.y, len = (dx * dx + dy * dy).squareRoot()
                guard len > 1e-9 else { continue }
                let nx = -dy / len * h, ny = dx / len * h
                mask.addPolygon([PixelPoint(x: a.x + nx, y: a.y + ny), PixelPoint(x: b.x + nx, y: b.y + ny),
                                 PixelPoint(x: b.x - nx, y: b.y - ny), PixelPoint(x: a.x - nx, y: a.y - ny)])
                if i > 0 && width > 1.5 { mask.addDisc(center: a, radius: h) }
            }
        }
        composite(mask, color: color)
    }

    /// Fills a disc.
    public mutating func fillCircle(center: PixelPoint, radius: Double, color: Color) {
        guard var mask = CoverageMask(bounding: [center], margin: radius + 2, clip: clipBounds) else { return }
        mask.addDisc(center: center, radius: radius)
        composite(mask, color: color)
    }

    /// Draws `text` in ``typeface`` with its box's top-left corner at `origin` (rounded to whole
    /// pixels); `rotated` draws it reading upwards, the origin then being the top-left of the
    /// rotated box. `scale` is the layout's text scale (``Typeface``: an em of 7·scale pixels).
    public mutating func drawText(_ text: String, at origin: PixelPoint, scale: Int = 1, color: Color,
                                  rotated: Bool = false, bold: Bool = false) {
        let typeface = self.typeface
        typeface.draw(text, into: &self, at: origin, scale: scale, color: color, rotated: rotated, bold: bold)
    }

    /// `text` in the 5×7 bitmap font at an integer scale, every set pixel covered whole;
    /// `bold` doubles every stroke one pixel to the right.
    mutating func drawBitmapText(_ text: String, at origin: PixelPoint, scale: Int, color: Color,
                                 rotated: Bool, bold: Bool) {
        let ox = Int(origin.x.rounded()), oy = Int(origin.y.rounded())
        let textWidth = BitmapFont.size(of: text, scale: scale).width + (bold ? 1 : 0)
        let b = clipBounds
        var pen = 0
        for character in text {
            let columns = BitmapFont.columns(character)
            for column in 0..<BitmapFont.glyphWidth {
                let bits = columns[column]
                guard bits != 0 else { continue }
                for row in 0..<BitmapFont.glyphHeight where bits >> UInt8(row) & 1 == 1 {
                    let u = pen + column * scale, v = row * scale
                    for du in 0..<(scale + (bold ? 1 : 0)) {
                        for dv in 0..<scale {
                            let x = rotated ? ox + v + dv : ox + u + du
                            let y = rotated ? oy + textWidth - 1 - (u + du) : oy + v + dv
                            guard x >= b.x0, x < b.x1, y >= b.y0, y < b.y1 else { continue }
                            blend(x: x, y: y, color: color, coverage: 1)
                        }
                    }
                }
            }
            pen += BitmapFont.advance * scale
        }
    }

    /// Draws a `columns`×`rows` raster of colours (row 0 at the top) scaled into `rect`:
    /// nearest-neighbour sampling, so each source pixel becomes a sharp block.
    public mutating func drawImage(_ pixels: [Color], columns: Int, rows: Int, in rect: PixelRect) {
        precondition(pixels.count == columns * rows, "Canvas.drawImage: \(pixels.count) pixels for \(columns)×\(rows)")
        let r = rect.intersection(clip)
        guard r.width > 0, r.height > 0, rect.width > 0, rect.height > 0 else { return }
        for y in max(0, Int(r.minY.rounded()))..<min(height, Int(r.maxY.rounded())) {
            let sy = min(rows - 1, max(0, Int((Double(y) + 0.5 - rect.minY) / rect.height * Double(rows))))
            for x in max(0, Int(r.minX.rounded()))..<min(width, Int(r.maxX.rounded())) {
                let sx = min(columns - 1, max(0, Int((Double(x) + 0.5 - rect.minX) / rect.width * Double(columns))))
                blend(x: x, y: y, color: pixels[sy * columns + sx], coverage: 1)
            }
        }
    }

    mutating func composite(_ mask: CoverageMask, color: Color) {
        for my in 0..<mask.height {
            for mx in 0..<mask.width {
                let c = mask.values[my * mask.width + mx]
                if c > 0 { blend(x: mask.x0 + mx, y: mask.y0 + my, color: color, coverage: min(1, c)) }
            }
        }
    }

    /// Splits a polyline into its dashes.
    static func dashed(_ path: [PixelPoint], _ pattern: [Double]) -> [[PixelPoint]] {
        let pattern = pattern.filter { $0 > 0 }
        guard path.count >= 2, !pattern.isEmpty else { return [path] }
        var out: [[PixelPoint]] = []
        var current: [PixelPoint] = [path[0]]
        var index = 0, left = pattern[0], on = true
        for i in 0..<(path.count - 1) {
            var a = path[i]
            let b = path[i + 1]
            var len = ((b.x - a.x) * (b.x - a.x) + (b.y - a.y) * (b.y - a.y)).squareRoot()
            while len > left {
                let t = left / len
                let p = PixelPoint(x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t)
                if on { current.append(p); out.append(current) }
                current = [p]
                len -= left
                a = p
                on.toggle()
                index = (index + 1) % pattern.count
                left = pattern[index]
            }
            left -= len
            if on { current.append(b) }
        }
        if on && current.count >= 2 { out.append(current) }
        return out
    }
}

/// Per-pixel coverage over a rectangle of the canvas, built from polygons and discs; shapes
/// combine by maximum, so overlapping parts of one stroke are not counted twice.
struct CoverageMask {
    let x0: Int, y0: Int, width: Int, height: Int
    var values: [Float]
    /// Sub-scanlines per pixel row; horizontal coverage is exact.
    static let subsamples = 8

    init?(bounding points: [PixelPoint], margin: Double, clip: (x0: Int, y0: Int, x1: Int, y1: Int)) {
        var minX = Double.infinity, minY = Double.infinity, maxX = -Double.infinity, maxY = -Double.infinity
        for p in points where p.x.isFinite && p.y.isFinite {
            minX = min(minX, p.x); maxX = max(maxX, p.x); minY = min(minY, p.y); maxY = max(maxY, p.y)
        }
        guard minX.isFinite else { return nil }
        let bx0 = max(clip.x0, Int(max(-1e7, minX - margin).rounded(.down)))
        let by0 = max(clip.y0, Int(max(-1e7, minY - margin).rounded(.down)))
        let bx1 = min(clip.x1, Int(min(1e7, maxX + margin).rounded(.up)))
        let by1 = min(clip.y1, Int(min(1e7, maxY + margin).rounded(.up)))
        guard bx1 > bx0, by1 > by0 else { return nil }
        x0 = bx0; y0 = by0; width = bx1 - bx0; height = by1 - by0
        values = [Float](repeating: 0, count: width * height)
    }

    mutating func addPolygon(_ points: [PixelPoint]) {
        guard points.count >= 3, points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { return }
        let pminY = points.map(\.y).min()!, pmaxY = points.map(\.y).max()!
        let rowStart = max(0, Int(pminY.rounded(.down)) - y0), rowEnd = min(height, Int(pmaxY.rounded(.up)) - y0)
        guard rowStart < rowEnd else { return }
        // Work only on the columns the polygon spans.
        let columnStart = max(0, Int(points.map(\.x).min()!.rounded(.down)) - x0)
        let columnEnd = min(width, Int(points.map(\.x).max()!.rounded(.up)) - x0 + 1)
        guard columnStart < columnEnd else { return }
        let s = Self.subsamples, weight = 1 / Float(s)
        var row = [Float](repeating: 0, count: width)
        var crossings: [(x: Double, winding: Int)] = []
        for r in rowStart..<rowEnd {
            for i in columnStart..<columnEnd { row[i] = 0 }
            var touched = false
            for k in 0..<s {
                let sy = Double(y0 + r) + (Double(k) + 0.5) / Double(s)
                crossings.removeAll(keepingCapacity: true)
                var j = points.count - 1
                for i in 0..<points.count {
                    let a = points[j], b = points[i]
                    j = i
                    if (a.y <= sy && b.y > sy) || (b.y <= sy && a.y > sy) {
                        let x = a.x + (sy - a.y) * (b.x - a.x) / (b.y - a.y)
                        crossings.append((x, b.y > a.y ? 1 : -1))
                    }
                }
                guard crossings.count >= 2 else { continue }
                crossings.sort { $0.x < $1.x }
                var winding = 0
                for c in 0..<(crossings.count - 1) {
                    winding += crossings[c].winding
                    if winding != 0 {
                        addSpan(&row, crossings[c].x - Double(x0), crossings[c + 1].x - Double(x0), weight)
                        touched = true
                    }
                }
            }
            guard touched else { continue }
            let base = r * width
            for i in columnStart..<columnEnd where row[i] > values[base + i] { values[base + i] = min(1, row[i]) }
        }
    }

    private func addSpan(_ row: inout [Float], _ a: Double, _ b: Double, _ weight: Float) {
        let lo = max(0, a), hi = min(Double(width), b)
        guard hi > lo else { return }
        let first = Int(lo.rounded(.down)), last = min(width - 1, Int(hi.rounded(.down)))
        if first == last { row[first] += Float(hi - lo) * weight; return }
        row[first] += Float(Double(first + 1) - lo) * weight
        if first + 1 < last { for i in (first + 1)..<last { row[i] += weight } }
        if last < width { row[last] += Float(hi - Double(last)) * weight }
    }

    mutating func addDisc(center: PixelPoint, radius: Double) {
        guard center.x.isFinite, center.y.isFinite, radius > 0 else { return }
        let ys = max(0, Int((center.y - radius - 1).rounded(.down)) - y0), ye = min(height, Int((center.y + radius + 1).rounded(.up)) - y0)
        let xs = max(0, Int((center.x - radius - 1).rounded(.down)) - x0), xe = min(width, Int((center.x + radius + 1).rounded(.up)) - x0)
        guard ys < ye, xs < xe else { return }
        for r in ys..<ye {
            let dy = Double(y0 + r) + 0.5 - center.y
            for c in xs..<xe {
                let dx = Double(x0 + c) + 0.5 - center.x
                let d = (dx * dx + dy * dy).squareRoot()
                // Area-like coverage; for tiny discs, scaled down so a dot keeps its true weight.
                var cov = Float(max(0, min(1, radius + 0.5 - d)))
                if radius < 0.5 { cov *= Float(radius * 2) }
                if cov > values[r * width + c] { values[r * width + c] = cov }
            }
        }
    }
}
