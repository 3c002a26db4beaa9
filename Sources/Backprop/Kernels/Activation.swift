import Foundation

/// An elementwise activation function with vectorized forward, backward and fused bias kernels.
///
/// | case        | f(x)                                   | f′(x) used by `backward`          |
/// |-------------|----------------------------------------|-----------------------------------|
/// | `identity`  | x                                      | 1                                 |
/// | `sigmoid`   | 1 / (1 + e^−x)                         | y(1 − y)                          |
/// | `tanh`      | tanh x                                 | 1 − y²                            |
/// | `relu`      | x if x > 0, else 0                     | 1 if y > 0, else 0                |
/// | `leakyReLU` | x if x > 0, else `leakyReLUSlope`·x    | 1 if x > 0, else slope            |
/// | `elu`       | x if x > 0, else `eluAlpha`·(e^x − 1)  | 1 if x > 0, else α·e^x            |
/// | `gelu`      | x·σ(2u), u = √(2/π)(x + 0.044715x³)    | σ + 2x·σ(1 − σ)·u′                |
/// | `softplus`  | log(1 + e^x)                           | σ(x)                              |
///
/// `gelu` is the tanh approximation (Hendrycks & Gimpel; PyTorch `approximate="tanh"`), written as
/// `x·σ(2u)`, which equals `½x(1 + tanh u)` but has no cancellation for negative `x`. It differs
/// from the erf form `x·Φ(x)` by at most ≈ 4.7e-4 (absolute).
///
/// The derivative at a kink is the right-hand one for none of them: `relu′(0) = 0`,
/// `leakyReLU′(0) = slope`, `elu′(0) = α` (= 1 by default, so ELU is C¹ there).
///
/// Accuracy of `forward` (max relative error against a `Double` reference, measured by
/// `ActivationKernelTests` on 100k points of [−20, 20]): identity and ReLU exact, leaky ReLU
/// 5.9e-8, ELU 6.2e-8, tanh 1.2e-7, softplus 1.6e-7, sigmoid 1.7e-7; GELU 2.2e-7 plus, in its
/// negative tail, the conditioning `≈ |2u|·1.2e-7` of `σ(2u)` for an argument rounded to `Float`.
/// `backward` matches central finite differences of the `Double` function to ≈ 1e-6 (the
/// `y`-based formulas of sigmoid and tanh carry `y`'s rounding). NaN inputs give NaN outputs (ReLU included: `relu(NaN) = NaN`), and every
/// case saturates to finite values (or ±∞ for ±∞ where the function is unbounded) without NaN for
/// large `|x|`.
public enum Activation: String, CaseIterable, Sendable, Codable {
    case identity, sigmoid, tanh, relu, leakyReLU, elu, gelu, softplus

    /// Slope of `leakyReLU` for negative inputs.
    public static let leakyReLUSlope: Float = 0.01
    /// Saturation value −α of `elu` for large negative inputs.
    public static let eluAlpha: Float = 1

    // MARK: - Scalar forms (Foundation, for plots and tests)

