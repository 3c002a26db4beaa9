import CPNG
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An 8-bit image in memory, grey or RGBA, read from and written to PNG through libpng's
/// simplified API.
public struct PNGImage: Sendable, Equatable {
    /// The pixel layouts: one grey byte, or four RGBA bytes.
    public enum Format: Sendable, Equatable {
        /// One grey byte per pixel, or four (red, green, blue, alpha).
        case gray, rgba
        var channels: Int { self == .gray ? 1 : 4 }
        // PNG_FORMAT_GRAY and PNG_FORMAT_RGBA (= COLOR | ALPHA): composite macros Swift does not import.
        var libpng: UInt32 { self == .gray ? 0 : UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA) }
    }

    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// Grey or RGBA.
    public var format: Format
    /// Row-major pixels, `channels` bytes each.
    public var pixels: [UInt8]

    /// An image from its pixels.
    ///
    /// - Precondition: positive sizes, and `pixels.count == width · height · channels`.
    public init(width: Int, height: Int, format: Format, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * format.channels,
                     "PNGImage: \(pixels.count) bytes for \(width)×\(height) \(format)")
        self.width = width
        self.height = height
        self.format = format
        self.pixels = pixels
    }

    /// The most pixels a PNG file may claim (64 Mi: 256 MiB as RGBA), so that a header alone
    /// cannot make a reader allocate gigabytes.
    public static let maximumPixels = 1 << 26

    /// Reads a PNG file of any colour type, converted to `format`.
    ///
    /// - Throws: ``DataError`` naming the file: not a PNG, damaged data, or an image size over
    ///   ``maximumPixels`` or larger than the file's bytes can hold.
    public init(contentsOf path: String, as format: Format = .gray) throws(DataError) {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .unreadable(path: path, reason: "no such file or not readable")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&image, path) != 0 else {
            throw .invalidField(path: path, field: "PNG signature or header", value: Self.message(image),
                                expected: "a valid PNG file")
        }
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15 else {
            png_image_free(&image)
            throw .invalidField(path: path, field: "image size", value: "\(width)×\(height)", expected: "at most 32768×32768")
        }
        // The claimed size against a limit and against the bytes present, before the pixels are
        // allocated (fuzzing found a 41-byte file whose header made this allocate 1.4 GB). A row
        // holds at least a filter byte and one bit a pixel, and deflate expands at most 1032-fold,
        // so a file of n bytes cannot hold more than 1032·n bytes of rows.
        var info = stat()
        let fileBytes = stat(path, &info) == 0 ? Int(info.st_size) : 0
        let leastRowBytes = height * (1 + (width + 7) / 8)
        guard width * height <= Self.maximumPixels, leastRowBytes <= 1032 * fileBytes else {
            png_image_free(&image)
            throw .invalidField(path: path, field: "image size", value: "\(width)×\(height) in a file of \(fileBytes) bytes",
                                expected: "at most \(Self.maximumPixels) pixels, and no more rows than the file's bytes can hold (deflate expands at most 1032-fold)")
        }
        image.format = format.libpng
        var pixels = [UInt8](repeating: 0, count: width * height * format.channels)
        let ok = pixels.withUnsafeMutableBytes { buffer in
            png_image_finish_read(&image, nil, buffer.baseAddress, 0, nil)
        }
        guard ok != 0 else {
            let reason = Self.message(image)
            png_image_free(&image)
            throw .invalidField(path: path, field: "PNG image data", value: reason, expected: "complete, uncorrupted image data")
        }
        self.init(width: width, height: height, format: format, pixels: pixels)
    }

    /// The PNG file's bytes.
    public func encoded() throws(WriteError) -> [UInt8] {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = format.libpng
        var size: Int = 0
        let stride = Int32(width * format.channels)
        // First call measures, second writes.
        let measured = pixels.withUnsafeBytes { p in
            png_image_write_to_memory(&image, nil, &size, 0, p.baseAddress, stride, nil)
        }
        guard measured != 0, size > 0 else { throw .cannotWrite(path: "PNG", reason: Self.message(image)) }
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBytes { o in
            pixels.withUnsafeBytes { p in
                png_image_write_to_memory(&image, o.baseAddress, &size, 0, p.baseAddress, stride, nil)
            }
        }
        guard written != 0 else { throw .cannotWrite(path: "PNG", reason: Self.message(image)) }
        return Array(out.prefix(size))
    }

    /// Writes the image as a PNG file, atomically.
    public func write(to path: String) throws(WriteError) {
        try AtomicFile.write(encoded(), to: path)
    }

    private static func message(_ image: png_image) -> String {
        var m = image.message
        return withUnsafeBytes(of: &m) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    /// The image as an MNIST-style input: grey, resized to `size`×`size` by bilinear sampling,
    /// and inverted when its background is light (MNIST digits are light on black), scaled to
    /// [0, 1] — a row vector of `size·size` floats.
    public func digitFeatures(size: Int = 28) -> [Float] {
        let grey: [Float]
        if format == .gray {
            grey = pixels.map { Float($0) / 255 }
        } else {
            grey = (0..<(width * height)).map { i in
                let r = Float(pixels[4 * i]), g = Float(pixels[4 * i + 1]), b = Float(pixels[4 * i + 2]), a = Float(pixels[4 * i + 3]) / 255
                return ((0.299 * r + 0.587 * g + 0.114 * b) * a + 255 * (1 - a)) / 255
            }
        }
        let mean = grey.reduce(0, +) / Float(grey.count)
        let invert = mean > 0.5
        var out = [Float](repeating: 0, count: size * size)
        for y in 0..<size {
            for x in 0..<size {
                let sx = (Float(x) + 0.5) * Float(width) / Float(size) - 0.5
                let sy = (Float(y) + 0.5) * Float(height) / Float(size) - 0.5
                let x0 = max(0, min(width - 1, Int(sx.rounded(.down)))), y0 = max(0, min(height - 1, Int(sy.rounded(.down))))
                let x1 = min(width - 1, x0 + 1), y1 = min(height - 1, y0 + 1)
                let fx = max(0, min(1, sx - Float(x0))), fy = max(0, min(1, sy - Float(y0)))
                let top = grey[y0 * width + x0] * (1 - fx) + grey[y0 * width + x1] * fx
                let bottom = grey[y1 * width + x0] * (1 - fx) + grey[y1 * width + x1] * fx
                let v = top * (1 - fy) + bottom * fy
                out[y * size + x] = invert ? 1 - v : v
            }
        }
        return out
    }
}
