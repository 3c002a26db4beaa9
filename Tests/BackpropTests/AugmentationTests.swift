import Foundation
import Testing
import Backprop

/// Hand-drawn 28×28 digits and a classifier that can tell them apart, to check that augmented
/// images keep their label.
enum HandDrawnDigits {
    static let size = 28

    static func draw(_ inked: (Int, Int) -> Bool) -> [Float] {
        var image = [Float](repeating: 0, count: size * size)
        for y in 0..<size { for x in 0..<size where inked(x, y) { image[y * size + x] = 1 } }
        return image
    }

    /// A vertical bar.
    static let one = draw { x, y in (13...15).contains(x) && (5...22).contains(y) }
    /// An upright elliptical ring.
    static let zero = draw { x, y in
        let dx = (Float(x) - 13.5) / 6, dy = (Float(y) - 13.5) / 9
        let r = (dx * dx + dy * dy).squareRoot()
        return r > 0.72 && r < 1.05
    }
    /// A top bar and a diagonal stroke down to the bottom left.
    static let seven = draw { x, y in
        if (5...7).contains(y) && (8...20).contains(x) { return true }
        guard (7...22).contains(y) else { return false }
        let along = 20 - Float(y - 7) * 9 / 15  // x of the stroke's centre at row y
        return abs(Float(x) - along) <= 1.5
    }

    static let templates: [(label: Int, image: [Float])] = [(0, zero), (1, one), (7, seven)]

    /// The label of the template with the highest normalized cross-correlation, maximized over
    /// shifts of up to ±4 pixels (so the criterion tolerates translation but not a change of shape).
    static func classify(_ image: [Float]) -> Int {
        var best = (score: -Float.infinity, label: -1)
        for (label, template) in templates {
            var top = -Float.infinity
            for sy in -4...4 {
                for sx in -4...4 {
                    var dot: Float = 0, nt: Float = 0, ni: Float = 0
                    for y in 0..<size {
                        for x in 0..<size {
                            let tx = x - sx, ty = y - sy
                            let t: Float = tx >= 0 && tx < size && ty >= 0 && ty < size ? template[ty * size + tx] : 0
                            let v = image[y * size + x]
                            dot += t * v; nt += t * t; ni += v * v
                        }
                    }
                    top = max(top, dot / max(1e-6, (nt * ni).squareRoot()))
                }
            }
            if top > best.score { best = (top, label) }
        }
        return best.label
    }
}

@Suite struct AugmentationTests {
    typealias D = HandDrawnDigits

