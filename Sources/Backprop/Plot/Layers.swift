import Foundation

/// A number that can be plotted: `Double`, `Float` or `Int`.
public protocol PlotValue: Sendable {
    /// The value as a `Double`, the type axes and layers compute in.
    var plotValue: Double { get }
}
/// `Double` plots as itself.
extension Double: PlotValue {
    /// The value itself.
    public var plotValue: Double { self }
}
/// `Float` plots as its exact `Double` value.
extension Float: PlotValue {
    /// The value, exactly (every `Float` is a `Double`).
    public var plotValue: Double { Double(self) }
}
/// `Int` plots as its nearest `Double`.
extension Int: PlotValue {
    /// The value, rounded to the nearest `Double` beyond ±2⁵³.
    public var plotValue: Double { Double(self) }
}

/// Marker shapes for scatter plots, paths and legend swatches.
public enum MarkerShape: Sendable, Equatable {
    /// Filled shapes (`circle`, `square`, `triangle`, `diamond`) and strokes (`cross` ×, `plus` +).
    case circle, square, triangle, diamond, cross, plus
}

/// How a line is drawn.
public enum LineStyle: Sendable, Equatable {
    /// A continuous line, dashes, or dots.
    case solid, dashed, dotted

    /// On/off lengths in pixels for a line of `width`, nil when solid.
    func dashPattern(width: Double) -> [Double]? {
        switch self {
        case .solid: return nil
        case .dashed: return [6 * max(1, width), 4 * max(1, width)]
        case .dotted: return [max(1, width), 2.5 * max(1, width)]
        }
    }
}

extension Panel {
    /// One thing drawn in a panel: a line, points, a band, a field, bars, an image, a rule or a
    /// note. Made with the static functions (`.line(x:y:label:)`, `.scatter(…)`, …) and added
    /// with ``Panel/add(_:)``. A layer without a colour takes the panel's next palette colour.
    public struct Layer: Sendable {
        enum Kind: Sendable {
            case line(x: [Double], y: [Double], width: Double, style: LineStyle, marker: MarkerShape?, markerSize: Double, endpoints: Bool)
            case scatter(x: [Double], y: [Double], classes: [Int]?, classNames: [String]?, marker: MarkerShape, size: Double)
            case band(x: [Double], lower: [Double], upper: [Double], opacity: Double)
            case field(Grid2D, colorMap: ColorMap, range: ClosedRange<Double>?, scale: AxisScale, opacity: Double,
                       levels: [Double]?, filled: Bool, lineColor: Color?, lineWidth: Double)
            case regions(Grid2D, palette: [Color]?, opacity: Double)
            case bars(x: [Double], values: [Double], categories: [String]?, showsValues: Bool)
            case image(pixels: [Double], columns: Int, rows: Int, colorMap: ColorMap, range: ClosedRange<Double>?)
            case rule(horizontal: Bool, value: Double, width: Double, style: LineStyle)
            case text(String, x: Double, y: Double)
        }
        var kind: Kind
        /// The legend entry; nil leaves the layer out of the legend.
        public var label: String?
        /// Nil: the next colour of the theme's palette.
        public var color: Color?

        init(_ kind: Kind, label: String? = nil, color: Color? = nil) {
            self.kind = kind
            self.label = label
            self.color = color
        }

        /// A line through (x[i], y[i]); points with NaN or infinite coordinates (or ≤ 0 on a log
        /// axis) break the line. `marker` draws a marker at every point.
        public static func line<X: PlotValue, Y: PlotValue>(
            x: [X], y: [Y], label: String? = nil, color: Color? = nil, width: Double = 2,
            style: LineStyle = .solid, marker: MarkerShape? = nil, markerSize: Double = 6
        ) -> Layer {
            let n = min(x.count, y.count)
            return Layer(.line(x: x.prefix(n).map(\.plotValue), y: y.prefix(n).map(\.plotValue), width: width, style: style,
                               marker: marker, markerSize: markerSize, endpoints: false), label: label, color: color)
        }

        /// A line through y[i] at x = 0, 1, 2, ….
        public static func line<Y: PlotValue>(
            y: [Y], label: String? = nil, color: Color? = nil, width: Double = 2, style: LineStyle = .solid,
            marker: MarkerShape? = nil
        ) -> Layer {
            line(x: Array(0..<y.count), y: y, label: label, color: color, width: width, style: style, marker: marker)
        }

