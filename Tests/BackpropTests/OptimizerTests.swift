import Testing
import Backprop

/// The first three steps of every optimizer on f(x, y) = x² + 10y², ∇f = (2x, 20y), from
/// θ₀ = (1, 1), against numbers worked out by hand from each paper's equations (Ruder's
/// notation). The working is in the comments; the expected values are its results, to 1e-6
/// relative (Float32 rounding of the hyper-parameters and of each operation stays below
/// 3e-7 relative on these paths, checked when the numbers were worked out).
///
/// Hyper-parameters are chosen so the arithmetic is checkable: the Adam family uses β₁ = 0.5,
/// β₂ = 0.75 (exact in binary, so 1 − β is exact and the bias corrections are 1/2, 3/4, 7/8 and
/// 1/4, 7/16, 37/64); with the default β₂ = 0.999, Float(0.999) alone is off by 1.3e-5 relative
/// in 1 − β₂, which would swamp a 1e-6 comparison.
@Suite struct OptimizerHandWorkedTests {
    /// Runs `steps` steps on the bowl and returns θ and the state after each.
    static func run(_ rule: any OptimizerRule, learningRate: Float?, weightDecay: WeightDecay? = nil,
                    steps: Int = 3) -> [(theta: [Float], state: [String: [Float]])] {
        let p = Variable(Tensor([1, 1]), requiresGrad: true, decays: true)
        let optimizer = Optimizer(groups: [ParameterGroup([("p", p)], weightDecay: weightDecay)],
                                  rule: rule, learningRate: learningRate)
        var out: [(theta: [Float], state: [String: [Float]])] = []
        for _ in 0..<steps {
            let v = p.value.scalars
            p.grad = Tensor([2 * v[0], 20 * v[1]])
            optimizer.step()
            optimizer.zeroGrad()
            out.append((p.value.scalars, optimizer.state(of: "p") ?? [:]))
        }
        return out
    }