    /// `f(x)` in scalar code (Foundation's `Float` functions), matching the kernels to a few ulp.
    public func callAsFunction(_ x: Float) -> Float {
        switch self {
        case .identity: return x
        case .sigmoid: return Self.scalarSigmoid(x)
        case .tanh: return Foundation.tanh(x)
        case .relu: return x > 0 || x.isNaN ? x : 0
        case .leakyReLU: return x > 0 ? x : (x.isNaN ? x : Self.leakyReLUSlope * x)
        case .elu: return x > 0 ? x : (x.isNaN ? x : Self.eluAlpha * Foundation.expm1(x))
        case .gelu:
            let s = Self.scalarSigmoid(Self.geluArgument(x))
            return s == 0 ? 0 : x * s
        case .softplus: return max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x)))
        }
    }

    /// `f′(x)` in scalar code. At kinks it returns the value documented on the type.
    public func derivative(_ x: Float) -> Float {
        switch self {
        case .identity: return 1
        case .sigmoid:
            let s = Self.scalarSigmoid(x)
            return s * (1 - s)
        case .tanh:
            let t = Foundation.tanh(x)
            return 1 - t * t
        case .relu: return x > 0 ? 1 : 0
        case .leakyReLU: return x > 0 ? 1 : Self.leakyReLUSlope
        case .elu: return x > 0 ? 1 : Self.eluAlpha * Foundation.exp(x)
        case .gelu:
            let s = Self.scalarSigmoid(Self.geluArgument(x))
            let t = s * (1 - s)
            let slope = 2 * Self.geluK * (1 + 3 * Self.geluC * x * x)
            return t == 0 ? s : s + x * t * slope
        case .softplus: return Self.scalarSigmoid(x)
        }
    }

    // MARK: - SIMD16 forms (for fusion into other kernels)

    /// `f(x)` on 16 lanes.
    @inlinable @inline(__always)
    public func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
        switch self {
        case .identity: return IdentityKernel.forward(x)
        case .sigmoid: return SigmoidKernel.forward(x)
        case .tanh: return TanhKernel.forward(x)
        case .relu: return ReLUKernel.forward(x)
        case .leakyReLU: return LeakyReLUKernel.forward(x)
        case .elu: return ELUKernel.forward(x)
        case .gelu: return GELUKernel.forward(x)
        case .softplus: return SoftplusKernel.forward(x)
        }
    }

    /// `f′(x)` on 16 lanes, given `x` and `y = f(x)` (each case reads whichever is cheaper).
    @inlinable @inline(__always)
    public func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float> {
        switch self {
        case .identity: return IdentityKernel.derivative(x: x, y: y)
        case .sigmoid: return SigmoidKernel.derivative(x: x, y: y)
        case .tanh: return TanhKernel.derivative(x: x, y: y)
        case .relu: return ReLUKernel.derivative(x: x, y: y)
        case .leakyReLU: return LeakyReLUKernel.derivative(x: x, y: y)
        case .elu: return ELUKernel.derivative(x: x, y: y)
        case .gelu: return GELUKernel.derivative(x: x, y: y)
        case .softplus: return SoftplusKernel.derivative(x: x, y: y)
        }
    }

    // MARK: - Buffer kernels

    /// Writes `y[i] = f(x[i])` for `i in 0..<count`. `x` and `y` may be the same buffer.
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .identity:
            if UnsafePointer(y) != x { y.update(from: x, count: count) }
        case .sigmoid: Self.forwardLoop(SigmoidKernel.self, x, y, count)
        case .tanh: Self.forwardLoop(TanhKernel.self, x, y, count)
        case .relu: Self.forwardLoop(ReLUKernel.self, x, y, count)
        case .leakyReLU: Self.forwardLoop(LeakyReLUKernel.self, x, y, count)
        case .elu: Self.forwardLoop(ELUKernel.self, x, y, count)
        case .gelu: Self.forwardLoop(GELUKernel.self, x, y, count)
        case .softplus: Self.forwardLoop(SoftplusKernel.self, x, y, count)
        }
    }

    /// Writes `dx[i] = dy[i] · f′(x[i])`, where `y[i] = f(x[i])` is the forward output.
    ///
    /// Sigmoid, tanh and ReLU read only `y`; ELU, GELU and softplus read only `x`; leaky ReLU
    /// reads `x`. `dx` may be the same buffer as `dy` (or as `x`/`y` once they are no longer
    /// needed: each element is read before its result is written).
    public func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>, count: Int
    ) {
        switch self {
        case .identity:
            if UnsafePointer(dx) != dy { dx.update(from: dy, count: count) }
        case .sigmoid: Self.backwardLoop(SigmoidKernel.self, x, y, dy, dx, count)
        case .tanh: Self.backwardLoop(TanhKernel.self, x, y, dy, dx, count)
        case .relu: Self.backwardLoop(ReLUKernel.self, x, y, dy, dx, count)
        case .leakyReLU: Self.backwardLoop(LeakyReLUKernel.self, x, y, dy, dx, count)
        case .elu: Self.backwardLoop(ELUKernel.self, x, y, dy, dx, count)
        case .gelu: Self.backwardLoop(GELUKernel.self, x, y, dy, dx, count)
        case .softplus: Self.backwardLoop(SoftplusKernel.self, x, y, dy, dx, count)
        }
    }

    /// Fused bias add and activation over a row-major `[rows × cols]` matrix, in one pass:
    /// `z[r, c] += bias[c]` (the pre-activation, kept for `biasBackward`) and
    /// `y[r, c] = f(z[r, c])`.
    ///
    /// - Parameters:
    ///   - z: On entry the product `x·Wᵀ`; on return `x·Wᵀ + bias`.
    ///   - bias: `cols` values, or `nil` for no bias.
    ///   - y: Receives the activations. May be `z` itself when the pre-activation is not needed.
    public func biasForward(
        z: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
        rows: Int, cols: Int
    ) {
        switch self {
        case .identity: Self.biasForwardLoop(IdentityKernel.self, z, bias, y, rows, cols)
        case .sigmoid: Self.biasForwardLoop(SigmoidKernel.self, z, bias, y, rows, cols)
        case .tanh: Self.biasForwardLoop(TanhKernel.self, z, bias, y, rows, cols)
        case .relu: Self.biasForwardLoop(ReLUKernel.self, z, bias, y, rows, cols)
        case .leakyReLU: Self.biasForwardLoop(LeakyReLUKernel.self, z, bias, y, rows, cols)
        case .elu: Self.biasForwardLoop(ELUKernel.self, z, bias, y, rows, cols)
        case .gelu: Self.biasForwardLoop(GELUKernel.self, z, bias, y, rows, cols)
        case .softplus: Self.biasForwardLoop(SoftplusKernel.self, z, bias, y, rows, cols)
        }
    }

    /// Backward partner of `biasForward`, in one pass: `dz[r, c] = dy[r, c] · f′(z[r, c])` and
    /// `biasGradient[c] += Σ_r dz[r, c]`.
    ///
    /// - Parameters:
    ///   - z: The pre-activation saved by `biasForward`.
    ///   - y: The activation `f(z)` from `biasForward`.
    ///   - dy: Gradient of the loss with respect to `y`.
    ///   - dz: Receives the gradient with respect to `z` (and so with respect to `x·Wᵀ`). May be
    ///     `dy` itself.
    ///   - biasGradient: `cols` accumulators that the column sums of `dz` are added to (not
    ///     overwritten), or `nil`. Summation is in `Float`, row by row.
    public func biasBackward(
        z: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
        dz: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>?,
        rows: Int, cols: Int
    ) {
        switch self {
        case .identity: Self.biasBackwardLoop(IdentityKernel.self, z, y, dy, dz, biasGradient, rows, cols)
        case .sigmoid: Self.biasBackwardLoop(SigmoidKernel.self, z, y, dy, dz, biasGradient, rows, cols)
        case .tanh: Self.biasBackwardLoop(TanhKernel.self, z, y, dy, dz, biasGradient, rows, cols)
        case .relu: Self.biasBackwardLoop(ReLUKernel.self, z, y, dy, dz, biasGradient, rows, cols)
        case .leakyReLU: Self.biasBackwardLoop(LeakyReLUKernel.self, z, y, dy, dz, biasGradient, rows, cols)
        case .elu: Self.biasBackwardLoop(ELUKernel.self, z, y, dy, dz, biasGradient, rows, cols)
        case .gelu: Self.biasBackwardLoop(GELUKernel.self, z, y, dy, dz, biasGradient, rows, cols)
        case .softplus: Self.biasBackwardLoop(SoftplusKernel.self, z, y, dy, dz, biasGradient, rows, cols)
        }
    }

    // MARK: - Loops (specialized per kernel type)

    @inline(__always)
    static func forwardLoop<K: ActivationKernel>(
        _: K.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int
    ) {
        VectorMath.map(x, y, count: count) { K.forward($0) }
    }

    @inline(__always)
    static func backwardLoop<K: ActivationKernel>(
        _: K.Type, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
        _ dx: UnsafeMutablePointer<Float>, _ count: Int
    ) {
        var i = 0
        while i + 16 <= count {
            let g = VectorMath.load(dy + i) * K.derivative(x: VectorMath.load(x + i), y: VectorMath.load(y + i))
            VectorMath.store(g, dx + i)
            i += 16
        }
        if i < count {
            let n = count - i
            let xv = VectorMath.load(x + i, count: n, padding: 0)
            let yv = VectorMath.load(y + i, count: n, padding: 0)
            let g = VectorMath.load(dy + i, count: n, padding: 0) * K.derivative(x: xv, y: yv)
            VectorMath.store(g, dx + i, count: n)
        }
    }

    @inline(__always)
    static func biasForwardLoop<K: ActivationKernel>(
        _: K.Type, _ z: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?,
        _ y: UnsafeMutablePointer<Float>, _ rows: Int, _ cols: Int
    ) {
        for r in 0..<rows {
            let zr = z + r * cols
            let yr = y + r * cols
            var c = 0
            if let bias {
                while c + 16 <= cols {
                    let v = VectorMath.load(zr + c) + VectorMath.load(bias + c)
                    VectorMath.store(v, zr + c)
                    VectorMath.store(K.forward(v), yr + c)
                    c += 16
                }
                if c < cols {
                    let n = cols - c
                    let v = VectorMath.load(zr + c, count: n, padding: 0) + VectorMath.load(bias + c, count: n, padding: 0)
                    VectorMath.store(v, zr + c, count: n)
                    VectorMath.store(K.forward(v), yr + c, count: n)
                }
            } else {
                VectorMath.map(zr, yr, count: cols) { K.forward($0) }
            }
        }
    }

    @inline(__always)
    static func biasBackwardLoop<K: ActivationKernel>(
        _: K.Type, _ z: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
        _ dz: UnsafeMutablePointer<Float>, _ biasGradient: UnsafeMutablePointer<Float>?,
        _ rows: Int, _ cols: Int
    ) {
        for r in 0..<rows {
            let o = r * cols
            if let biasGradient {
                var c = 0
                while c + 16 <= cols {
                    let g = VectorMath.load(dy + o + c) * K.derivative(x: VectorMath.load(z + o + c), y: VectorMath.load(y + o + c))
                    VectorMath.store(g, dz + o + c)
                    VectorMath.store(VectorMath.load(biasGradient + c) + g, biasGradient + c)
                    c += 16
                }
                if c < cols {
                    let n = cols - c
                    let zv = VectorMath.load(z + o + c, count: n, padding: 0)
                    let yv = VectorMath.load(y + o + c, count: n, padding: 0)
                    let g = VectorMath.load(dy + o + c, count: n, padding: 0) * K.derivative(x: zv, y: yv)
                    VectorMath.store(g, dz + o + c, count: n)
                    let b = VectorMath.load(biasGradient + c, count: n, padding: 0)
                    VectorMath.store(b + g, biasGradient + c, count: n)
                }
            } else {
                backwardLoop(K.self, z + o, y + o, dy + o, dz + o, cols)
            }
        }
    }

    // MARK: - Scalar helpers

    @usableFromInline static let geluK: Float = 0.797884560802865355  // √(2/π)
    @usableFromInline static let geluC: Float = 0.044715

    /// 2u, the logistic argument of the tanh-form GELU.
    static func geluArgument(_ x: Float) -> Float {
        2 * geluK * (x + geluC * x * x * x)
    }

    static func scalarSigmoid(_ x: Float) -> Float {
        let e = Foundation.exp(-abs(x))
        return (x >= 0 ? 1 : e) / (1 + e)
    }
}

