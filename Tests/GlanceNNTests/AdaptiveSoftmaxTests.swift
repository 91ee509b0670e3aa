import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// The adaptive softmax: a distribution over the whole vocabulary, its NLL of targets, the
/// single-cluster limit, tying to the adaptive embedding, and gradient checks.
@Suite struct AdaptiveSoftmaxTests {
    /// A softmax over 12 ids (cutoffs [3, 7] unless `cutoffs` says otherwise) for hidden states
    /// of width 6, tied to an embedding as Transformer-XL ties them when `tied`.
    static func softmax(divisor: Int, width: Int = 8, cutoffs: [Int] = [3, 7], tied: Bool) -> AdaptiveSoftmax {
        var generator = RandomGenerator(seed: 51)
        let vocabulary = try! AdaptiveVocabulary(size: 12, cutoffs: cutoffs, divisor: divisor, embeddingDimensions: width)
        let embedding = AdaptiveEmbedding(vocabulary: vocabulary, outputDimensions: 6, standardDeviation: 1, projectionDeviation: 0.5,
                                          generator: &generator)
        let softmax = AdaptiveSoftmax(vocabulary: vocabulary, inputDimensions: 6, tiedTo: tied ? embedding : nil, standardDeviation: 1,
                                      projectionDeviation: 0.5, generator: &generator)
        for (_, parameter) in softmax.namedParameters() where parameter.shape.count == 1 {
            parameter.value = .randomNormal(shape: parameter.shape, standardDeviation: 0.5, generator: &generator)
        }
        return softmax
    }

    static let configurations = [(2, 8, [3, 7], false), (2, 8, [3, 7], true), (1, 8, [3, 7], true), (1, 6, [3, 7], false), (1, 8, [], false)]

    @Test("log-probabilities of all ids form a distribution; the NLL of a target is minus its log-probability", arguments: configurations)
    func distribution(_ divisor: Int, _ width: Int, _ cutoffs: [Int], _ tied: Bool) {
        let softmax = Self.softmax(divisor: divisor, width: width, cutoffs: cutoffs, tied: tied)
        let hidden = randomTensor([2, 3, 6], seed: 52)
        let logProbabilities = softmax.logProbabilities(hidden)
        #expect(logProbabilities.shape == [2, 3, 12])
        let totals = exp(logProbabilities).sum(alongAxis: -1).scalars
        #expect(totals.allSatisfy { abs($0 - 1) < 1e-5 }, "\(totals)")
        let targets = [11, 0, 4, 2, 7, 5]
        let nll = softmax.negativeLogLikelihood(hidden, targets: targets)
        let picked = targets.enumerated().map { -logProbabilities.scalars[$0.offset * 12 + $0.element] }
        #expect(isClose(nll.scalars, picked), "\(nll.scalars) vs \(picked)")
    }

    @Test("without cutoffs it is a log-softmax of the projected output layer")
    func singleCluster() {
        let softmax = Self.softmax(divisor: 1, width: 8, cutoffs: [], tied: false)
        let hidden = randomTensor([4, 6], seed: 53)
        let projected = hidden.matmul(softmax.projections[0]!.value)
        let expected = affine(projected, weight: softmax.outputs[0].weight.value, bias: softmax.outputs[0].bias!.value).logSoftmax(alongAxis: -1)
        #expect(isClose(softmax.logProbabilities(hidden), expected))
        #expect(softmax.clusterWeight == nil)
    }

    @Test("tied to the embedding: output weights are its tables and projections its projections, by identity")
    func tying() {
        var generator = RandomGenerator(seed: 54)
        let vocabulary = try! AdaptiveVocabulary(size: 12, cutoffs: [3, 7], divisor: 2, embeddingDimensions: 8)
        let embedding = AdaptiveEmbedding(vocabulary: vocabulary, outputDimensions: 6, generator: &generator)
        let softmax = AdaptiveSoftmax(vocabulary: vocabulary, inputDimensions: 6, tiedTo: embedding, tyingProjections: [false, true, true],
                                      generator: &generator)
        #expect(zip(softmax.outputs, embedding.tables).allSatisfy { $0.weight === $1.weight })
        #expect(softmax.projections[0]! !== embedding.projections[0])
        #expect(softmax.projections[1]! === embedding.projections[1] && softmax.projections[2]! === embedding.projections[2])
        let untied = AdaptiveSoftmax(vocabulary: vocabulary, inputDimensions: 6, tiedTo: embedding, tyingWeights: false,
                                     tyingProjections: [false, false, true], generator: &generator)
        #expect(untied.outputs[0].weight !== embedding.tables[0].weight && untied.projections[2]! === embedding.projections[2])
    }

    @Test("gradients of the log-probabilities and of the NLL, for the weights and the hidden states", arguments: configurations)
    func gradients(_ divisor: Int, _ width: Int, _ cutoffs: [Int], _ tied: Bool) {
        let softmax = Self.softmax(divisor: divisor, width: width, cutoffs: cutoffs, tied: tied)
        let hidden = randomTensor([5, 6], seed: 55)
        expectModelGradientsMatch(softmax, inputs: [hidden], "log-probabilities") { m, x in m.logProbabilities(x[0]) }
        expectModelGradientsMatch(softmax, inputs: [hidden], "NLL") { m, x in m.negativeLogLikelihood(x[0], targets: [11, 0, 4, 7, 0]) }
    }
}