    static func expectClose(_ actual: [Float], _ expected: [Double], _ label: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)",
                sourceLocation: sourceLocation)
        for (a, e) in zip(actual, expected) {
            let error = abs(Double(a) - e) / abs(e)
            #expect(error <= 1e-6, "\(label): got \(a), expected \(e) (relative error \(error))",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func sgd() {
        // η = 0.01.   θ_{t+1} = θ_t − η·g_t
        // t=1: g₁ = (2, 20)          θ₁ = (1 − 0.02, 1 − 0.2)         = (0.98, 0.8)
        // t=2: g₂ = (1.96, 16)       θ₂ = (0.98 − 0.0196, 0.8 − 0.16) = (0.9604, 0.64)
        // t=3: g₃ = (1.9208, 12.8)   θ₃ = (0.9604 − 0.019208, 0.64 − 0.128) = (0.941192, 0.512)
        let r = Self.run(SGD(), learningRate: 0.01)
        Self.expectClose(r[0].theta, [0.98, 0.8], "θ₁")
        Self.expectClose(r[1].theta, [0.9604, 0.64], "θ₂")
        Self.expectClose(r[2].theta, [0.941192, 0.512], "θ₃")
    }

    @Test func momentum() {
        // γ = 0.9, η = 0.005.   v_t = γ·v_{t−1} + η·g_t,  θ_{t+1} = θ_t − v_t
        // t=1: g₁ = (2, 20)        v₁ = (0.01, 0.1)                                θ₁ = (0.99, 0.9)
        // t=2: g₂ = (1.98, 18)     v₂ = (0.009 + 0.0099, 0.09 + 0.09) = (0.0189, 0.18)
        //                          θ₂ = (0.99 − 0.0189, 0.9 − 0.18) = (0.9711, 0.72)
        // t=3: g₃ = (1.9422, 14.4) v₃ = (0.01701 + 0.009711, 0.162 + 0.072) = (0.026721, 0.234)
        //                          θ₃ = (0.9711 − 0.026721, 0.72 − 0.234) = (0.944379, 0.486)
        let r = Self.run(Momentum(momentum: 0.9), learningRate: 0.005)
        Self.expectClose(r[0].theta, [0.99, 0.9], "θ₁")
        Self.expectClose(r[1].theta, [0.9711, 0.72], "θ₂")
        Self.expectClose(r[2].theta, [0.944379, 0.486], "θ₃")
        Self.expectClose(r[0].state["v"] ?? [], [0.01, 0.1], "v₁")
        Self.expectClose(r[1].state["v"] ?? [], [0.0189, 0.18], "v₂")
        Self.expectClose(r[2].state["v"] ?? [], [0.026721, 0.234], "v₃")
    }

    @Test func nesterov() {
        // γ = 0.9, η = 0.005, Ruder's form: v_t = γ·v_{t−1} + η·∇J(θ_t − γ·v_{t−1}), θ_{t+1} = θ_t − v_t.
        // The optimizer stores the look-ahead point φ_t = θ_t − γ·v_t (see Nesterov.swift),
        // so we work out θ and v and compare φ.
        // t=1: look-ahead θ₀ − γ·0 = (1, 1), g = (2, 20), v₁ = (0.01, 0.1), θ₁ = (0.99, 0.9)
        //      φ₁ = (0.99 − 0.009, 0.9 − 0.09) = (0.981, 0.81)
        // t=2: look-ahead θ₁ − γv₁ = φ₁ = (0.981, 0.81), g = (1.962, 16.2)
        //      v₂ = (0.009 + 0.00981, 0.09 + 0.081) = (0.01881, 0.171)
        //      θ₂ = (0.99 − 0.01881, 0.9 − 0.171) = (0.97119, 0.729)
        //      φ₂ = (0.97119 − 0.016929, 0.729 − 0.1539) = (0.954261, 0.5751)
        // t=3: look-ahead φ₂, g = (1.908522, 11.502)
        //      v₃ = (0.016929 + 0.00954261, 0.1539 + 0.05751) = (0.02647161, 0.21141)
        //      θ₃ = (0.97119 − 0.02647161, 0.729 − 0.21141) = (0.94471839, 0.51759)
        //      φ₃ = (0.94471839 − 0.023824449, 0.51759 − 0.190269) = (0.920893941, 0.327321)
        let r = Self.run(Nesterov(momentum: 0.9), learningRate: 0.005)
        Self.expectClose(r[0].theta, [0.981, 0.81], "φ₁")
        Self.expectClose(r[1].theta, [0.954261, 0.5751], "φ₂")
        Self.expectClose(r[2].theta, [0.920893941, 0.327321], "φ₃")
        Self.expectClose(r[2].state["v"] ?? [], [0.02647161, 0.21141], "v₃")
    }

    @Test func adagrad() {
        // η = 0.1, ε = 1e-8.   G_t = G_{t−1} + g_t²,  θ_{t+1} = θ_t − η/√(G_t + ε)·g_t
        // (x and y move alike: g_y/√G_y = 10g_x/√(100·G_x); ε shifts only the 10th digit.)
        // t=1: g₁ = (2, 20)            G₁ = (4, 400)       step = 0.1·2/2 = 0.1 → θ₁ = (0.9, 0.9)
        // t=2: g₂ = (1.8, 18)          G₂ = (4 + 3.24, 400 + 324) = (7.24, 724)
        //      √7.24 = 2.690724811, step = 0.18/2.690724811 = 0.06689647312 → θ₂ = 0.833103527 (both)
        // t=3: g₃ = (1.666207054, 16.66207054), G₃ = (7.24 + 2.776245945, …) = (10.01624595, 1001.624595)
        //      √10.01624595 = 3.164845329, step = 0.1666207054/3.164845329 = 0.05264734547
        //      θ₃ = 0.833103527 − 0.05264734547 = 0.7804561815 (y: 0.7804561813)
        let r = Self.run(Adagrad(epsilon: 1e-8), learningRate: 0.1)
        Self.expectClose(r[0].theta, [0.9000000001, 0.9], "θ₁")
        Self.expectClose(r[1].theta, [0.833103527, 0.8331035268], "θ₂")
        Self.expectClose(r[2].theta, [0.7804561815, 0.7804561813], "θ₃")
        Self.expectClose(r[1].state["G"] ?? [], [7.24, 724], "G₂")
        Self.expectClose(r[2].state["G"] ?? [], [10.01624595, 1001.624595], "G₃")
    }

    @Test func adadeltaWithoutLearningRate() {
        // Zeiler's defaults ρ = 0.95, ε = 1e-6, and no learning rate.
        //   E[g²]_t = ρE[g²]_{t−1} + (1−ρ)g_t²,  Δθ_t = −√(E[Δθ²]_{t−1}+ε)/√(E[g²]_t+ε)·g_t,
        //   E[Δθ²]_t = ρE[Δθ²]_{t−1} + (1−ρ)Δθ_t²,  θ_{t+1} = θ_t + Δθ_t
        // x: t=1: g = 2, E[g²] = 0.05·4 = 0.2, RMS[Δθ]₀ = √1e-6 = 0.001, RMS[g] = √0.200001 = 0.4472147135
        //         Δθ = −0.001/0.4472147135·2 = −0.004472124775, E[Δθ²] = 0.05·Δθ² = 9.99995e-7
        //         θ₁ = 0.9955278752
        //    t=2: g = 1.99105575, E[g²] = 0.19 + 0.05·3.964303 = 0.3882151501,
        //         RMS[Δθ] = √(9.99995e-7 + 1e-6) = 0.001414211795, RMS[g] = 0.62306994
        //         Δθ = −0.00451919495, E[Δθ²] = 0.95·9.99995e-7 + 0.05·Δθ² = 1.9711514e-6, θ₂ = 0.9910086803
        //    t=3: g = 1.982017361, E[g²] = 0.5652240334, RMS[Δθ] = 0.001723702817, RMS[g] = 0.751814494
        //         Δθ = −0.004544217934, E[Δθ²] = 2.905089661e-6, θ₃ = 0.9864644623
        // y: t=1: g = 20, E[g²] = 20, RMS[g] = 4.472136067, Δθ = −0.004472135843, E[Δθ²] = 9.9999995e-7,
        //         θ₁ = 0.9955278642
        //    t=2: g = 19.91055728, E[g²] = 38.82151457, Δθ = −0.00451920628, E[Δθ²] = 1.971161223e-6,
        //         θ₂ = 0.9910086579
        //    t=3: g = 19.82017316, E[g²] = 56.52240204, Δθ = −0.004544229375, E[Δθ²] = 2.905104192e-6,
        //         θ₃ = 0.9864644285
        let r = Self.run(Adadelta(), learningRate: nil)
        Self.expectClose(r[0].theta, [0.9955278752, 0.9955278642], "θ₁")
        Self.expectClose(r[1].theta, [0.9910086803, 0.9910086579], "θ₂")
        Self.expectClose(r[2].theta, [0.9864644623, 0.9864644285], "θ₃")
        // The steps themselves are ~0.0045, so pin them through the state as well.
        Self.expectClose(r[0].state["Edx2"] ?? [], [9.99995e-7, 9.9999995e-7], "E[Δθ²]₁")
        Self.expectClose(r[1].state["Edx2"] ?? [], [1.9711514e-6, 1.971161223e-6], "E[Δθ²]₂")
        Self.expectClose(r[2].state["Edx2"] ?? [], [2.905089661e-6, 2.905104192e-6], "E[Δθ²]₃")
        Self.expectClose(r[2].state["Eg2"] ?? [], [0.5652240334, 56.52240204], "E[g²]₃")
    }

    @Test func rmsprop() {
        // ρ (Ruder's γ) = 0.9, η = 0.01, ε = 1e-8.  E[g²]_t = ρE[g²]_{t−1} + (1−ρ)g_t²,
        // θ_{t+1} = θ_t − η/√(E[g²]_t + ε)·g_t
        // x: t=1: g = 2, E = 0.4, √E = 0.6324555399, step = 0.02/0.6324555399 = 0.03162277621, θ₁ = 0.9683772238
        //    t=2: g = 1.936754448, E = 0.36 + 0.1·3.751017790 = 0.735101779, √E = 0.8573807725,
        //         step = 0.01936754448/0.8573807725 = 0.02258919852, θ₂ = 0.9457880253
        //    t=3: g = 1.891576051, E = 1.019397597, √E = 1.009652221, step = 0.01873492686, θ₃ = 0.9270530984
        // y: t=1: g = 20, E = 40, step = 0.2/6.324555321 = 0.0316227766, θ₁ = 0.9683772234
        //    t=2: g = 19.36754447, E = 73.51017787, step = 0.02258919867, θ₂ = 0.9457880247
        //    t=3: g = 18.91576049, E = 101.9397596, step = 0.01873492694, θ₃ = 0.9270530978
        let r = Self.run(RMSprop(rho: 0.9, epsilon: 1e-8), learningRate: 0.01)
        Self.expectClose(r[0].theta, [0.9683772238, 0.9683772234], "θ₁")
        Self.expectClose(r[1].theta, [0.9457880253, 0.9457880247], "θ₂")
        Self.expectClose(r[2].theta, [0.9270530984, 0.9270530978], "θ₃")
        Self.expectClose(r[2].state["Eg2"] ?? [], [1.019397597, 101.9397596], "E[g²]₃")
    }

    @Test func adam() {
        // β₁ = 0.5, β₂ = 0.75, ε = 1e-8, η = 0.1.
        //   m_t = β₁m + (1−β₁)g, v_t = β₂v + (1−β₂)g², m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ),
        //   θ_{t+1} = θ_t − η·m̂/(√v̂ + ε);  1−β₁ᵗ = 1/2, 3/4, 7/8;  1−β₂ᵗ = 1/4, 7/16, 37/64
        // x: t=1: g = 2, m = 1, v = 1, m̂ = 2, v̂ = 4, step = 0.1·2/(2 + ε) = 0.0999999995, θ₁ = 0.9000000005
        //    t=2: g = 1.800000001, m = 0.5 + 0.9 = 1.4, v = 0.75 + 0.81 = 1.56, m̂ = 1.866666667,
        //         v̂ = 3.565714288, √v̂ = 1.888309902, step = 0.09885382982, θ₂ = 0.8011461707
        //    t=3: g = 1.602292341, m = 1.501146171, v = 1.811835187, m̂ = 1.715595624, v̂ = 3.133985189,
        //         √v̂ = 1.770306524, step = 0.09690952335, θ₃ = 0.7042366473
        // y: t=1: g = 20, m = 10, v = 100, m̂ = 20, v̂ = 400, step = 0.09999999995, θ₁ = 0.9000000001
        //    t=2: g = 18, m = 14, v = 156, m̂ = 18.66666667, v̂ = 356.5714286, step = 0.09885383028, θ₂ = 0.8011461698
        //    t=3: g = 16.0229234, m = 15.0114617, v = 181.1835185, m̂ = 17.15595623, v̂ = 313.3985186,
        //         step = 0.09690952382, θ₃ = 0.7042366459
        let r = Self.run(Adam(beta1: 0.5, beta2: 0.75, epsilon: 1e-8), learningRate: 0.1)
        Self.expectClose(r[0].theta, [0.9000000005, 0.9000000001], "θ₁")
        Self.expectClose(r[1].theta, [0.8011461707, 0.8011461698], "θ₂")
        Self.expectClose(r[2].theta, [0.7042366473, 0.7042366459], "θ₃")
        Self.expectClose(r[2].state["m"] ?? [], [1.501146171, 15.0114617], "m₃")
        Self.expectClose(r[2].state["v"] ?? [], [1.811835187, 181.1835185], "v₃")
    }

    @Test func adamax() {
        // β₁ = 0.5, β₂ = 0.75, η = 0.1.  m_t = β₁m + (1−β₁)g, u_t = max(β₂u, |g|),
        // θ_{t+1} = θ_t − η/(1−β₁ᵗ)·m_t/u_t   (x and y move identically: u scales with g)
        // t=1: g = (2, 20), m = (1, 10), u = (2, 20), step = 0.1/0.5·1/2 = 0.1, θ₁ = (0.9, 0.9)
        // t=2: g = (1.8, 18), m = (0.5 + 0.9, 5 + 9) = (1.4, 14), u = max((1.5, 15), (1.8, 18)) = (1.8, 18)
        //      step = 0.1/0.75·1.4/1.8 = 0.1037037037, θ₂ = 0.7962962963
        // t=3: g = (1.592592593, 15.92592593), m = (0.7 + 0.7962962963, …) = (1.496296296, 14.96296296),
        //      u = max((1.35, 13.5), |g|) = (1.592592593, 15.92592593),
        //      step = 0.1/0.875·1.496296296/1.592592593 = 0.1073754153, θ₃ = 0.688920881
        let r = Self.run(AdaMax(beta1: 0.5, beta2: 0.75), learningRate: 0.1)
        Self.expectClose(r[0].theta, [0.9, 0.9], "θ₁")
        Self.expectClose(r[1].theta, [0.7962962963, 0.7962962963], "θ₂")
        Self.expectClose(r[2].theta, [0.688920881, 0.688920881], "θ₃")
        Self.expectClose(r[1].state["u"] ?? [], [1.8, 18], "u₂")
        Self.expectClose(r[2].state["u"] ?? [], [1.592592593, 15.92592593], "u₃")
    }

    @Test func nadam() {
        // β₁ = 0.5, β₂ = 0.75, ε = 1e-8, η = 0.1.  m, v, m̂, v̂ as Adam;
        // θ_{t+1} = θ_t − η/(√v̂ + ε)·(β₁m̂ + (1−β₁)g/(1−β₁ᵗ))
        // x: t=1: g = 2, m = 1, v = 1, m̂ = 2, v̂ = 4, direction = 0.5·2 + 0.5·2/0.5 = 3,
        //         step = 0.1·3/2 = 0.15 (less 7e-10 for ε), θ₁ = 0.8500000007
        //    t=2: g = 1.700000001, m = 1.35, v = 0.75 + 0.7225 = 1.4725, m̂ = 1.8, v̂ = 3.365714289,
        //         √v̂ = 1.834588316, direction = 0.9 + 0.85/0.75 = 2.033333335, step = 0.1108332211,
        //         θ₂ = 0.7391667797
        //    t=3: g = 1.478333559, m = 1.41416678, v = 1.650742529, m̂ = 1.616190606, v̂ = 2.855338429,
        //         √v̂ = 1.689774668, direction = 0.808095303 + 0.739166780/0.875 = 1.652857337,
        //         step = 0.09781525065, θ₃ = 0.641351529
        // y: t=1: g = 20, direction = 30, step = 0.1·30/20 = 0.15, θ₁ = 0.8500000001
        //    t=2: g = 17, m = 13.5, v = 147.25, v̂ = 336.5714286, direction = 20.33333333,
        //         step = 0.1108332216, θ₂ = 0.7391667785
        //    t=3: g = 14.78333557, v̂ = 285.5338424, direction = 16.52857335, step = 0.09781525112,
        //         θ₃ = 0.6413515274
        let r = Self.run(Nadam(beta1: 0.5, beta2: 0.75, epsilon: 1e-8), learningRate: 0.1)
        Self.expectClose(r[0].theta, [0.8500000007, 0.8500000001], "θ₁")
        Self.expectClose(r[1].theta, [0.7391667797, 0.7391667785], "θ₂")
        Self.expectClose(r[2].theta, [0.641351529, 0.6413515274], "θ₃")
        Self.expectClose(r[2].state["v"] ?? [], [1.650742529, 165.0742527], "v₃")
    }

    @Test func amsgrad() {
        // β₁ = 0.5, β₂ = 0.75, ε = 1e-8, η = 0.01.  m, v as Adam (no bias correction),
        // v̂_t = max(v̂_{t−1}, v_t), θ_{t+1} = θ_t − η/(√v̂_t + ε)·m_t
        // x: t=1: g = 2, m = 1, v = 1, v̂ = 1, step = 0.01·1/1 = 0.01, θ₁ = 0.9900000001
        //    t=2: g = 1.98, m = 0.5 + 0.99 = 1.49, v = 0.75 + 0.9801 = 1.7301, v̂ = 1.7301,
        //         √v̂ = 1.315332658, step = 0.0149/1.315332658 = 0.01132793275, θ₂ = 0.9786720674
        //    t=3: g = 1.957344135, m = 1.723672067, v = 2.255374016, v̂ = 2.255374016,
        //         √v̂ = 1.50179027, step = 0.01147744855, θ₃ = 0.9671946188
        // y: t=1: g = 20, m = 10, v = 100, step = 0.01, θ₁ = 0.99
        //    t=2: g = 19.8, m = 14.9, v = 173.01, step = 0.01132793283, θ₂ = 0.9786720672
        //    t=3: g = 19.57344134, m = 17.23672067, v = 225.5374015, step = 0.01147744862, θ₃ = 0.9671946186
        let r = Self.run(AMSGrad(beta1: 0.5, beta2: 0.75, epsilon: 1e-8), learningRate: 0.01)
        Self.expectClose(r[0].theta, [0.9900000001, 0.99], "θ₁")
        Self.expectClose(r[1].theta, [0.9786720674, 0.9786720672], "θ₂")
        Self.expectClose(r[2].theta, [0.9671946188, 0.9671946186], "θ₃")
        Self.expectClose(r[2].state["vhat"] ?? [], [2.255374016, 225.5374015], "v̂₃")
    }

    @Test func adamw() {
        // Adam with β₁ = 0.5, β₂ = 0.75, ε = 1e-8, η = 0.1, plus decoupled λ = 0.1:
        // θ_{t+1} = θ_t − η·m̂/(√v̂ + ε) − η·λ·θ_t   (ηλ = 0.01)
        // x: t=1: g = 2, Adam step 0.0999999995, decay 0.01·1 = 0.01, θ₁ = 0.8900000005
        //    t=2: g = 1.780000001, m = 1.39, v = 0.75 + 0.7921 = 1.5421, m̂ = 1.853333334,
        //         v̂ = 3.524800002, √v̂ = 1.877445073, step = 0.09871571482, decay = 0.008900000005,
        //         θ₂ = 0.8900000005 − 0.0089 − 0.09871571482 = 0.7823842857
        //    t=3: g = 1.564768571, m = 1.477384286, v = 1.768700171, m̂ = 1.688439184, v̂ = 3.059373269,
        //         √v̂ = 1.74910642, step = 0.09653152917, decay = 0.007823842857, θ₃ = 0.6780289136
        // y: t=1: θ₁ = 1 − 0.09999999995 − 0.01 = 0.8900000001
        //    t=2: g = 17.8, m = 13.9, v = 154.21, v̂ = 352.48, step = 0.09871571529, θ₂ = 0.7823842848
        //    t=3: g = 15.6476857, v̂ = 305.9373265, step = 0.09653152965, θ₃ = 0.6780289123
        let rule = AdamW(beta1: 0.5, beta2: 0.75, epsilon: 1e-8, weightDecay: 0.1)
        let r = Self.run(rule, learningRate: 0.1)
        Self.expectClose(r[0].theta, [0.8900000005, 0.8900000001], "θ₁")
        Self.expectClose(r[1].theta, [0.7823842857, 0.7823842848], "θ₂")
        Self.expectClose(r[2].theta, [0.6780289136, 0.6780289123], "θ₃")
        Self.expectClose(r[2].state["v"] ?? [], [1.768700171, 176.8700169], "v₃")
    }
}

