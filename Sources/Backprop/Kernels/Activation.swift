import CBackpropSupport
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
/// `ActivationKernelTests` on 100k points of [−20, 20], the same at every level unless noted):
/// identity and ReLU exact, leaky ReLU 5.9e-8, ELU 6.2e-8 (baseline 8.0e-8), tanh 1.2e-7,
/// softplus 1.6e-7, sigmoid 1.7e-7; GELU 2.2e-7 (baseline 2.5e-7) plus, in its negative tail,
/// the conditioning `≈ |2u|·1.2e-7` of `σ(2u)` for an argument rounded to `Float`.
/// `backward` matches central finite differences of the `Double` function to ≈ 1e-6 (the
/// `y`-based formulas of sigmoid and tanh carry `y`'s rounding). NaN inputs give NaN outputs
/// (ReLU included: `relu(NaN) = NaN`), and every case saturates to finite values (or ±∞ for ±∞
/// where the function is unbounded) without NaN for large `|x|`.
///
/// The buffer kernels are C (Sources/CBackpropSupport/kernels/vector_math.h, on `VectorMath`'s
/// functions), compiled once per instruction-set level and reached through the process's
/// ``KernelTable``, chosen at run time from the CPU or `BACKPROP_CPU` (Swift's SIMD types would
/// need a `-march` build flag that ties the binary to one CPU). Each kernel switches on the case
/// once and runs a loop compiled for it. The `avx2` and `avx512` levels give the same bits; the
/// SSE2 `baseline` (no FMA: its multiply-adds round twice) differs by rounding. `leakyReLUSlope`
/// and `eluAlpha` are compiled into the C kernels.
public enum Activation: String, CaseIterable, Sendable, Codable {
    /// `identity`: x (a linear layer); `sigmoid`: 1/(1 + e⁻ˣ); `tanh`; `relu`: max(0, x);
    /// `leakyReLU`: x for x > 0, else ``leakyReLUSlope`` · x; `elu`: x for x > 0, else
    /// ``eluAlpha`` · (eˣ − 1); `gelu`: the tanh approximation x/2 · (1 + tanh(√(2/π)(x + 0.044715x³)));
    /// `softplus`: log(1 + eˣ).
    case identity, sigmoid, tanh, relu, leakyReLU, elu, gelu, softplus

    /// Slope of `leakyReLU` for negative inputs.
    public static let leakyReLUSlope: Float = BP_LEAKY_RELU_SLOPE
    /// Saturation value −α of `elu` for large negative inputs.
    public static let eluAlpha: Float = BP_ELU_ALPHA

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

    // MARK: - SIMD16 forms

    /// `f(x)` on 16 lanes, through the buffer kernel (so the same bits as `forward`).
    public func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
        var v = x
        let kernels = KernelTable.current
        withUnsafeMutablePointer(to: &v) { p in
            p.withMemoryRebound(to: Float.self, capacity: 16) { forward(UnsafePointer($0), $0, count: 16, kernels: kernels) }
        }
        return v
    }

    /// `f′(x)` on 16 lanes, given `x` and `y = f(x)` (each case reads whichever is cheaper):
    /// `backward` with `dy = 1`, so the same bits as the buffer kernel's factor.
    public func derivative(x: SIMD16<Float>, y: SIMD16<Float>) -> SIMD16<Float> {
        var xv = x, yv = y, d = SIMD16<Float>(repeating: 1)
        let kernels = KernelTable.current
        withUnsafeMutablePointer(to: &xv) { xp in
            withUnsafeMutablePointer(to: &yv) { yp in
                withUnsafeMutablePointer(to: &d) { dp in
                    xp.withMemoryRebound(to: Float.self, capacity: 16) { xf in
                        yp.withMemoryRebound(to: Float.self, capacity: 16) { yf in
                            dp.withMemoryRebound(to: Float.self, capacity: 16) { df in
                                backward(x: xf, y: yf, dy: df, dx: df, count: 16, kernels: kernels)
                            }
                        }
                    }
                }
            }
        }
        return d
    }

    // MARK: - Buffer kernels

    /// Writes `y[i] = f(x[i])` for `i in 0..<count`. `x` and `y` may be the same buffer.
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        forward(x, y, count: count, kernels: .current)
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
        backward(x: x, y: y, dy: dy, dx: dx, count: count, kernels: .current)
    }

    /// Fused bias add and activation over a row-major `[rows × cols]` matrix, in one pass:
    /// `z[r, c] += bias[c]` (the pre-activation, kept for `biasBackward`) and
    /// `y[r, c] = f(z[r, c])`.
    ///
    /// - Parameters:
    ///   - z: On entry the product `x·Wᵀ`; on return `x·Wᵀ + bias`.
    ///   - bias: `cols` values, or `nil` for no bias.
    ///   - y: Receives the activations. May be `z` itself when the pre-activation is not needed.
    ///   - rows: The number of rows (examples).
    ///   - cols: The number of columns (units); `bias` has this many values.
    public func biasForward(
        z: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
        rows: Int, cols: Int
    ) {
        biasForward(z: z, bias: bias, y: y, rows: rows, cols: cols, kernels: .current)
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
    ///   - rows: The number of rows (examples).
    ///   - cols: The number of columns (units).
    public func biasBackward(
        z: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
        dz: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>?,
        rows: Int, cols: Int
    ) {
        biasBackward(z: z, y: y, dy: dy, dz: dz, biasGradient: biasGradient, rows: rows, cols: cols, kernels: .current)
    }

    // MARK: - Buffer kernels with an explicit level (package access: tests run every level in one process)

    package func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, kernels: KernelTable) {
        kernels.math.activation_forward.unsafelyUnwrapped(code, x, y, count)
    }

    package func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>, count: Int, kernels: KernelTable
    ) {
        kernels.math.activation_backward.unsafelyUnwrapped(code, x, y, dy, dx, count)
    }

    package func biasForward(
        z: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
        rows: Int, cols: Int, kernels: KernelTable
    ) {
        kernels.math.activation_bias_forward.unsafelyUnwrapped(code, z, bias, y, rows, cols)
    }

    package func biasBackward(
        z: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>,
        dz: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>?,
        rows: Int, cols: Int, kernels: KernelTable
    ) {
        kernels.math.activation_bias_backward.unsafelyUnwrapped(code, z, y, dy, dz, biasGradient, rows, cols)
    }

    /// The C kernels' number for this case (BP_ACTIVATION_ in bp_math_kernels.h).
    var code: Int32 {
        switch self {
        case .identity: return Int32(BP_ACTIVATION_IDENTITY)
        case .sigmoid: return Int32(BP_ACTIVATION_SIGMOID)
        case .tanh: return Int32(BP_ACTIVATION_TANH)
        case .relu: return Int32(BP_ACTIVATION_RELU)
        case .leakyReLU: return Int32(BP_ACTIVATION_LEAKY_RELU)
        case .elu: return Int32(BP_ACTIVATION_ELU)
        case .gelu: return Int32(BP_ACTIVATION_GELU)
        case .softplus: return Int32(BP_ACTIVATION_SOFTPLUS)
        }
    }

    // MARK: - Scalar helpers

    static let geluK: Float = 0.797884560802865355  // √(2/π)
    static let geluC: Float = 0.044715

    /// 2u, the logistic argument of the tanh-form GELU.
    static func geluArgument(_ x: Float) -> Float {
        2 * geluK * (x + geluC * x * x * x)
    }

    static func scalarSigmoid(_ x: Float) -> Float {
        let e = Foundation.exp(-abs(x))
        return (x >= 0 ? 1 : e) / (1 + e)
    }
}
