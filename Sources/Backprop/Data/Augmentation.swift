#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Image augmentation: random label-preserving changes to training images, so the network sees
/// each example under many conditions (position, slant, size, stroke wobble, sensor noise)
/// instead of memorizing the one it was given.
///
/// Images are grey, row-major, `height × width` floats in [0, 1] (what ``ImageDataset`` gathers).
/// The transforms, applied in this order when enabled:
///
/// 1. **Affine** (``Affine``): translation by up to ±`maxTranslation` pixels in each direction,
///    rotation by up to ±`maxRotation` degrees and scaling by a factor in `scale`, about the
///    image centre, combined into one matrix and applied as one inverse-mapped warp: every output
///    pixel looks up where it came from and samples the input there bilinearly (zero outside).
///    One warp instead of three in a row means one interpolation, so one blur.
/// 2. **Elastic distortion** (``Elastic``, Simard, Steinkraus & Platt 2003, "Best practices for
///    convolutional neural networks applied to visual document analysis"): two displacement
///    fields of independent uniform(−1, 1) values, each smoothed by a normalized Gaussian of
///    standard deviation σ pixels and multiplied by α; pixel (x, y) takes the input's value at
///    (x + Δx, y + Δy), bilinearly.
/// 3. **Noise** (``Noise``): independent N(0, σ²) added to every pixel, then clamped to [0, 1].
///
/// Each transform draws from the ``RandomGenerator`` passed in, so a seed fixes every image.
public struct Augmentation: Sendable, Equatable, CustomStringConvertible {
    /// Random translation, rotation and scaling in one warp.
    public struct Affine: Sendable, Equatable {
        /// Largest shift in pixels, drawn uniformly in ±this for x and y separately.
        public var maxTranslation: Float
        /// Largest rotation in degrees, drawn uniformly in ±this.
        public var maxRotation: Float
        /// The range the scale factor is drawn uniformly from (1 keeps the size).
        public var scale: ClosedRange<Float>

        /// Defaults: ±2 px, ±10°, scale 0.9…1.1 — a digit stays inside a 28×28 frame and keeps its
        /// identity (a 7 rotated by 45° starts to look like a 1; 10° does not).
        public init(maxTranslation: Float = 2, maxRotation: Float = 10, scale: ClosedRange<Float> = 0.9...1.1) {
            self.maxTranslation = maxTranslation
            self.maxRotation = maxRotation
            self.scale = scale
        }
    }

    /// Elastic distortion (Simard et al. 2003).
    public struct Elastic: Sendable, Equatable {
        /// Scale of the smoothed displacement, in pixels per unit of smoothed field.
        public var alpha: Float
        /// Standard deviation of the smoothing Gaussian, in pixels: small σ gives jagged, local
        /// displacements; large σ gives smooth, almost rigid ones.
        public var sigma: Float

        /// Defaults: σ = 4 (Simard's) and α = 24 rather than Simard's 34. With a normalized
        /// Gaussian, smoothed uniform(−1, 1) noise has a standard deviation of
        /// (1/√3)·1/(2σ√π) ≈ 0.041 for σ = 4, so α = 34 moves pixels by ≈1.4 px (RMS, per axis) and
        /// α = 24 by ≈1.0 px — enough to wobble strokes without breaking thin ones apart.
        public init(alpha: Float = 24, sigma: Float = 4) {
            self.alpha = alpha
            self.sigma = sigma
        }
    }

    /// Additive Gaussian pixel noise.
    public struct Noise: Sendable, Equatable {
        /// Standard deviation of the noise, in pixel units (pixels lie in [0, 1]).
        public var standardDeviation: Float

        /// Default σ = 0.1: visible speckle that leaves strokes (near 1) far from background (near 0).
        public init(standardDeviation: Float = 0.1) {
            self.standardDeviation = standardDeviation
        }
    }

    /// Random affine distortions (translation, rotation, scaling), or nil for none.
    public var affine: Affine?
    /// Random elastic distortions (Simard et al. 2003), or nil for none.
    public var elastic: Elastic?
    /// Additive pixel noise, or nil for none.
    public var noise: Noise?

