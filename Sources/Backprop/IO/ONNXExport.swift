import Foundation
import SwiftProtobuf

/// Why a model cannot be exported.
public enum ExportError: Error, Equatable, CustomStringConvertible {
    /// The model holds something ONNX cannot express here (e.g. majority voting).
    case unsupported(what: String, reason: String)
    /// The ONNX file could not be written.
    case write(WriteError)

    /// A one-line message saying what cannot be exported and why.
    public var description: String {
        switch self {
        case let .unsupported(what, reason): return "cannot export \(what): \(reason)"
        case let .write(e): return e.description
        }
    }
}

/// ONNX export: a Backprop classifier as an ONNX model that ONNX Runtime (or any ONNX consumer)
/// runs without Backprop.
///
/// The graph (opset 13, IR version 7) has one input, `input` — float [batch, features] with a
/// symbolic batch dimension, the *raw* features: the model's input standardization, if it has
/// one, is the graph's first two nodes — and one output, `probabilities` — float
/// [batch, classes], each row the class probabilities (a softmax; rows sum to 1), which equal
/// the softmax of what Backprop's model returns:
///
/// - a network (``Sequential``): `Gemm` (transB = 1, so weights keep PyTorch's [out, in]
///   layout), `BatchNormalization` with the running statistics (inference form), the
///   activation, and a final `Softmax`; `Dropout` and Gaussian noise are the identity at
///   inference and are left out;
/// - an ``Ensemble``: the `Mean` of the members' softmaxes (``Ensemble/Combination/averageProbabilities``)
///   or the softmax of their mean logits (``Ensemble/Combination/averageOutputs``); majority
///   voting has no differentiable form and is refused;
/// - a ``MixtureOfExperts``: the gate's softmax (for top-k routing: `TopK`, a softmax of the k
///   kept logits, scattered into zeros), each expert's output weighted by its gate column
///   (`Slice`, `Mul`, `Sum`), then a softmax of the blend
///   (``MixtureOfExperts/Combination/weightedOutputs``) or a blend of the experts' softmaxes
///   (``MixtureOfExperts/Combination/mixtureOfProbabilities``). Every expert runs on every row
///   (zero gate weight for rows not routed to it), which gives the same numbers as routing.
///
/// Activations: `Relu`, `Sigmoid`, `Tanh`, `LeakyRelu` (α = ``Activation/leakyReLUSlope``),
/// `Elu` (α = ``Activation/eluAlpha``), `Softplus`, and GELU as its tanh-form expansion
/// `x·Sigmoid(2√(2/π)(x + 0.044715x³))` (opset 13 has no `Gelu`), the formula Backprop computes.
///
/// Weight initializers are named as in the safetensors checkpoint (`0.weight`,
/// `members.1.2.bias`, `gate.0.weight`, …), so the two files can be matched tensor by tensor.
public enum ONNXExport {
    /// The ONNX operator set the graphs use: 13.
    public static let opsetVersion: Int64 = 13
    /// The ONNX IR version of the files: 7.
    public static let irVersion: Int64 = 7
    /// The name of the graph's input, [batch, features].
    public static let inputName = "input"
    /// The name of a classifier's output, [batch, classes]: softmax probabilities.
    public static let outputName = "probabilities"
    /// The output of a regression model: its values in the data's units, [batch, targets].
    public static let valuesOutputName = "values"

    /// The name of the graph's output for a model trained on `task`: ``outputName`` for
    /// classifiers (a two-class model with one sigmoid output gives [batch, 1], P(class 1)),
    /// ``valuesOutputName`` for regression.
    public static func outputName(for task: TrainingTask) -> String { task.isRegression ? valuesOutputName : outputName }

