import Foundation

/// A quick speed check of the `VectorMath` kernels against a scalar loop over Foundation's
/// `Float` functions (Glibc's `expf`, `tanhf`, `logf`; sigmoid as `1/(1 + expf(−x))`).
///
/// Each kernel runs over 1M floats; the reported time is the best of several repetitions, so it
/// measures the warm-cache, single-thread throughput. Not used by tests (no timing assertions).
public enum ElementwiseBenchmark {
    /// Runs the comparison and returns printable lines, one per function.
    public static func run() -> [String] {
        let count = 1 << 20
        let repetitions = 7
        let x = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer {
            x.deallocate()
            y.deallocate()
        }
        var lines = ["elementwise: \(count) floats, best of \(repetitions), kernels at level \(KernelTable.current.summary) vs scalar Foundation loop"]
        var sink: Float = 0

        func fill(_ lower: Float, _ upper: Float) {
            var state: UInt32 = 12345
            for i in 0..<count {
                state = state &* 1_664_525 &+ 1_013_904_223
                x[i] = lower + (upper - lower) * Float(state >> 8) / Float(1 << 24)
            }
        }

        func best(_ body: () -> Void) -> Double {
            var best = Double.infinity
            for _ in 0..<repetitions {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                best = min(best, elapsed)
                sink += y[count / 2]
            }
            return best
        }

        func report(_ name: String, _ vector: Double, _ scalar: Double) {
            let ns = 1e9 / Double(count)
            lines.append(
                "  \(name.padding(toLength: 8, withPad: " ", startingAt: 0))"
                    + " vector \(format(vector * ns)) ns/elt (\(format(Double(count) / vector / 1e9)) Gelt/s)"
                    + "  scalar \(format(scalar * ns)) ns/elt  speed-up \(format(scalar / vector))x")
        }

        fill(-20, 20)
        report("exp", best { VectorMath.exp(x, y, count: count) },
               best { for i in 0..<count { y[i] = Foundation.exp(x[i]) } })
        report("tanh", best { VectorMath.tanh(x, y, count: count) },
               best { for i in 0..<count { y[i] = Foundation.tanh(x[i]) } })
        report("sigmoid", best { VectorMath.sigmoid(x, y, count: count) },
               best { for i in 0..<count { y[i] = 1 / (1 + Foundation.exp(-x[i])) } })
        fill(1e-3, 1e3)
        report("log", best { VectorMath.log(x, y, count: count) },
               best { for i in 0..<count { y[i] = Foundation.log(x[i]) } })
        if sink == 42 { lines.append("") }  // keep the results observable
        return lines
    }

    static func format(_ v: Double) -> String { String(format: "%.3f", v) }
}
