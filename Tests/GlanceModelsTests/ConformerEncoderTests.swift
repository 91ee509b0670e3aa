import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// The Conformer encoder's parts on their own: subsampling lengths, a padded batch equal to
/// each utterance alone, the block's gradients with padding, the ablation without the
/// convolution module, and the CTC head.
@Suite struct ConformerEncoderTests {
    static func tinyConfiguration(_ subsampling: SubsamplingKind = .depthwiseStriding, kernelSize: Int? = 5) -> ConformerEncoderConfiguration {
        ConformerEncoderConfiguration(features: 16, subsampling: subsampling, subsamplingFactor: subsampling == .conv2d ? 4 : 8,
                                      subsamplingChannels: 4, modelDimensions: 8, layers: 2, heads: 2, feedForwardDimensions: 16,
                                      kernelSize: kernelSize, dropout: 0)
    }

    /// Adds N(0, 0.5²) to every trainable parameter, so that no bias is zero and no scale one.
    static func randomize(_ model: Module, seed: UInt64) {
        var random = TestRandom(seed: seed)
        for (_, p) in model.trainableParameters() { p.value = p.value + random.normal(p.shape, standardDeviation: 0.5) }
    }

    @Test("subsampled lengths follow the convolutions: conv2d ⌊(⌊(n − 1)/2⌋ − 1)/2⌋, dw_striding 8× three times ⌊(n − 1)/2⌋ + 1")
    func lengths() throws {
        let conv2d = try ConformerEncoder(configuration: Self.tinyConfiguration(.conv2d))
        let striding = try ConformerEncoder(configuration: Self.tinyConfiguration())
        for n in [7, 8, 9, 30, 45, 64] {
            #expect(conv2d.subsampling.outputLength(n) == ((n - 1) / 2 - 1) / 2, "conv2d \(n)")
            #expect(striding.subsampling.outputLength(n) == (((n - 1) / 2 + 1 - 1) / 2 + 1 - 1) / 2 + 1, "dw_striding \(n)")
        }
        let (hidden, reduced) = withoutGradients { conv2d(randomTensor([2, 30, 16], seed: 1), lengths: [30, 17]) }
        #expect(hidden.shape == [2, 6, 8] && reduced == [6, 3])
    }

    @Test("a padded batch gives each utterance what it gives alone", arguments: [SubsamplingKind.conv2d, .depthwiseStriding])
    func batchEqualsSingle(_ kind: SubsamplingKind) throws {
        let encoder = try ConformerEncoder(configuration: Self.tinyConfiguration(kind))
        Self.randomize(encoder, seed: 2)
        encoder.eval()
        let lengths = [40, 23, 31]
        let utterances = lengths.enumerated().map { randomTensor([1, $0.element, 16], seed: 3 + UInt64($0.offset)) }
        let batch = concatenate(utterances.map { $0.padded([(0, 0), (0, 40 - $0.shape[1]), (0, 0)], value: 7) }, alongAxis: 0)
        let (together, reduced) = withoutGradients { encoder(batch, lengths: lengths) }
        for (b, utterance) in utterances.enumerated() {
            let (alone, length) = withoutGradients { encoder(utterance) }
            #expect(length == [reduced[b]])
            let row = together.sliced(alongAxis: 0, b..<b + 1).sliced(alongAxis: 1, 0..<reduced[b])
            #expect(alone.scalars.allSatisfy(\.isFinite) && isClose(row, alone, relativeTolerance: 1e-4, absoluteTolerance: 1e-5),
                    "entry \(b): max difference \(maxAbsoluteDifference(row, alone))")
            if reduced[b] < together.shape[1] {
                #expect(together.sliced(alongAxis: 0, b..<b + 1).sliced(alongAxis: 1, reduced[b]..<together.shape[1]).scalars.allSatisfy { $0 == 0 })
            }
        }
    }

    @Test("a block's gradients match finite differences with padding, in training and evaluation", arguments: [true, false])
    func blockGradients(_ training: Bool) throws {
        var generator = RandomGenerator(seed: 4)
        let attention = try RelativePositionSelfAttention(modelDimensions: 6, heads: 2, generator: &generator)
        let block = ConformerBlock(attention: attention, feedForwardDimensions: 8, kernelSize: 3, dropout: 0, source: RandomSource(seed: 5),
                                   generator: &generator)
        Self.randomize(block, seed: 6)
        block.train(training)
        let lengths = [5, 3]
        let context = AttentionContext(mask: AttentionMask(keyPadding: lengths.map { n in (0..<5).map { $0 < n } }),
                                       relativePositions: encoderRelativeEncodings(length: 5, dimensions: 6))
        let validFrames = frameMask(lengths, time: 5)
        let parameters = block.trainableParameters().map(\.parameter)
        let saved = parameters.map(\.value)
        defer { for (p, value) in zip(parameters, saved) { p.value = value } }
        expectGradientsMatch([randomTensor([2, 5, 6], seed: 7)] + saved, "Conformer block, training \(training)") { t in
            for (p, value) in zip(parameters, t.dropFirst()) { p.value = value }
            return block.forward(t[0], context: context, validFrames: validFrames).output * validFrames
        }
    }

    @Test("without the convolution module the block has no convolution parameters")
    func ablation() throws {
        let encoder = try ConformerEncoder(configuration: Self.tinyConfiguration(kernelSize: nil))
        #expect(!encoder.namedParameters().contains { $0.key.contains("convolution.") })
        let (hidden, _) = withoutGradients { encoder(randomTensor([1, 24, 16], seed: 8)) }
        #expect(hidden.shape == [1, 3, 8])
    }

    @Test("the CTC head gives log-probabilities that sum to one per frame")
    func ctcHead() throws {
        let encoder = try ConformerEncoder(configuration: Self.tinyConfiguration())
        let model = ConformerCTC(encoder: encoder, vocabulary: 5, blank: 0)
        let (logProbabilities, lengths) = withoutGradients { model(randomTensor([1, 32, 16], seed: 9)) }
        #expect(logProbabilities.shape == [1, 4, 5] && lengths == [4])
        for t in 0..<4 {
            let total = (0..<5).map { exp(Double(logProbabilities[0, t, $0])) }.reduce(0, +)
            #expect(Swift.abs(total - 1) < 1e-5)
        }
    }

    @Test("a configuration that cannot work is refused naming the field")
    func badConfiguration() {
        var cases: [(String, ConformerEncoderConfiguration)] = []
        var c = Self.tinyConfiguration()
        c.kernelSize = 4
        cases.append(("kernel_size", c))
        c = Self.tinyConfiguration()
        c.heads = 3
        cases.append(("heads", c))
        c = Self.tinyConfiguration()
        c.subsamplingFactor = 6
        cases.append(("subsampling_factor", c))
        c = Self.tinyConfiguration(.conv2d)
        c.features = 5
        cases.append(("features", c))
        for (field, configuration) in cases {
            #expect { try configuration.validate() } throws: { ($0 as? ConfigurationValueError)?.field == field }
        }
    }
}