/// The properties the issue names, beyond the first steps.
@Suite struct OptimizerPropertyTests {
    @Test func defaultsAreThePapers() {
        // One comparison per #expect: long && chains of literal comparisons are slow to type-check.
        let expected: [(String, Float, Float)] = [
            ("SGD η", SGD().defaultLearningRate, 0.01),
            ("Momentum γ", Momentum().momentum, 0.9),
            ("Nesterov γ", Nesterov().momentum, 0.9),
            ("Adagrad η", Adagrad().defaultLearningRate, 0.01),
            ("Adagrad ε", Adagrad().epsilon, 1e-8),
            ("Adadelta ρ", Adadelta().rho, 0.95),
            ("Adadelta ε", Adadelta().epsilon, 1e-6),
            ("Adadelta η", Adadelta().defaultLearningRate, 1),
            ("RMSprop ρ", RMSprop().rho, 0.9),
            ("RMSprop η", RMSprop().defaultLearningRate, 0.001),
            ("Adam β₁", Adam().beta1, 0.9),
            ("Adam β₂", Adam().beta2, 0.999),
            ("Adam ε", Adam().epsilon, 1e-8),
            ("Adam η", Adam().defaultLearningRate, 0.001),
            ("AdaMax η", AdaMax().defaultLearningRate, 0.002),
            ("AdaMax β₂", AdaMax().beta2, 0.999),
            ("Nadam η", Nadam().defaultLearningRate, 0.002),
            ("AMSGrad η", AMSGrad().defaultLearningRate, 0.001),
            ("AdamW η", AdamW().defaultLearningRate, 0.001),
        ]
        for (label, actual, paper) in expected {
            #expect(actual == paper, "\(label)")
        }
        #expect(AdamW().defaultWeightDecay == .decoupled(0.01))
        #expect(Adam().defaultWeightDecay == WeightDecay.none)
    }