// MARK: - Per-activation SIMD kernels

/// One activation's lane-wise function and derivative; the buffer loops are generic over it so
/// each case compiles to its own specialized loop.
@usableFromInline
protocol ActivationKernel {
    static func forward(_ x: SIMD16<Float>) -> SIMD16<Float>
    static func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float>
}

@usableFromInline enum IdentityKernel: ActivationKernel {
    @inlinable @inline(__always) static func forward(_ x: SIMD16<Float>) -> SIMD16<Float> { x }
    @inlinable @inline(__always) static func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float> {
        SIMD16(repeating: 1)
    }
}

@usableFromInline enum SigmoidKernel: ActivationKernel {
    @inlinable @inline(__always) static func forward(_ x: SIMD16<Float>) -> SIMD16<Float> { VectorMath.sigmoid(x) }
    @inlinable @inline(__always) static func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float> {
        y * (1 - y)
    }
}

@usableFromInline enum TanhKernel: ActivationKernel {
    @inlinable @inline(__always) static func forward(_ x: SIMD16<Float>) -> SIMD16<Float> { VectorMath.tanh(x) }
    @inlinable @inline(__always) static func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float> {
        (1 - y * y)
    }
}

@usableFromInline enum ReLUKernel: ActivationKernel {
    @inlinable @inline(__always) static func forward(_ x: SIMD16<Float>) -> SIMD16<Float> {
        x.replacing(with: 0, where: x .<= 0)  // NaN passes through
    }
    @inlinable @inline(__always) static func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float> {
        let zero = SIMD16<Float>()
        return zero.replacing(with: 1, where: y .> 0)
    }
}

