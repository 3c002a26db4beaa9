import CBackpropSupport

/// Vectorized single-precision elementary functions.
///
/// Every function comes in two forms:
///
/// - a buffer form `f(x, y, count:)` that writes `y[i] = f(x[i])` for `i in 0..<count`, 16 lanes at
///   a time. The last `count % 16` elements go through the same vector code on a zero-padded
///   register, so an element's result never depends on its position in the buffer. `x` and `y`
///   may be the same buffer (in place); otherwise they must not partially overlap.
/// - a `SIMD16<Float>` form, which runs the buffer kernel on the 16 lanes (so it gives the same
///   bits as the buffer form). It costs a call; loops over buffers should use the buffer form.
///
/// The kernels are C (Sources/CBackpropSupport/kernels/vector_math.h), compiled once per
/// instruction-set level and reached through the process's ``KernelTable`` (chosen at run time
/// from the CPU or `BACKPROP_CPU`): Swift's SIMD types only use AVX2 or AVX-512 under a
/// `-march` build flag, which would tie the binary to one CPU. The algorithms are branch-free:
/// range reduction (Cody–Waite for `exp`, exponent extraction for `log`), a minimax polynomial
/// (the Cephes single-precision coefficients), reconstruction by writing the exponent bits, and
/// lane masks for the special values. The `avx2` and `avx512` levels give the same bits (one
/// fused rounding per multiply-add); the SSE2 `baseline` level has no FMA, so its multiply-adds
/// round twice and its results differ by rounding (the figures below give both).
///
/// Accuracy figures in the doc comments were measured by `VectorMathTests` against Glibc's
/// `Double` functions (the correctly rounded `Float` result is within 0.5 ulp of that reference):
/// the error of a result `y` with reference `r` is `|y − r| / ulp(Float(r))`, where `ulp` of a
/// subnormal is the subnormal spacing. The tests assert a bound slightly above each figure, at
/// every level the machine supports.
public enum VectorMath {
    /// The vector the functions work in: 16 floats.
    public typealias Vector = SIMD16<Float>

    /// The lane-wise functions of the kernel table.
    package enum Function: CaseIterable, Sendable {
        case exp, expm1, log, log1p, tanh, sigmoid, softplus
    }

    // MARK: - SIMD16 forms

    /// `e^x`, lane-wise.
    ///
    /// - Accuracy: max error 0.99 ulp at avx2/avx512, 0.96 ulp at baseline (relative error
    ///   ≤ 1.2e-7) measured on 1M points of [−104, 88.72] plus 1M of [−1, 1], subnormal results
    ///   below `e^−87.3` included.
    /// - Special values: `exp(NaN) = NaN`, `exp(+∞) = +∞`, `exp(−∞) = 0`; `x > 88.7228` overflows
    ///   to `+∞`; `x < −103.98` underflows to `0`.
    public static func exp(_ x: Vector) -> Vector { lanes(x, .exp, kernels: .current) }

    /// `e^x − 1`, lane-wise, accurate near zero.
    ///
    /// - Accuracy: max error 1.23 ulp at avx2/avx512, 1.43 ulp at baseline (relative error
    ///   ≤ 1.5e-7) measured on 1M points of [−20, 88.72], 1M of [−1, 1] and 0.1M of
    ///   [−1e-3, 1e-3]; the worst case is near `x = −ln 2`.
    /// - Special values: `expm1(NaN) = NaN`, `expm1(±0) = ±0`, `expm1(+∞) = +∞`,
    ///   `expm1(−∞) = −1`; `x > 88.7228` overflows to `+∞`; `x < −17.4` gives `−1`.
    public static func expm1(_ x: Vector) -> Vector { lanes(x, .expm1, kernels: .current) }

