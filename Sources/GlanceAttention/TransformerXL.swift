import Foundation
import GlanceCore
import GlanceNN

/// Transformer-XL's relative multi-head attention (Dai et al. 2019), in the layout of Hugging
/// Face's `RelPartialLearnableMultiHeadAttn` with per-layer biases (`untie_r`):
///
///     score(i, j) = ((q_i + u)·k_j + (q_i + v)·W_R r_{i−j}) / √d_head
///
/// causal, with keys and values over [memory; input]. The position term (q + v)·(W_R R)ᵀ goes to
/// the kernel as a factored ``RelativeScoreTerm``: computed block by block for the pairs a
/// query sees, the relative shift an index remap. Heads stay packed side by side (no split or
/// merge copies), and W_R R is projected once per call. The residual and LayerNorm that
/// Hugging Face's layer also holds belong to the block.
public final class RelativeMultiHeadAttention: Module, AttentionMechanism {
    /// `qkv_net`: queries, keys and values stacked, [3·heads·headDimensions, modelDimensions], no bias.
    public let queryKeyValue: Linear
    /// `r_net`, W_R: the distance encodings to per-head position keys, no bias.
    public let position: Linear
    /// `o_net`, no bias.
    public let output: Linear
    /// `r_w_bias`, u: [heads, headDimensions], added to the queries of the content term.
    public let contentBias: Parameter
    /// `r_r_bias`, v: [heads, headDimensions], added to the queries of the position term.
    public let positionBias: Parameter
    public let heads: Int
    public let headDimensions: Int
    /// Distances beyond it use its encoding (Hugging Face's `clamp_len`); nil: no clamping.
    public let clampLength: Int?
    /// Each query sees only the keys at distances below it, so that every query sees the same
    /// number of keys (Transformer-XL's `same_length`, with its `mem_len`); nil: all earlier keys.
    public let sameLength: Int?

    /// Projections from N(0, `standardDeviation`²) when given, else PyTorch's default uniform;
    /// u and v from N(0, (`standardDeviation` ?? 0.02)²), as Transformer-XL's init, or
    /// `sharedBiases` ([heads, headDimensions] each), held by identity so that layers given the
    /// same pair share u and v (`untie_r` false).
    public init(modelDimensions: Int, heads: Int, headDimensions: Int? = nil, clampLength: Int? = nil, sameLength: Int? = nil,
                standardDeviation: Float? = nil, outputStandardDeviation: Float? = nil,
                sharedBiases: (content: Parameter, position: Parameter)? = nil, generator: inout RandomGenerator) throws {
        let size = try headSize(modelDimensions: modelDimensions, heads: heads, headDimensions: headDimensions)
        try requireOption(clampLength, atLeast: 0, "clamp_len")
        try requireOption(sameLength, atLeast: 1, "mem_len")
        let width = heads * size
        queryKeyValue = Linear(modelDimensions, 3 * width, bias: false, standardDeviation: standardDeviation, generator: &generator)
        position = Linear(modelDimensions, width, bias: false, standardDeviation: standardDeviation, generator: &generator)
        output = Linear(width, modelDimensions, bias: false, standardDeviation: outputStandardDeviation ?? standardDeviation,
                        generator: &generator)
        if let sharedBiases {
            precondition(sharedBiases.content.shape == [heads, size] && sharedBiases.position.shape == [heads, size],
                         "shared u and v must be [\(heads), \(size)], got \(sharedBiases.content.shape) and \(sharedBiases.position.shape)")
            (contentBias, positionBias) = sharedBiases
        } else {
            let biasDeviation = standardDeviation ?? 0.02
            contentBias = Parameter(.randomNormal(shape: [heads, size], standardDeviation: biasDeviation, generator: &generator))
            positionBias = Parameter(.randomNormal(shape: [heads, size], standardDeviation: biasDeviation, generator: &generator))
        }
        self.heads = heads
        self.headDimensions = size
        self.clampLength = clampLength
        self.sameLength = sameLength
        super.init()
    }

