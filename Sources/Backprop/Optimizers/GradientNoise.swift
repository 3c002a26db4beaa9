#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Annealed Gaussian gradient noise (Neelakantan et al. 2015, "Adding gradient noise improves
/// learning for very deep networks"):
///
///     g_t ← g_t + N(0, σ_t²),   σ_t² = η / (1 + t)^γ
///
/// Noise helps deep or badly initialized networks escape saddle points and poor early
/// minima; annealing it makes it vanish as training settles. The paper uses η ∈ {0.01, 0.3,
/// 1.0} and γ = 0.55. This η is the noise scale, not the learning rate.
///
/// t is the number of optimizer steps taken before this one (0 for the first step), so pass
/// ``Optimizer/stepCount`` before calling ``Optimizer/step()``.
///
/// The generator is part of the value and `Codable`: saving and restoring it continues the
/// same noise sequence bit for bit.
public struct GradientNoise: Codable, Sendable, Equatable {
    /// η, the noise scale (the paper's choices are 0.01, 0.3 and 1.0).
    public var eta: Float
    /// γ, the annealing exponent (0.55 in the paper).
    public var gamma: Float
    /// The noise source.
    public var generator: RandomGenerator

    /// Gradient noise with the given scale, annealing and seed.
    ///
    /// - Parameters:
    ///   - eta: η, non-negative and finite; 0 adds no noise.
    ///   - gamma: γ, the annealing exponent of σ²_t = η/(1 + t)^γ.
    ///   - seed: the noise generator's seed.
    public init(eta: Float, gamma: Float = 0.55, seed: UInt64) {
        precondition(eta >= 0 && eta.isFinite, "GradientNoise: η must be non-negative, got \(eta)")
        precondition(gamma >= 0 && gamma.isFinite, "GradientNoise: γ must be non-negative, got \(gamma)")
        self.eta = eta
        self.gamma = gamma
        self.generator = RandomGenerator(seed: seed)
    }

    /// σ_t² = η / (1 + t)^γ.
    public func variance(atStep t: Int) -> Float {
        Float(Double(eta) / pow(1 + Double(t), Double(gamma)))
    }

    /// Adds N(0, σ_t²) to every component of every gradient (parameters without a gradient
    /// are skipped and draw nothing). Normals are drawn in Box–Muller pairs, both values used.
    public mutating func perturb(_ parameters: [Variable], step t: Int) {
        let sigma = variance(atStep: t).squareRoot()
        for p in parameters {
            guard var g = p.grad else { continue }
            p.grad = nil   // keep the buffer uniquely referenced, so the update is in place
            g.withUnsafeMutableBufferPointer { b in
                var i = 0
                while i < b.count {
                    let (z0, z1) = generator.nextNormalPair()
                    b[i] += sigma * z0
                    if i + 1 < b.count { b[i + 1] += sigma * z1 }
                    i += 2
                }
            }
            p.grad = g
        }
    }
}