    /// Adadelta made by name with no learning rate runs and descends.
    @Test func adadeltaNeedsNoLearningRate() throws {
        let p = Variable(Tensor([3, -2]), requiresGrad: true)
        let optimizer = try Optimizer.make(named: "adadelta", parameters: [("p", p)])
        #expect(optimizer.learningRate == 1)
        func f() -> Float { let v = p.value.scalars; return v[0] * v[0] + 10 * v[1] * v[1] }
        let start = f()
        for _ in 0..<200 {
            let v = p.value.scalars
            p.grad = Tensor([2 * v[0], 20 * v[1]])
            optimizer.step()
        }
        #expect(f() < start)
        #expect(p.value.scalars.allSatisfy { $0.isFinite })
    }

    /// AMSGrad's v̂ never decreases, on a run whose gradients shrink and grow so that v itself
    /// does decrease (which the test also checks, or it would prove nothing).
    @Test func amsgradMaximumNeverDecreases() {
        var generator = RandomGenerator(seed: 42)
        let p = Variable(Tensor(shape: [37], repeating: 0), requiresGrad: true)
        let optimizer = Optimizer(groups: [ParameterGroup([("p", p)])], rule: AMSGrad(), learningRate: 0.01)
        var previousHat = [Float](repeating: 0, count: 37)
        var previousV = previousHat
        var vDecreased = false
        for step in 0..<300 {
            let scale: Float = step % 50 < 10 ? 5 : 0.1   // bursts of large gradients
            p.grad = Tensor.normal([37], standardDeviation: scale, using: &generator)
            optimizer.step()
            let state = optimizer.state(of: "p") ?? [:]
            let hat = state["vhat"] ?? [], v = state["v"] ?? []
            #expect(hat.count == 37)
            for i in 0..<min(hat.count, 37) {
                #expect(hat[i] >= previousHat[i], "v̂[\(i)] fell from \(previousHat[i]) to \(hat[i]) at step \(step)")
                #expect(hat[i] >= v[i])
                if v[i] < previousV[i] { vDecreased = true }
            }
            previousHat = hat
            previousV = v
        }
        #expect(vDecreased)
    }

