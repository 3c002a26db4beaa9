import Foundation

/// A colour with straight (not premultiplied) alpha, each channel in 0...1, in sRGB.
public struct Color: Sendable, Equatable, Hashable {
    /// The red channel, 0...1.
    public var red: Double
    /// The green channel, 0...1.
    public var green: Double
    /// The blue channel, 0...1.
    public var blue: Double
    /// Opacity, 0 (transparent) ... 1 (opaque).
    public var alpha: Double

    /// A colour from its channels, each in 0...1.
    public init(red: Double, green: Double, blue: Double, alpha: Double = 1) {
        self.red = red
        self.green = green
        self.blue = blue
        self.alpha = alpha
    }

    /// A colour from a 24-bit `0xRRGGBB` literal.
    public init(hex: UInt32, alpha: Double = 1) {
        self.init(red: Double((hex >> 16) & 0xFF) / 255, green: Double((hex >> 8) & 0xFF) / 255,
                  blue: Double(hex & 0xFF) / 255, alpha: alpha)
    }

    /// A grey level, 0 black … 1 white.
    public init(grey: Double, alpha: Double = 1) {
        self.init(red: grey, green: grey, blue: grey, alpha: alpha)
    }

    /// The same colour with its alpha multiplied by `opacity`.
    public func opacity(_ opacity: Double) -> Color {
        Color(red: red, green: green, blue: blue, alpha: alpha * opacity)
    }

    /// Linear interpolation towards `other`: `t` = 0 is `self`, 1 is `other`.
    public func mixed(with other: Color, _ t: Double) -> Color {
        Color(red: red + (other.red - red) * t, green: green + (other.green - green) * t,
              blue: blue + (other.blue - blue) * t, alpha: alpha + (other.alpha - alpha) * t)
    }

    /// `#rrggbb` for SVG.
    public var hexString: String {
        func byte(_ v: Double) -> Int { Int((max(0, min(1, v)) * 255).rounded()) }
        return "#" + [red, green, blue].map { String(format: "%02x", byte($0)) }.joined()
    }

    /// 8-bit channels, rounded.
    public var bytes: (r: UInt8, g: UInt8, b: UInt8, a: UInt8) {
        func byte(_ v: Double) -> UInt8 { UInt8((max(0, min(1, v)) * 255).rounded()) }
        return (byte(red), byte(green), byte(blue), byte(alpha))
    }

    /// Opaque white.
    public static let white = Color(grey: 1)
    /// Opaque black.
    public static let black = Color(grey: 0)
    /// Fully transparent.
    public static let clear = Color(grey: 0, alpha: 0)
    /// Mid grey (0.5).
    public static let grey = Color(grey: 0.5)
    /// Light grey (0.88), for grid lines and backgrounds.
    public static let lightGrey = Color(grey: 0.88)
    /// Dark grey (0.2), for text.
    public static let darkGrey = Color(grey: 0.2)
    /// tab10's red, #D62728.
    public static let red = Color(hex: 0xD62728)
    /// tab10's blue, #1F77B4.
    public static let blue = Color(hex: 0x1F77B4)
    /// tab10's green, #2CA02C.
    public static let green = Color(hex: 0x2CA02C)
    /// tab10's orange, #FF7F0E.
    public static let orange = Color(hex: 0xFF7F0E)
    /// tab10's purple, #9467BD.
    public static let purple = Color(hex: 0x9467BD)

    /// Ten colours that stay distinguishable side by side (the tab10 palette of matplotlib).
    public static let categorical: [Color] = [
        0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD,
        0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22, 0x17BECF,
    ].map { Color(hex: $0) }

    /// The categorical palette colour for `index`, cycling after ten.
    public static func category(_ index: Int) -> Color {
        categorical[((index % categorical.count) + categorical.count) % categorical.count]
    }
}

/// Maps a number in 0...1 to a colour: sequential (viridis, grey, magma-like heat) for magnitudes,
/// diverging (blue–white–red) for signed values centred on zero.
public struct ColorMap: Sendable, Equatable {
    /// Evenly spaced colour stops from 0 to 1, linearly interpolated.
    public var stops: [Color]
    /// Whether values are signed around a centre: automatic ranges are made symmetric about zero.
    public var isDiverging: Bool

    /// A map through the given stops.
    ///
    /// - Parameters:
    ///   - stops: at least two colours, evenly spaced from 0 to 1.
    ///   - isDiverging: the values are signed around zero.
    public init(stops: [Color], isDiverging: Bool = false) {
        precondition(stops.count >= 2, "ColorMap needs at least two stops")
        self.stops = stops
        self.isDiverging = isDiverging
    }

    /// The colour at `t`, clamped to 0...1; NaN gives a transparent colour.
    public func color(at t: Double) -> Color {
        guard t.isFinite else { return .clear }
        let u = max(0, min(1, t)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(u))
        return stops[i].mixed(with: stops[i + 1], u - Double(i))
    }

    /// A perceptually ordered blue–green–yellow map (matplotlib's viridis, sampled at nine points).
    public static let viridis = ColorMap(stops: [
        0x440154, 0x472D7B, 0x3B528B, 0x2C728E, 0x21918C, 0x28AE80, 0x5EC962, 0xADDC30, 0xFDE725,
    ].map { Color(hex: $0) })

    /// Black to white.
    public static let grey = ColorMap(stops: [.black, .white])

    /// White to black: dark ink on a light page, for digits and weights' magnitudes.
    public static let greyInverted = ColorMap(stops: [.white, .black])

    /// Black through purple and orange to pale yellow (magma-like).
    public static let heat = ColorMap(stops: [
        0x000004, 0x2C115F, 0x721F81, 0xB73779, 0xF1605D, 0xFEAF77, 0xFCFDBF,
    ].map { Color(hex: $0) })

    /// Blue, white at the centre, red: for signed values such as weights (RdBu reversed).
    public static let diverging = ColorMap(stops: [
        0x2166AC, 0x4393C3, 0x92C5DE, 0xD1E5F0, 0xF7F7F7, 0xFDDBC7, 0xF4A582, 0xD6604D, 0xB2182B,
    ].map { Color(hex: $0) }, isDiverging: true)
}
