import CFontconfig
import CFreeType
import Foundation

/// The font a figure's text is measured and drawn with: a TrueType font through FreeType
/// (anti-aliased glyphs, kerning, any Unicode the font covers: η γ λ σ, β₁, ², primes, the
/// minus sign), or the 5×7 ``BitmapFont`` when no font can be opened.
///
/// Sizes follow the layout's integer text scales: scale s sets an em of 7·s pixels (s = 2, the
/// tick and label size, is 14 px, matplotlib's 10 pt at 100 dpi; s = 3, figure titles, 21 px),
/// so the bitmap font's 7-pixel capitals at scale 1 and the TrueType text take about the same
/// room. A text box is the font's line: its height is ascender + descender at that size, its
/// width the advances plus kerning.
///
/// ``standard`` is found once per process: the font `BACKPROP_FONT` names (a file, or a family
/// fontconfig knows), else fontconfig's match for DejaVu Sans — the font matplotlib draws with
/// — else the bitmap font, after one line on stderr that says why.
///
/// FreeType faces are not thread-safe; every use of one holds the typeface's lock, and rendered
/// glyphs are cached per size, so figures drawn on several threads share one typeface safely.
public final class Typeface: @unchecked Sendable {
    /// The family (e.g. "DejaVu Sans"), or "bitmap 5×7".
    public let name: String
    /// The font file, nil for the bitmap font.
    public let path: String?
    /// The SVG `font-family` list whose first entry matches the PNG's text.
    public var svgFamily: String {
        path == nil ? "DejaVu Sans Mono, Menlo, Consolas, monospace" : "\(name), DejaVu Sans, Helvetica, Arial, sans-serif"
    }

    private let lock = NSLock()
    private var library: FT_Library?
    private var regular: FT_Face?
    /// The bold face, when the family has one (nil: bold is drawn twice, one pixel apart).
    private var bold: FT_Face?
    private var currentSize: [Bool: Int] = [:]
    private var glyphs: [GlyphKey: Glyph] = [:]

    /// The 5×7 bitmap font.
    public static let bitmap = Typeface()

    /// The typeface figures use unless a ``Theme`` says otherwise (see the type's overview).
    public static let standard: Typeface = {
        let request = ProcessInfo.processInfo.environment["BACKPROP_FONT"].flatMap { $0.isEmpty ? nil : $0 }
        switch find(request ?? "DejaVu Sans") {
        case .success(let typeface):
            return typeface
        case .failure(let reason):
            FileHandle.standardError.write(Data("backprop: \(reason); figures' text uses the 5×7 bitmap font\n".utf8))
            return .bitmap
        }
    }()

    private init() {
        name = "bitmap 5×7"
        path = nil
    }

    /// A TrueType or OpenType font file through FreeType, with an optional bold face.
    ///
    /// - Parameters:
    ///   - path: the font file.
    ///   - boldPath: the family's bold face, if it has one (otherwise bold text is drawn twice,
    ///     one pixel apart).
    /// - Returns: nil when FreeType cannot open `path` as a scalable font.
    public init?(path: String, boldPath: String? = nil) {
        var library: FT_Library?
        guard FT_Init_FreeType(&library) == 0, let library else { return nil }
        func open(_ file: String) -> FT_Face? {
            var face: FT_Face?
            guard FT_New_Face(library, file, 0, &face) == 0, let face else { return nil }
            // Scalable (outline) fonts only: a bitmap-only face has no size of its own to set.
            guard face.pointee.face_flags & FT_Long(FT_FACE_FLAG_SCALABLE) != 0 else {
                FT_Done_Face(face)
                return nil
            }
            return face
        }
        guard let regular = open(path) else {
            FT_Done_FreeType(library)
            return nil
        }
        self.library = library
        self.regular = regular
        self.bold = boldPath.flatMap(open)
        self.path = path
        self.name = regular.pointee.family_name.map { String(cString: $0) } ?? (path as NSString).lastPathComponent
    }

    deinit {
        if let regular { FT_Done_Face(regular) }
        if let bold { FT_Done_Face(bold) }
        if let library { FT_Done_FreeType(library) }
    }

    /// A font by file path (a file that exists) or by family name through fontconfig, with the
    /// family's bold face when fontconfig has one.
    ///
    /// - Returns: the typeface, or why none could be opened (no such file, fontconfig matched
    ///   another family, FreeType could not read the file).
    public static func find(_ request: String) -> Result<Typeface, TypefaceError> {
        if request.contains("/") {
            guard FileManager.default.fileExists(atPath: request) else { return .failure(.noFile(request)) }
            guard let typeface = Typeface(path: request) else { return .failure(.unreadable(request)) }
            return .success(typeface)
        }
        guard let (file, family) = match(request) else { return .failure(.noMatch(request, found: nil)) }
        // fontconfig always answers with something; a different family means the one asked for
        // is not installed.
        guard family.lowercased() == request.lowercased() else { return .failure(.noMatch(request, found: family)) }
        let boldFile = match(request + ":bold").flatMap { $0.family.lowercased() == family.lowercased() && $0.file != file ? $0.file : nil }
        guard let typeface = Typeface(path: file, boldPath: boldFile) else { return .failure(.unreadable(file)) }
        return .success(typeface)
    }