    /// With a zero gradient, AdamW's decoupled decay shrinks θ by exactly η·λ·θ and the
    /// moments stay zero: the decay never enters m or v, nor the denominator √v̂ + ε.
    @Test func adamwDecayBypassesTheAdaptiveDenominator() {
        let start: [Float] = [1, -2, 0.5, 3]
        let p = Variable(Tensor(start), requiresGrad: true, decays: true)
        let eta: Float = 0.1, lambda: Float = 0.2
        let optimizer = Optimizer([("w", p)], rule: AdamW(weightDecay: lambda), learningRate: eta)
        var expected = start
        for _ in 0..<3 {
            p.grad = Tensor.zeros([4])
            optimizer.step()
            expected = expected.map { $0 - (eta * lambda) * $0 }   // θ − ηλθ, in Float as applied
            #expect(p.value.scalars == expected)
            let state = optimizer.state(of: "w") ?? [:]
            #expect(state["m"] == [0, 0, 0, 0])
            #expect(state["v"] == [0, 0, 0, 0])
        }
        // 3 steps of (1 − ηλ) = 0.98: θ₃ = 0.98³·θ₀ = 0.941192·θ₀.
        for (a, s) in zip(p.value.scalars, start) {
            #expect(abs(a - 0.941192 * s) <= 1e-6 * abs(s))
        }
    }

