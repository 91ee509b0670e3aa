import Foundation
import GlanceCore
import GlanceNN

/// The Conformer encoder's relative-position multi-head self-attention (ESPnet's
/// `RelPositionMultiHeadedAttention` "latest", NeMo's `RelPositionMultiHeadAttention`, Hugging
/// Face's `ParakeetEncoderAttention`):
///
///     score(i, j) = ((q_i + u)·k_j + (q_i + v)·W_pos p_{i−j}) / √d_head
///
/// over all keys (bidirectional; causal on request), with the 2T − 1 distances T − 1 … −(T − 1)
/// of an encoder. The position term (q + v)·(W_pos P)ᵀ goes to the kernel as a factored
/// ``RelativeScoreTerm``, computed block by block: the relative shift is an index remap, no
/// shifted matrix and no [B, H, T, 2T − 1] tensor is built; heads stay packed side by side. Key padding hides padded keys; padded queries
/// still attend to the real keys and their outputs are don't-cares.
public final class RelativePositionSelfAttention: Module, AttentionMechanism {
    /// `q_proj`, `k_proj`, `v_proj`, `o_proj` (with biases, Hugging Face's `attention_bias`).
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    /// `relative_k_proj` / `linear_pos`, W_pos: distance encodings to per-head position keys, no bias.
    public let position: Linear
    /// `bias_u` / `pos_bias_u`: [heads, headDimensions], added to the queries of the content term.
    public let contentBias: Parameter
    /// `bias_v` / `pos_bias_v`: [heads, headDimensions], added to the queries of the position term.
    public let positionBias: Parameter
    public let heads: Int

    /// Projections from N(0, `standardDeviation`²) when given, else PyTorch's default uniform;
    /// u and v from N(0, (`standardDeviation` ?? 0.02)²) (Hugging Face's Parakeet init).
    public init(modelDimensions: Int, heads: Int, bias: Bool = true, standardDeviation: Float? = nil,
                outputStandardDeviation: Float? = nil, generator: inout RandomGenerator) throws {
        try checkHeadSplit(modelDimensions: modelDimensions, heads: heads)
        let d = modelDimensions, size = modelDimensions / heads
        query = Linear(d, d, bias: bias, standardDeviation: standardDeviation, generator: &generator)
        key = Linear(d, d, bias: bias, standardDeviation: standardDeviation, generator: &generator)
        value = Linear(d, d, bias: bias, standardDeviation: standardDeviation, generator: &generator)
        output = Linear(d, d, bias: bias, standardDeviation: outputStandardDeviation ?? standardDeviation, generator: &generator)
        position = Linear(d, d, bias: false, standardDeviation: standardDeviation, generator: &generator)
        let biasDeviation = standardDeviation ?? 0.02
        contentBias = Parameter(.randomNormal(shape: [heads, size], standardDeviation: biasDeviation, generator: &generator))
        positionBias = Parameter(.randomNormal(shape: [heads, size], standardDeviation: biasDeviation, generator: &generator))
        self.heads = heads
        super.init()
    }

    public static let mechanismName = "relative_position"
    public var modelDimensions: Int { query.inputCount }
    public var headDimensions: Int { modelDimensions / heads }
    public var capabilities: AttentionCapabilities { [.bidirectional, .causal, .relativePositions] }

    /// Self-attention with the position term from `context.relativePositions` ([distances,
    /// modelDimensions], covering every distance 1 − T … T − 1; an encoder computes them once
    /// for all its layers), or from ``encoderRelativeEncodings(length:dimensions:)`` when the
    /// context carries none.
    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        precondition(input.rank == 3 && input.shape[2] == modelDimensions,
                     "RelativePositionSelfAttention expects [batch, length, \(modelDimensions)], got \(input.shape)")
        requireSupport(of: context)
        let encodings = context.relativePositions ?? encoderRelativeEncodings(length: input.shape[1], dimensions: modelDimensions)
        precondition(encodings.encodings.shape[1] == modelDimensions,
                     "relative encodings must be [distances, \(modelDimensions)], got \(encodings.encodings.shape)")
        let queries = query(input)
        let scale = 1 / Float(headDimensions).squareRoot()
        let term = relativePositionTerm(queries: queries, bias: positionBias.value, positionKeys: position(encodings.encodings),
                                        scale: scale, largestDistance: encodings.largestDistance)
        let attended = packedAttention(queries: queries.addingPerHead(contentBias.value), keysAndValues: fusedProjection(input, [key, value]),
                                       heads: heads, causal: context.mask.causal, keyPadding: context.mask.keyPadding, scale: scale,
                                       relativeScores: term)
        return AttentionOutput(output(attended))
    }
}

/// An encoder's sinusoidal relative encodings for sequences of `length` frames: the 2·length − 1
/// distances length − 1 … −(length − 1) (row r encodes `length − 1 − r`), each as interleaved
/// [sin(d·f₀), cos(d·f₀), sin(d·f₁), …] with f_i = 1/10000^(2i/dimensions) (ESPnet's and Hugging
/// Face Parakeet's layout), [2·length − 1, dimensions].
public func encoderRelativeEncodings(length: Int, dimensions: Int) -> RelativePositionEncoding {
    precondition(length >= 1 && dimensions >= 2 && dimensions % 2 == 0,
                 "encoder relative encodings need length ≥ 1 and an even width, got \(length) and \(dimensions)")
    let half = dimensions / 2, rows = 2 * length - 1
    let frequencies = (0..<half).map { 1 / pow(10_000, Float(2 * $0) / Float(dimensions)) }
    let table = Tensor(shape: [rows, dimensions]) { out in
        for row in 0..<rows {
            let distance = Float(length - 1 - row)
            for i in 0..<half {
                let angle = distance * frequencies[i]
                out[row * dimensions + 2 * i] = sin(angle)
                out[row * dimensions + 2 * i + 1] = cos(angle)
            }
        }
    }
    return RelativePositionEncoding(encodings: table, largestDistance: length - 1)
}

/// The options of ``RelativePositionSelfAttention`` (none beyond the shape).
public struct RelativePositionOptions: AttentionOptions {
    public static let mechanism = RelativePositionSelfAttention.mechanismName
    public static let documentation: [AttentionOptionDocumentation] = []

    public init() {}

    public init(from decoder: any Decoder) throws {}

    public func encode(to encoder: any Encoder) throws {}

    public func validate(for shape: AttentionShape) throws {
        try checkHeadSplit(modelDimensions: shape.modelDimensions, heads: shape.heads)
        if shape.modelDimensions % 2 != 0 {
            throw AttentionConfigurationError(field: "d_model", reason: "must be even for the sinusoidal relative encodings, got \(shape.modelDimensions)")
        }
    }

    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        try RelativePositionSelfAttention(modelDimensions: shape.modelDimensions, heads: shape.heads, standardDeviation: shape.standardDeviation,
                                          outputStandardDeviation: shape.outputStandardDeviation, generator: &generator)
    }
}
