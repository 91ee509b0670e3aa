import GlanceCore
import GlanceNN

/// One multi-head attention layer: input projections, the attention itself and the output
/// projection. Every technique in Glance implements this protocol, so that models, the
/// trainer and `glance bench` can use any of them.
///
/// One call, ``attend(_:context:)``, takes the queries' input and an ``AttentionContext``
/// (mask, memory, cross-attention source, relative positions, global tokens, cache) and
/// returns the output with an optional auxiliary loss. A mechanism lists what it can serve
/// in ``capabilities``; ``check(_:)`` turns a request for anything else into an
/// ``AttentionCapabilityError`` naming the mechanism and the capability.
public protocol AttentionMechanism: Module {
    /// The registry name ("full", "performer", …), used in errors and reports.
    static var mechanismName: String { get }
    /// Width of the input and output, heads × head dimensions.
    var modelDimensions: Int { get }
    /// Number of attention heads.
    var heads: Int { get }
    /// What this layer can serve.
    var capabilities: AttentionCapabilities { get }
    /// Maps `input` [batch, length, modelDimensions] to the same shape under `context`. A
    /// context that needs a capability the layer lacks stops with a precondition: callers
    /// check with ``check(_:)`` when they build the model.
    func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput
    /// An empty cache for incremental decoding of `batch` sequences. The default throws an
    /// ``AttentionCapabilityError``: only mechanisms with ``AttentionCapabilities/incremental``
    /// override it.
    func makeCache(batch: Int) throws -> any AttentionCache
    /// Whether the mechanism looks back only, whatever the mask says (LogSparse). Default: false.
    var isAlwaysCausal: Bool { get }
}

extension AttentionMechanism {
    public var isAlwaysCausal: Bool { false }

    public var mechanismName: String { Self.mechanismName }

    public func makeCache(batch: Int) throws -> any AttentionCache {
        throw AttentionCapabilityError(mechanism: Self.mechanismName, capability: "incremental decoding")
    }

    /// Throws an ``AttentionCapabilityError`` for the first capability in `needed` that this
    /// layer lacks.
    public func check(_ needed: AttentionCapabilities) throws {
        if let name = missingCapabilities(needed).names.first {
            throw AttentionCapabilityError(mechanism: Self.mechanismName, capability: name)
        }
    }

    /// Stops with a precondition naming the mechanism when `context` needs what it lacks.
    public func requireSupport(of context: AttentionContext) {
        let missing = missingCapabilities(context.requiredCapabilities)
        precondition(missing.isEmpty, "the \(Self.mechanismName) attention mechanism does not support \(missing.names.joined(separator: ", "))")
    }

    /// What `needed` asks beyond ``capabilities``. A mechanism that always looks back
    /// (``isAlwaysCausal``) serves a bidirectional request causally, as documented.
    private func missingCapabilities(_ needed: AttentionCapabilities) -> AttentionCapabilities {
        var missing = needed.subtracting(capabilities)
        if isAlwaysCausal { missing.remove(.bidirectional) }
        return missing
    }

    /// The short form for self-attention under `mask`: the output alone.
    public func callAsFunction(_ input: Tensor, mask: AttentionMask) -> Tensor {
        attend(input, context: AttentionContext(mask: mask)).output
    }
}

/// Errors for attention configurations that cannot work.
public struct AttentionConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The configuration field at fault.
    public let field: String
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "invalid attention setting '\(field)': \(reason)" }
}

/// The four projections of a multi-head layer — query, key, value (d → d) and output — after
/// checking that `heads` divides `modelDimensions`. `outputStandardDeviation` (default:
/// `standardDeviation`) lets deep models scale down the residual projection's init.
func multiHeadProjections(modelDimensions: Int, heads: Int, standardDeviation: Float?, outputStandardDeviation: Float?,
                          generator: inout RandomGenerator) throws -> (query: Linear, key: Linear, value: Linear, output: Linear) {
    try checkHeadSplit(modelDimensions: modelDimensions, heads: heads)
    let query = Linear(modelDimensions, modelDimensions, standardDeviation: standardDeviation, generator: &generator)
    let key = Linear(modelDimensions, modelDimensions, standardDeviation: standardDeviation, generator: &generator)
    let value = Linear(modelDimensions, modelDimensions, standardDeviation: standardDeviation, generator: &generator)
    let output = Linear(modelDimensions, modelDimensions, standardDeviation: outputStandardDeviation ?? standardDeviation, generator: &generator)
    return (query, key, value, output)
}

/// `layers` applied to `input` as one matrix product: their weights (and biases) concatenated
/// along the output axis, so the result [..., Σ outputs] holds each layer's outputs side by
/// side. The concatenation copies the weights (Σ outputs × inputs floats, small next to
/// the product over every position); gradients reach each layer's own parameters, so their
/// names and shapes in checkpoints stay as they are.
func fusedProjection(_ input: Tensor, _ layers: [Linear]) -> Tensor {
    let biases = layers.compactMap { $0.bias?.value }
    precondition(biases.isEmpty || biases.count == layers.count, "a fused projection needs a bias on every layer or on none")
    return affine(input, weight: concatenate(layers.map(\.weight.value), alongAxis: 0),
                  bias: biases.isEmpty ? nil : concatenate(biases, alongAxis: 0))
}

/// Throws unless `heads` ≥ 1 divides `modelDimensions` ≥ 1 (errors name `heads` or `d_model`).
func checkHeadSplit(modelDimensions: Int, heads: Int) throws {
    guard heads >= 1 else { throw AttentionConfigurationError(field: "heads", reason: "must be at least 1, got \(heads)") }
    guard modelDimensions >= 1, modelDimensions % heads == 0 else {
        throw AttentionConfigurationError(field: "d_model", reason: "\(modelDimensions) is not a positive multiple of \(heads) heads")
    }
}

/// The width of each head: `headDimensions` when given (heads × width need not equal
/// `modelDimensions`, as in Hugging Face's Reformer), else `modelDimensions / heads`, which
/// must divide evenly. Errors name `heads`, `d_model` or `attention_head_size`.
func headSize(modelDimensions: Int, heads: Int, headDimensions: Int?) throws -> Int {
    guard let headDimensions else {
        try checkHeadSplit(modelDimensions: modelDimensions, heads: heads)
        return modelDimensions / heads
    }
    guard heads >= 1 else { throw AttentionConfigurationError(field: "heads", reason: "must be at least 1, got \(heads)") }
    guard headDimensions >= 1 else {
        throw AttentionConfigurationError(field: "attention_head_size", reason: "must be at least 1, got \(headDimensions)")
    }
    return headDimensions
}

extension Tensor {
    /// [batch, length, heads·d] → [batch, heads, length, d].
    public func splittingHeads(_ heads: Int) -> Tensor {
        precondition(rank == 3 && shape[2] % heads == 0, "cannot split \(shape) into \(heads) heads")
        return reshaped(to: [shape[0], shape[1], heads, shape[2] / heads]).permuted([0, 2, 1, 3])
    }

    /// [batch, heads, length, d] → [batch, length, heads·d].
    public func mergingHeads() -> Tensor {
        precondition(rank == 4, "mergingHeads expects [batch, heads, length, d], got \(shape)")
        return permuted([0, 2, 1, 3]).reshaped(to: [shape[0], shape[2], shape[1] * shape[3]])
    }
}
