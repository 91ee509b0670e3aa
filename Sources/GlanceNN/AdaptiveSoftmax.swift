import GlanceCore

/// The adaptive softmax (Grave et al. 2017) in the layout of Hugging Face's Transformer-XL
/// `ProjectedAdaptiveLogSoftmax`: hidden states h (width `inputDimensions`, `d_proj`) are
/// projected per cluster (`out_projs.i`, [inputDimensions, width], applied as h·P; none with
/// `div_val` 1 and `d_embed` = `d_proj`) and scored by the cluster's output layer
/// (`out_layers.i`; with `div_val` 1 one layer for the whole vocabulary, sliced per cluster).
/// The head scores its own ids and one entry per tail (`cluster_weight`, `cluster_bias`); a
/// tail id's log-probability is its tail entry's in the head plus its own in the tail.
///
/// As in `TransfoXLLMHeadModel`, the output layers' weights may be the input embedding's tables
/// (`tie_word_embeddings`) and each cluster's projection that embedding's (`tie_projs`), shared
/// by identity.
public final class AdaptiveSoftmax: Module {
    public let vocabulary: AdaptiveVocabulary
    /// `out_layers`: one per cluster, or one over the whole vocabulary (`div_val` 1).
    public let outputs: [Linear]
    /// `out_projs`: one per cluster; nil where the cluster is scored without a projection.
    public let projections: [Parameter?]
    /// `cluster_weight` [tails, d_embed] and `cluster_bias` [tails]: the head's scores of the tails (nil without tails).
    public let clusterWeight: Parameter?
    public let clusterBias: Parameter?
    /// `d_proj`: the width of the hidden states.
    public let inputDimensions: Int

    /// An adaptive softmax over `vocabulary` for hidden states of `inputDimensions`. With an
    /// embedding to tie to, `tyingWeights` makes the output weights its tables (Hugging Face's
    /// `tie_word_embeddings`) and `tyingProjections[i]` (one per cluster) makes cluster i use its
    /// projection (the cluster's own with `div_val` > 1, the single one with `div_val` 1;
    /// `tie_projs`). Untied weights and cluster scores start from N(0, `standardDeviation`²),
    /// projections from N(0, `projectionDeviation`²), biases at zero.
    public init(vocabulary: AdaptiveVocabulary, inputDimensions: Int, tiedTo embedding: AdaptiveEmbedding? = nil, tyingWeights: Bool = true,
                tyingProjections: [Bool]? = nil, standardDeviation: Float = 0.02, projectionDeviation: Float = 0.01,
                generator: inout RandomGenerator) {
        let clusterCount = vocabulary.clusters.count
        let ties = tyingProjections ?? [Bool](repeating: embedding != nil, count: clusterCount)
        precondition(ties.count == clusterCount, "one projection tie per cluster (\(clusterCount)), got \(ties.count)")
        precondition(embedding.map { $0.vocabulary == vocabulary && $0.outputDimensions == inputDimensions } ?? true,
                     "tied weights need an embedding of the same vocabulary and width \(inputDimensions)")
        let tiedWeights = tyingWeights ? embedding : nil
        let shared = vocabulary.divisor == 1
        let widths = shared ? [vocabulary.embeddingDimensions] : vocabulary.clusters.indices.map(vocabulary.width(ofCluster:))
        let sizes = shared ? [vocabulary.size] : vocabulary.clusters.map(\.count)
        outputs = widths.indices.map { index in
            if let tiedWeights { return Linear(sharing: tiedWeights.tables[index].weight) }
            return Linear(widths[index], sizes[index], standardDeviation: standardDeviation, generator: &generator)
        }
        projections = (0..<clusterCount).map { cluster in
            let width = shared ? vocabulary.embeddingDimensions : widths[cluster]
            if shared && width == inputDimensions { return nil }
            if ties[cluster], let embedding { return embedding.projections[shared ? 0 : cluster] }
            return Parameter(.randomNormal(shape: [inputDimensions, width], standardDeviation: projectionDeviation, generator: &generator))
        }
        if vocabulary.tailCount > 0 {
            clusterWeight = Parameter(.randomNormal(shape: [vocabulary.tailCount, vocabulary.embeddingDimensions],
                                                    standardDeviation: standardDeviation, generator: &generator))
            clusterBias = Parameter(.zeros([vocabulary.tailCount]))
        } else {
            (clusterWeight, clusterBias) = (nil, nil)
        }
        self.vocabulary = vocabulary
        self.inputDimensions = inputDimensions
        super.init()
    }