    /// fontconfig's best match for a pattern: its file and family.
    private static func match(_ pattern: String) -> (file: String, family: String)? {
        var file = [CChar](repeating: 0, count: 4096), family = [CChar](repeating: 0, count: 256)
        guard bp_fc_match(pattern, &file, Int32(file.count), &family, Int32(family.count)) == 1 else { return nil }
        return (String(decoding: file.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                String(decoding: family.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Whether this is the bitmap fallback.
    public var isBitmap: Bool { regular == nil }

    /// Pixels per em at a layout text scale.
    static func pixelSize(scale: Int) -> Int { 7 * max(1, scale) }

    // MARK: Measuring

    /// The height of a line of text at `scale`: the font's ascender plus descender (the bitmap
    /// font: its 7-pixel glyph height times the scale).
    public func lineHeight(scale: Int) -> Double {
        guard let regular else { return Double(BitmapFont.glyphHeight * scale) }
        return withFace(regular, bold: false, scale: scale) { face in
            let metrics = face.pointee.size.pointee.metrics
            return Double(metrics.ascender - metrics.descender) / 64
        }
    }

    /// The distance from a line's top to its baseline at `scale` (the bitmap font: its glyph
    /// height, the glyphs standing on the box's bottom).
    public func ascent(scale: Int) -> Double {
        guard let regular else { return Double(BitmapFont.glyphHeight * scale) }
        return withFace(regular, bold: false, scale: scale) { Double(($0.pointee.size.pointee.metrics.ascender + 63) / 64) }
    }

    /// The advance of a digit at `scale`, for spacing tick labels.
    public func digitAdvance(scale: Int) -> Double {
        isBitmap ? Double(BitmapFont.advance * scale) : size(of: "0", scale: scale).width
    }

    /// The width and height of `text` on one line at `scale`: the pen's advance with kerning
    /// (the bitmap font: without the last character's blank column) and ``lineHeight(scale:)``.
    public func size(of text: String, scale: Int, bold: Bool = false) -> (width: Double, height: Double) {
        guard regular != nil else {
            let size = BitmapFont.size(of: text, scale: scale)
            return (Double(size.width + (bold && size.width > 0 ? 1 : 0)), Double(size.height))
        }
        var width = 0.0
        layOut(text, scale: scale, bold: bold) { _, pen, glyph in width = max(width, Double(pen + glyph.advance) / 64) }
        return (width.rounded(.up) + (bold && self.bold == nil && width > 0 ? 1 : 0), lineHeight(scale: scale))
    }

    // MARK: Drawing

    /// Draws `text` with its box's top-left corner at `origin`; `rotated` reads upwards, the
    /// origin then being the top-left of the rotated box.
    func draw(_ text: String, into canvas: inout Canvas, at origin: PixelPoint, scale: Int, color: Color,
              rotated: Bool, bold: Bool) {
        guard let regular else {
            canvas.drawBitmapText(text, at: origin, scale: scale, color: color, rotated: rotated, bold: bold)
            return
        }
        let box = size(of: text, scale: scale, bold: bold)
        let ascender = withFace(regular, bold: false, scale: scale) { Int(($0.pointee.size.pointee.metrics.ascender + 63) / 64) }
        let ox = Int(origin.x.rounded()), oy = Int(origin.y.rounded()), boxWidth = Int(box.width)
        let b = canvas.clipBounds
        let strokes = bold && self.bold == nil ? 2 : 1
        layOut(text, scale: scale, bold: bold) { _, pen, glyph in
            guard glyph.width > 0 else { return }
            let left = (pen + 32) >> 6 + glyph.left, top = ascender - glyph.top
            for extra in 0..<strokes {
                for row in 0..<glyph.rows {
                    for column in 0..<glyph.width {
                        let coverage = glyph.coverage[row * glyph.width + column]
                        guard coverage > 0 else { continue }
                        let u = left + column + extra, v = top + row
                        let x = rotated ? ox + v : ox + u
                        let y = rotated ? oy + boxWidth - 1 - u : oy + v
                        guard x >= b.x0, x < b.x1, y >= b.y0, y < b.y1 else { continue }
                        canvas.blend(x: x, y: y, color: color, coverage: Float(coverage) / 255)
                    }
                }
            }
        }
    }

    // MARK: Glyphs

    private struct GlyphKey: Hashable {
        let index: UInt32
        let size: Int
        let bold: Bool
    }

    /// A rendered glyph: 8-bit coverage, its offset from the pen on the baseline, its advance.
    struct Glyph {
        var width = 0, rows = 0
        /// Pixels from the pen to the bitmap's left edge, and from the baseline up to its top.
        var left = 0, top = 0
        /// In 1/64 pixel.
        var advance = 0
        var coverage: [UInt8] = []
    }

    /// Calls `body` with each character's glyph and its pen position (1/64 pixel, kerned).
    private func layOut(_ text: String, scale: Int, bold: Bool, _ body: (Character, Int, Glyph) -> Void) {
        guard let regular else { return }
        let face = bold ? self.bold ?? regular : regular
        let size = Self.pixelSize(scale: scale)
        lock.lock()
        defer { lock.unlock() }
        setSize(face, bold: bold && self.bold != nil, pixels: size)
        let kerns = bp_ft_has_kerning(face) == 1
        var pen = 0
        var previous: UInt32 = 0
        for character in text {
            // One glyph per character: its first scalar (combining marks are not composed).
            guard let scalar = character.unicodeScalars.first else { continue }
            let index = FT_Get_Char_Index(face, FT_ULong(scalar.value))
            if kerns, previous != 0, index != 0 { pen += bp_ft_kerning(face, previous, index) }
            let glyph = glyphLocked(face, index: index, size: size, bold: bold && self.bold != nil)
            body(character, pen, glyph)
            pen += glyph.advance
            previous = index
        }
    }

    /// The cached glyph, rendered on first use; the lock is held.
    private func glyphLocked(_ face: FT_Face, index: UInt32, size: Int, bold: Bool) -> Glyph {
        let key = GlyphKey(index: index, size: size, bold: bold)
        if let glyph = glyphs[key] { return glyph }
        var glyph = Glyph()
        if bp_ft_render_glyph(face, index) == 0, let slot = face.pointee.glyph {
            let bitmap = slot.pointee.bitmap
            glyph.width = Int(bitmap.width)
            glyph.rows = Int(bitmap.rows)
            glyph.left = Int(slot.pointee.bitmap_left)
            glyph.top = Int(slot.pointee.bitmap_top)
            glyph.advance = Int(slot.pointee.advance.x)
            // Gray bitmaps only (FT_RENDER_MODE_LIGHT renders 8-bit gray); rows may be padded
            // to `pitch` bytes.
            if let buffer = bitmap.buffer, glyph.width > 0, glyph.rows > 0, bitmap.pixel_mode == UInt8(FT_PIXEL_MODE_GRAY.rawValue) {
                let pitch = Int(bitmap.pitch)
                glyph.coverage = [UInt8](repeating: 0, count: glyph.width * glyph.rows)
                for row in 0..<glyph.rows {
                    let source = pitch >= 0 ? buffer + row * pitch : buffer + (glyph.rows - 1 - row) * -pitch
                    for column in 0..<glyph.width { glyph.coverage[row * glyph.width + column] = source[column] }
                }
            } else {
                glyph.width = 0
            }
        }
        glyphs[key] = glyph
        return glyph
    }

    /// Sets the face's size when it differs; the lock is held.
    private func setSize(_ face: FT_Face, bold: Bool, pixels: Int) {
        guard currentSize[bold] != pixels else { return }
        FT_Set_Pixel_Sizes(face, 0, FT_UInt(pixels))
        currentSize[bold] = pixels
    }

    /// `body` on the face at the size of `scale`, holding the lock.
    private func withFace<R>(_ face: FT_Face, bold: Bool, scale: Int, _ body: (FT_Face) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        setSize(face, bold: bold, pixels: Self.pixelSize(scale: scale))
        return body(face)
    }
}

/// Why no TrueType font could be used.
public enum TypefaceError: Error, Equatable, CustomStringConvertible {
    /// `BACKPROP_FONT` names a file that does not exist.
    case noFile(String)
    /// No installed font has the family asked for (`found`: what fontconfig offered instead).
    case noMatch(String, found: String?)
    /// The file is not a scalable font FreeType can read.
    case unreadable(String)

    /// One line saying which font could not be used and why.
    public var description: String {
        switch self {
        case .noFile(let path): return "no font file \(path)"
        case let .noMatch(family, found):
            return "no font '\(family)' installed" + (found.map { " (fontconfig offers '\($0)')" } ?? " (fontconfig found none)")
        case .unreadable(let path): return "FreeType cannot read \(path) as a scalable font"
        }
    }
}
