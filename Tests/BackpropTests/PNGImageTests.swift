import Foundation
import Testing
import Backprop

@Suite struct PNGImageTests {
    static func temporaryPath(_ name: String) -> String {
        (NSTemporaryDirectory() as NSString).appendingPathComponent("bp-png-\(UUID().uuidString)-\(name)")
    }

    @Test func roundTripsGreyAndRGBAPixelsExactly() throws {
        var g = RandomGenerator(seed: 1)
        for format in [PNGImage.Format.gray, .rgba] {
            let channels = format == .gray ? 1 : 4
            let pixels = (0..<(13 * 7 * channels)).map { _ in UInt8(g.nextInt(below: 256)) }
            let image = PNGImage(width: 13, height: 7, format: format, pixels: pixels)
            let path = Self.temporaryPath("a.png")
            try image.write(to: path)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            #expect(try PNGImage(contentsOf: path, as: format) == image)
        }
    }

    @Test func brokenPNGFilesAreClearErrors() throws {
        let image = PNGImage(width: 4, height: 4, format: .gray, pixels: Array(repeating: 128, count: 16))
        let valid = try image.encoded()
        for (name, bytes) in [("empty", [UInt8]()), ("not png", Array("hello world".utf8)),
                              ("truncated", Array(valid.prefix(valid.count / 2)))] {
            let path = Self.temporaryPath("\(name).png")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect { _ = try PNGImage(contentsOf: path) } throws: { error in
                (error as? DataError)?.description.contains(path) ?? false
            }
        }
        #expect(throws: DataError.self) { _ = try PNGImage(contentsOf: "/nonexistent.png") }
    }

    /// Found by fuzzing (Scripts/fuzz.sh png): 41 bytes whose header claims 32768×10498 RGBA
    /// with no image data made the reader allocate 1.4 GB before libpng failed. The size is
    /// refused from the header and the file's size, before anything is allocated.
    @Test func aHeaderClaimingMorePixelsThanTheFileHoldsIsRefusedBeforeAllocating() throws {
        let bytes: [UInt8] = [
            0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
            0x80, 0x00, 0x00, 0x00, 0x29, 0x02, 0x08, 0x06, 0x00, 0x00, 0x00, 0x5b, 0x87, 0x94, 0xc9, 0x00, 0x00, 0x00,
            0x1a, 0x49, 0x44, 0x41, 0x54,
        ]
        let path = Self.temporaryPath("claims-32768x10498.png")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for format in [PNGImage.Format.gray, .rgba] {
            #expect { _ = try PNGImage(contentsOf: path, as: format) } throws: { error in
                let text = "\(error)"
                return text.contains(path) && text.contains("image size") && text.contains("32768×10498")
            }
        }
    }

    /// A size within what the bytes could hold but over the pixel limit (the 20000×20000 all-zero
    /// PNG of 389 KB the issue measured at 1.9 GB) is refused too; a PNG at the limit's side is read.
    @Test func anImageOverThePixelLimitIsRefused() throws {
        let side = 8193  // 8193² > 2²⁶ pixels
        let big = PNGImage(width: side, height: side, format: .gray, pixels: [UInt8](repeating: 0, count: side * side))
        let path = Self.temporaryPath("big.png")
        try big.write(to: path)
        #expect { _ = try PNGImage(contentsOf: path) } throws: { error in
            "\(error)".contains("at most 67108864 pixels")
        }
        let small = PNGImage(width: 3, height: 2, format: .gray, pixels: [0, 1, 2, 3, 4, 5])
        try small.write(to: path)
        #expect(try PNGImage(contentsOf: path) == small)
    }

    @Test func digitFeaturesResizeAndInvertALightBackground() {
        // A dark vertical bar on white, 56×56: becomes a light bar on black, 28×28.
        var pixels = [UInt8](repeating: 255, count: 56 * 56)
        for y in 8..<48 { for x in 24..<32 { pixels[y * 56 + x] = 0 } }
        let f = PNGImage(width: 56, height: 56, format: .gray, pixels: pixels).digitFeatures()
        #expect(f.count == 784)
        #expect(f[20 * 28 + 14] > 0.9)   // on the bar
        #expect(f[20 * 28 + 3] < 0.1)    // background
        #expect(f[1 * 28 + 14] < 0.1)    // above the bar
    }
}