    func meanAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { $0 + abs($1.0 - $1.1) } / Float(a.count)
    }

    @Test func cleanTemplatesClassifyAndTheCriterionCanFail() {
        for (label, image) in D.templates { #expect(D.classify(image) == label) }
        // A 1 turned on its side is a horizontal bar: no longer a 1 (it matches the 7's top bar).
        let sideways = Augmentation.affineWarp(D.one, height: 28, width: 28, translation: (0, 0), rotation: .pi / 2, scale: 1)
        #expect(D.classify(sideways) != 1)
        // Far too strong an elastic distortion destroys shapes too.
        var g = RandomGenerator(seed: 3)
        let wrecked = (0..<20).map { _ in
            Augmentation.elasticDistortion(D.seven, height: 28, width: 28, alpha: 400, sigma: 2, using: &g)
        }
        #expect(wrecked.filter { D.classify($0) != 7 }.count >= 5)
    }

    @Test(arguments: ["affine", "elastic", "noise", "affine,elastic,noise"])
    func augmentedDigitsKeepTheirLabel(spec: String) throws {
        let augmentation = try Augmentation(parsing: spec)
        var g = RandomGenerator(seed: 11)
        for (label, image) in D.templates {
            var correct = 0
            var changed = 0
            let trials = 60
            for _ in 0..<trials {
                let out = augmentation.apply(to: image, height: 28, width: 28, using: &g)
                #expect(out.allSatisfy { $0 >= 0 && $0 <= 1 })
                if D.classify(out) == label { correct += 1 }
                if meanAbsoluteDifference(out, image) > 0.005 { changed += 1 }
            }
            #expect(correct >= trials * 95 / 100, "\(spec): \(correct)/\(trials) augmented \(label)s classified as \(label)")
            #expect(changed == trials, "\(spec): only \(changed)/\(trials) images changed")
        }
    }

    @Test func sameSeedSameImagesOtherSeedOthers() throws {
        let augmentation = try Augmentation(parsing: "affine,elastic,noise")
        var a = RandomGenerator(seed: 5), b = RandomGenerator(seed: 5), c = RandomGenerator(seed: 6)
        let x = augmentation.apply(to: D.seven, height: 28, width: 28, using: &a)
        #expect(x == augmentation.apply(to: D.seven, height: 28, width: 28, using: &b))
        #expect(x != augmentation.apply(to: D.seven, height: 28, width: 28, using: &c))

        // A batch is augmented row by row with the same draws as one image at a time.
        var batch = Tensor(shape: [3, 784], scalars: D.one + D.zero + D.seven)
        var gBatch = RandomGenerator(seed: 9), gSingle = RandomGenerator(seed: 9)
        augmentation.apply(to: &batch, height: 28, width: 28, using: &gBatch)
        let singles = [D.one, D.zero, D.seven].flatMap { augmentation.apply(to: $0, height: 28, width: 28, using: &gSingle) }
        #expect(batch.scalars == singles)
        var untouched = batch
        Augmentation.none.apply(to: &untouched, height: 28, width: 28, using: &gBatch)
        #expect(untouched == batch)
    }

    @Test func warpGeometry() {
        // 9×9, centre (4, 4). A dot right of centre turned by +90° lands above it
        // (counter-clockwise on screen, y pointing down).
        var dot = [Float](repeating: 0, count: 81)
        dot[4 * 9 + 6] = 1
        let turned = Augmentation.affineWarp(dot, height: 9, width: 9, translation: (0, 0), rotation: .pi / 2, scale: 1)
        #expect(abs(turned[2 * 9 + 4] - 1) < 1e-5)
        // Whole-pixel translation moves pixels exactly (x right, y down).
        let moved = Augmentation.affineWarp(dot, height: 9, width: 9, translation: (-2, 1), rotation: 0, scale: 1)
        #expect(moved[5 * 9 + 4] == 1 && moved.reduce(0, +) == 1)
        // Scaling by 2 about the centre puts the dot twice as far out.
        let scaled = Augmentation.affineWarp(dot, height: 9, width: 9, translation: (0, 0), rotation: 0, scale: 2)
        #expect(scaled[4 * 9 + 8] > 0.2 && scaled[4 * 9 + 6] < 0.3)
    }

    /// The documented default elastic strength: about 1 pixel RMS displacement per axis. A
    /// horizontal ramp I(x, y) = x turns the displacement into a value difference exactly
    /// (bilinear sampling of a linear function is exact), away from the borders.
    @Test func elasticDefaultsMoveAboutOnePixel() {
        let n = 28
        let ramp = (0..<(n * n)).map { Float($0 % n) }
        var g = RandomGenerator(seed: 1)
        var squares: Float = 0, count: Float = 0
        for _ in 0..<20 {
            let e = Augmentation.Elastic()
            let out = Augmentation.elasticDistortion(ramp, height: n, width: n, alpha: e.alpha, sigma: e.sigma, using: &g)
            for y in 6..<(n - 6) { for x in 6..<(n - 6) { let d = out[y * n + x] - ramp[y * n + x]; squares += d * d; count += 1 } }
        }
        let rms = (squares / count).squareRoot()
        #expect(rms > 0.6 && rms < 1.4, "RMS displacement \(rms) px")
        // Noise: σ = 0.1 on mid grey.
        let grey = [Float](repeating: 0.5, count: n * n)
        let noisy = Augmentation.addingNoise(grey, standardDeviation: 0.1, using: &g)
        let sd = (zip(noisy, grey).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Float(n * n)).squareRoot()
        #expect(abs(sd - 0.1) < 0.015, "noise σ \(sd)")
    }

    @Test func parsesSpecificationsWithClearErrors() throws {
        #expect(try Augmentation(parsing: "").isIdentity)
        #expect(try Augmentation(parsing: "none") == .none)
        #expect(try Augmentation(parsing: "affine") == Augmentation(affine: .init()))
        #expect(try Augmentation(parsing: " affine , noise ") == Augmentation(affine: .init(), noise: .init()))
        let full = try Augmentation(parsing: "affine:translate=3:rotate=15:scale=0.8-1.2,elastic:alpha=34:sigma=4,noise:std=0.05")
        #expect(full.affine == .init(maxTranslation: 3, maxRotation: 15, scale: 0.8...1.2))
        #expect(full.elastic == .init(alpha: 34, sigma: 4))
        #expect(full.noise == .init(standardDeviation: 0.05))
        #expect(try Augmentation(parsing: full.description) == full)
        for bad in ["blur", "affine:foo=1", "noise:std=-1", "noise:std=x", "elastic:sigma=0", "affine,affine",
                    "affine:scale=2-1", "noise:std", "affine:rotate=400", "affine,,noise"] {
            #expect(throws: AugmentationError.self, "\(bad)") { try Augmentation(parsing: bad) }
        }
        do {
            _ = try Augmentation(parsing: "affine,blur")
        } catch {
            #expect(error.description == "augmentation 'blur': unknown augmentation 'blur'; expected affine, elastic, noise or none")
        }
    }
}