    public static let mechanismName = "transformer_xl"
    public var modelDimensions: Int { queryKeyValue.inputCount }
    public var capabilities: AttentionCapabilities { [.causal, .memory, .relativePositions] }

    /// Causal attention over [memory; input] with the position term from
    /// `context.relativePositions` ([distances, modelDimensions], covering distances 0 up to
    /// the number of keys − 1), or from ``transformerXLRelativeEncodings(keys:dimensions:)``
    /// when the context carries none.
    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        precondition(input.rank == 3 && input.shape[2] == modelDimensions,
                     "RelativeMultiHeadAttention expects [batch, length, \(modelDimensions)], got \(input.shape)")
        requireSupport(of: context)
        let batch = input.shape[0]
        let width = heads * headDimensions
        let weight = queryKeyValue.weight.value
        let keyValueWeight = weight.sliced(alongAxis: 0, width..<3 * width)
        let queries = input.matmul(weight.sliced(alongAxis: 0, 0..<width), transposeOther: true)
        var keysAndValues = input.matmul(keyValueWeight, transposeOther: true)
        var keyPadding = context.mask.keyPadding
        var keyCount = input.shape[1]
        if let memory = context.memory {
            precondition(memory.rank == 3 && memory.shape[0] == batch && memory.shape[2] == modelDimensions,
                         "RelativeMultiHeadAttention memory must be [\(batch), length, \(modelDimensions)], got \(memory.shape)")
            // Projected on its own: a memory without gradient (Transformer-XL's) costs no input-gradient product.
            keysAndValues = concatenate([memory.matmul(keyValueWeight, transposeOther: true), keysAndValues], alongAxis: 1)
            keyPadding = keyPadding.map { rows in rows.map { [Bool](repeating: true, count: memory.shape[1]) + $0 } }
            keyCount += memory.shape[1]
        }
        let encodings = clamped(context.relativePositions ?? transformerXLRelativeEncodings(keys: keyCount, dimensions: modelDimensions))
        precondition(encodings.encodings.shape[1] == modelDimensions,
                     "relative encodings must be [distances, \(modelDimensions)], got \(encodings.encodings.shape)")
        let scale = 1 / Float(headDimensions).squareRoot()
        var term = relativePositionTerm(queries: queries, bias: positionBias.value, positionKeys: position(encodings.encodings),
                                        scale: scale, largestDistance: encodings.largestDistance)
        if let sameLength {
            term = RelativeScoreTerm(scores: relativePositionScores(term, heads: heads) + hiding(distancesFrom: sameLength, in: encodings),
                                     largestDistance: encodings.largestDistance)
        }
        let attended = packedAttention(queries: queries.addingPerHead(contentBias.value), keysAndValues: keysAndValues, heads: heads,
                                       causal: true, keyPadding: keyPadding, scale: scale, relativeScores: term)
        return AttentionOutput(output(attended))
    }

    /// [1, 1, 1, distances]: −∞ for the distances from `limit` on, else 0.
    private func hiding(distancesFrom limit: Int, in encodings: RelativePositionEncoding) -> Tensor {
        let count = encodings.encodings.shape[0]
        let row = (0..<count).map { encodings.largestDistance - $0 >= limit ? -Float.infinity : 0 }
        return Tensor(row, shape: [1, 1, 1, count])
    }

    /// The encodings with every distance beyond ``clampLength`` given the clamp's row.
    private func clamped(_ encodings: RelativePositionEncoding) -> RelativePositionEncoding {
        guard let clampLength, encodings.largestDistance > clampLength else { return encodings }
        precondition(encodings.smallestDistance <= clampLength,
                     "relative encodings cover distances \(encodings.smallestDistance)…\(encodings.largestDistance), not clamp_len \(clampLength)")
        let clampRow = encodings.largestDistance - clampLength
        let rows = (0..<encodings.encodings.shape[0]).map { Swift.max($0, clampRow) }
        return RelativePositionEncoding(encodings: encodings.encodings.embeddingLookup(IndexTensor(rows)),
                                        largestDistance: encodings.largestDistance)
    }
}

