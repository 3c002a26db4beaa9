import Foundation

/// The finite extent of some values along one axis.
struct Extent {
    var lo = Double.infinity
    var hi = -Double.infinity
    var isEmpty: Bool { lo > hi }
    mutating func add(_ v: Double, scale: AxisScale) {
        guard v.isFinite, scale == .linear || v > 0 else { return }
        lo = min(lo, v); hi = max(hi, v)
    }
    mutating func add(_ values: [Double], scale: AxisScale) { for v in values { add(v, scale: scale) } }
}

/// How a field layer turns values into colours, shared by its raster and its colour bar.
struct FieldColoring {
    let map: ColorMap
    let range: ClosedRange<Double>
    let scale: AxisScale
    let levels: [Double]?
    let opacity: Double

    init(grid: Grid2D, map: ColorMap, range: ClosedRange<Double>?, scale: AxisScale, levels: [Double]?, opacity: Double) {
        self.map = map
        self.scale = scale
        self.levels = levels
        self.opacity = opacity
        if let range {
            self.range = range
        } else {
            var e = Extent()
            e.add(grid.values, scale: scale)
            var lo = e.isEmpty ? 0 : e.lo, hi = e.isEmpty ? 1 : e.hi
            if map.isDiverging && scale == .linear { let m = max(abs(lo), abs(hi)); lo = -m; hi = m }
            if hi <= lo { hi = lo + (scale == .log ? lo : 1) }
            self.range = lo...hi
        }
    }

    /// Position of `v` in the range, 0…1 (NaN when it cannot be shown).
    func normalized(_ v: Double) -> Double {
        let p0 = scale.position(range.lowerBound), p1 = scale.position(range.upperBound)
        return (scale.position(v) - p0) / (p1 - p0)
    }

    func color(_ v: Double) -> Color {
        guard v.isFinite, scale == .linear || v > 0 else { return .clear }
        var c: Color
        if let levels, !levels.isEmpty {
            // The band's colour is that of its middle value, so bands match the colour bar.
            var b = 0
            while b < levels.count && levels[b] <= v { b += 1 }
            let lower = b == 0 ? min(range.lowerBound, levels[0]) : levels[b - 1]
            let upper = b == levels.count ? max(range.upperBound, levels[levels.count - 1]) : levels[b]
            let mid = scale.value((scale.position(lower) + scale.position(upper)) / 2)
            c = map.color(at: normalized(mid))
        } else {
            c = map.color(at: normalized(v))
        }
        return c.opacity(opacity)
    }
}

/// A legend swatch.
enum Swatch {
    case line(Color, LineStyle, MarkerShape?)
    case marker(MarkerShape, Color)
    case box(Color)
}

/// A panel placed in its cell: the plot area, data ranges, ticks and resolved colours.
struct PanelLayout {
    let panel: Panel
    let theme: Theme
    let cell: PixelRect
    var transform: PlotTransform
    var showsAxes: Bool
    var xTicks: [Double] = [], xLabels: [String] = []
    var yTicks: [Double] = [], yLabels: [String] = []
    var yLabelWidth: Double = 0
    var colors: [Color] = []
    var colorBar: FieldColoring?
    var colorBarTicks: [Double] = [], colorBarLabels: [String] = []
    var categories: [String]?
    /// Scale of the x tick labels: smaller than the theme's when category names are long.
    var xLabelScale: Int = 1

    var fontScale: Int { theme.fontScale }
    var charHeight: Double { theme.typeface.lineHeight(scale: theme.fontScale) }
    static let tickLength = 5.0
    static let tickGap = 4.0
    static let colorBarWidth = 14.0

