import Foundation

extension PanelLayout {
    /// Draws the panel: title, grid, layers (clipped to the plot area), axes, colour bar, legend.
    func draw<T: RenderTarget>(into target: inout T) {
        let area = transform.area
        let s = fontScale, ch = charHeight
        let tick = Self.tickLength, gap = Self.tickGap
        if let title = panel.title {
            target.text(title, at: PixelPoint(x: area.midX, y: cell.minY + theme.padding), align: .middle, valign: .top,
                        scale: theme.titleScale, color: theme.text, bold: true)
        }
        if showsAxes && panel.showsGrid {
            for t in xTicks where categories == nil {
                let c = transform.pixelX(t).rounded(.down)
                if c >= area.minX && c < area.maxX { target.fill(PixelRect(x: c, y: area.minY, width: 1, height: area.height), theme.gridLines) }
            }
            for t in yTicks {
                let r = transform.pixelY(t).rounded(.down)
                if r >= area.minY && r < area.maxY { target.fill(PixelRect(x: area.minX, y: r, width: area.width, height: 1), theme.gridLines) }
            }
        }

        target.clip(to: area)
        for (index, layer) in panel.layers.enumerated() {
            target.beginGroup(layer.label ?? "layer \(index)")
            drawLayer(layer, index: index, into: &target)
            target.endGroup()
        }
        target.clip(to: nil)

        if showsAxes {
            let axis = theme.axis
            target.fill(PixelRect(x: area.minX - 1, y: area.minY - 1, width: area.width + 2, height: 1), axis)
            target.fill(PixelRect(x: area.minX - 1, y: area.maxY, width: area.width + 2, height: 1), axis)
            target.fill(PixelRect(x: area.minX - 1, y: area.minY, width: 1, height: area.height), axis)
            target.fill(PixelRect(x: area.maxX, y: area.minY, width: 1, height: area.height), axis)
            for (t, label) in zip(xTicks, xLabels) {
                let px = transform.pixelX(t)
                guard px >= area.minX - 0.5 && px <= area.maxX + 0.5 else { continue }
                let c = min(area.maxX, px.rounded(.down))
                target.fill(PixelRect(x: c, y: area.maxY + 1, width: 1, height: tick), axis)
                target.text(label, at: PixelPoint(x: c + 0.5, y: area.maxY + 1 + tick + gap), align: .middle, valign: .top,
                            scale: xLabelScale, color: theme.text)
            }
            // Minor ticks at 2…9 × each decade of a log axis labelled by decades.
            for t in Self.minorLogTicks(xTicks, transform.xRange, panel.xScale) {
                let c = min(area.maxX, transform.pixelX(t).rounded(.down))
                target.fill(PixelRect(x: c, y: area.maxY + 1, width: 1, height: 3), axis)
            }
            for t in Self.minorLogTicks(yTicks, transform.yRange, panel.yScale) {
                let r = min(area.maxY, transform.pixelY(t).rounded(.down))
                target.fill(PixelRect(x: area.minX - 4, y: r, width: 3, height: 1), axis)
            }
            for (t, label) in zip(yTicks, yLabels) {
                let py = transform.pixelY(t)
                guard py >= area.minY - 0.5 && py <= area.maxY + 0.5 else { continue }
                let r = min(area.maxY, py.rounded(.down))
                target.fill(PixelRect(x: area.minX - 1 - tick, y: r, width: tick, height: 1), axis)
                target.text(label, at: PixelPoint(x: area.minX - 1 - tick - gap, y: r + 0.5), align: .end, valign: .middle,
                            scale: s, color: theme.text)
            }
        }
        if let xLabel = panel.xLabel {
            let y = area.maxY + (showsAxes ? 1 + tick + gap + ch + 6 : 6)
            target.text(xLabel, at: PixelPoint(x: area.midX, y: y), align: .middle, valign: .top, scale: s, color: theme.text)
        }
        if let yLabel = panel.yLabel {
            let x = area.minX - (showsAxes ? 1 + tick + gap + yLabelWidth + 8 : 8)
            target.text(yLabel, at: PixelPoint(x: x, y: area.midY), align: .end, valign: .middle, scale: s,
                        color: theme.text, rotated: true)
        }
        if let bar = colorBar { drawColorBar(bar, into: &target) }
        drawLegend(into: &target)
    }

