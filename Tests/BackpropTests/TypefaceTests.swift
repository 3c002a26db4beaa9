import Foundation
import Testing
import Backprop

/// The figures' text through FreeType (GitHub issue 18): glyphs checked on pixels, measured
/// widths, kerning, and the bitmap fallback.
@Suite struct TypefaceTests {
    /// DejaVu Sans as fontconfig finds it, when it is installed (fonts-dejavu-core).
    static let dejaVu: Typeface? = try? Typeface.find("DejaVu Sans").get()

    /// `text` drawn black on white with its box at (4, 4); returns the canvas and its box.
    static func render(_ text: String, _ typeface: Typeface, scale: Int = 4) -> (Canvas, (width: Double, height: Double)) {
        let box = typeface.size(of: text, scale: scale)
        var canvas = Canvas(width: Int(box.width) + 8, height: Int(box.height) + 8)
        canvas.typeface = typeface
        canvas.drawText(text, at: PixelPoint(x: 4, y: 4), scale: scale, color: .black)
        return (canvas, box)
    }

    /// Ink per pixel (1 − red: black on white), row-major.
    static func ink(_ canvas: Canvas) -> [Double] {
        (0..<canvas.height).flatMap { y in (0..<canvas.width).map { x in 1 - canvas.color(x: x, y: y).red } }
    }

    /// Where DejaVu is installed, the figures use it: FreeType and fontconfig work here.
    @Test(.enabled(if: dejaVu != nil && ProcessInfo.processInfo.environment["BACKPROP_FONT"] == nil))
    func figuresUseTheTrueTypeFontWhereThereIsOne() throws {
        #expect(!Typeface.standard.isBitmap)
        #expect(Typeface.standard.name == "DejaVu Sans")
        var figure = Figure(width: 200, height: 120)
        var panel = Panel(title: "η and γ", xLabel: "step")
        panel.add(.line(x: [0, 1], y: [0, 1], label: "λ = 0.1"))
        figure.add(panel)
        let svg = figure.svg()
        #expect(svg.contains("font-family=\"DejaVu Sans, "))
        #expect(svg.contains("η and γ") && svg.contains("λ = 0.1"))
    }

    @Test(.enabled(if: dejaVu != nil))
    func etaIsNotAnN() throws {
        let face = try #require(Self.dejaVu)
        let (eta, _) = Self.render("η", face), (n, _) = Self.render("n", face)
        let ascent = Int(face.ascent(scale: 4)) + 4
        // η's right stem goes below the baseline; n stands on it.
        func inkBelowBaseline(_ canvas: Canvas) -> Double {
            (ascent + 1..<canvas.height).reduce(0) { sum, y in sum + (0..<canvas.width).reduce(0) { $0 + 1 - canvas.color(x: $1, y: y).red } }
        }
        #expect(inkBelowBaseline(eta) > 5, "η: \(inkBelowBaseline(eta))")
        #expect(inkBelowBaseline(n) < 0.5, "n: \(inkBelowBaseline(n))")
        // The Greek letters of the course's captions each have a glyph of their own.
        let glyphs = ["η", "γ", "λ", "σ", "β", "ε", "₁", "₂", "²", "′", "−"].map { Self.ink(Self.render($0, face).0) }
        #expect(Set(glyphs.map { $0.map { Int($0 * 255) } }).count == glyphs.count)
    }

    @Test(.enabled(if: dejaVu != nil))
    func glyphsAreAntiAliased() throws {
        let face = try #require(Self.dejaVu)
        let ink = Self.ink(Self.render("a sigmoid σ", face, scale: 2).0)
        let partial = ink.filter { $0 > 0.05 && $0 < 0.95 }.count, solid = ink.filter { $0 >= 0.95 }.count
        #expect(partial > solid / 4, "partial \(partial), solid \(solid)")
        // The bitmap font covers whole pixels only.
        let bitmap = Self.ink(Self.render("a sigmoid", .bitmap, scale: 2).0)
        #expect(bitmap.allSatisfy { $0 < 0.001 || $0 > 0.999 })
    }

