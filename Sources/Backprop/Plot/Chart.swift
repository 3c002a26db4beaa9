import Foundation

/// Where a panel's legend goes.
public enum LegendPosition: Sendable, Equatable {
    /// The inside corner that hides the least data.
    case best
    /// A fixed inside corner of the plot area.
    case topLeft, topRight, bottomLeft, bottomRight
    /// No legend.
    case none
}

/// Colours, sizes and fonts shared by a figure's panels.
public struct Theme: Sendable {
    /// The colour the figure is filled with.
    public var background: Color = .white
    /// The colour of titles, labels and tick labels.
    public var text: Color = Color(grey: 0.1)
    /// The colour of axes and ticks.
    public var axis: Color = Color(grey: 0.25)
    /// The colour of the grid lines.
    public var gridLines: Color = Color(grey: 0.9)
    /// The colours given to successive series that name none (tab10 by default).
    public var palette: [Color] = Color.categorical
    /// The font of every text (see ``Typeface``: DejaVu Sans through FreeType, or the 5×7 bitmap
    /// font when none can be opened).
    public var typeface: Typeface = .standard
    /// Text scale of tick labels, axis labels and legends: an em of 7·scale pixels (the bitmap
    /// font's glyphs at that integer scale).
    public var fontScale: Int = 2
    /// Integer scale of panel titles (drawn bold).
    public var titleScale: Int = 2
    /// Blank pixels around each panel.
    public var padding: Double = 10

    /// The standard theme (``standard``).
    public init() {}

    /// White background, grey grid, dark axes, tab10 palette, text at twice the font's size.
    public static let standard = Theme()

    /// Text at the font's own size, for small figures with many panels.
    public static var compact: Theme {
        var t = Theme()
        t.fontScale = 1
        t.titleScale = 1
        t.padding = 6
        return t
    }
}

/// One chart inside a figure: title, axis labels, scales, ranges, legend and the layers drawn.
public struct Panel: Sendable {
    /// The panel's title, drawn bold above it.
    public var title: String?
    /// The label under the horizontal axis.
    public var xLabel: String?
    /// The label beside the vertical axis.
    public var yLabel: String?
    /// How x values map to pixels.
    public var xScale: AxisScale
    /// How y values map to pixels.
    public var yScale: AxisScale
    /// Fixed axis ranges; nil fits the data (with a small margin for lines and points).
    public var xRange: ClosedRange<Double>?
    /// A fixed y range; nil fits the data.
    public var yRange: ClosedRange<Double>?
    /// Where the legend goes (only series with a label are listed).
    public var legend: LegendPosition = .best
    /// Whether grid lines are drawn at the major ticks.
    public var showsGrid: Bool = true
    /// Nil: axes are shown unless every layer is an image.
    public var showsAxes: Bool?
    /// Equal pixel lengths for equal data lengths on both axes. Nil: only for images.
    public var equalAspect: Bool?
    /// A colour bar for the first heatmap or contour layer. Nil: shown when there is one.
    public var colorBar: Bool?
    /// The colour bar's label.
    public var colorBarLabel: String?
    /// The layers, in drawing order.
    public private(set) var layers: [Layer] = []

    /// An empty panel; add layers with ``add(_:)``.
    ///
    /// - Parameters:
    ///   - title: drawn above the panel.
    ///   - xLabel: the label under the horizontal axis.
    ///   - yLabel: the label beside the vertical axis.
    ///   - xScale: a linear or logarithmic horizontal axis.
    ///   - yScale: a linear or logarithmic vertical axis.
    ///   - xRange: a fixed horizontal range; nil fits the data.
    ///   - yRange: a fixed vertical range; nil fits the data.
    ///   - legend: where the legend goes.
    public init(title: String? = nil, xLabel: String? = nil, yLabel: String? = nil,
                xScale: AxisScale = .linear, yScale: AxisScale = .linear,
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
                legend: LegendPosition = .best) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xScale = xScale
        self.yScale = yScale
        self.xRange = xRange
        self.yRange = yRange
        self.legend = legend
    }

    /// Adds a layer, drawn above the ones added before it.
    public mutating func add(_ layer: Layer) {
        layers.append(layer)
    }
}

