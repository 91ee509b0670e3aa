import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// Post-LN blocks (x = LN(x + Attention(x)); x = LN(x + FFN(x))) and the config's "block" field.
@Suite struct BlockNormalizationTests {
    static func block(_ normalization: BlockNormalization) throws -> TransformerBlock {
        var generator = RandomGenerator(seed: 31)
        let attention = try FullAttention(modelDimensions: 8, heads: 2, standardDeviation: 0.3, generator: &generator)
        let feedForward = FeedForward(dimensions: 8, hiddenDimensions: 16, standardDeviation: 0.3, generator: &generator)
        let block = TransformerBlock(attention: attention, feedForward: feedForward, dropout: 0, source: RandomSource(seed: 1),
                                     normalization: normalization)
        // Norms that are not the identity, so that a misplaced one shows.
        for norm in [block.attentionNorm, block.feedForwardNorm] {
            norm.weight!.value = randomTensor([8], seed: 32, standardDeviation: 0.5) + 1
            norm.bias!.value = randomTensor([8], seed: 33, standardDeviation: 0.5)
        }
        return block
    }

    /// LayerNorm over the last axis, written out: (x − mean) / √(variance + ε) · weight + bias.
    static func plainLayerNorm(_ x: Tensor, _ norm: LayerNorm) -> Tensor {
        let centred = x - x.mean(alongAxes: [2], keepingDimensions: true)
        let deviation = sqrt(centred.squared().mean(alongAxes: [2], keepingDimensions: true) + norm.epsilon)
        return centred / deviation * norm.weight!.value + norm.bias!.value
    }

    @Test("a post-LN block equals LN(h + FFN(h)) with h = LN(x + Attention(x))", arguments: [AttentionMask.causal, .none])
    func postLayerNorm(_ mask: AttentionMask) throws {
        let block = try Self.block(.postLN)
        let x = randomTensor([2, 5, 8], seed: 34)
        let h = Self.plainLayerNorm(x + block.attention(x, mask: mask), block.attentionNorm)
        let expected = Self.plainLayerNorm(h + block.feedForward(h), block.feedForwardNorm)
        #expect(relativeError(block(x, mask: mask), expected) <= 1e-5)
    }

    @Test("a pre-LN block (the default) equals x' + FFN(LN(x')) with x' = x + Attention(LN(x))")
    func preLayerNorm() throws {
        let block = try Self.block(.preLN)
        let x = randomTensor([2, 5, 8], seed: 35)
        let attended = x + block.attention(Self.plainLayerNorm(x, block.attentionNorm), mask: .causal)
        let expected = attended + block.feedForward(Self.plainLayerNorm(attended, block.feedForwardNorm))
        #expect(relativeError(block(x, mask: .causal), expected) <= 1e-5)
    }

    @Test("a post-LN block's gradients (input, norms, weights) match finite differences")
    func postLayerNormGradient() throws {
        let block = try Self.block(.postLN)
        // The key bias shifts every score of a query alike, so its gradient is 0 up to rounding.
        let parameters = block.trainableParameters().filter { !$0.key.hasSuffix("key.bias") }.map(\.parameter)
        let saved = parameters.map(\.value)
        defer { for (parameter, value) in zip(parameters, saved) { parameter.value = value } }
        expectGradientsMatch([randomTensor([2, 4, 8], seed: 36)] + saved, "post-LN block") { leaves in
            for (parameter, leaf) in zip(parameters, leaves.dropFirst()) { parameter.value = leaf }
            return block(leaves[0], mask: .causal)
        }
    }

    @Test("\"block\": \"post-ln\" builds post-LN blocks in both models")
    func configuration() throws {
        var c = CharacterLanguageModelTests.configuration()
        c.block = .postLN
        let model = try CharacterLanguageModel(configuration: c, seed: 1)
        let classifier = try TextClassifier(configuration: c, classes: 2, seed: 1)
        #expect((model.blocks.map(\.normalization) + classifier.blocks.map(\.normalization)).allSatisfy { $0 == .postLN })
        let loaded = try ConfigurationTests.load(#"{"data": {"corpus": "data/x"}, "model": {"block": "post-ln"}}"#).get()
        #expect(loaded.model.block == .postLN)
        #expect(try ConfigurationTests.load(ConfigurationTests.minimal).get().model.block == .preLN)
    }

    @Test("an unknown block and post-LN with reversible layers are errors naming model.block",
          arguments: [#"{"block": "sandwich"}"#, #"{"block": "post-ln", "reversible": true}"#])
    func badBlock(_ model: String) throws {
        let result = try ConfigurationTests.load(#"{"data": {"corpus": "data/x"}, "model": \#(model)}"#)
        #expect(ConfigurationTests.field(of: result) == "model.block", "\(result)")
    }
}
