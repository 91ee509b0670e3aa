import GlanceCore
import GlanceNN

/// Standard multi-head softmax attention (Vaswani et al. 2017), exact and O(n²): the
/// baseline every efficient mechanism is measured against.
public final class FullAttention: Module, AttentionMechanism {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    public let heads: Int

    /// `outputStandardDeviation` sets the init of the output projection (deep models scale it down).
    public init(modelDimensions: Int, heads: Int, standardDeviation: Float? = nil, outputStandardDeviation: Float? = nil,
                generator: inout RandomGenerator) throws {
        (query, key, value, output) = try multiHeadProjections(
            modelDimensions: modelDimensions, heads: heads, standardDeviation: standardDeviation,
            outputStandardDeviation: outputStandardDeviation, generator: &generator)
        self.heads = heads
        super.init()
    }

    public static let mechanismName = "full"
    public var modelDimensions: Int { query.inputCount }
    public var capabilities: AttentionCapabilities { [.causal, .bidirectional, .memory, .crossAttention, .incremental] }

    /// Self-attention over the input, over [memory; input] with the causal diagonal shifted
    /// by the memory's length, or cross-attention to `context.source` (which is never causal;
    /// the source's padding replaces the input's); with a cache, the next positions against
    /// the keys and values cached so far. Queries, keys and values come from one fused
    /// product (keys and values from one when they see other states than the queries), and
    /// the heads are read and written in the projections' layout, with no split or merge copies.
    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        precondition(input.rank == 3 && input.shape[2] == modelDimensions,
                     "FullAttention expects [batch, length, \(modelDimensions)], got \(input.shape)")
        requireSupport(of: context)
        if let cache = context.incrementalCache(as: KeyValueCache.self, mechanism: Self.mechanismName) {
            return attendIncrementally(input, cache: cache)
        }
        precondition(context.memory == nil || context.source == nil, "FullAttention: a memory and a cross-attention source cannot be combined")
        let attended: Tensor
        if let source = context.source {
            precondition(source.rank == 3 && source.shape[0] == input.shape[0] && source.shape[2] == modelDimensions,
                         "FullAttention source must be [\(input.shape[0]), length, \(modelDimensions)], got \(source.shape)")
            precondition(!context.mask.causal, "FullAttention: cross-attention to a source cannot be causal")
            attended = packedAttention(queries: query(input), keysAndValues: fusedProjection(source, [key, value]),
                                       heads: heads, keyPadding: context.sourcePadding)
        } else if let memory = context.memory {
            precondition(memory.rank == 3 && memory.shape[0] == input.shape[0] && memory.shape[2] == modelDimensions,
                         "FullAttention memory must be [\(input.shape[0]), length, \(modelDimensions)], got \(memory.shape)")
            // The memory's positions are always real: only the input's can be padding.
            let padding = context.mask.keyPadding.map { rows in rows.map { [Bool](repeating: true, count: memory.shape[1]) + $0 } }
            attended = packedAttention(queries: query(input), keysAndValues: fusedProjection(concatenate([memory, input], alongAxis: 1), [key, value]),
                                       heads: heads, causal: context.mask.causal, keyPadding: padding)
        } else {
            attended = packedSelfAttention(fusedProjection(input, [query, key, value]), heads: heads,
                                           causal: context.mask.causal, keyPadding: context.mask.keyPadding)
        }
        return AttentionOutput(output(attended))
    }
}

/// Full attention has no options.
public struct FullAttentionOptions: AttentionOptions {
    public static let mechanism = FullAttention.mechanismName
    public static let documentation: [AttentionOptionDocumentation] = []

    public init() {}

    public init(from decoder: any Decoder) throws {}

    public func encode(to encoder: any Encoder) throws {}

    public func validate(for shape: AttentionShape) throws {}

    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        try FullAttention(modelDimensions: shape.modelDimensions, heads: shape.heads, standardDeviation: shape.standardDeviation,
                          outputStandardDeviation: shape.outputStandardDeviation, generator: &generator)
    }
}