    /// Coupled L2 and decoupled decay differ as the equations say. With a zero loss gradient:
    /// coupled, g = λθ goes through Adam: m̂₁ = λθ, v̂₁ = (λθ)², so the first step is
    /// η·λθ/(|λθ| + ε) ≈ η·sign(θ) — the decay is normalized away and every weight moves by η.
    /// Decoupled, the step is ηλθ, proportional to θ.
    @Test func coupledAndDecoupledDecayDiffer() {
        let start: [Float] = [1, -4]
        let eta: Float = 0.01, lambda: Float = 0.1
        func firstStep(_ decay: WeightDecay) -> [Float] {
            let p = Variable(Tensor(start), requiresGrad: true, decays: true)
            let optimizer = Optimizer([("w", p)], rule: Adam(), learningRate: eta, weightDecay: decay)
            p.grad = Tensor.zeros([2])
            optimizer.step()
            return p.value.scalars
        }
        let coupled = firstStep(.coupled(lambda))
        let decoupled = firstStep(.decoupled(lambda))
        // coupled: 1 − 0.01·0.1/(0.1 + 1e-8) = 0.9900000001; −4 + 0.01·0.4/(0.4 + 1e-8) = −3.9900000000
        let coupledExpected: [Float] = [0.99, -3.99]
        let decoupledExpected: [Float] = [0.999, -3.996]   // 1 − 0.001·1; −4 + 0.001·4
        for i in 0..<2 {
            let tolerance: Float = 1e-6 * abs(coupledExpected[i])
            let coupledError: Float = abs(coupled[i] - coupledExpected[i])
            let decoupledError: Float = abs(decoupled[i] - decoupledExpected[i])
            #expect(coupledError <= tolerance)
            #expect(decoupledError <= tolerance)
        }
        // And for plain SGD the two coincide up to rounding: g = λθ gives θ − ηλθ either way.
        func sgdStep(_ decay: WeightDecay) -> [Float] {
            let p = Variable(Tensor(start), requiresGrad: true, decays: true)
            let optimizer = Optimizer([("w", p)], rule: SGD(), learningRate: eta, weightDecay: decay)
            p.grad = Tensor.zeros([2])
            optimizer.step()
            return p.value.scalars
        }
        for (a, b) in zip(sgdStep(.coupled(lambda)), sgdStep(.decoupled(lambda))) {
            #expect(abs(a - b) <= 1e-6 * abs(a))
        }
    }

