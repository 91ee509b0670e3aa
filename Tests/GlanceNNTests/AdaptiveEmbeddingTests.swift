import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// The adaptive vocabulary's split and errors, and the adaptive input embedding against a
/// direct per-id computation, with gradient checks.
@Suite struct AdaptiveEmbeddingTests {
    static func vocabulary(divisor: Int, embedding: Int = 8) -> AdaptiveVocabulary {
        try! AdaptiveVocabulary(size: 12, cutoffs: [3, 7], divisor: divisor, embeddingDimensions: embedding)
    }

    @Test("clusters, widths and the cluster of each id")
    func split() {
        let vocabulary = Self.vocabulary(divisor: 2)
        #expect(vocabulary.clusters == [0..<3, 3..<7, 7..<12] && vocabulary.tailCount == 2)
        #expect((0..<3).map(vocabulary.width(ofCluster:)) == [8, 4, 2])
        #expect((0..<3).map(Self.vocabulary(divisor: 1).width(ofCluster:)) == [8, 8, 8])
    }

    @Test("cutoffs that do not increase or reach the vocabulary, and a div_val that leaves no width, name the field",
          arguments: [([3, 3], 2, 8, "cutoffs", "increase"), ([0, 4], 2, 8, "cutoffs", "increase"), ([5, 2], 2, 8, "cutoffs", "increase"),
                      ([3, 12], 2, 8, "cutoffs", "below vocab_size"), ([3, 7], 0, 8, "div_val", "at least 1"),
                      ([3, 7], 4, 8, "div_val", "no width"), ([3], 1, 0, "d_embed", "at least 1")])
    func badSplit(_ cutoffs: [Int], _ divisor: Int, _ width: Int, _ field: String, _ says: String) {
        #expect {
            _ = try AdaptiveVocabulary(size: 12, cutoffs: cutoffs, divisor: divisor, embeddingDimensions: width)
        } throws: { error in
            guard let error = error as? AdaptiveVocabularyError else { return false }
            return error.field == field && error.description.contains(says)
        }
    }

    /// Each id's row of its cluster's table, projected by that cluster's projection and scaled by √d_proj.
    static func direct(_ embedding: AdaptiveEmbedding, _ id: Int) -> [Float] {
        let vocabulary = embedding.vocabulary
        let cluster = vocabulary.divisor == 1 ? 0 : vocabulary.clusters.firstIndex { $0.contains(id) }!
        let local = vocabulary.divisor == 1 ? id : id - vocabulary.clusters[cluster].lowerBound
        let row = embedding.tables[cluster].weight.value.sliced(alongAxis: 0, local..<local + 1)
        let projected = embedding.projections.isEmpty ? row : row.matmul(embedding.projections[cluster].value, transposeOther: true)
        return (projected * embedding.scale).scalars
    }

    @Test("each id is its cluster's row, projected and scaled by √d_proj", arguments: [(2, 8, 6), (1, 8, 6), (1, 6, 6)])
    func lookup(_ divisor: Int, _ width: Int, _ output: Int) {
        var generator = RandomGenerator(seed: 41)
        let embedding = AdaptiveEmbedding(vocabulary: Self.vocabulary(divisor: divisor, embedding: width), outputDimensions: output,
                                          standardDeviation: 1, projectionDeviation: 0.5, generator: &generator)
        #expect(embedding.projections.count == (divisor == 1 ? (width == output ? 0 : 1) : 3))
        let ids = [11, 0, 4, 2, 7, 3, 4]
        let result = embedding(IndexTensor(ids, shape: [1, 7]))
        #expect(result.shape == [1, 7, output])
        for (position, id) in ids.enumerated() {
            let row = Array(result.scalars[(position * output)..<((position + 1) * output)])
            #expect(isClose(row, Self.direct(embedding, id)), "id \(id)")
        }
    }

    @Test("gradients of the tables and projections", arguments: [2, 1])
    func gradients(_ divisor: Int) {
        var generator = RandomGenerator(seed: 42)
        let embedding = AdaptiveEmbedding(vocabulary: Self.vocabulary(divisor: divisor), outputDimensions: 6, standardDeviation: 1,
                                          projectionDeviation: 0.5, generator: &generator)
        let ids = IndexTensor([11, 0, 4, 2, 7, 4], shape: [2, 3])
        expectModelGradientsMatch(embedding, inputs: [], "div_val \(divisor)") { m, _ in m(ids) }
    }
}