    init(panel: Panel, cell: PixelRect, theme: Theme) {
        self.panel = panel
        self.theme = theme
        self.cell = cell
        xLabelScale = theme.fontScale
        let layers = panel.layers
        let allImages = !layers.isEmpty && layers.allSatisfy { if case .image = $0.kind { return true } else { return false } }
        showsAxes = panel.showsAxes ?? !allImages
        transform = PlotTransform(area: cell, xRange: 0...1, yRange: 0...1, xScale: panel.xScale, yScale: panel.yScale)

        // Colours: layers without one take the next palette colour; bands take the colour the
        // next line will get.
        var next = 0
        for layer in layers {
            let auto = theme.palette[next % theme.palette.count]
            switch layer.kind {
            case .band: colors.append(layer.color ?? auto)
            case .rule: colors.append(layer.color ?? theme.axis)
            case .text: colors.append(layer.color ?? theme.text)
            default:
                colors.append(layer.color ?? auto)
                if layer.color == nil && layer.consumesPaletteColor { next += 1 }
            }
        }

        // Data ranges.
        var xe = Extent(), ye = Extent()
        var xMargin = 0.0, yMargin = 0.0, xExact = false, yExact = false, yFromZero = false
        let xs = panel.xScale, ys = panel.yScale
        for layer in layers {
            switch layer.kind {
            case let .line(x, y, _, _, marker, _, _):
                xe.add(x, scale: xs); ye.add(y, scale: ys)
                xMargin = max(xMargin, marker == nil ? 0 : 0.03); yMargin = max(yMargin, 0.05)
            case let .scatter(x, y, _, _, _, _):
                xe.add(x, scale: xs); ye.add(y, scale: ys)
                xMargin = max(xMargin, 0.05); yMargin = max(yMargin, 0.05)
            case let .band(x, lower, upper, _):
                xe.add(x, scale: xs); ye.add(lower, scale: ys); ye.add(upper, scale: ys)
                yMargin = max(yMargin, 0.05)
            case let .field(grid, _, _, _, _, _, _, _, _), let .regions(grid, _, _):
                xe.add([grid.x.lowerBound, grid.x.upperBound], scale: xs)
                ye.add([grid.y.lowerBound, grid.y.upperBound], scale: ys)
                xExact = true; yExact = true
            case let .bars(x, values, names, showsValues):
                if let names { categories = names; xe.add([-0.5, Double(names.count) - 0.5], scale: xs); xExact = true }
                else {
                    let w = Self.barSlot(x) / 2
                    xe.add(x.map { $0 - w }, scale: xs); xe.add(x.map { $0 + w }, scale: xs)
                }
                ye.add(values, scale: ys)
                if ys == .linear { ye.add(0, scale: ys); yFromZero = true }
                yMargin = max(yMargin, showsValues ? 0.12 : 0.05)
            case let .image(_, columns, rows, _, _):
                xe.add([0, Double(columns)], scale: xs); ye.add([0, Double(rows)], scale: ys)
                xExact = true; yExact = true
            case let .rule(horizontal, value, _, _):
                if horizontal { ye.add(value, scale: ys) } else { xe.add(value, scale: xs) }
            case .text: break
            }
        }
        let xRange = panel.xRange ?? Self.resolve(xe, margin: xExact ? 0 : xMargin, scale: xs, fromZero: false)
        var yRange = panel.yRange ?? Self.resolve(ye, margin: yExact ? 0 : yMargin, scale: ys, fromZero: yFromZero)
        if yFromZero && panel.yRange == nil && ye.lo >= 0 { yRange = 0...yRange.upperBound }
        transform.xRange = Self.valid(xRange, scale: xs)
        transform.yRange = Self.valid(yRange, scale: ys)

        // Colour bar for the first field.
        for layer in layers {
            if case let .field(grid, map, range, scale, opacity, levels, filled, _, _) = layer.kind, filled || levels != nil {
                if panel.colorBar ?? true {
                    colorBar = FieldColoring(grid: grid, map: map, range: range, scale: scale,
                                             levels: filled ? levels : nil, opacity: max(opacity, 1))
                }
                break
            }
        }
        layOut()
    }

    /// Bar slot width for numeric bar positions: the smallest gap between positions.
    static func barSlot(_ x: [Double]) -> Double {
        let sorted = Array(Set(x.filter(\.isFinite))).sorted()
        return zip(sorted, sorted.dropFirst()).map { $1 - $0 }.min() ?? 1
    }

    static func resolve(_ e: Extent, margin: Double, scale: AxisScale, fromZero: Bool) -> ClosedRange<Double> {
        guard !e.isEmpty else { return scale == .log ? 1...10 : 0...1 }
        var lo = e.lo, hi = e.hi
        if hi - lo <= 1e-12 * max(abs(lo), abs(hi)) {
            if scale == .log { return (lo / 2)...(hi * 2) }
            let d = lo == 0 ? 1 : abs(lo) * 0.1
            return (lo - d)...(hi + d)
        }
        let p0 = scale.position(lo), p1 = scale.position(hi), span = p1 - p0
        lo = scale.value(p0 - margin * span)
        hi = scale.value(p1 + margin * span)
        if fromZero && e.lo >= 0 && lo < 0 { lo = 0 }
        return lo...hi
    }

    /// A range the scale can show: ordered, finite, positive on log axes.
    static func valid(_ r: ClosedRange<Double>, scale: AxisScale) -> ClosedRange<Double> {
        var lo = r.lowerBound, hi = r.upperBound
        if !lo.isFinite || !hi.isFinite { return scale == .log ? 1...10 : 0...1 }
        if scale == .log {
            if hi <= 0 { return 1...10 }
            if lo <= 0 { lo = hi / 1000 }
        }
        if hi <= lo { return resolve(Extent(lo: lo, hi: lo), margin: 0, scale: scale, fromZero: false) }
        return lo...hi
    }

    var titleHeight: Double {
        panel.title == nil ? 0 : theme.typeface.lineHeight(scale: theme.titleScale) + 8
    }