    /// The natural logarithm, lane-wise.
    ///
    /// - Accuracy: max error 0.81 ulp at avx2/avx512, 0.82 ulp at baseline (relative error
    ///   ≤ 1e-7 away from `x = 1`, where the result itself is small) measured on 1M random
    ///   positive finite bit patterns (subnormals included), 1M points of [0.5, 2] and 0.1M of
    ///   [0.99, 1.01].
    /// - Special values: `log(±0) = −∞`, `log(+∞) = +∞`, `log(x < 0) = NaN`, `log(NaN) = NaN`.
    public static func log(_ x: Vector) -> Vector { lanes(x, .log, kernels: .current) }

    /// `log(1 + x)`, lane-wise, accurate near zero.
    ///
    /// - Accuracy: max error 1.44 ulp at every level (relative error
    ///   ≤ 1.8e-7) measured on 1M points of (−1, 1] and 0.6M log-uniform magnitudes in
    ///   [1e-13, 1.2e6] of both signs (within the domain).
    /// - Special values: `log1p(−1) = −∞`, `log1p(x < −1) = NaN`, `log1p(+∞) = +∞`,
    ///   `log1p(NaN) = NaN`, `log1p(±0) = ±0`.
    public static func log1p(_ x: Vector) -> Vector { lanes(x, .log1p, kernels: .current) }

    /// The hyperbolic tangent, lane-wise: an odd minimax polynomial for `|x| < 0.625`, else
    /// `1 − 2/(e^{2|x|} + 1)` with `x`'s sign.
    ///
    /// - Accuracy: max error 1.32 ulp at every level (relative error
    ///   ≤ 1.6e-7) measured on 1M points of [−10, 10], 1M of [−1, 1] and 0.2M random finite bit
    ///   patterns; worst just above the switch at 0.625.
    /// - Special values: `tanh(NaN) = NaN`, `tanh(±∞) = ±1`, `tanh(±0) = ±0`; saturates to exactly
    ///   `±1` for `|x| ≥ 9.01` without producing NaN.
    public static func tanh(_ x: Vector) -> Vector { lanes(x, .tanh, kernels: .current) }

    /// The logistic function `1 / (1 + e^−x)`, lane-wise.
    ///
    /// Computed as `1/(1 + e)` for `x ≥ 0` and `e/(1 + e)` for `x < 0` with `e = e^−|x|`, so
    /// neither tail overflows or loses relative accuracy.
    ///
    /// - Accuracy: max error 2.31 ulp at every level (relative error
    ///   ≤ 2.8e-7) measured on 1M points of [−104, 88], 1M of [−5, 5] and 0.2M random finite bit
    ///   patterns; results for `x ≤ −87.3` are subnormal and rounded like any other value.
    /// - Special values: `sigmoid(NaN) = NaN`, `sigmoid(+∞) = 1`, `sigmoid(−∞) = 0`;
    ///   `sigmoid(x) = 1` exactly for `x ≥ 16.7`.
    public static func sigmoid(_ x: Vector) -> Vector { lanes(x, .sigmoid, kernels: .current) }

    /// `log(1 + e^x)` (softplus), lane-wise, in the stable form `max(x, 0) + log1p(e^−|x|)`.
    ///
    /// - Accuracy: max error 1.86 ulp at every level (relative error
    ///   ≤ 2.3e-7) measured on 1M points of [−100, 100], 1M of [−5, 5] and 0.2M random finite bit
    ///   patterns.
    /// - Special values: `softplus(NaN) = NaN`, `softplus(+∞) = +∞`, `softplus(−∞) = 0`; equals
    ///   `x` for `x ≥ 17` and `e^x` (to rounding) for `x ≤ −17`.
    public static func softplus(_ x: Vector) -> Vector { lanes(x, .softplus, kernels: .current) }

    // MARK: - Buffer forms