    static func minorLogTicks(_ ticks: [Double], _ range: ClosedRange<Double>, _ scale: AxisScale) -> [Double] {
        guard scale == .log, ticks.count >= 2 else { return [] }
        let exponents = ticks.map { Foundation.log10($0) }
        guard exponents.allSatisfy({ abs($0 - $0.rounded()) < 1e-9 }), exponents[1] - exponents[0] < 1.5 else { return [] }
        let first = Int(Foundation.log10(range.lowerBound).rounded(.down)), last = Int(Foundation.log10(range.upperBound).rounded(.up))
        guard first <= last, last - first < 40 else { return [] }
        return (first...last).flatMap { e in (2...9).map { Double($0) * Foundation.pow(10, Double(e)) } }
            .filter { range.contains($0) }
    }

    // MARK: Layers

    func pixels(_ x: [Double], _ y: [Double]) -> [[PixelPoint]] {
        var runs: [[PixelPoint]] = [], run: [PixelPoint] = []
        for i in 0..<min(x.count, y.count) {
            if let p = transform.pixel(x: x[i], y: y[i]) { run.append(p) } else if !run.isEmpty { runs.append(run); run = [] }
        }
        if !run.isEmpty { runs.append(run) }
        return runs
    }

    func drawLayer<T: RenderTarget>(_ layer: Panel.Layer, index: Int, into target: inout T) {
        let color = colors[index]
        let area = transform.area
        switch layer.kind {
        case let .line(x, y, width, style, marker, markerSize, endpoints):
            let runs = pixels(x, y)
            target.stroke(runs, color, width: width, dash: style.dashPattern(width: width))
            if let marker {
                let points = runs.flatMap { $0 }
                for p in points { drawMarker(marker, at: p, size: markerSize, fill: color, into: &target) }
                if endpoints, let first = points.first, let last = points.last {
                    drawMarker(.square, at: first, size: markerSize * 2, fill: color, edge: .white, into: &target)
                    drawMarker(.circle, at: last, size: markerSize * 2.4, fill: color, edge: .white, into: &target)
                }
            }
        case let .scatter(x, y, classes, _, marker, size):
            for i in 0..<min(x.count, y.count) {
                guard let p = transform.pixel(x: x[i], y: y[i]) else { continue }
                let fill = classes.map { theme.palette[(($0[i] % theme.palette.count) + theme.palette.count) % theme.palette.count] } ?? color
                drawMarker(marker, at: p, size: size, fill: fill, into: &target)
            }
        case let .band(x, lower, upper, opacity):
            var run: [(PixelPoint, PixelPoint)] = []
            func flush() {
                if run.count >= 2 { target.fillPolygon(run.map(\.0) + run.map(\.1).reversed(), color.opacity(opacity)) }
                run = []
            }
            for i in 0..<x.count {
                if let a = transform.pixel(x: x[i], y: lower[i]), let b = transform.pixel(x: x[i], y: upper[i]) { run.append((a, b)) } else { flush() }
            }
            flush()
        case let .field(grid, map, range, scale, opacity, levels, filled, lineColor, lineWidth):
            let coloring = FieldColoring(grid: grid, map: map, range: range, scale: scale, levels: levels, opacity: opacity)
            if filled {
                rasterize(grid, into: &target) { x, y in coloring.color(grid.sample(x: x, y: y)) }
            }
            for level in levels ?? [] {
                let lines = grid.contourLines(at: level).map { line in line.compactMap { transform.pixel(x: $0.x, y: $0.y) } }
                let c = lineColor ?? (filled ? nil : coloring.map.color(at: coloring.normalized(level)))
                if let c { target.stroke(lines, c, width: lineWidth, dash: nil) }
            }
        case let .regions(grid, palette, opacity):
            let colors = palette ?? theme.palette
            rasterize(grid, into: &target) { x, y in
                guard let k = grid.sampleClass(x: x, y: y) else { return .clear }
                return colors[((k % colors.count) + colors.count) % colors.count].opacity(opacity)
            }
        case let .bars(x, values, names, showsValues):
            let groups = panel.layers.filter { if case .bars = $0.kind { return true } else { return false } }
            let group = panel.layers[..<index].filter { if case .bars = $0.kind { return true } else { return false } }.count
            let slot = names == nil ? Self.barSlot(x) : 1
            let width = slot * 0.8 / Double(groups.count)
            let base = panel.yScale == .log ? transform.yRange.lowerBound : max(transform.yRange.lowerBound, min(0, transform.yRange.upperBound))
            for i in 0..<min(x.count, values.count) {
                let center = x[i] + (Double(group) - Double(groups.count - 1) / 2) * width
                guard let a = transform.pixel(x: center - width / 2, y: base),
                      let b = transform.pixel(x: center + width / 2, y: values[i]) else { continue }
                let rect = PixelRect(x: min(a.x, b.x), y: min(a.y, b.y), width: abs(b.x - a.x), height: abs(b.y - a.y))
                target.fill(rect, color)
                if showsValues {
                    let above = values[i] >= base, text = AxisTicks.label(values[i])
                    let fits = Double(theme.typeface.size(of: text, scale: fontScale).width) <= rect.width / 0.8 - 8
                    target.text(text, at: PixelPoint(x: rect.midX, y: above ? rect.minY - 3 : rect.maxY + 3),
                                align: .middle, valign: above ? .bottom : .top, scale: fits ? fontScale : max(1, fontScale - 1),
                                color: theme.text)
                }
            }
        case let .image(values, columns, rows, map, range):
            var e = Extent()
            e.add(values, scale: .linear)
            var lo = range?.lowerBound ?? (e.isEmpty ? 0 : e.lo), hi = range?.upperBound ?? (e.isEmpty ? 1 : e.hi)
            if range == nil && map.isDiverging { let m = max(abs(lo), abs(hi)); lo = -m; hi = m }
            let span = hi > lo ? hi - lo : 1
            let colors = values.map { $0.isFinite ? map.color(at: ($0 - lo) / span) : Color.clear }
            guard let a = transform.pixel(x: 0, y: Double(rows)), let b = transform.pixel(x: Double(columns), y: 0) else { return }
            target.raster(colors, columns: columns, rows: rows, in: PixelRect(x: a.x, y: a.y, width: b.x - a.x, height: b.y - a.y))
        case let .rule(horizontal, value, width, style):
            let line: [PixelPoint]
            if horizontal {
                let y = transform.pixelY(value)
                guard y.isFinite else { return }
                line = [PixelPoint(x: area.minX, y: y), PixelPoint(x: area.maxX, y: y)]
            } else {
                let x = transform.pixelX(value)
                guard x.isFinite else { return }
                line = [PixelPoint(x: x, y: area.minY), PixelPoint(x: x, y: area.maxY)]
            }
            target.stroke([line], color, width: width, dash: style.dashPattern(width: width))
        case let .text(string, x, y):
            guard let p = transform.pixel(x: x, y: y) else { return }
            target.text(string, at: PixelPoint(x: p.x + 5, y: p.y), align: .start, valign: .middle, scale: fontScale, color: color)
        }
    }

