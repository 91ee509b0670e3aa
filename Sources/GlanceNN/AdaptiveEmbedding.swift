import GlanceCore

/// Adaptive input embeddings (Baevski & Auli 2019) in the layout of Hugging Face's
/// Transformer-XL `AdaptiveEmbedding`: each cluster of the ``AdaptiveVocabulary`` looks its ids
/// up in its own table (`emb_layers.i`, [cluster size, width of the cluster]) and projects them
/// to `outputDimensions` (`emb_projs.i`, [outputDimensions, width], applied as x·Pᵀ); the
/// result is scaled by √outputDimensions. With `div_val` 1 there is one table for the whole
/// vocabulary and a projection only when its width differs from `outputDimensions`.
public final class AdaptiveEmbedding: Module {
    public let vocabulary: AdaptiveVocabulary
    /// `emb_layers`: one table per cluster, or one for the whole vocabulary (`div_val` 1).
    public let tables: [Embedding]
    /// `emb_projs`: one per table, or none (`div_val` 1 with `d_embed` = `outputDimensions`).
    public let projections: [Parameter]
    /// `d_proj` (Transformer-XL's `d_model`).
    public let outputDimensions: Int

    /// Tables from N(0, `standardDeviation`²), projections from N(0, `projectionDeviation`²)
    /// (Transformer-XL's `init_std` and `proj_init_std`).
    public init(vocabulary: AdaptiveVocabulary, outputDimensions: Int, standardDeviation: Float = 0.02, projectionDeviation: Float = 0.01,
                generator: inout RandomGenerator) {
        precondition(outputDimensions >= 1, "AdaptiveEmbedding needs a positive output width, got \(outputDimensions)")
        let shared = vocabulary.divisor == 1
        let sizes = shared ? [(vocabulary.size, vocabulary.embeddingDimensions)]
                           : vocabulary.clusters.indices.map { (vocabulary.clusters[$0].count, vocabulary.width(ofCluster: $0)) }
        tables = sizes.map { Embedding(count: $0.0, dimensions: $0.1, standardDeviation: standardDeviation, generator: &generator) }
        let projected = shared ? (vocabulary.embeddingDimensions == outputDimensions ? [] : sizes) : sizes
        projections = projected.map {
            Parameter(.randomNormal(shape: [outputDimensions, $0.1], standardDeviation: projectionDeviation, generator: &generator))
        }
        self.vocabulary = vocabulary
        self.outputDimensions = outputDimensions
        super.init()
    }

    /// √outputDimensions (`emb_scale`).
    public var scale: Float { Float(outputDimensions).squareRoot() }

    /// Embeddings of `ids` ([…] → […, outputDimensions]); every id must lie in the vocabulary.
    public func callAsFunction(_ ids: IndexTensor) -> Tensor {
        precondition(!ids.values.isEmpty, "AdaptiveEmbedding needs at least one id, got shape \(ids.shape)")
        let flat: Tensor
        if vocabulary.divisor == 1 {
            let looked = tables[0](IndexTensor(ids.values))
            flat = projections.first.map { looked.matmul($0.value, transposeOther: true) } ?? looked
        } else {
            let groups = vocabulary.grouped(ids.values)
            let parts = groups.indices.filter { !groups[$0].positions.isEmpty }.map { cluster in
                tables[cluster](IndexTensor(groups[cluster].local)).matmul(projections[cluster].value, transposeOther: true)
            }
            flat = reassembled(parts, groups: groups.filter { !$0.positions.isEmpty })
        }
        return (flat * scale).reshaped(to: ids.shape + [outputDimensions])
    }
}
