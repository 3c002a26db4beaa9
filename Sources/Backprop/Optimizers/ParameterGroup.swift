/// Parameters that share a learning-rate scale and a weight decay (PyTorch's param groups):
/// typically weights with decay in one group, biases and normalization parameters without.
public struct ParameterGroup {
    /// The parameters, named (names must be unique across the optimizer).
    public var parameters: [(name: String, parameter: Variable)]
    /// Multiplies the optimizer's learning rate for this group (schedules set the optimizer's
    /// rate, so a scale composes with every schedule).
    public var learningRateScale: Float
    /// The group's weight decay; nil takes the rule's ``OptimizerRule/defaultWeightDecay``.
    public var weightDecay: WeightDecay?

    /// A group of named parameters.
    ///
    /// - Parameters:
    ///   - parameters: the parameters with their unique names.
    ///   - learningRateScale: multiplies the optimizer's η for this group.
    ///   - weightDecay: the group's decay; nil takes the rule's default.
    public init(_ parameters: [(name: String, parameter: Variable)], learningRateScale: Float = 1,
                weightDecay: WeightDecay? = nil) {
        self.parameters = parameters
        self.learningRateScale = learningRateScale
        self.weightDecay = weightDecay
    }
}