    /// Colours every plot-area pixel covered by `grid` with `color(x, y)` at its centre.
    func rasterize<T: RenderTarget>(_ grid: Grid2D, into target: inout T, _ color: (Double, Double) -> Color) {
        let area = transform.area
        guard let a = transform.pixel(x: grid.x.lowerBound, y: grid.y.upperBound),
              let b = transform.pixel(x: grid.x.upperBound, y: grid.y.lowerBound) else { return }
        let x0 = max(area.minX, min(a.x, b.x)).rounded(.down), x1 = min(area.maxX, max(a.x, b.x)).rounded(.up)
        let y0 = max(area.minY, min(a.y, b.y)).rounded(.down), y1 = min(area.maxY, max(a.y, b.y)).rounded(.up)
        let columns = Int(x1 - x0), rows = Int(y1 - y0)
        guard columns > 0, rows > 0 else { return }
        var pixels = [Color](repeating: .clear, count: columns * rows)
        for r in 0..<rows {
            for c in 0..<columns {
                let d = transform.data(at: PixelPoint(x: x0 + Double(c) + 0.5, y: y0 + Double(r) + 0.5))
                pixels[r * columns + c] = color(d.x, d.y)
            }
        }
        target.raster(pixels, columns: columns, rows: rows, in: PixelRect(x: x0, y: y0, width: Double(columns), height: Double(rows)))
    }