    /// Places the plot area and chooses ticks so that labels fit and do not overlap.
    mutating func layOut() {
        let s = fontScale, ch = charHeight, pad = theme.padding
        let tick = Self.tickLength, gap = Self.tickGap
        let top = cell.minY + pad + titleHeight
        var bottom = cell.maxY - pad
        if panel.xLabel != nil { bottom -= ch + 6 }
        if showsAxes { bottom -= tick + gap + ch }
        let height = max(10, bottom - top)

        if showsAxes {
            let target = max(2, min(10, Int(height / (ch * 3.5))))
            yTicks = AxisTicks.ticks(transform.yRange, scale: panel.yScale, target: target)
            yLabels = AxisTicks.labels(yTicks, scale: panel.yScale).map(Self.typographicMinus)
            yLabelWidth = Double(yLabels.map { theme.typeface.size(of: $0, scale: s).width }.max() ?? 0)
        }
        var left = cell.minX + pad
        if panel.yLabel != nil { left += ch + 8 }
        if showsAxes { left += yLabelWidth + gap + tick }
        var right = cell.maxX - pad
        if let bar = colorBar {
            let target = max(2, min(10, Int(height / (ch * 3.5))))
            colorBarTicks = AxisTicks.ticks(bar.range, scale: bar.scale, target: target)
            colorBarLabels = AxisTicks.labels(colorBarTicks, scale: bar.scale).map(Self.typographicMinus)
            let w = Double(colorBarLabels.map { theme.typeface.size(of: $0, scale: s).width }.max() ?? 0)
            right -= 10 + Self.colorBarWidth + tick + gap + w + (panel.colorBarLabel == nil ? 0 : ch + 8)
        }
        var area = PixelRect(x: left.rounded(), y: top.rounded(), width: max(10, (right - left).rounded()), height: height.rounded())
        transform.area = area
        if showsAxes {
            chooseXTicks()
            // Keep the last tick label inside the cell.
            if let last = xTicks.last, let label = xLabels.last, colorBar == nil {
                let overflow = transform.pixelX(last) + Double(theme.typeface.size(of: label, scale: s).width) / 2 - (cell.maxX - 2)
                if overflow > 0 {
                    area.width = max(10, area.width - overflow.rounded(.up))
                    transform.area = area
                    chooseXTicks()
                }
            }
        }
        if panel.equalAspect ?? !showsAxes {
            let dx = abs(panel.xScale.position(transform.xRange.upperBound) - panel.xScale.position(transform.xRange.lowerBound))
            let dy = abs(panel.yScale.position(transform.yRange.upperBound) - panel.yScale.position(transform.yRange.lowerBound))
            if dx > 0, dy > 0 {
                let perUnit = min(area.width / dx, area.height / dy)
                let w = (dx * perUnit).rounded(), h = (dy * perUnit).rounded()
                area = PixelRect(x: (area.midX - w / 2).rounded(), y: (area.midY - h / 2).rounded(), width: w, height: h)
                transform.area = area
                if showsAxes { chooseXTicks() }
            }
        }
    }

    mutating func chooseXTicks() {
        let s = fontScale
        if let categories {
            xTicks = categories.indices.map(Double.init)
            xLabels = categories
            // Smaller text, then every second (third…) label, when they would overlap.
            let slot = transform.area.width / Double(max(1, categories.count))
            func widest(_ scale: Int) -> Double {
                Double(categories.map { theme.typeface.size(of: $0, scale: scale).width }.max() ?? 0) + theme.typeface.digitAdvance(scale: scale)
            }
            xLabelScale = s
            if widest(s) > slot && s > 1 { xLabelScale = s - 1 }
            let every = max(1, Int((widest(xLabelScale) / max(1, slot)).rounded(.up)))
            if every > 1 { xLabels = xLabels.enumerated().map { $0.offset % every == 0 ? $0.element : "" } }
            return
        }
        var target = max(2, min(10, Int(transform.area.width / (theme.typeface.digitAdvance(scale: s) * 7))))
        while true {
            xTicks = AxisTicks.ticks(transform.xRange, scale: panel.xScale, target: target)
            xLabels = AxisTicks.labels(xTicks, scale: panel.xScale).map(Self.typographicMinus)
            let pixels = xTicks.map { transform.pixelX($0) }
            let widths = xLabels.map { Double(theme.typeface.size(of: $0, scale: s).width) }
            var fits = true
            for i in 1..<max(1, xTicks.count) where pixels[i] - pixels[i - 1] < (widths[i] + widths[i - 1]) / 2 + (2 * theme.typeface.digitAdvance(scale: s)) {
                fits = false
            }
            if fits || target <= 2 { break }
            target -= 1
        }
    }

    /// A tick label with the minus sign (U+2212, as wide as a digit's plus) for the hyphen that
    /// number formatting writes, as matplotlib draws negative ticks.
    static func typographicMinus(_ label: String) -> String { label.replacingOccurrences(of: "-", with: "\u{2212}") }
}