        /// A path of points such as an optimizer's iterates: a thin line with a small marker at
        /// every point, a square at the start and a larger disc at the end.
        public static func path<X: PlotValue, Y: PlotValue>(
            x: [X], y: [Y], label: String? = nil, color: Color? = nil, width: Double = 1.5, markerSize: Double = 4
        ) -> Layer {
            let n = min(x.count, y.count)
            return Layer(.line(x: x.prefix(n).map(\.plotValue), y: y.prefix(n).map(\.plotValue), width: width, style: .solid,
                               marker: .circle, markerSize: markerSize, endpoints: true), label: label, color: color)
        }

        /// Points. With `classes`, each point is coloured by its class (palette colour
        /// `classes[i]`), and `classNames` (indexed by class) become legend entries.
        public static func scatter<X: PlotValue, Y: PlotValue>(
            x: [X], y: [Y], classes: [Int]? = nil, classNames: [String]? = nil, label: String? = nil,
            color: Color? = nil, marker: MarkerShape = .circle, size: Double = 7
        ) -> Layer {
            let n = min(x.count, y.count, classes?.count ?? .max)
            return Layer(.scatter(x: x.prefix(n).map(\.plotValue), y: y.prefix(n).map(\.plotValue),
                                  classes: classes.map { Array($0.prefix(n)) }, classNames: classNames,
                                  marker: marker, size: size), label: label, color: color)
        }

        /// A shaded band between `lower` and `upper` (for example the 15th and 85th percentiles).
        /// Without a colour it takes the colour the next line will get, so a band followed by its
        /// median line match.
        public static func band<X: PlotValue, Y: PlotValue>(
            x: [X], lower: [Y], upper: [Y], label: String? = nil, color: Color? = nil, opacity: Double = 0.25
        ) -> Layer {
            let n = min(x.count, lower.count, upper.count)
            return Layer(.band(x: x.prefix(n).map(\.plotValue), lower: lower.prefix(n).map(\.plotValue),
                               upper: upper.prefix(n).map(\.plotValue), opacity: opacity), label: label, color: color)
        }

        /// A field coloured continuously through `colorMap` between `range` (default: the
        /// field's own range; symmetric about zero for a diverging map). `scale: .log` colours by
        /// log10 of the value.
        public static func heatmap(
            _ grid: Grid2D, colorMap: ColorMap = .viridis, range: ClosedRange<Double>? = nil,
            scale: AxisScale = .linear, opacity: Double = 1, label: String? = nil
        ) -> Layer {
            Layer(.field(grid, colorMap: colorMap, range: range, scale: scale, opacity: opacity, levels: nil,
                         filled: true, lineColor: nil, lineWidth: 0), label: label)
        }

        /// Contours of a field at `levels` (default: `count` nice levels across its range, evenly
        /// spaced in log10 when `scale` is `.log`). `filled` colours the bands between levels
        /// through `colorMap`; `lineColor` draws the level lines (nil: none; with `filled: false`
        /// and no line colour, each line takes its level's colour from the map).
        public static func contour(
            _ grid: Grid2D, levels: [Double]? = nil, count: Int = 10, filled: Bool = true,
            colorMap: ColorMap = .viridis, scale: AxisScale = .linear, range: ClosedRange<Double>? = nil,
            lineColor: Color? = Color.black.opacity(0.35), lineWidth: Double = 1, label: String? = nil
        ) -> Layer {
            let valueRange = range ?? grid.valueRange ?? 0...1
            let chosen = (levels ?? automaticLevels(valueRange, count: count, scale: scale)).filter(\.isFinite).sorted()
            return Layer(.field(grid, colorMap: colorMap, range: range, scale: scale, opacity: 1, levels: chosen,
                                filled: filled, lineColor: lineColor, lineWidth: lineWidth), label: label)
        }

        /// Decision regions: a grid whose values are class indices (for example a classifier's
        /// prediction at every node), each class shaded in its palette colour at `opacity`.
        public static func regions(_ classes: Grid2D, palette: [Color]? = nil, opacity: Double = 0.3) -> Layer {
            Layer(.regions(classes, palette: palette, opacity: opacity))
        }

        /// Bars, one per category, labelled on the x axis. Several bar layers in one panel stand
        /// side by side in each category.
        public static func bars<V: PlotValue>(
            _ values: [V], categories: [String], label: String? = nil, color: Color? = nil, showsValues: Bool = false
        ) -> Layer {
            let n = min(values.count, categories.count)
            return Layer(.bars(x: (0..<n).map(Double.init), values: values.prefix(n).map(\.plotValue),
                               categories: Array(categories.prefix(n)), showsValues: showsValues), label: label, color: color)
        }

