import GlanceAttention
import GlanceCore
import GlanceData
import GlanceNN

/// A Transformer encoder over bytes that sorts documents into classes: a ``TokenInput``, a
/// ``BlockStack`` of non-causal blocks that ignore padded keys and a ``PooledClassifierHead``
/// (final LayerNorm → mean over the real positions → linear). Parameter keys:
/// `input.…`, `blocks.layers.<i>.…`, `head.norm.…`, `head.classifier.…`.
///
/// Any mechanism of ``AttentionRegistry`` works, Linformer included. Initialization as in
/// ``CharacterLanguageModel`` (GPT-2's scheme).
public final class TextClassifier: Module {
    public let configuration: LanguageModelConfiguration
    public let input: TokenInput
    public let blocks: BlockStack
    public let head: PooledClassifierHead
    /// The random stream of every dropout layer.
    public let _randomSource: RandomSource

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
        let source = RandomSource(seed: seed &+ 1)
        _randomSource = source
        input = TokenInput(c, source: source, generator: &generator)
        let blocks = try BlockStack(c, required: .bidirectional, source: source, generator: &generator)
        self.blocks = blocks
        head = PooledClassifierHead(dimensions: blocks.outputDimensions(modelDimensions: c.modelDimensions), classes: classes,
                                    standardDeviation: TransformerBlock.initialStandardDeviation, generator: &generator)
        super.init()
    }

    public var classCount: Int { head.classCount }

    /// Class logits [batch, classes] for byte ids [batch, length]. `keyPadding[b][i]` is
    /// `true` for a real byte (nil: nothing is padded); each row needs one real byte.
    public func callAsFunction(_ ids: IndexTensor, keyPadding: [[Bool]]? = nil) -> Tensor {
        forward(ids, keyPadding: keyPadding).output
    }

    /// The class logits with the blocks' auxiliary loss.
    private func forward(_ ids: IndexTensor, keyPadding: [[Bool]]?) -> AttentionOutput {
        precondition(ids.shape.count == 2, "byte ids must be [batch, length], got \(ids.shape)")
        precondition(ids.shape[1] <= configuration.context, "document of \(ids.shape[1]) bytes exceeds the model context \(configuration.context)")
        var result = blocks.forward(input(ids), context: AttentionContext(mask: AttentionMask(keyPadding: keyPadding)))
        result.output = head(result.output, keyPadding: keyPadding)
        return result
    }

    /// Mean cross-entropy (nats) of a batch, plus the blocks' auxiliary losses.
    public func loss(_ batch: DocumentBatch) -> Tensor {
        let result = forward(batch.inputs, keyPadding: batch.keyPadding)
        return result.addingAuxiliaryLoss(to: crossEntropy(logits: result.output, targets: batch.labels))
    }
}