    /// Log-probabilities of every id: […, inputDimensions] → […, vocabulary size].
    public func logProbabilities(_ hidden: Tensor) -> Tensor {
        let rows = rowsOf(hidden)
        let head = logits(rows, cluster: 0).logSoftmax(alongAxis: -1)
        let shortlist = vocabulary.clusters[0].count
        var parts = [head.sliced(alongAxis: 1, 0..<shortlist)]
        for tail in 1..<vocabulary.clusters.count {
            let entry = head.sliced(alongAxis: 1, shortlist + tail - 1..<shortlist + tail)
            parts.append(entry + logits(rows, cluster: tail).logSoftmax(alongAxis: -1))
        }
        let all = parts.count == 1 ? parts[0] : concatenate(parts, alongAxis: 1)
        return all.reshaped(to: Array(hidden.shape.dropLast()) + [vocabulary.size])
    }

    /// −log p(target) for each row of `hidden` ([n, inputDimensions] or […, inputDimensions]
    /// flattened to n rows; one target per row): [n]. Tails are scored only for the rows whose
    /// target they hold.
    public func negativeLogLikelihood(_ hidden: Tensor, targets: [Int]) -> Tensor {
        let rows = rowsOf(hidden)
        precondition(targets.count == rows.shape[0], "one target per row: \(rows.shape[0]) rows, \(targets.count) targets")
        let head = logits(rows, cluster: 0).logSoftmax(alongAxis: -1)
        let shortlist = vocabulary.clusters[0].count
        let groups = vocabulary.grouped(targets)
        var parts: [Tensor] = []
        for (cluster, group) in groups.enumerated() where !group.positions.isEmpty {
            let selected = IndexTensor(group.positions)
            let headRows = head.embeddingLookup(selected)
            let count = group.positions.count
            if cluster == 0 {
                parts.append(headRows.gathered(alongAxis: 1, indices: IndexTensor(group.local, shape: [count, 1])))
            } else {
                let entry = headRows.sliced(alongAxis: 1, shortlist + cluster - 1..<shortlist + cluster)
                let tail = logits(rows.embeddingLookup(selected), cluster: cluster).logSoftmax(alongAxis: -1)
                parts.append(entry + tail.gathered(alongAxis: 1, indices: IndexTensor(group.local, shape: [count, 1])))
            }
        }
        return -reassembled(parts, groups: groups.filter { !$0.positions.isEmpty }).reshaped(to: [targets.count])
    }

    /// `hidden` as [rows, inputDimensions].
    private func rowsOf(_ hidden: Tensor) -> Tensor {
        precondition(hidden.shape.last == inputDimensions && hidden.count > 0,
                     "AdaptiveSoftmax expects [..., \(inputDimensions)] with at least one row, got \(hidden.shape)")
        return hidden.reshaped(to: [-1, inputDimensions])
    }

    /// The scores of cluster `cluster`'s ids (the head: then one per tail) for rows [n, inputDimensions].
    private func logits(_ rows: Tensor, cluster: Int) -> Tensor {
        let projected = projections[cluster].map { rows.matmul($0.value) } ?? rows
        var weight: Tensor, bias: Tensor
        if vocabulary.divisor == 1 {
            let ids = vocabulary.clusters[cluster]
            weight = outputs[0].weight.value.sliced(alongAxis: 0, ids)
            bias = outputs[0].bias!.value.sliced(alongAxis: 0, ids)
        } else {
            (weight, bias) = (outputs[cluster].weight.value, outputs[cluster].bias!.value)
        }
        if cluster == 0, let clusterWeight, let clusterBias {
            weight = concatenate([weight, clusterWeight.value], alongAxis: 0)
            bias = concatenate([bias, clusterBias.value], alongAxis: 0)
        }
        return affine(projected, weight: weight, bias: bias)
    }
}
