#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A small, fast, seedable random number generator that gives the same sequence on every
/// platform: PCG-XSH-RR 64/32 (O'Neill 2014), a 64-bit linear congruential state with a
/// permuted 32-bit output.
///
/// - Uniform floats take the top 24 bits of one output, so they are exact multiples of 2⁻²⁴
///   in [0, 1) and identical everywhere.
/// - Normal variates use the Box–Muller transform computed in `Double` and rounded to `Float`;
///   they match across platforms as far as the platforms' `Double` `log`, `sin` and `cos` agree
///   after rounding to `Float` (in practice, bit for bit).
///
/// The generator is a value: copying it forks the sequence, and its two words are the whole
/// state, so a checkpoint can save and restore it exactly.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Hashable, Codable {
    /// The LCG state.
    public private(set) var state: UInt64
    /// The LCG increment (always odd); different increments give independent streams.
    public let increment: UInt64

    private static let multiplier: UInt64 = 6_364_136_223_846_793_005

    /// A generator seeded with `seed` on stream `stream`.
    public init(seed: UInt64, stream: UInt64 = 0xDA3E_39CB_94B9_5BDB) {
        increment = (stream << 1) | 1
        state = 0
        _ = next32()
        state &+= seed
        _ = next32()
    }

    /// Restores a generator from a saved ``state`` and ``increment``.
    public init(state: UInt64, increment: UInt64) {
        self.state = state
        self.increment = increment | 1
    }

    /// The next 32 random bits.
    public mutating func next32() -> UInt32 {
        let old = state
        state = old &* Self.multiplier &+ increment
        let xorshifted = UInt32(truncatingIfNeeded: ((old >> 18) ^ old) >> 27)
        let rotation = UInt32(truncatingIfNeeded: old >> 59)
        return (xorshifted >> rotation) | (xorshifted << ((~rotation &+ 1) & 31))
    }

    /// The next 64 random bits (two 32-bit outputs, high word first).
    public mutating func next() -> UInt64 {
        let high = UInt64(next32())
        return (high << 32) | UInt64(next32())
    }

    /// A uniform `Float` in [0, 1).
    public mutating func nextUniform() -> Float {
        Float(next32() >> 8) * 0x1p-24
    }

    /// A uniform `Float` in `range`.
    public mutating func nextUniform(in range: ClosedRange<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * nextUniform()
    }

    /// A uniform integer in 0..<bound, without modulo bias (Lemire's multiply-and-reject).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0 && bound <= Int(UInt32.max), "nextInt(below:): bound \(bound) out of range")
        let b = UInt32(bound)
        var m = UInt64(next32()) &* UInt64(b)
        if UInt32(truncatingIfNeeded: m) < b {
            let threshold = (~b &+ 1) % b
            while UInt32(truncatingIfNeeded: m) < threshold {
                m = UInt64(next32()) &* UInt64(b)
            }
        }
        return Int(m >> 32)
    }

    /// Two independent standard normal variates (one Box–Muller pair).
    public mutating func nextNormalPair() -> (Float, Float) {
        // u1 in (0, 1] so the logarithm is finite.
        let u1 = (Double(next32() >> 8) + 1) * 0x1p-24
        let u2 = Double(next32() >> 8) * 0x1p-24
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        return (Float(radius * cos(angle)), Float(radius * sin(angle)))
    }

    /// One standard normal variate (the second of the pair is discarded).
    public mutating func nextNormal() -> Float { nextNormalPair().0 }

    /// Fills a buffer with N(mean, standardDeviation²) variates, using both values of each pair.
    public mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Float, standardDeviation: Float) {
        var i = 0
        let n = buffer.count
        while i < n {
            let (a, b) = nextNormalPair()
            buffer[i] = mean + standardDeviation * a
            if i + 1 < n { buffer[i + 1] = mean + standardDeviation * b }
            i += 2
        }
    }

    /// A random permutation of 0..<count (Fisher–Yates).
    public mutating func permutation(_ count: Int) -> [Int] {
        var p = Array(0..<count)
        shuffle(&p)
        return p
    }

    /// Shuffles `array` in place (Fisher–Yates, from the end).
    public mutating func shuffle<T>(_ array: inout [T]) {
        var i = array.count - 1
        while i > 0 {
            let j = nextInt(below: i + 1)
            array.swapAt(i, j)
            i -= 1
        }
    }
}

extension Tensor {
    /// Uniform random values in `range`.
    public static func uniform(_ shape: [Int], in range: ClosedRange<Float> = 0...1,
                               using generator: inout RandomGenerator) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        t.withUnsafeMutableBufferPointer { b in
            for i in b.indices { b[i] = generator.nextUniform(in: range) }
        }
        return t
    }

    /// Normally distributed random values, N(mean, standardDeviation²).
    public static func normal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
                              using generator: inout RandomGenerator) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        t.withUnsafeMutableBufferPointer { b in
            generator.fillNormal(b, mean: mean, standardDeviation: standardDeviation)
        }
        return t
    }
}
