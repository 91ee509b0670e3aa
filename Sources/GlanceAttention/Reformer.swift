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

/// Reformer's options: `{"type": "reformer", "hashes": 2, "chunk_length": 64, "chunks_before": 1,
/// "chunks_after": 0, "buckets": [8, 8], "hash_seed": 3}`.
public struct ReformerOptions: AttentionOptions {
    public static let mechanism = Reformer.mechanismName
    public static let documentation = [
        AttentionOptionDocumentation("hashes", "integer", default: "1", "LSH hash rounds."),
        AttentionOptionDocumentation("chunk_length", "integer", default: "64", "Slots per chunk of the bucket-sorted sequence (Hugging Face's lsh_attn_chunk_length); sequences no longer than a chunk get full attention."),
        AttentionOptionDocumentation("chunks_before", "integer", default: "1", "Earlier chunks each chunk attends to."),
        AttentionOptionDocumentation("chunks_after", "integer", default: "0", "Later chunks each chunk attends to."),
        AttentionOptionDocumentation("buckets", "integer or list of integers", default: "Hugging Face's choice for the maximum length",
                                     "Hash buckets: one even count, or even factors whose product is the count (e.g. [32, 64]), at most the maximum length; the default is the power of two at most 2·length/chunk_length, split in two factors when large."),
        AttentionOptionDocumentation("hash_seed", "integer", default: "drawn from the model's seed", "Seed of the random rotations."),
    ]
    public static let formerNames = [
        "lsh_num_hashes": "hashes", "lsh_chunk_length": "chunk_length", "lsh_num_chunks_before": "chunks_before",
        "lsh_num_chunks_after": "chunks_after", "num_buckets": "buckets", "hash_seed": "hash_seed",
    ]

    public var hashes: Int
    public var chunkLength: Int
    public var chunksBefore: Int
    public var chunksAfter: Int
    /// Bucket factors (nil: ``LSHBuckets/huggingFaceDefault(length:chunkLength:maximumPositions:)``).
    public var buckets: [Int]?
    /// Seed of the rotations (nil: drawn from the generator).
    public var hashSeed: UInt64?

    public init() { self.init(hashes: 1) }

    public init(hashes: Int = 1, chunkLength: Int = 64, chunksBefore: Int = 1, chunksAfter: Int = 0, buckets: [Int]? = nil,
                hashSeed: UInt64? = nil) {
        self.hashes = hashes
        self.chunkLength = chunkLength
        self.chunksBefore = chunksBefore
        self.chunksAfter = chunksAfter
        self.buckets = buckets
        self.hashSeed = hashSeed
    }

    enum CodingKeys: String, CodingKey {
        case hashes, chunkLength = "chunk_length", chunksBefore = "chunks_before", chunksAfter = "chunks_after", buckets, hashSeed = "hash_seed"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(hashes: try c.option(.hashes, default: 1), chunkLength: try c.option(.chunkLength, default: 64),
                  chunksBefore: try c.option(.chunksBefore, default: 1), chunksAfter: try c.option(.chunksAfter, default: 0),
                  hashSeed: try c.decodeIfPresent(UInt64.self, forKey: .hashSeed))
        if c.contains(.buckets) {
            if let count = try? c.decode(Int.self, forKey: .buckets) {
                buckets = [count]
            } else if let factors = try? c.decode([Int].self, forKey: .buckets) {
                buckets = factors
            } else {
                throw AttentionConfigurationError(field: "buckets", reason: "must be an even number or a list of even numbers")
            }
        }
    }

    /// The buckets for sequences of at most `maximumLength`.
    public func lshBuckets(maximumLength: Int) throws -> LSHBuckets {
        try buckets.map { try LSHBuckets(factors: $0) }
            ?? LSHBuckets.huggingFaceDefault(length: maximumLength, chunkLength: chunkLength, maximumPositions: maximumLength)
    }

    public func validate(for shape: AttentionShape) throws {
        try requireOption(hashes, atLeast: 1, "hashes")
        try requireOption(chunkLength, atLeast: 1, "chunk_length")
        try requireOption(chunksBefore, atLeast: 0, "chunks_before")
        try requireOption(chunksAfter, atLeast: 0, "chunks_after")
        if let buckets {
            if buckets.isEmpty || buckets.contains(where: { $0 < 2 || $0 % 2 != 0 }) {
                throw AttentionConfigurationError(field: "buckets", reason: "must hold even counts of at least 2, got \(buckets)")
            }
            let count = buckets.reduce(1) { product, factor in
                let (value, overflow) = product.multipliedReportingOverflow(by: factor)
                return overflow ? .max : value
            }
            if count > Swift.max(2, shape.maximumLength) {
                throw AttentionConfigurationError(field: "buckets",
                                                  reason: "\(count) buckets for at most \(shape.maximumLength) positions: most would stay empty")
            }
        }
    }

    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        let options = try LSHAttentionOptions(hashes: hashes, buckets: lshBuckets(maximumLength: shape.maximumLength), chunkLength: chunkLength,
                                              chunksBefore: chunksBefore, chunksAfter: chunksAfter)
        return try Reformer(modelDimensions: shape.modelDimensions, heads: shape.heads, options: options, hashSeed: hashSeed,
                            standardDeviation: shape.standardDeviation, outputStandardDeviation: shape.outputStandardDeviation,
                            generator: &generator)
    }
}
