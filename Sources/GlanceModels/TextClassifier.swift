import GlanceAttention
import GlanceCore
import GlanceData
import GlanceNN

/// A pre-LN Transformer encoder over bytes that sorts documents into classes: byte embedding
/// + positions → dropout → blocks with non-causal attention that ignores padded keys → final
/// LayerNorm → mean over the real (unpadded) positions → linear head.
///
/// Any mechanism of ``AttentionRegistry`` works, Linformer included. Initialization as in
/// ``CharacterLanguageModel`` (GPT-2's scheme).
public final class TextClassifier: Module {
    public let configuration: LanguageModelConfiguration
    public let tokenEmbedding: Embedding
    public let learnedPositions: LearnedPositions?
    public let embeddingDropout: Dropout
    public let blocks: [TransformerBlock]
    public let finalNorm: LayerNorm
    public let head: Linear
    /// The random stream of every dropout layer.
    public let _randomSource: RandomSource
    private let _sinusoids: Tensor?

    /// - Parameters:
    ///   - configuration: the encoder's shape; `context` is the longest document (in bytes) it reads.
    ///   - classes: number of classes, at least 2.
    public init(configuration c: LanguageModelConfiguration, classes: Int, seed: UInt64) throws {
        try c.validate()
        guard !c.tieEmbeddings else {
            throw ConfigurationValueError(field: "model.tie_embeddings", reason: "is a language-model option: a classifier's head maps to classes, not bytes")
        }
        guard classes >= 2 else { throw ConfigurationValueError(field: "classes", reason: "a classifier needs at least 2 classes, got \(classes)") }
        configuration = c
        var generator = RandomGenerator(seed: seed)
        _randomSource = RandomSource(seed: seed &+ 1)
        let std = TransformerBlock.initialStandardDeviation
        let input = InputEmbedding(c, source: _randomSource, generator: &generator)
        (tokenEmbedding, learnedPositions, _sinusoids, embeddingDropout) = (input.tokenEmbedding, input.learnedPositions, input.sinusoids, input.dropout)
        blocks = try TransformerBlock.stack(c, required: .bidirectional, source: _randomSource, generator: &generator)
        finalNorm = LayerNorm(dimensions: c.modelDimensions)
        head = Linear(c.modelDimensions, classes, standardDeviation: std, generator: &generator)
        super.init()
    }

    public var classCount: Int { head.outputCount }

    /// Class logits [batch, classes] for byte ids [batch, length]. `keyPadding[b][i]` is
    /// `true` for a real byte (nil: nothing is padded); each row needs one real byte.
    public func callAsFunction(_ ids: IndexTensor, keyPadding: [[Bool]]? = nil) -> Tensor {
        precondition(ids.shape.count == 2, "byte ids must be [batch, length], got \(ids.shape)")
        let (batch, length) = (ids.shape[0], ids.shape[1])
        precondition(length <= configuration.context, "document of \(length) bytes exceeds the model context \(configuration.context)")
        var x = InputEmbedding(tokenEmbedding: tokenEmbedding, learnedPositions: learnedPositions, sinusoids: _sinusoids,
                               dropout: embeddingDropout)(ids)
        let mask = AttentionMask(keyPadding: keyPadding)
        for block in blocks { x = block(x, mask: mask) }
        let pooled = (finalNorm(x) * poolingWeights(batch: batch, length: length, keyPadding: keyPadding)).sum(alongAxis: 1)
        return head(pooled)
    }

    /// Mean cross-entropy (nats) of a batch.
    public func loss(_ batch: DocumentBatch) -> Tensor {
        crossEntropy(logits: self(batch.inputs, keyPadding: batch.keyPadding), targets: batch.labels)
    }

    /// [batch, length, 1]: 1/(real bytes of the row) at real positions, 0 at padding.
    private func poolingWeights(batch: Int, length: Int, keyPadding: [[Bool]]?) -> Tensor {
        guard let keyPadding else { return Tensor(shape: [batch, length, 1], repeating: 1 / Float(length)) }
        precondition(keyPadding.count == batch && keyPadding.allSatisfy { $0.count == length },
                     "key padding must be [\(batch)][\(length)]")
        var weights = [Float](repeating: 0, count: batch * length)
        for (row, real) in keyPadding.enumerated() {
            let count = real.reduce(0) { $0 + ($1 ? 1 : 0) }
            precondition(count > 0, "row \(row) of the batch has no real byte")
            for i in 0..<length where real[i] { weights[row * length + i] = 1 / Float(count) }
        }
        return Tensor(weights, shape: [batch, length, 1])
    }
}