    /// The transforms to apply, in the order affine, elastic, noise; nil leaves one out.
    public init(affine: Affine? = nil, elastic: Elastic? = nil, noise: Noise? = nil) {
        self.affine = affine
        self.elastic = elastic
        self.noise = noise
    }

    /// No augmentation.
    public static let none = Augmentation()

    /// Whether no transform is enabled.
    public var isIdentity: Bool { affine == nil && elastic == nil && noise == nil }

    /// The specification string this value parses from.
    public var description: String {
        var parts: [String] = []
        if let a = affine {
            parts.append("affine:translate=\(a.maxTranslation):rotate=\(a.maxRotation):scale=\(a.scale.lowerBound)-\(a.scale.upperBound)")
        }
        if let e = elastic { parts.append("elastic:alpha=\(e.alpha):sigma=\(e.sigma)") }
        if let n = noise { parts.append("noise:std=\(n.standardDeviation)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ",")
    }

    /// Parses a command-line specification: a comma-separated list of `affine`, `elastic` and
    /// `noise`, each optionally followed by `:key=value` settings, or `none`.
    ///
    ///     affine                       defaults (±2 px, ±10°, scale 0.9-1.1)
    ///     affine,noise
    ///     affine:translate=3:rotate=15:scale=0.8-1.2,elastic:alpha=34:sigma=4,noise:std=0.05
    ///
    /// - Throws: ``AugmentationError`` naming the item and what was expected.
    public init(parsing text: String) throws(AugmentationError) {
        self.init()
        let trimmed = text.trimmingSpaces()
        if trimmed.isEmpty || trimmed == "none" { return }
        for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
            let name = parts[0]
            var settings: [String: Float] = [:]
            var scaleRange: ClosedRange<Float>?
            for setting in parts.dropFirst() {
                let kv = setting.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else {
                    throw AugmentationError(item: String(item), problem: "setting '\(setting)' is not key=value")
                }
                if name == "affine", kv[0] == "scale" {
                    let bounds = kv[1].split(separator: "-").map { Float(String($0)) }
                    guard bounds.count == 2, let lo = bounds[0], let hi = bounds[1], lo > 0, lo <= hi, hi.isFinite else {
                        throw AugmentationError(item: String(item), problem: "scale '\(kv[1])' is not a range like 0.9-1.1 of positive numbers")
                    }
                    scaleRange = lo...hi
                    continue
                }
                guard let value = Float(kv[1]), value.isFinite, value >= 0 else {
                    throw AugmentationError(item: String(item), problem: "\(kv[0])='\(kv[1])' is not a non-negative number")
                }
                guard settings[kv[0]] == nil else {
                    throw AugmentationError(item: String(item), problem: "\(kv[0]) is given twice")
                }
                settings[kv[0]] = value
            }
            func check(_ allowed: [String]) throws(AugmentationError) {
                if let unknown = settings.keys.sorted().first(where: { !allowed.contains($0) }) {
                    throw AugmentationError(item: String(item), problem: "unknown setting '\(unknown)'; \(name) takes \(allowed.joined(separator: ", "))")
                }
            }
            switch name {
            case "affine":
                guard affine == nil else { throw AugmentationError(item: String(item), problem: "affine is given twice") }
                try check(["translate", "rotate", "scale"])
                var a = Affine()
                if let t = settings["translate"] { a.maxTranslation = t }
                if let r = settings["rotate"] {
                    guard r <= 180 else { throw AugmentationError(item: String(item), problem: "rotate=\(r) is more than 180 degrees") }
                    a.maxRotation = r
                }
                if let s = scaleRange { a.scale = s }
                affine = a
            case "elastic":
                guard elastic == nil else { throw AugmentationError(item: String(item), problem: "elastic is given twice") }
                try check(["alpha", "sigma"])
                var e = Elastic()
                if let alpha = settings["alpha"] { e.alpha = alpha }
                if let sigma = settings["sigma"] {
                    guard sigma > 0, sigma <= 64 else {
                        throw AugmentationError(item: String(item), problem: "sigma=\(sigma) must be in (0, 64] pixels")
                    }
                    e.sigma = sigma
                }
                elastic = e
            case "noise":
                guard noise == nil else { throw AugmentationError(item: String(item), problem: "noise is given twice") }
                try check(["std"])
                noise = Noise(standardDeviation: settings["std"] ?? Noise().standardDeviation)
            default:
                throw AugmentationError(item: String(item), problem: "unknown augmentation '\(name)'; expected affine, elastic, noise or none")
            }
        }
    }

    // MARK: Applying

    /// One augmented copy of `image` (`height × width`, row-major).
    public func apply(to image: [Float], height: Int, width: Int, using generator: inout RandomGenerator) -> [Float] {
        precondition(height > 0 && width > 0 && image.count == height * width,
                     "Augmentation: image of \(image.count) pixels is not \(height)×\(width)")
        var out = image
        if let a = affine {
            let tx = generator.nextUniform(in: -a.maxTranslation...a.maxTranslation)
            let ty = generator.nextUniform(in: -a.maxTranslation...a.maxTranslation)
            let angle = generator.nextUniform(in: -a.maxRotation...a.maxRotation) * .pi / 180
            let s = generator.nextUniform(in: a.scale)
            out = Self.affineWarp(out, height: height, width: width, translation: (tx, ty), rotation: angle, scale: s)
        }
        if let e = elastic {
            out = Self.elasticDistortion(out, height: height, width: width, alpha: e.alpha, sigma: e.sigma, using: &generator)
        }
        if let n = noise {
            out = Self.addingNoise(out, standardDeviation: n.standardDeviation, using: &generator)
        }
        return out
    }

    /// Augments every row of a [n, height·width] batch in place, each with its own draws.
    public func apply(to batch: inout Tensor, height: Int, width: Int, using generator: inout RandomGenerator) {
        guard !isIdentity else { return }
        let pixels = height * width
        precondition(batch.rank == 2 && batch.shape[1] == pixels,
                     "Augmentation: batch of shape \(batch.shape) is not [n, \(height)·\(width)]")
        let rows = batch.shape[0]
        batch.withUnsafeMutableBufferPointer { buffer in
            for r in 0..<rows {
                let image = Array(buffer[(r * pixels)..<((r + 1) * pixels)])
                let augmented = apply(to: image, height: height, width: width, using: &generator)
                for k in 0..<pixels { buffer[r * pixels + k] = augmented[k] }
            }
        }
    }

    // MARK: Transforms

    /// `image` moved by `translation` pixels (x right, y down), rotated by `rotation` radians
    /// (counter-clockwise as displayed, y pointing down) and scaled by `scale`, about the centre.
    /// Inverse mapping with bilinear sampling; pixels that come from outside the input are 0.
    public static func affineWarp(_ image: [Float], height: Int, width: Int, translation: (x: Float, y: Float),
                                  rotation: Float, scale: Float) -> [Float] {
        precondition(scale > 0, "affineWarp: scale \(scale) must be positive")
        let cx = Float(width - 1) / 2, cy = Float(height - 1) / 2
        // With M(φ) = [[cos φ, −sin φ], [sin φ, cos φ]] in pixel axes (x right, y down), where a
        // positive φ turns clockwise on screen: forward p' = s·M(−θ)·(p − c) + c + t, so a positive
        // θ turns counter-clockwise on screen; inverse p = M(θ)·(p' − c − t)/s + c.
        let cosine = cos(rotation) / scale, sine = sin(rotation) / scale
        var out = [Float](repeating: 0, count: image.count)
        for y in 0..<height {
            for x in 0..<width {
                let dx = Float(x) - cx - translation.x, dy = Float(y) - cy - translation.y
                let sx = cosine * dx - sine * dy + cx
                let sy = sine * dx + cosine * dy + cy
                out[y * width + x] = bilinear(image, height: height, width: width, x: sx, y: sy)
            }
        }
        return out
    }

    /// Elastic distortion with displacement fields drawn from `generator` (see the type's
    /// documentation). Consumes 2·height·width uniform draws.
    public static func elasticDistortion(_ image: [Float], height: Int, width: Int, alpha: Float, sigma: Float,
                                         using generator: inout RandomGenerator) -> [Float] {
        precondition(sigma > 0, "elasticDistortion: sigma \(sigma) must be positive")
        let n = height * width
        var fx = [Float](repeating: 0, count: n), fy = [Float](repeating: 0, count: n)
        for i in 0..<n { fx[i] = generator.nextUniform(in: -1...1) }
        for i in 0..<n { fy[i] = generator.nextUniform(in: -1...1) }
        let kernel = gaussianKernel(sigma: sigma)
        fx = smooth(fx, height: height, width: width, kernel: kernel)
        fy = smooth(fy, height: height, width: width, kernel: kernel)
        var out = [Float](repeating: 0, count: n)
        for y in 0..<height {
            for x in 0..<width {
                let i = y * width + x
                out[i] = bilinear(image, height: height, width: width, x: Float(x) + alpha * fx[i], y: Float(y) + alpha * fy[i])
            }
        }
        return out
    }

    /// `image` plus N(0, standardDeviation²) per pixel, clamped to [0, 1].
    public static func addingNoise(_ image: [Float], standardDeviation: Float,
                                   using generator: inout RandomGenerator) -> [Float] {
        var out = image
        out.withUnsafeMutableBufferPointer { buffer in
            var noise = [Float](repeating: 0, count: buffer.count)
            noise.withUnsafeMutableBufferPointer { generator.fillNormal($0, mean: 0, standardDeviation: standardDeviation) }
            for i in 0..<buffer.count { buffer[i] = min(1, max(0, buffer[i] + noise[i])) }
        }
        return out
    }

    /// The input at fractional (x, y): bilinear between the four neighbours, zero outside.
    static func bilinear(_ image: [Float], height: Int, width: Int, x: Float, y: Float) -> Float {
        guard x > -1, y > -1, x < Float(width), y < Float(height) else { return 0 }
        let x0f = x.rounded(.down), y0f = y.rounded(.down)
        let x0 = Int(x0f), y0 = Int(y0f)
        let ax = x - x0f, ay = y - y0f
        func pixel(_ xi: Int, _ yi: Int) -> Float {
            xi >= 0 && xi < width && yi >= 0 && yi < height ? image[yi * width + xi] : 0
        }
        let top = pixel(x0, y0) * (1 - ax) + pixel(x0 + 1, y0) * ax
        let bottom = pixel(x0, y0 + 1) * (1 - ax) + pixel(x0 + 1, y0 + 1) * ax
        return top * (1 - ay) + bottom * ay
    }

    /// A normalized 1-D Gaussian of standard deviation `sigma`, truncated at ±⌈3σ⌉.
    static func gaussianKernel(sigma: Float) -> [Float] {
        let radius = Int((3 * sigma).rounded(.up))
        var k = (-radius...radius).map { exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = k.reduce(0, +)
        for i in k.indices { k[i] /= total }
        return k
    }

    /// Separable convolution with `kernel`, borders extended by repeating the edge value
    /// (SciPy's "nearest" mode), so the field near the border is not pulled towards zero.
    static func smooth(_ field: [Float], height: Int, width: Int, kernel: [Float]) -> [Float] {
        let radius = kernel.count / 2
        var rows = [Float](repeating: 0, count: field.count)
        for y in 0..<height {
            for x in 0..<width {
                var s: Float = 0
                for k in -radius...radius { s += kernel[k + radius] * field[y * width + min(width - 1, max(0, x + k))] }
                rows[y * width + x] = s
            }
        }
        var out = [Float](repeating: 0, count: field.count)
        for y in 0..<height {
            for x in 0..<width {
                var s: Float = 0
                for k in -radius...radius { s += kernel[k + radius] * rows[min(height - 1, max(0, y + k)) * width + x] }
                out[y * width + x] = s
            }
        }
        return out
    }
}

/// A malformed augmentation specification (see ``Augmentation/init(parsing:)``).
public struct AugmentationError: Error, Equatable, CustomStringConvertible {
    /// The comma-separated item at fault.
    public var item: String
    /// What is wrong with it.
    public var problem: String

    /// A one-line message naming the bad specification and why.
    public var description: String { "augmentation '\(item)': \(problem)" }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