    /// Weight decay through the model constructor reaches weights only, not biases.
    @Test func decayAppliesOnlyToDecayingParameters() {
        let w = Variable(Tensor([1, 1]), requiresGrad: true, decays: true)
        let b = Variable(Tensor([1, 1]), requiresGrad: true, decays: false)
        let optimizer = Optimizer([("w", w), ("b", b)], rule: SGD(), learningRate: 0.1, weightDecay: .decoupled(0.5))
        w.grad = Tensor.zeros([2])
        b.grad = Tensor.zeros([2])
        optimizer.step()
        #expect(w.value.scalars == [0.95, 0.95])
        #expect(b.value.scalars == [1, 1])
    }

    @Test func parametersWithoutGradientAreSkipped() {
        let a = Variable(Tensor([1]), requiresGrad: true)
        let b = Variable(Tensor([1]), requiresGrad: true)
        let optimizer = Optimizer(groups: [ParameterGroup([("a", a), ("b", b)])], rule: Adam(), learningRate: 0.1)
        a.grad = Tensor([1])
        optimizer.step()
        #expect(a.value.scalars != [1])
        #expect(b.value.scalars == [1])
        #expect(optimizer.stepCount(of: "a") == 1)
        #expect(optimizer.stepCount(of: "b") == 0)
        #expect(optimizer.stepCount == 1)
    }

    @Test func zeroGradEitherDropsOrZeroes() {
        let a = Variable(Tensor([1, 2]), requiresGrad: true)
        let optimizer = Optimizer(groups: [ParameterGroup([("a", a)])], rule: SGD())
        a.grad = Tensor([3, 4])
        optimizer.zeroGrad(setToNil: false)
        #expect(a.grad?.scalars == [0, 0])
        optimizer.zeroGrad()
        #expect(a.grad == nil)
    }

    @Test func groupLearningRateScale() {
        let a = Variable(Tensor([1]), requiresGrad: true)
        let b = Variable(Tensor([1]), requiresGrad: true)
        let optimizer = Optimizer(groups: [ParameterGroup([("a", a)]),
                                           ParameterGroup([("b", b)], learningRateScale: 0.5)],
                                  rule: SGD(), learningRate: 0.25)
        a.grad = Tensor([1])
        b.grad = Tensor([1])
        optimizer.step()
        #expect(a.value.scalars == [0.75])
        #expect(b.value.scalars == [0.875])
        optimizer.setLearningRateScale(0, group: 1)
        b.grad = Tensor([1])
        optimizer.step()
        #expect(b.value.scalars == [0.875])
    }

    /// The rule's SIMD loops handle every tail length: an odd-sized parameter must move
    /// exactly like the same values one at a time.
    @Test(arguments: OptimizerName.allCases)
    func vectorAndScalarPathsAgree(_ name: OptimizerName) throws {
        var generator = RandomGenerator(seed: 7)
        let n = 35
        let start = Tensor.normal([n], using: &generator)
        let grads = (0..<3).map { _ in Tensor.normal([n], using: &generator) }
        let whole = Variable(start, requiresGrad: true, decays: true)
        let wholeOptimizer = try Optimizer.make(named: name.rawValue, parameters: [("w", whole)], learningRate: 0.01)
        let singles = (0..<n).map { Variable(Tensor([start.scalars[$0]]), requiresGrad: true, decays: true) }
        let singlesOptimizer = try Optimizer.make(named: name.rawValue,
                                                  parameters: singles.enumerated().map { ("s\($0.offset)", $0.element) },
                                                  learningRate: 0.01)
        for g in grads {
            whole.grad = g
            for (i, s) in singles.enumerated() { s.grad = Tensor([g.scalars[i]]) }
            wholeOptimizer.step()
            singlesOptimizer.step()
        }
        #expect(whole.value.scalars == singles.map { $0.value.scalars[0] })
    }
}

/// Names, hyper-parameters and errors: the command line's view.
@Suite struct OptimizerFactoryTests {
    @Test(arguments: OptimizerName.allCases)
    func everyNameMakesItsRule(_ name: OptimizerName) throws {
        let p = Variable(Tensor([1]), requiresGrad: true)
        let optimizer = try Optimizer.make(named: name.rawValue.uppercased(), parameters: [("p", p)])
        #expect(optimizer.rule.name == name.rawValue)
        #expect(optimizer.learningRate == optimizer.rule.defaultLearningRate)
        // Every documented key is accepted.
        var values: [String: Float] = [:]
        for key in name.hyperParameterKeys { values[key] = key == "epsilon" ? 1e-7 : 0.5 }
        let tuned = try Optimizer.make(named: name.rawValue, parameters: [("p", p)], learningRate: 0.3,
                                       hyperParameters: values)
        #expect(tuned.learningRate == 0.3)
        for (key, value) in tuned.rule.hyperParameters where key != "weight-decay" {
            #expect(value == values[key], "\(name): \(key)")
        }
    }

