import Foundation
import Testing
import Backprop

/// Gradient clipping and annealed gradient noise.
@Suite struct OptimizerGradientTransformTests {
    static func parameter(grad: [Float]) -> Variable {
        let p = Variable(Tensor(shape: [grad.count], repeating: 0), requiresGrad: true)
        p.grad = Tensor(grad)
        return p
    }

    @Test func globalNormClipsAllGradientsTogether() {
        // ‖(3, 4, 12)‖ = √(9 + 16 + 144) = 13; clipping to 6.5 halves every component.
        let a = Self.parameter(grad: [3, 4]), b = Self.parameter(grad: [12])
        let none = Variable(Tensor([1]), requiresGrad: true)
        #expect(GradientClipping.globalNorm([a, b, none]) == 13)
        let before = GradientClipping.clipByGlobalNorm([a, b, none], maxNorm: 6.5)
        #expect(before == 13)
        #expect(a.grad?.scalars == [1.5, 2])
        #expect(b.grad?.scalars == [6])
        #expect(none.grad == nil)
        #expect(abs(GradientClipping.globalNorm([a, b]) - 6.5) <= 1e-6)
    }

    @Test func globalNormLeavesSmallGradientsAlone() {
        let a = Self.parameter(grad: [3, 4])
        #expect(GradientClipping.clipByGlobalNorm([a], maxNorm: 5) == 5)
        #expect(a.grad?.scalars == [3, 4])
    }

    @Test func globalNormOverLongBuffers() {
        // 100 ones and 21 twos: √(100 + 84) — exercises the 16-lane loop and its tail.
        let a = Self.parameter(grad: Array(repeating: 1, count: 100))
        let b = Self.parameter(grad: Array(repeating: 2, count: 21))
        #expect(abs(GradientClipping.globalNorm([a, b]) - Float(184).squareRoot()) <= 1e-5)
    }

    @Test func nonFiniteNormIsReportedNotHidden() {
        let a = Self.parameter(grad: [.infinity, 1])
        let norm = GradientClipping.clipByGlobalNorm([a], maxNorm: 1)
        #expect(norm == .infinity)
        #expect(a.grad?.scalars == [.infinity, 1])
    }

    @Test func valueClippingClampsEachComponent() {
        let a = Self.parameter(grad: [-3, 0.5, 2, -1])
        #expect(GradientClipping.clipByValue([a], limit: 1) == 2)
        #expect(a.grad?.scalars == [-1, 0.5, 1, -1])
    }

    @Test func noiseVarianceFollowsTheAnnealingFormula() {
        // σ_t² = η/(1+t)^γ: η = 0.3, γ = 0.55: t = 0 → 0.3; t = 9 → 0.3/10^0.55 = 0.3/3.548133892 = 0.08455066.
        let noise = GradientNoise(eta: 0.3, seed: 1)
        #expect(noise.variance(atStep: 0) == 0.3)
        #expect(abs(noise.variance(atStep: 9) - 0.08455066) <= 1e-6)
        #expect(noise.variance(atStep: 1000) < noise.variance(atStep: 100))
    }

    /// The added noise has mean 0 and variance σ_t² (η = 1, t = 9: σ² = 10^−0.55 = 0.2818383).
    /// With n = 200 000 draws the sample variance's standard error is σ²·√(2/n) ≈ 0.0009, so a
    /// 2% band is over 6 standard errors wide; the mean's is σ/√n ≈ 0.0012, band 0.01.
    @Test func noiseHasTheAnnealedVariance() {
        var noise = GradientNoise(eta: 1, seed: 2024)
        let n = 200_000
        let p = Self.parameter(grad: Array(repeating: 0, count: n))
        noise.perturb([p], step: 9)
        let values: [Double] = (p.grad?.scalars ?? []).map { Double($0) }
        #expect(values.count == n)
        let mean: Double = values.reduce(0, +) / Double(n)
        var squares: Double = 0
        for v in values { squares += (v - mean) * (v - mean) }
        let variance = squares / Double(n - 1)
        let expected = pow(10.0, -0.55)
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - expected) < 0.02 * expected, "variance \(variance), expected \(expected)")
    }

    @Test func noiseIsReproducibleAndResumable() throws {
        var first = GradientNoise(eta: 0.01, seed: 9)
        var second = GradientNoise(eta: 0.01, seed: 9)
        let a = Self.parameter(grad: Array(repeating: 0, count: 5))
        let b = Self.parameter(grad: Array(repeating: 0, count: 5))
        first.perturb([a], step: 0)
        second.perturb([b], step: 0)
        #expect(a.grad == b.grad)
        let saved = try JSONEncoder().encode(first)
        first.perturb([a], step: 1)
        var restored = try JSONDecoder().decode(GradientNoise.self, from: saved)
        restored.perturb([b], step: 1)
        #expect(a.grad?.scalars.map(\.bitPattern) == b.grad?.scalars.map(\.bitPattern))
        #expect(a.grad?.scalars != [0, 0, 0, 0, 0])
    }
}