    func drawMarker<T: RenderTarget>(_ shape: MarkerShape, at p: PixelPoint, size: Double, fill: Color, edge: Color? = nil,
                                     into target: inout T) {
        let r = size / 2
        let outline = edge ?? fill.mixed(with: .black, 0.35)
        func polygon(_ unit: [(Double, Double)], _ radius: Double) -> [PixelPoint] {
            unit.map { PixelPoint(x: p.x + $0.0 * radius, y: p.y + $0.1 * radius) }
        }
        switch shape {
        case .circle:
            target.circle(p, radius: r, fill: outline)
            target.circle(p, radius: max(0.5, r - 1), fill: fill)
        case .square, .triangle, .diamond:
            let unit: [(Double, Double)] = shape == .square ? [(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)]
                : shape == .triangle ? [(0, -1.1), (1, 0.75), (-1, 0.75)] : [(0, -1.15), (1.15, 0), (0, 1.15), (-1.15, 0)]
            target.fillPolygon(polygon(unit, r), outline)
            target.fillPolygon(polygon(unit, max(0.5, r - 1.3)), fill)
        case .cross:
            target.stroke([polygon([(-0.8, -0.8), (0.8, 0.8)], r), polygon([(-0.8, 0.8), (0.8, -0.8)], r)], fill, width: 2, dash: nil)
        case .plus:
            target.stroke([polygon([(-1, 0), (1, 0)], r), polygon([(0, -1), (0, 1)], r)], fill, width: 2, dash: nil)
        }
    }

    // MARK: Colour bar and legend

    func drawColorBar<T: RenderTarget>(_ bar: FieldColoring, into target: inout T) {
        let area = transform.area
        let rect = PixelRect(x: area.maxX + 10, y: area.minY, width: Self.colorBarWidth, height: area.height)
        let rows = max(1, Int(rect.height))
        let p0 = bar.scale.position(bar.range.lowerBound), p1 = bar.scale.position(bar.range.upperBound)
        let colors = (0..<rows).map { r in
            bar.color(bar.scale.value(p1 - (Double(r) + 0.5) / Double(rows) * (p1 - p0)))
        }
        target.raster(colors, columns: 1, rows: rows, in: rect)
        let axis = theme.axis
        target.fill(PixelRect(x: rect.minX - 1, y: rect.minY - 1, width: rect.width + 2, height: 1), axis)
        target.fill(PixelRect(x: rect.minX - 1, y: rect.maxY, width: rect.width + 2, height: 1), axis)
        target.fill(PixelRect(x: rect.minX - 1, y: rect.minY, width: 1, height: rect.height), axis)
        target.fill(PixelRect(x: rect.maxX, y: rect.minY, width: 1, height: rect.height), axis)
        var widest = 0.0
        for (t, label) in zip(colorBarTicks, colorBarLabels) {
            let y = (rect.maxY - (bar.scale.position(t) - p0) / (p1 - p0) * rect.height).rounded(.down)
            guard y >= rect.minY - 0.5, y <= rect.maxY + 0.5 else { continue }
            target.fill(PixelRect(x: rect.maxX + 1, y: min(rect.maxY, y), width: Self.tickLength, height: 1), axis)
            target.text(label, at: PixelPoint(x: rect.maxX + 1 + Self.tickLength + Self.tickGap, y: min(rect.maxY, y) + 0.5),
                        align: .start, valign: .middle, scale: fontScale, color: theme.text)
            widest = max(widest, Double(theme.typeface.size(of: label, scale: fontScale).width))
        }
        if let label = panel.colorBarLabel {
            target.text(label, at: PixelPoint(x: rect.maxX + 1 + Self.tickLength + Self.tickGap + widest + 8, y: rect.midY),
                        align: .start, valign: .middle, scale: fontScale, color: theme.text, rotated: true)
        }
    }

    var legendEntries: [(String, Swatch)] {
        var entries: [(String, Swatch)] = []
        for (i, layer) in panel.layers.enumerated() {
            let color = colors[i]
            switch layer.kind {
            case let .line(_, _, _, style, marker, _, _):
                if let label = layer.label { entries.append((label, .line(color, style, marker))) }
            case let .scatter(_, _, classes, names, marker, _):
                if let label = layer.label { entries.append((label, .marker(marker, color))) }
                if let names, classes != nil {
                    for (k, name) in names.enumerated() { entries.append((name, .marker(marker, theme.palette[k % theme.palette.count]))) }
                }
            case let .band(_, _, _, opacity):
                if let label = layer.label { entries.append((label, .box(color.opacity(opacity)))) }
            case .bars:
                if let label = layer.label { entries.append((label, .box(color))) }
            case let .rule(_, _, _, style):
                if let label = layer.label { entries.append((label, .line(color, style, nil))) }
            default:
                break
            }
        }
        return entries
    }