/// Transformer-XL's sinusoidal relative encodings for `keys` keys: row r encodes the distance
/// `keys − 1 − r` (`pos_seq` = keys − 1 … 0), clamped to `clampLength` when given, as
/// [sin(d·f), cos(d·f)] over the frequencies f_i = 1/10000^(2i/dimensions) ([distances, dimensions]).
public func transformerXLRelativeEncodings(keys: Int, dimensions: Int, clampLength: Int? = nil) -> RelativePositionEncoding {
    precondition(keys >= 1 && dimensions >= 2 && dimensions % 2 == 0,
                 "Transformer-XL encodings need keys ≥ 1 and an even width, got \(keys) keys and width \(dimensions)")
    let half = dimensions / 2
    let frequencies = (0..<half).map { 1 / pow(10_000, Float(2 * $0) / Float(dimensions)) }
    let table = Tensor(shape: [keys, dimensions]) { out in
        for row in 0..<keys {
            let distance = Float(Swift.min(keys - 1 - row, clampLength ?? Int.max))
            for i in 0..<half {
                let angle = distance * frequencies[i]
                out[row * dimensions + i] = sin(angle)
                out[row * dimensions + half + i] = cos(angle)
            }
        }
    }
    return RelativePositionEncoding(encodings: table, largestDistance: keys - 1)
}

/// The options of ``RelativeMultiHeadAttention``.
public struct TransformerXLOptions: AttentionOptions {
    public static let mechanism = RelativeMultiHeadAttention.mechanismName
    public static let documentation = [
        AttentionOptionDocumentation("clamp_len", "integer", default: "none",
                                     "Distances beyond it use the encoding of clamp_len (Hugging Face's clamp_len)."),
        AttentionOptionDocumentation("same_length", "boolean", default: "false",
                                     "Every query sees the same number of keys, mem_len (Hugging Face's same_length)."),
        AttentionOptionDocumentation("mem_len", "integer", default: "none",
                                     "Hidden states each layer keeps from the previous segment (segment recurrence: the char-LM then trains on contiguous streams and evaluates with memory; needs positions none); also the keys each query sees under same_length."),
    ]

    public var clampLength: Int?
    public var sameLength: Bool
    public var memoryLength: Int?

    public init() { self.init(clampLength: nil) }

    public init(clampLength: Int?, sameLength: Bool = false, memoryLength: Int? = nil) {
        self.clampLength = clampLength
        self.sameLength = sameLength
        self.memoryLength = memoryLength
    }

    enum CodingKeys: String, CodingKey {
        case clampLength = "clamp_len", sameLength = "same_length", memoryLength = "mem_len"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(clampLength: try c.decodeIfPresent(Int.self, forKey: .clampLength),
                  sameLength: try c.option(.sameLength, default: false),
                  memoryLength: try c.decodeIfPresent(Int.self, forKey: .memoryLength))
    }

    public func validate(for shape: AttentionShape) throws {
        try requireOption(clampLength, atLeast: 0, "clamp_len")
        try requireOption(memoryLength, atLeast: 0, "mem_len")
        if sameLength, (memoryLength ?? 0) < 1 {
            throw AttentionConfigurationError(field: "mem_len", reason: "must be at least 1 with same_length, got \(memoryLength.map(String.init) ?? "none")")
        }
        try checkHeadSplit(modelDimensions: shape.modelDimensions, heads: shape.heads)
        if shape.modelDimensions % 2 != 0 {
            throw AttentionConfigurationError(field: "d_model", reason: "must be even for the sinusoidal relative encodings, got \(shape.modelDimensions)")
        }
    }

    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        try RelativeMultiHeadAttention(modelDimensions: shape.modelDimensions, heads: shape.heads, clampLength: clampLength,
                                       sameLength: sameLength ? memoryLength : nil, standardDeviation: shape.standardDeviation,
                                       outputStandardDeviation: shape.outputStandardDeviation, generator: &generator)
    }
}
