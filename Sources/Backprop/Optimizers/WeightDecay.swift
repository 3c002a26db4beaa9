/// How weight decay λ enters the update.
///
/// - `coupled(λ)`: L2 regularization. λθ is added to the gradient before the rule sees it,
///   g ← g + λθ, which is exactly the gradient of λ/2·‖θ‖² added to the loss. For adaptive
///   rules the term then passes through the adaptive denominator, so weights with large
///   gradient history decay less (Loshchilov & Hutter's argument against it).
/// - `decoupled(λ)`: θ ← θ − η·λ·θ, applied to the parameter beside the rule's update and
///   never seen by its moments (AdamW). Note that Loshchilov & Hutter write the decay as
///   η_t·λ·θ with η_t the *schedule multiplier* only; like PyTorch we multiply by the full η
///   (so a paper λ corresponds to λ·α/η here), which keeps decay proportional to the step size
///   under every schedule.
public enum WeightDecay: Sendable, Equatable, Codable {
    /// No decay.
    case none
    /// L2 regularization: λθ is added to the gradient before the rule sees it.
    case coupled(Float)
    /// Decoupled decay: θ ← θ − ηλθ beside the rule's update (AdamW's).
    case decoupled(Float)

    /// λ, or 0 for ``none``.
    public var lambda: Float {
        switch self {
        case .none: return 0
        case .coupled(let l), .decoupled(let l): return l
        }
    }
}