/// A figure: one or more panels in a grid (row by row), with an optional overall title,
/// rendered to PNG (through ``Canvas``) or SVG with the same layout.
///
/// ```swift
/// var figure = Figure(width: 900, height: 600)
/// var panel = Panel(title: "Training loss", xLabel: "step", yLabel: "loss", yScale: .log)
/// panel.add(.line(x: steps, y: sgd, label: "SGD"))
/// figure.add(panel)
/// try figure.write(png: "out/loss.png")
/// ```
public struct Figure: Sendable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// Rows of the panel grid.
    public var rows: Int
    /// Columns of the panel grid.
    public var columns: Int
    /// The figure's title, drawn above every panel.
    public var title: String?
    /// Colours, font sizes and padding.
    public var theme: Theme
    /// The panels, row by row.
    public private(set) var panels: [Panel] = []

    /// A figure of one panel cell (more panels add rows).
    ///
    /// - Precondition: at least 16 × 16 pixels.
    public init(width: Int = 800, height: Int = 500, title: String? = nil, theme: Theme = .standard) {
        self.init(width: width, height: height, grid: (rows: 1, columns: 1), title: title, theme: theme)
    }

    /// Small multiples: panels fill a `rows`×`columns` grid row by row; more panels than cells
    /// add rows.
    public init(width: Int, height: Int, grid: (rows: Int, columns: Int), title: String? = nil, theme: Theme = .standard) {
        precondition(width >= 16 && height >= 16, "Figure: size \(width)×\(height) is too small")
        precondition(grid.rows >= 1 && grid.columns >= 1, "Figure: grid \(grid.rows)×\(grid.columns)")
        self.width = width
        self.height = height
        self.rows = grid.rows
        self.columns = grid.columns
        self.title = title
        self.theme = theme
    }

    /// Adds a panel in the next grid cell (a new row once the grid is full).
    public mutating func add(_ panel: Panel) {
        panels.append(panel)
    }

    /// Replaces or reads the panel at `index`.
    public subscript(panel index: Int) -> Panel {
        get { panels[index] }
        set { panels[index] = newValue }
    }

    /// The rectangle of figure pixels given to panel `index`: its grid cell below the title.
    public func cell(ofPanel index: Int) -> PixelRect {
        let gridRows = max(rows, (panels.count + columns - 1) / columns)
        let top = title == nil ? 0 : theme.typeface.lineHeight(scale: theme.titleScale + 1) + 2 * theme.padding
        let w = Double(width) / Double(columns), h = (Double(height) - top) / Double(gridRows)
        return PixelRect(x: Double(index % columns) * w, y: top + Double(index / columns) * h, width: w, height: h)
    }

    /// Where panel `index`'s data lands: its plot area and data ranges, as used when drawing.
    /// Tests and callers use it to find the pixel of a data point.
    public func transform(ofPanel index: Int) -> PlotTransform {
        PanelLayout(panel: panels[index], cell: cell(ofPanel: index), theme: theme).transform
    }

    /// The figure drawn into a canvas.
    public func canvas() -> Canvas {
        var canvas = Canvas(width: width, height: height, background: theme.background)
        draw(into: &canvas)
        return canvas
    }

    /// The figure as an RGBA image.
    public func image() -> PNGImage { canvas().image() }

    /// The figure as an SVG document with the same layout: vector lines, shapes and text;
    /// heatmaps, regions and images embedded as PNG.
    public func svg() -> String {
        var document = SVGDocument(width: width, height: height)
        document.fill(PixelRect(x: 0, y: 0, width: Double(width), height: Double(height)), theme.background)
        draw(into: &document)
        return document.finished()
    }

    /// Writes the figure as a PNG file, atomically, creating the directory if needed.
    public func write(png path: String) throws(WriteError) {
        try image().write(to: path)
    }

    /// Writes the figure as an SVG file, atomically, creating the directory if needed.
    public func write(svg path: String) throws(WriteError) {
        try AtomicFile.write(Array(svg().utf8), to: path)
    }

    func draw<T: RenderTarget>(into target: inout T) {
        target.typeface = theme.typeface
        if let title {
            let s = theme.titleScale + 1
            target.text(title, at: PixelPoint(x: Double(width) / 2, y: theme.padding), align: .middle, valign: .top,
                        scale: s, color: theme.text, bold: true)
        }
        for index in panels.indices {
            let layout = PanelLayout(panel: panels[index], cell: cell(ofPanel: index), theme: theme)
            layout.draw(into: &target)
        }
    }
}