    /// Writes `y[i] = e^x[i]`; see `exp(_:)` for accuracy and special values. In place allowed.
    public static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        exp(x, y, count: count, kernels: .current)
    }

    /// Writes `y[i] = e^x[i] − 1`; see `expm1(_:)`. In place allowed.
    public static func expm1(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        expm1(x, y, count: count, kernels: .current)
    }

    /// Writes `y[i] = log(x[i])`; see `log(_:)`. In place allowed.
    public static func log(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        log(x, y, count: count, kernels: .current)
    }

    /// Writes `y[i] = log(1 + x[i])`; see `log1p(_:)`. In place allowed.
    public static func log1p(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        log1p(x, y, count: count, kernels: .current)
    }

    /// Writes `y[i] = tanh(x[i])`; see `tanh(_:)`. In place allowed.
    public static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        tanh(x, y, count: count, kernels: .current)
    }

    /// Writes `y[i] = 1 / (1 + e^−x[i])`; see `sigmoid(_:)`. In place allowed.
    public static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        sigmoid(x, y, count: count, kernels: .current)
    }

    /// Writes `y[i] = log(1 + e^x[i])`; see `softplus(_:)`. In place allowed.
    public static func softplus(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        softplus(x, y, count: count, kernels: .current)
    }

    // MARK: - With an explicit level (package access: tests run every level in one process)

    package static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, kernels: KernelTable) {
        kernels.map(.exp)(x, y, count)
    }

    package static func expm1(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, kernels: KernelTable) {
        kernels.map(.expm1)(x, y, count)
    }

    package static func log(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, kernels: KernelTable) {
        kernels.map(.log)(x, y, count)
    }

    package static func log1p(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, kernels: KernelTable) {
        kernels.map(.log1p)(x, y, count)
    }

    package static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, kernels: KernelTable) {
        kernels.map(.tanh)(x, y, count)
    }

    package static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, kernels: KernelTable) {
        kernels.map(.sigmoid)(x, y, count)
    }

    package static func softplus(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, kernels: KernelTable) {
        kernels.map(.softplus)(x, y, count)
    }

    /// `function` on the 16 lanes of `x`, through the level's buffer kernel (one full chunk, in
    /// place in a temporary), so the result has the buffer form's bits.
    package static func lanes(_ x: Vector, _ function: Function, kernels: KernelTable) -> Vector {
        var v = x
        let kernel = kernels.map(function)
        withUnsafeMutablePointer(to: &v) { p in
            p.withMemoryRebound(to: Float.self, capacity: 16) { kernel($0, $0, 16) }
        }
        return v
    }

    // MARK: - Building blocks

    /// `|x|`, lane-wise (clears the sign bits; NaN stays NaN).
    @inlinable @inline(__always)
    public static func magnitude(_ x: Vector) -> Vector {
        unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7fff_ffff, to: Vector.self)
    }

    /// Loads 16 floats from `p` (no alignment requirement).
    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
    }

    /// Stores 16 floats at `p` (no alignment requirement).
    @inlinable @inline(__always)
    public static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
    }

    /// Loads the first `count` (< 16) floats from `p`; the other lanes hold `padding`.
    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>, count: Int, padding: Float) -> Vector {
        var v = Vector(repeating: padding)
        for k in 0..<count { v[k] = p[k] }
        return v
    }

    /// Stores the first `count` (< 16) lanes of `v` at `p`.
    @inlinable @inline(__always)
    public static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0..<count { p[k] = v[k] }
    }
}

// MARK: - Element-wise math, activations and the softmax family (contracts in bp_math_kernels.h)

extension KernelTable {
    typealias MapKernel = @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void

    /// The level's buffer kernel `y[i] = f(x[i])` for `function`.
    @inline(__always)
    func map(_ function: VectorMath.Function) -> MapKernel {
        let math = table.pointee.math
        switch function {
        case .exp: return math.exp.unsafelyUnwrapped
        case .expm1: return math.expm1.unsafelyUnwrapped
        case .log: return math.log.unsafelyUnwrapped
        case .log1p: return math.log1p.unsafelyUnwrapped
        case .tanh: return math.tanh.unsafelyUnwrapped
        case .sigmoid: return math.sigmoid.unsafelyUnwrapped
        case .softplus: return math.softplus.unsafelyUnwrapped
        }
    }

    /// The level's element-wise math, activation and softmax-family kernels.
    var math: bp_math_kernels { table.pointee.math }
}
