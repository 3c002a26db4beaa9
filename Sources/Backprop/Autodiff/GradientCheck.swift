/// Checks reverse-mode gradients against central finite differences.
///
/// For a function f of some variables, the check runs `backward()` once for the analytic
/// gradient, then perturbs each element x_i by ±ε and compares
/// (f(x + εe_i) − f(x − εe_i)) / 2ε with the analytic ∂f/∂x_i. A non-scalar f is reduced to a
/// scalar with a fixed random projection Σ r ⊙ f, which checks the whole vector–Jacobian
/// product rather than a sum that could hide compensating errors.
///
/// In Float32 the central difference has truncation error O(ε²) and rounding error
/// O(u·|f|/ε), u = 2⁻²⁴; ε = 10⁻² balances the two for functions of moderate curvature, so the
/// default tolerance is 10⁻² relative (plus a small absolute floor for gradients near zero).
/// That is loose next to double precision, but a wrong sign or a missing factor of 2 is an error
/// of 100%, and the checker's own tests show it catches both.
public enum GradientCheck {
    /// One disagreement between the analytic and the numerical gradient.
    public struct Mismatch: Sendable, CustomStringConvertible {
        /// The index of the input (in the order given to the check).
        public var input: Int
        /// The element of that input, in row-major order.
        public var element: Int
        /// ∂f/∂xᵢ from `backward()`.
        public var analytic: Float
        /// The central difference (f(x + εeᵢ) − f(x − εeᵢ)) / 2ε.
        public var numerical: Float
        /// E.g. `input 0 element 3: backward gives 0.5, finite differences 0.25`.
        public var description: String {
            "input \(input) element \(element): backward gives \(analytic), finite differences \(numerical)"
        }
    }

    /// The outcome of a check.
    public struct Result: Sendable, CustomStringConvertible {
        /// Elements compared.
        public var checked: Int
        /// The largest |analytic − numerical| / max(|analytic|, |numerical|, floor).
        public var maxRelativeError: Float
        /// Elements outside the tolerance.
        public var mismatches: [Mismatch]
        /// Whether at least one element was compared and none was outside the tolerance.
        public var passed: Bool { mismatches.isEmpty && checked > 0 }
        /// Whether the check passed, with the element count and the largest relative error, or the
        /// first three mismatches.
        public var description: String {
            passed ? "gradient check passed: \(checked) elements, max relative error \(maxRelativeError)"
                   : "gradient check FAILED on \(mismatches.count) of \(checked) elements, e.g. \(mismatches.prefix(3).map(\.description).joined(separator: "; "))"
        }
    }

    /// Compares backward's gradients of `function` with respect to `inputs` with finite
    /// differences.
    ///
    /// - Parameters:
    ///   - inputs: leaf variables with `requiresGrad`; their values are perturbed and restored.
    ///   - epsilon: the finite-difference step.
    ///   - tolerance: the relative tolerance.
    ///   - absoluteTolerance: differences below this count as agreement (gradients near zero).
    ///   - maxElementsPerInput: at most this many elements of each input are perturbed (spread
    ///     evenly), to bound the cost for large inputs.
    ///   - seed: the seed of the random projection that reduces a non-scalar output.
    ///   - function: recomputes the output from the inputs; must be deterministic.
    public static func check(
        _ inputs: [Variable], epsilon: Float = 1e-2, tolerance: Float = 1e-2,
        absoluteTolerance: Float = 1e-3, maxElementsPerInput: Int = 64,
        seed: UInt64 = 7, _ function: () -> Variable
    ) -> Result {
        precondition(inputs.allSatisfy(\.requiresGrad), "GradientCheck: every input must require a gradient")
        for x in inputs { x.grad = nil }
        let output = function()
        var generator = RandomGenerator(seed: seed)
        let projection: Tensor? = output.value.count == 1
            ? nil : .uniform(output.shape, in: -1...1, using: &generator)
        func scalarValue(_ y: Variable) -> Double {
            guard let projection else { return Double(y.value.scalar) }
            var total = 0.0
            let a = y.value.scalars, r = projection.scalars
            for i in a.indices { total += Double(a[i]) * Double(r[i]) }
            return total
        }
        output.backward(seed: projection)
        var result = Result(checked: 0, maxRelativeError: 0, mismatches: [])
        for (inputIndex, x) in inputs.enumerated() {
            let analytic = x.grad?.scalars ?? Array(repeating: 0, count: x.value.count)
            let n = x.value.count
            let stride = Swift.max(1, n / Swift.max(1, maxElementsPerInput))
            for i in Swift.stride(from: 0, to: n, by: stride) {
                let original = x.value.scalars[i]
                let plus = withoutGradient { () -> Double in
                    x.value.withUnsafeMutableBufferPointer { $0[i] = original + epsilon }
                    return scalarValue(function())
                }
                let minus = withoutGradient { () -> Double in
                    x.value.withUnsafeMutableBufferPointer { $0[i] = original - epsilon }
                    return scalarValue(function())
                }
                x.value.withUnsafeMutableBufferPointer { $0[i] = original }
                let numerical = Float((plus - minus) / (2 * Double(epsilon)))
                let a = analytic[i]
                let difference = abs(a - numerical)
                let scale = Swift.max(abs(a), abs(numerical), absoluteTolerance)
                let relative = difference / scale
                result.checked += 1
                result.maxRelativeError = Swift.max(result.maxRelativeError, relative)
                if difference > absoluteTolerance && relative > tolerance || !numerical.isFinite || !a.isFinite {
                    result.mismatches.append(Mismatch(input: inputIndex, element: i, analytic: a, numerical: numerical))
                }
            }
        }
        for x in inputs { x.grad = nil }
        return result
    }
}
