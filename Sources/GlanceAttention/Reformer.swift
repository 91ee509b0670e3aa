import GlanceCore
import GlanceNN

/// Hugging Face Reformer's `LSHSelfAttention` layer: a shared query-key projection and a
/// value projection (no bias; `queryKey` is Hugging Face's `query_key`) followed by
/// ``lshAttention(queryKeys:values:rotations:options:mask:)``. Maps [B, n, hidden] to
/// [B, n, heads · headDimensions]; the output projection belongs to the enclosing layer
/// (Hugging Face's `ReformerSelfOutput`, see ``Reformer``).
///
/// The random rotations are fixed: drawn from `hashSeed` at init (Hugging Face draws fresh
/// ones on every forward unless `hash_seed` is set), or given with ``setRotations(_:)``.
public final class LSHSelfAttention: Module {
    public let queryKey: Linear
    public let value: Linear
    public let heads: Int
    public let headDimensions: Int
    public let options: LSHAttentionOptions
    /// Seed of the rotations.
    public let hashSeed: UInt64
    /// Rotations [heads, headDimensions, hashes, directions] (Hugging Face's layout).
    public var rotations: Tensor { _rotations }
    private var _rotations: Tensor
    /// When set, calls keep or replay their sort orders (see ``LSHSortCache``).
    public var sortCache: LSHSortCache? = nil

    /// Throws an error naming the field (`heads`, `attention_head_size`, …) that cannot work.
    public init(hiddenSize: Int, heads: Int, headDimensions: Int, options: LSHAttentionOptions, hashSeed: UInt64? = nil,
                standardDeviation: Float? = nil, generator: inout RandomGenerator) throws {
        try validateHeads(hiddenSize: hiddenSize, heads: heads, headDimensions: headDimensions)
        let width = heads * headDimensions
        queryKey = Linear(hiddenSize, width, bias: false, standardDeviation: standardDeviation, generator: &generator)
        value = Linear(hiddenSize, width, bias: false, standardDeviation: standardDeviation, generator: &generator)
        (self.heads, self.headDimensions, self.options) = (heads, headDimensions, options)
        self.hashSeed = hashSeed ?? generator.next()
        _rotations = options.buckets.rotations(heads: heads, headDimensions: headDimensions, hashes: options.hashes, seed: self.hashSeed)
        super.init()
    }

    /// Replaces the rotations (e.g. by a reference implementation's, for parity tests).
    public func setRotations(_ rotations: Tensor) {
        let shape = [heads, headDimensions, options.hashes, options.buckets.directions]
        precondition(rotations.shape == shape, "rotations must be \(shape), got \(rotations.shape)")
        _rotations = rotations
    }

    public func callAsFunction(_ input: Tensor, mask: AttentionMask) -> Tensor {
        precondition(input.rank == 3 && input.shape[2] == queryKey.inputCount,
                     "LSHSelfAttention expects [batch, length, \(queryKey.inputCount)], got \(input.shape)")
        let attended = lshAttention(queryKeys: queryKey(input).splittingHeads(heads), values: value(input).splittingHeads(heads),
                                    rotations: _rotations, options: options, mask: mask, sortCache: sortCache)
        return attended.mergingHeads()
    }
}

/// Reformer attention (Kitaev et al. 2020) as an ``AttentionMechanism``: Hugging Face's
/// ``LSHSelfAttention`` and its output projection (`ReformerSelfOutput.dense`, no bias).
/// Registry name "reformer".
public final class Reformer: Module, AttentionMechanism {
    public let attention: LSHSelfAttention
    public let output: Linear

    /// Throws an error naming the field that cannot work.
    public init(modelDimensions: Int, heads: Int, headDimensions: Int? = nil, options: LSHAttentionOptions, hashSeed: UInt64? = nil,
                standardDeviation: Float? = nil, outputStandardDeviation: Float? = nil, generator: inout RandomGenerator) throws {
        let size = try headSize(modelDimensions: modelDimensions, heads: heads, headDimensions: headDimensions)
        attention = try LSHSelfAttention(hiddenSize: modelDimensions, heads: heads, headDimensions: size, options: options,
                                         hashSeed: hashSeed, standardDeviation: standardDeviation, generator: &generator)
        output = Linear(heads * size, modelDimensions, bias: false, standardDeviation: outputStandardDeviation ?? standardDeviation,
                        generator: &generator)
        super.init()
    }

    public var modelDimensions: Int { output.outputCount }
    public var heads: Int { attention.heads }
    public static let mechanismName = "reformer"
    /// No incremental decoding: LSH attention is not prefix-invariant (a later token's bucket
    /// moves the chunk boundaries of the sorted sequence), so a generator recomputes the window.
    public var capabilities: AttentionCapabilities { [.causal, .bidirectional] }

    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        requireSupport(of: context)
        return AttentionOutput(output(attention(input, mask: context.mask)))
    }
}
