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
    public var capabilities: AttentionCapabilities { [.causal, .bidirectional, .incremental] }

    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        precondition(input.rank == 3 && input.shape[2] == modelDimensions,
                     "FullAttention expects [batch, length, \(modelDimensions)], got \(input.shape)")
        requireSupport(of: context)
        if let cache = context.incrementalCache(as: KeyValueCache.self, mechanism: Self.mechanismName) {
            return attendIncrementally(input, cache: cache)
        }
        let mask = context.mask
        let q = query(input).splittingHeads(heads)
        let k = key(input).splittingHeads(heads)
        let v = value(input).splittingHeads(heads)
        let attended = scaledDotProductAttention(queries: q, keys: k, values: v, causal: mask.causal, keyPadding: mask.keyPadding)
        return AttentionOutput(output(attended.mergingHeads()))
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