    /// The serialized ONNX model for `model`, which takes `inputSize` features; `task` says what
    /// its outputs are (a regression's values are mapped back to the data's units in the graph,
    /// a two-class logit through a `Sigmoid`).
    public static func encode(_ model: any Module, inputSize: Int, normalization: Normalization = .none,
                              task: TrainingTask = .classification,
                              description: String = "") throws(ExportError) -> [UInt8] {
        var graph = GraphBuilder()
        var x = inputName
        if case let .standardize(mean, std) = normalization {
            guard mean.count == inputSize, std.count == inputSize else {
                throw .unsupported(what: "the input normalization",
                                   reason: "it has \(mean.count) statistics for \(inputSize) features")
            }
            // The same operations as Normalization.apply: (x − mean) · (1/σ) in Float.
            let centered = graph.node("Sub", [x, graph.constant("normalization.mean", Tensor(mean))])
            x = graph.node("Mul", [centered, graph.constant("normalization.inverse_std", Tensor(std.map { 1 / $0 }))])
        }
        let name = outputName(for: task)
        let result: String
        let meaningText: String
        let classes = try outputWidth(model)
        switch task.loss {
        case .crossEntropy:
            result = try classProbabilities(model, input: x, graph: &graph)
            meaningText = "\(name): class probabilities, [batch, \(classes)], rows sum to 1"
        case .binaryCrossEntropy:
            result = graph.node("Sigmoid", [try rawOutputs(model, input: x, graph: &graph)])
            meaningText = "\(name): P(class 1), [batch, 1] (one sigmoid output)"
        case .meanSquaredError, .sumSquaredError:
            var values = try rawOutputs(model, input: x, graph: &graph)
            if let scaling = task.targetScaling {
                guard scaling.mean.count == classes else {
                    throw .unsupported(what: "the target scaling", reason: "it has \(scaling.mean.count) targets for \(classes) outputs")
                }
                // t = μ + σ·t', the model's standardized outputs in the data's units.
                let scaled = graph.node("Mul", [values, graph.constant("targets.std", Tensor(scaling.standardDeviation))])
                values = graph.node("Add", [scaled, graph.constant("targets.mean", Tensor(scaling.mean))])
            }
            result = values
            meaningText = "\(name): regression values in the data's units, [batch, \(classes)]"
                + (task.targetNames.map { " (\($0.joined(separator: ", ")))" } ?? "")
        }
        graph.node("Identity", [result], output: name)

        var proto = Onnx_ModelProto()
        proto.irVersion = irVersion
        proto.producerName = "backprop"
        proto.producerVersion = Checkpoint.formatTag
        proto.docString = "\(task.isRegression ? "Regression values" : "Class probabilities") of a Backprop model\(description.isEmpty ? "" : ": \(description)")."
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = opsetVersion
        proto.opsetImport = [opset]
        var g = Onnx_GraphProto()
        g.name = "backprop"
        g.node = graph.nodes
        g.initializer = graph.initializers
        g.input = [valueInfo(inputName, columns: inputSize)]
        g.output = [valueInfo(name, columns: classes)]
        proto.graph = g
        var meaning = Onnx_StringStringEntryProto()
        meaning.key = "output"
        meaning.value = meaningText
        proto.metadataProps = [meaning]
        do {
            return Array(try proto.serializedBytes() as [UInt8])
        } catch {
            // Every field set above is valid proto2; a failure would be a bug here.
            preconditionFailure("ONNXExport: cannot serialize the model: \(error)")
        }
    }

    /// Writes `encode(...)` to `path` atomically.
    public static func write(_ model: any Module, inputSize: Int, normalization: Normalization = .none,
                             task: TrainingTask = .classification,
                             description: String = "", to path: String) throws(ExportError) {
        let bytes = try encode(model, inputSize: inputSize, normalization: normalization, task: task, description: description)
        do { try AtomicFile.write(bytes, to: path) } catch { throw .write(error) }
    }

    // MARK: Graph construction

    /// The probabilities node of any supported model.
    static func classProbabilities(_ model: any Module, input: String, graph: inout GraphBuilder) throws(ExportError) -> String {
        switch model {
        case let network as Sequential:
            return graph.softmax(try sequential(network, input: input, prefix: "", graph: &graph))
        case let ensemble as Ensemble:
            var outputs: [String] = []
            for (k, member) in ensemble.members.enumerated() {
                guard let network = member as? Sequential else {
                    throw .unsupported(what: "ensemble member \(k)", reason: "only Sequential members are exported")
                }
                outputs.append(try sequential(network, input: input, prefix: "members.\(k).", graph: &graph))
            }
            switch ensemble.combination {
            case .averageProbabilities:
                return graph.node("Mean", outputs.map { graph.softmax($0) })
            case .averageOutputs:
                return graph.softmax(graph.node("Mean", outputs))
            case .majorityVote:
                throw .unsupported(what: "the ensemble", reason: "majority voting has no ONNX form here; export with averageProbabilities")
            }
        case let moe as MixtureOfExperts:
            return try mixture(moe, input: input, graph: &graph)
        default:
            throw .unsupported(what: "\(type(of: model))", reason: "only networks, ensembles and mixtures of experts are exported")
        }
    }

