#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One gradient-descent algorithm: its hyper-parameters, the per-element state it keeps, and
/// the update it applies to one parameter.
///
/// The split follows Optimisers.jl's `rules.jl`: a *rule* is a small value (defaults plus
/// hyper-parameters), the *state* lives elsewhere (in ``Optimizer``, one set of buffers per
/// parameter), and `update` is a pure function of (rule, gradient, state, step, η) that writes
/// the parameter and the state in place. Keeping rules free of bookkeeping means each algorithm
/// file holds only its equations, and a new algorithm is one struct.
///
/// Rules never read the parameter's value, only write increments to it; weight decay, which
/// does read it, is applied by ``Optimizer`` (coupled into the gradient, or decoupled into the
/// parameter) so every rule gets both forms for free.
///
/// Each of Backprop's rules keeps its scalar setup (bias corrections in Double, 1 − β) in Swift
/// and runs its element-wise loop in C, one entry per rule, compiled once per instruction-set
/// level and chosen at run time (Sources/CBackpropSupport/kernels/optimizer_updates.h, through
/// ``KernelTable``): Swift has no per-function target attribute, so its SIMD code compiles for
/// SSE2 only. The loops use no fused multiply-add, so every level gives the same bits.
public protocol OptimizerRule: Sendable, CustomStringConvertible {
    /// The registry name (``OptimizerName``'s raw value), recorded in saved state so a state
    /// cannot be loaded into a different algorithm.
    var name: String { get }
    /// η used when the caller gives none: the paper's default.
    var defaultLearningRate: Float { get }
    /// Names of the per-element state buffers, in the order `update` receives them
    /// (e.g. `["m", "v"]` for Adam). Each buffer has the parameter's element count and starts
    /// at zero.
    var stateNames: [String] { get }
    /// The hyper-parameters by their registry key (see ``OptimizerName/hyperParameterKeys``),
    /// for descriptions and saved state.
    var hyperParameters: [String: Float] { get }
    /// The weight decay a parameter group gets when none is given (decoupled for AdamW, none
    /// for the others).
    var defaultWeightDecay: WeightDecay { get }

    /// Applies one step to one parameter.
    ///
    /// - Parameters:
    ///   - parameter: θ, updated in place.
    ///   - gradient: g_t (already including a coupled L2 term, if any).
    ///   - state: the buffers named by ``stateNames``, updated in place.
    ///   - step: t, the 1-based number of this update for this parameter (bias corrections use
    ///     it).
    ///   - learningRate: η for this parameter (the optimizer's rate times its group's scale).
    func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate: Float)

    /// ``update(parameter:gradient:state:step:learningRate:)`` on one instruction-set level's
    /// kernels (``Optimizer/kernels``; the plain form uses ``KernelTable/current``). Every rule of
    /// Backprop's is one C loop per level (Sources/CBackpropSupport/kernels/optimizer_updates.h),
    /// and gives the same bits at every level. The default ignores `kernels` and calls the plain
    /// form, for rules written in Swift.
    func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate: Float, kernels: KernelTable)

    /// Whether `update` treats every element independently (element i of the result depends
    /// only on element i of the parameter, gradient and state). ``Optimizer`` then splits large
    /// parameters into ranges updated in parallel on the backend's threads. Default `false`.
    var isElementwise: Bool { get }
}

extension OptimizerRule {
    /// Calls the plain ``update(parameter:gradient:state:step:learningRate:)``, ignoring
    /// `kernels`: the default for rules written in Swift.
    public func update(parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
                       state: [UnsafeMutableBufferPointer<Float>], step: Int, learningRate: Float, kernels: KernelTable) {
        update(parameter: parameter, gradient: gradient, state: state, step: step, learningRate: learningRate)
    }

    /// ``WeightDecay/none``: only ``AdamW`` decays by default.
    public var defaultWeightDecay: WeightDecay { .none }
    /// False: a rule is assumed to couple elements unless it says otherwise.
    public var isElementwise: Bool { false }
    /// The name and the hyper-parameters, sorted by key, e.g. `adam(beta1=0.9, beta2=0.999, epsilon=1e-08)`.
    public var description: String {
        let shown = hyperParameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return "\(name)(\(shown.joined(separator: ", ")))"
    }
}

/// 1 − βᵗ, computed in Double so large t stays accurate, then rounded once to Float.
@inline(__always)
func biasCorrection(_ beta: Float, _ t: Int) -> Float {
    Float(1 - pow(Double(beta), Double(t)))
}