        /// Bars at numeric positions `x`.
        public static func bars<X: PlotValue, V: PlotValue>(
            x: [X], values: [V], label: String? = nil, color: Color? = nil, showsValues: Bool = false
        ) -> Layer {
            let n = min(x.count, values.count)
            return Layer(.bars(x: x.prefix(n).map(\.plotValue), values: values.prefix(n).map(\.plotValue),
                               categories: nil, showsValues: showsValues), label: label, color: color)
        }

        /// A `columns`×`rows` image (row 0 at the top), `pixels` row-major, coloured through
        /// `colorMap` between `range` (default: the pixels' range, symmetric about zero for a
        /// diverging map). It spans x 0…columns and y 0…rows.
        public static func image<V: PlotValue>(
            _ pixels: [V], columns: Int, rows: Int, colorMap: ColorMap = .grey, range: ClosedRange<Double>? = nil
        ) -> Layer {
            precondition(columns > 0 && rows > 0 && pixels.count == columns * rows,
                         "Layer.image: \(pixels.count) pixels for \(columns)×\(rows)")
            return Layer(.image(pixels: pixels.map(\.plotValue), columns: columns, rows: rows, colorMap: colorMap, range: range))
        }

        /// Many equally sized images tiled `columns` to a row with `gap` blank pixels between
        /// them, each `imageColumns`×`imageRows` (for example 28×28 digits or weight images).
        /// With `range` nil every image is scaled to its own range.
        public static func images<V: PlotValue>(
            _ images: [[V]], imageColumns: Int, imageRows: Int, columns: Int, gap: Int = 2,
            colorMap: ColorMap = .grey, range: ClosedRange<Double>? = nil
        ) -> Layer {
            let perRow = max(1, min(columns, images.count))
            let gridRows = max(1, (images.count + perRow - 1) / perRow)
            let w = perRow * imageColumns + (perRow - 1) * gap, h = gridRows * imageRows + (gridRows - 1) * gap
            var mosaic = [Double](repeating: .nan, count: w * h)
            for (k, image) in images.enumerated() {
                precondition(image.count == imageColumns * imageRows,
                             "Layer.images: image \(k) has \(image.count) pixels, not \(imageColumns)×\(imageRows)")
                var values = image.map(\.plotValue)
                if range == nil {
                    let finite = values.filter(\.isFinite)
                    var lo = finite.min() ?? 0, hi = finite.max() ?? 1
                    if colorMap.isDiverging { let m = max(abs(lo), abs(hi)); lo = -m; hi = m }
                    values = values.map { hi > lo ? ($0 - lo) / (hi - lo) : 0.5 }
                }
                let ox = (k % perRow) * (imageColumns + gap), oy = (k / perRow) * (imageRows + gap)
                for r in 0..<imageRows {
                    for c in 0..<imageColumns { mosaic[(oy + r) * w + ox + c] = values[r * imageColumns + c] }
                }
            }
            return Layer(.image(pixels: mosaic, columns: w, rows: h, colorMap: colorMap, range: range ?? 0...1))
        }

        /// A horizontal line across the panel at `y`.
        public static func horizontalLine(
            y: Double, label: String? = nil, color: Color? = nil, width: Double = 1.5, style: LineStyle = .dashed
        ) -> Layer {
            Layer(.rule(horizontal: true, value: y, width: width, style: style), label: label, color: color)
        }

        /// A vertical line across the panel at `x`.
        public static func verticalLine(
            x: Double, label: String? = nil, color: Color? = nil, width: Double = 1.5, style: LineStyle = .dashed
        ) -> Layer {
            Layer(.rule(horizontal: false, value: x, width: width, style: style), label: label, color: color)
        }

        /// A note whose text starts just right of the data point (`x`, `y`), vertically centred on it.
        public static func text(_ string: String, x: Double, y: Double, color: Color? = nil) -> Layer {
            Layer(.text(string, x: x, y: y), color: color)
        }

        /// Whether the layer takes a palette colour of its own when it has none.
        var consumesPaletteColor: Bool {
            switch kind {
            case .line, .bars: return true
            case .scatter(_, _, let classes, _, _, _): return classes == nil
            case .rule: return false
            default: return false
            }
        }
    }
}
