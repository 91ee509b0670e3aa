import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// A test-only mechanism: halves its input and returns a penalty p² of its one parameter p as
/// an auxiliary loss, the way Adaptive Span returns its span penalty.
final class PenalizedAttention: Module, AttentionMechanism {
    static let mechanismName = "penalized"
    let penalty: Parameter
    let modelDimensions: Int
    let heads = 1
    let capabilities: AttentionCapabilities = [.causal, .bidirectional, .incremental]

    init(modelDimensions: Int, penalty: Float) {
        (self.modelDimensions, self.penalty) = (modelDimensions, Parameter(Tensor([penalty], shape: [1])))
        super.init()
    }

    func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        AttentionOutput(input * 0.5, auxiliaryLoss: penalty.value.squared().sum())
    }
}

/// The blocks' auxiliary losses reach the language model's loss and its gradients.
@Suite struct AuxiliaryLossTests {
    static let penalties: [Float] = [0.3, -0.7]

    static func model(reversible: Bool = false) -> CharacterLanguageModel {
        var c = CharacterLanguageModelTests.configuration(vocabulary: 32, context: 8, layers: 2, width: 8)
        c.reversible = reversible
        var generator = RandomGenerator(seed: 41)
        let source = RandomSource(seed: 42)
        let layers = penalties.map { penalty in
            TransformerBlock(attention: PenalizedAttention(modelDimensions: 8, penalty: penalty),
                             feedForward: FeedForward(dimensions: 8, hiddenDimensions: 16, generator: &generator), dropout: 0, source: source)
        }
        let input = TokenInput(vocabularySize: 32, dimensions: 8, maximumLength: 8, positions: .learned, dropout: 0,
                               source: source, generator: &generator)
        let blocks = BlockStack(layers, reversible: reversible, randomSource: source)
        let head = LanguageModelHead(projection: Linear(reversible ? 16 : 8, 32, generator: &generator))
        return CharacterLanguageModel(configuration: c, input: input, blocks: blocks, head: head, randomSource: source)
    }

    static let ids = IndexTensor([3, 1, 4, 1, 5, 9, 2, 6], shape: [2, 4])
    static let targets = [1, 4, 1, 5, 9, 2, 6, 5]

    @Test("the loss is the cross-entropy plus the sum of the blocks' penalties")
    func lossAddsPenalties() {
        let model = Self.model()
        let crossEntropy = GlanceNN.crossEntropy(logits: model(Self.ids).reshaped(to: [-1, 32]), targets: Self.targets).item()
        let penalties = Self.penalties.map { $0 * $0 }.reduce(0, +)
        #expect(isClose(model.loss(inputs: Self.ids, targets: Self.targets).item(), crossEntropy + penalties))
    }

    @Test("each penalty's parameter gets the gradient 2p from the model's loss")
    func gradientReachesParameter() {
        let model = Self.model()
        let (_, gradients) = valueAndGradient(model: model) { $0.loss(inputs: Self.ids, targets: Self.targets) }
        for (layer, penalty) in Self.penalties.enumerated() {
            let gradient = gradients["blocks.layers.\(layer).attention.penalty"]
            #expect(gradient.map { isClose($0.scalars, [2 * penalty]) } == true, "\(String(describing: gradient))")
        }
    }

    @Test("a reversible stack decoding against caches also sums the penalties")
    func reversibleCachedForward() throws {
        let model = Self.model(reversible: true)
        let caches = model.blocks.layers.map { _ in IgnoredCache() }
        let result = withoutGradients { model.blocks.forward(randomTensor([1, 2, 8], seed: 43), caches: caches) }
        #expect(result.output.shape == [1, 2, 16])
        #expect(result.auxiliaryLoss.map { isClose($0.item(), Self.penalties.map { $0 * $0 }.reduce(0, +)) } == true)
    }
}

/// A cache the penalized mechanism ignores.
final class IgnoredCache: AttentionCache {
    var length: Int { 0 }
}