    /// The raw outputs (no softmax) of a network, or the mean of an ensemble's members' outputs
    /// (``Ensemble/Combination/averageOutputs``): a regression's values, a two-class logit.
    static func rawOutputs(_ model: any Module, input: String, graph: inout GraphBuilder) throws(ExportError) -> String {
        switch model {
        case let network as Sequential:
            return try sequential(network, input: input, prefix: "", graph: &graph)
        case let ensemble as Ensemble where ensemble.combination == .averageOutputs:
            var outputs: [String] = []
            for (k, member) in ensemble.members.enumerated() {
                guard let network = member as? Sequential else {
                    throw .unsupported(what: "ensemble member \(k)", reason: "only Sequential members are exported")
                }
                outputs.append(try sequential(network, input: input, prefix: "members.\(k).", graph: &graph))
            }
            return graph.node("Mean", outputs)
        default:
            throw .unsupported(what: "\(type(of: model))", reason: "regression and one-output models are exported as networks or output-averaging ensembles")
        }
    }

    static func mixture(_ moe: MixtureOfExperts, input: String, graph: inout GraphBuilder) throws(ExportError) -> String {
        let logits = try sequential(moe.gate, input: input, prefix: "gate.", graph: &graph)
        let gates: String
        if let k = moe.topK, moe.isSparse {
            // softmax(KeepTopK(logits, k)): the k largest logits (ties to the lower index, as
            // in Backprop and in the TopK spec), their softmax, scattered into zero rows.
            let kept = graph.node("TopK", [logits, graph.int64Constant("gate.top_k", [Int64(k)])],
                                  outputs: 2, attributes: [.int("axis", 1), .int("largest", 1), .int("sorted", 1)])
            let zeros = graph.node("ConstantOfShape", [graph.node("Shape", [logits])])
            gates = graph.node("ScatterElements", [zeros, kept[1], graph.softmax(kept[0])], attributes: [.int("axis", 1)])
        } else {
            gates = graph.softmax(logits)
        }
        var terms: [String] = []
        for (e, expert) in moe.experts.enumerated() {
            var output = try sequential(expert, input: input, prefix: "experts.\(e).", graph: &graph)
            if moe.combination == .mixtureOfProbabilities { output = graph.softmax(output) }
            let column = graph.node("Slice", [gates,
                                              graph.int64Constant("gate.column\(e).start", [Int64(e)]),
                                              graph.int64Constant("gate.column\(e).end", [Int64(e + 1)]),
                                              graph.int64Constant("gate.column_axis", [1])])
            terms.append(graph.node("Mul", [column, output]))
        }
        let blend = terms.count == 1 ? terms[0] : graph.node("Sum", terms)
        return moe.combination == .weightedOutputs ? graph.softmax(blend) : blend
    }

    /// The nodes of one network; returns the name of its output (logits).
    static func sequential(_ network: Sequential, input: String, prefix: String, graph: inout GraphBuilder) throws(ExportError) -> String {
        var x = input
        for (index, layer) in network.layers.enumerated() {
            let name = "\(prefix)\(index)"
            switch layer {
            case let linear as Linear:
                var inputs = [x, graph.constant("\(name).weight", linear.weight.value)]
                if let bias = linear.bias { inputs.append(graph.constant("\(name).bias", bias.value)) }
                x = graph.node("Gemm", inputs, attributes: [.int("transB", 1)])
            case let bn as BatchNorm1d:
                x = graph.node("BatchNormalization", [
                    x,
                    graph.constant("\(name).weight", bn.weight.value),
                    graph.constant("\(name).bias", bn.bias.value),
                    graph.constant("\(name).running_mean", bn.runningMean.value),
                    graph.constant("\(name).running_var", bn.runningVariance.value),
                ], attributes: [.float("epsilon", bn.epsilon)])
            case let activation as ActivationLayer:
                x = activate(x, activation.function, graph: &graph)
            case is Dropout, is GaussianNoise:
                continue  // the identity at inference
            default:
                throw .unsupported(what: "layer \(name) (\(layer.summary))", reason: "no ONNX form for this layer")
            }
        }
        return x
    }