@usableFromInline enum LeakyReLUKernel: ActivationKernel {
    @inlinable @inline(__always) static func forward(_ x: SIMD16<Float>) -> SIMD16<Float> {
        x.replacing(with: x * Activation.leakyReLUSlope, where: x .<= 0)
    }
    @inlinable @inline(__always) static func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float> {
        SIMD16<Float>(repeating: Activation.leakyReLUSlope).replacing(with: 1, where: x .> 0)
    }
}

@usableFromInline enum ELUKernel: ActivationKernel {
    @inlinable @inline(__always) static func forward(_ x: SIMD16<Float>) -> SIMD16<Float> {
        x.replacing(with: Activation.eluAlpha * VectorMath.expm1(x), where: x .<= 0)
    }
    @inlinable @inline(__always) static func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float> {
        (Activation.eluAlpha * VectorMath.exp(x)).replacing(with: 1, where: x .> 0)
    }
}

@usableFromInline enum GELUKernel: ActivationKernel {
    @inlinable @inline(__always) static func argument(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let k2 = 2 * Activation.geluK
        return (k2 * x).addingProduct(k2 * Activation.geluC * x, x * x)
    }
    @inlinable @inline(__always) static func forward(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let s = VectorMath.sigmoid(argument(x))
        return (x * s).replacing(with: 0, where: s .== 0)  // −∞·0
    }
    @inlinable @inline(__always) static func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float> {
        let s = VectorMath.sigmoid(argument(x))
        let t = s * (1 - s)
        let slope = (2 * Activation.geluK) * (1 + (3 * Activation.geluC) * x * x)
        let term = (x * t * slope).replacing(with: 0, where: t .== 0)  // ±∞·0
        return s + term
    }
}

@usableFromInline enum SoftplusKernel: ActivationKernel {
    @inlinable @inline(__always) static func forward(_ x: SIMD16<Float>) -> SIMD16<Float> { VectorMath.softplus(x) }
    @inlinable @inline(__always) static func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float> {
        VectorMath.sigmoid(x)
    }
}