    @Test func unknownNameListsTheValidOnes() {
        #expect(throws: OptimizerError.unknownOptimizer("adamm", valid: OptimizerName.allCases.map(\.rawValue))) {
            try Optimizer.make(named: "adamm", parameters: [])
        }
        let message = OptimizerError.unknownOptimizer("adamm", valid: OptimizerName.allCases.map(\.rawValue)).description
        #expect(message.contains("adamw") && message.contains("nesterov"))
    }

    @Test func unknownKeyListsTheValidOnes() {
        #expect(throws: OptimizerError.unknownHyperParameter("momentum", optimizer: "adam",
                                                             valid: ["beta1", "beta2", "epsilon", "weight-decay"])) {
            try Optimizer.make(named: "adam", parameters: [], hyperParameters: ["momentum": 0.9])
        }
    }

    @Test func outOfRangeValuesAreReported() {
        #expect(throws: OptimizerError.invalidHyperParameter("beta2", value: 1, reason: "must be in [0, 1)")) {
            try Optimizer.make(named: "adam", parameters: [], hyperParameters: ["beta2": 1])
        }
        #expect(throws: OptimizerError.self) {
            try Optimizer.make(named: "sgd", parameters: [], learningRate: -1)
        }
        #expect(throws: OptimizerError.self) {
            try Optimizer.make(named: "adadelta", parameters: [], hyperParameters: ["epsilon": 0])
        }
        #expect(throws: OptimizerError.self) {
            try Optimizer.make(named: "sgd", parameters: [], hyperParameters: ["weight-decay": -0.1])
        }
    }

    @Test func weightDecayKeyIsCoupledExceptForAdamW() throws {
        let w = Variable(Tensor([1]), requiresGrad: true, decays: true)
        let sgd = try Optimizer.make(named: "sgd", parameters: [("w", w)], hyperParameters: ["weight-decay": 0.1])
        #expect(sgd.weightDecay(group: 0) == .coupled(0.1))
        let adamw = try Optimizer.make(named: "adamw", parameters: [("w", w)], hyperParameters: ["weight-decay": 0.1])
        #expect(adamw.weightDecay(group: 0) == .decoupled(0.1))
        let plain = try Optimizer.make(named: "adamw", parameters: [("w", w)])
        #expect(plain.weightDecay(group: 0) == .decoupled(0.01))
    }

    @Test func specificationStrings() throws {
        let spec = try OptimizerSpecification(parsing: "Adam:lr=0.003, beta2=0.99")
        #expect(spec == OptimizerSpecification(name: .adam, learningRate: 0.003, hyperParameters: ["beta2": 0.99]))
        #expect(try OptimizerSpecification(parsing: "adadelta") == OptimizerSpecification(name: .adadelta))
        #expect(throws: OptimizerError.self) { try OptimizerSpecification(parsing: "adam:beta1") }
        #expect(throws: OptimizerError.self) { try OptimizerSpecification(parsing: "adam:beta1=x") }
        #expect(throws: OptimizerError.self) { try OptimizerSpecification(parsing: "sgd:momentum=0.9") }
        #expect(throws: OptimizerError.self) { try OptimizerSpecification(parsing: "sgd:lr=0") }
        #expect(throws: OptimizerError.self) { try OptimizerSpecification(parsing: ":lr=1") }
    }

    @Test func loadRejectsMismatchedStateNamingTheParameter() throws {
        let w = Variable(Tensor(shape: [2, 3], repeating: 1), requiresGrad: true)
        let optimizer = Optimizer(groups: [ParameterGroup([("0.weight", w)])], rule: Adam())
        w.grad = Tensor(shape: [2, 3], repeating: 1)
        optimizer.step()
        var state = optimizer.stateDictionary()

        let other = Variable(Tensor(shape: [3, 2], repeating: 1), requiresGrad: true)
        let reshaped = Optimizer(groups: [ParameterGroup([("0.weight", other)])], rule: Adam())
        #expect(throws: OptimizerError.shapeMismatch(parameter: "0.weight", expected: [3, 2], found: [2, 3])) {
            try reshaped.load(state)
        }
        #expect(OptimizerError.shapeMismatch(parameter: "0.weight", expected: [3, 2], found: [2, 3])
                    .description.contains("0.weight"))

        let renamed = Optimizer(groups: [ParameterGroup([("1.weight", w)])], rule: Adam())
        #expect(throws: OptimizerError.missingParameterState("1.weight")) { try renamed.load(state) }

        let sgd = Optimizer(groups: [ParameterGroup([("0.weight", w)])], rule: SGD())
        #expect(throws: OptimizerError.algorithmMismatch(expected: "sgd", found: "adam")) { try sgd.load(state) }

        state.parameters["0.weight"]?.buffers["v"] = [1, 2]
        let fresh = Optimizer(groups: [ParameterGroup([("0.weight", w)])], rule: Adam())
        #expect(throws: OptimizerError.self) { try fresh.load(state) }
        #expect(fresh.stepCount == 0)   // nothing written by the failed load
    }
}