    /// The legend box at `position` inside the plot area.
    func legendRect(size: (Double, Double), _ position: LegendPosition) -> PixelRect {
        let area = transform.area, inset = 8.0
        let left = position == .topLeft || position == .bottomLeft
        let top = position == .topLeft || position == .topRight || position == .best
        return PixelRect(x: left ? area.minX + inset : area.maxX - inset - size.0,
                         y: top ? area.minY + inset : area.maxY - inset - size.1, width: size.0, height: size.1)
    }

    /// Pixels where data lie, to keep the legend off them.
    var dataPixels: [PixelPoint] {
        var points: [PixelPoint] = []
        for layer in panel.layers {
            switch layer.kind {
            case let .line(x, y, _, _, _, _, _), let .scatter(x, y, _, _, _, _):
                for run in pixels(x, y) {
                    points.append(contentsOf: run)
                    for (a, b) in zip(run, run.dropFirst()) {
                        let n = Int(max(abs(b.x - a.x), abs(b.y - a.y)) / 6)
                        if n > 1 { for k in 1..<n { let t = Double(k) / Double(n); points.append(PixelPoint(x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t)) } }
                    }
                }
            case let .band(x, lower, upper, _):
                for run in pixels(x, lower) + pixels(x, upper) { points.append(contentsOf: run) }
            case let .bars(x, values, _, _):
                for run in pixels(x, values) { points.append(contentsOf: run) }
            default: break
            }
        }
        return points
    }

    func drawLegend<T: RenderTarget>(into target: inout T) {
        let entries = legendEntries
        guard !entries.isEmpty, panel.legend != .none else { return }
        let s = fontScale, ch = charHeight, pad = 6.0, swatch = 26.0, rowHeight = ch + 6
        let textWidth = Double(entries.map { theme.typeface.size(of: $0.0, scale: s).width }.max() ?? 0)
        let size = (pad * 2 + swatch + 6 + textWidth, pad * 2 + rowHeight * Double(entries.count) - 6)
        var position = panel.legend
        if position == .best {
            let points = dataPixels
            var best = (LegendPosition.topRight, Int.max)
            for candidate in [LegendPosition.topRight, .topLeft, .bottomRight, .bottomLeft] {
                let r = legendRect(size: size, candidate).insetBy(dx: -4, dy: -4)
                let hits = points.filter { r.contains($0) }.count
                if hits < best.1 { best = (candidate, hits) }
            }
            position = best.0
        }
        let rect = legendRect(size: size, position)
        target.fill(rect, theme.background.opacity(0.88))
        let border = theme.gridLines.mixed(with: theme.axis, 0.3)
        target.fill(PixelRect(x: rect.minX, y: rect.minY, width: rect.width, height: 1), border)
        target.fill(PixelRect(x: rect.minX, y: rect.maxY - 1, width: rect.width, height: 1), border)
        target.fill(PixelRect(x: rect.minX, y: rect.minY, width: 1, height: rect.height), border)
        target.fill(PixelRect(x: rect.maxX - 1, y: rect.minY, width: 1, height: rect.height), border)
        for (i, entry) in entries.enumerated() {
            let y = (rect.minY + pad + Double(i) * rowHeight).rounded()
            let mid = y + ch / 2
            let x = rect.minX + pad
            switch entry.1 {
            case let .line(color, style, marker):
                target.stroke([[PixelPoint(x: x, y: mid), PixelPoint(x: x + swatch, y: mid)]], color, width: 2.5,
                              dash: style.dashPattern(width: 1.5))
                if let marker { drawMarker(marker, at: PixelPoint(x: x + swatch / 2, y: mid), size: 7, fill: color, into: &target) }
            case let .marker(shape, color):
                drawMarker(shape, at: PixelPoint(x: x + swatch / 2, y: mid), size: 8, fill: color, into: &target)
            case let .box(color):
                target.fill(PixelRect(x: x + 2, y: y, width: swatch - 4, height: ch), color)
            }
            target.text(entry.0, at: PixelPoint(x: x + swatch + 6, y: y), align: .start, valign: .top, scale: s, color: theme.text)
        }
    }
}