    static func activate(_ x: String, _ function: Activation, graph: inout GraphBuilder) -> String {
        switch function {
        case .identity: return x
        case .relu: return graph.node("Relu", [x])
        case .sigmoid: return graph.node("Sigmoid", [x])
        case .tanh: return graph.node("Tanh", [x])
        case .softplus: return graph.node("Softplus", [x])
        case .leakyReLU: return graph.node("LeakyRelu", [x], attributes: [.float("alpha", Activation.leakyReLUSlope)])
        case .elu: return graph.node("Elu", [x], attributes: [.float("alpha", Activation.eluAlpha)])
        case .gelu:
            // x · σ(2k·x + 2k·c·x³), k = √(2/π), c = 0.044715 — Backprop's GELU (tanh form).
            let k2 = graph.scalar("gelu.2k", 2 * Activation.geluK)
            let k2c = graph.scalar("gelu.2kc", 2 * Activation.geluK * Activation.geluC)
            let square = graph.node("Mul", [x, x])
            let cubic = graph.node("Mul", [graph.node("Mul", [x, k2c]), square])
            let argument = graph.node("Add", [graph.node("Mul", [x, k2]), cubic])
            return graph.node("Mul", [x, graph.node("Sigmoid", [argument])])
        }
    }

    /// The width of the model's output.
    static func outputWidth(_ model: any Module) throws(ExportError) -> Int {
        func width(_ network: Sequential) throws(ExportError) -> Int {
            guard let last = network.layers.last(where: { $0 is Linear }) as? Linear else {
                throw .unsupported(what: "the network", reason: "it has no Linear layer")
            }
            return last.outputSize
        }
        switch model {
        case let network as Sequential: return try width(network)
        case let ensemble as Ensemble:
            guard let first = ensemble.members.first as? Sequential else {
                throw .unsupported(what: "the ensemble", reason: "only Sequential members are exported")
            }
            return try width(first)
        case let moe as MixtureOfExperts:
            guard let first = moe.experts.first else { throw .unsupported(what: "the mixture", reason: "no experts") }
            return try width(first)
        default:
            throw .unsupported(what: "\(type(of: model))", reason: "only networks, ensembles and mixtures of experts are exported")
        }
    }

    static func valueInfo(_ name: String, columns: Int) -> Onnx_ValueInfoProto {
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "batch"
        var width = Onnx_TensorShapeProto.Dimension()
        width.dimValue = Int64(columns)
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensorType.shape.dim = [batch, width]
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = tensorType
        return info
    }
}

/// Collects the nodes and initializers of an ONNX graph, naming intermediate values.
struct GraphBuilder {
    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []
    private var initializerNames: Set<String> = []
    private var counter = 0

    enum Attribute {
        case int(String, Int64)
        case float(String, Float)

        var proto: Onnx_AttributeProto {
            var a = Onnx_AttributeProto()
            switch self {
            case let .int(name, value):
                a.name = name
                a.type = .int
                a.i = value
            case let .float(name, value):
                a.name = name
                a.type = .float
                a.f = value
            }
            return a
        }
    }

    /// Adds a node with `outputs` fresh outputs and returns their names.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], outputs: Int, attributes: [Attribute] = []) -> [String] {
        counter += 1
        let names = (0..<outputs).map { outputs == 1 ? "\(op.lowercased())_\(counter)" : "\(op.lowercased())_\(counter)_\($0)" }
        append(op, inputs, names, attributes)
        return names
    }

    /// Adds a node with one output (named `output`, or a fresh name) and returns the name.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], output: String? = nil, attributes: [Attribute] = []) -> String {
        guard let output else { return node(op, inputs, outputs: 1, attributes: attributes)[0] }
        append(op, inputs, [output], attributes)
        return output
    }

    private mutating func append(_ op: String, _ inputs: [String], _ outputs: [String], _ attributes: [Attribute]) {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = "\(op)_\(nodes.count)"
        n.input = inputs
        n.output = outputs
        n.attribute = attributes.map(\.proto)
        nodes.append(n)
    }

    /// Softmax over the class axis.
    mutating func softmax(_ x: String) -> String {
        node("Softmax", [x], attributes: [.int("axis", 1)])
    }

    /// A float initializer holding `tensor` (raw little-endian data).
    mutating func constant(_ name: String, _ tensor: Tensor) -> String {
        guard initializerNames.insert(name).inserted else { return name }
        var t = Onnx_TensorProto()
        t.name = name
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.dims = tensor.shape.map(Int64.init)
        var raw = Data(capacity: tensor.count * 4)
        for v in tensor.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
        t.rawData = raw
        initializers.append(t)
        return name
    }

    /// A float scalar initializer.
    mutating func scalar(_ name: String, _ value: Float) -> String {
        constant(name, Tensor(scalar: value))
    }

    /// A 1-D int64 initializer (shapes, indices, axes).
    mutating func int64Constant(_ name: String, _ values: [Int64]) -> String {
        guard initializerNames.insert(name).inserted else { return name }
        var t = Onnx_TensorProto()
        t.name = name
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.dims = [Int64(values.count)]
        t.int64Data = values
        initializers.append(t)
        return name
    }
}