    @Test(.enabled(if: dejaVu != nil))
    func widthsAreProportionalKernedAndGrowWithTheText() throws {
        let face = try #require(Self.dejaVu)
        func width(_ s: String, _ scale: Int = 2) -> Double { face.size(of: s, scale: scale).width }
        #expect(width("ab") < width("abc") && width("abc") < width("abcd"))
        #expect(width("iiii") < width("MMMM") / 2)
        // Kerned pairs take less room than their letters apart (DejaVu kerns AV by −64/2048 em
        // and To by −192/2048: whole pixels at a 28-pixel em, where kerning is grid-fitted).
        #expect(width("AV", 4) < width("A", 4) + width("V", 4) - 0.5)
        #expect(width("To", 4) < width("T", 4) + width("o", 4) - 0.5)
        #expect(width("To") < width("T") + width("o") - 0.5)
        // Sizes scale with the em: 7·scale pixels, DejaVu's line 1.164 em.
        #expect(abs(face.lineHeight(scale: 2) - 1.164 * 14) < 1.5 && abs(face.lineHeight(scale: 4) - 1.164 * 28) < 1.5)
        #expect(width("training loss", 4) > 1.9 * width("training loss", 2))
    }

    @Test func theBitmapFontIsTheFallback() throws {
        #expect(Typeface.bitmap.isBitmap)
        #expect(Typeface.bitmap.size(of: "abc", scale: 2) == (34, 14))
        #expect(Typeface.find("/nonexistent/font.ttf").failureValue == .noFile("/nonexistent/font.ttf"))
        let notAFont = (NSTemporaryDirectory() as NSString).appendingPathComponent("not-a-font-\(UUID().uuidString).ttf")
        try Data("this is not a font".utf8).write(to: URL(fileURLWithPath: notAFont))
        #expect(Typeface.find(notAFont).failureValue == .unreadable(notAFont))
        if case .noMatch(let asked, _)? = Typeface.find("No Such Family Backprop").failureValue {
            #expect(asked == "No Such Family Backprop")
        } else {
            Issue.record("an unknown family must not match another one")
        }
        // A whole figure in the bitmap font.
        var theme = Theme()
        theme.typeface = .bitmap
        var figure = Figure(width: 200, height: 120, theme: theme)
        var panel = Panel(title: "loss", xLabel: "step")
        panel.add(.line(x: [0, 1], y: [0, 1], label: "sgd"))
        figure.add(panel)
        let ink = Self.inkOf(figure.canvas())
        #expect(ink > 50)
        #expect(figure.svg().contains("DejaVu Sans Mono"))
    }

    static func inkOf(_ canvas: Canvas) -> Double { ink(canvas).reduce(0, +) }

    /// BACKPROP_FONT names the font; one that cannot be found is said once, and the figures
    /// are drawn in the bitmap font.
    @Test(.enabled(if: dejaVu != nil))
    func backpropFontChoosesTheFontOrFallsBackOnce() throws {
        func run(_ font: String?) throws -> (CommandLineTests.Run, [UInt8]) {
            let out = CommandLineTests.temporaryDirectory()
            let result = try CommandLineTests.run(["experiment", "momentum", "--out", out],
                                                  environment: font.map { ["BACKPROP_FONT": $0] } ?? [:])
            let png = (try? Data(contentsOf: URL(fileURLWithPath: (out as NSString).appendingPathComponent("ravine.png")))) ?? Data()
            return (result, [UInt8](png))
        }
        let (standard, standardPNG) = try run(nil)
        #expect(standard.status == 0 && !standard.error.contains("bitmap font"), "\(standard.error)")
        let (missing, missingPNG) = try run("/nonexistent/font.ttf")
        #expect(missing.status == 0, "\(missing.error)")
        let warnings = missing.error.split(separator: "\n").filter { $0.contains("bitmap font") }
        #expect(warnings == ["backprop: no font file /nonexistent/font.ttf; figures' text uses the 5×7 bitmap font"])
        #expect(!missingPNG.isEmpty && missingPNG != standardPNG)
        let (serif, serifPNG) = try run("DejaVu Serif")
        #expect(serif.status == 0 && !serif.error.contains("bitmap font"), "\(serif.error)")
        #expect(!serifPNG.isEmpty && serifPNG != standardPNG)
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
