import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// The attention contract as a model sees it: an auxiliary loss that a mechanism returns
/// comes out of ``TransformerBlock/forward(_:context:)`` and trains its parameter.
@Suite struct AttentionContractTests {
    /// A test-only mechanism: the output is the input scaled by `gain`; the auxiliary loss is
    /// `coefficient · Σ span²`, a penalty on a parameter the output does not use (as Adaptive
    /// Span's penalty on its spans).
    final class PenalizedAttention: Module, AttentionMechanism {
        let span: Parameter
        let gain: Parameter
        let coefficient: Float
        let modelDimensions: Int
        let heads = 1

        init(modelDimensions: Int, span: Tensor, coefficient: Float) {
            self.span = Parameter(span)
            gain = Parameter(Tensor([0.5]))
            self.coefficient = coefficient
            self.modelDimensions = modelDimensions
            super.init()
        }

        static let mechanismName = "penalized"
        var capabilities: AttentionCapabilities { [.causal, .bidirectional] }

        func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
            requireSupport(of: context)
            return AttentionOutput(input * gain.value, auxiliaryLoss: (span.value * span.value).sum() * coefficient)
        }
    }

    @Test("an auxiliary loss passes through a Transformer block and reaches its parameter's gradient")
    func auxiliaryLossReachesItsParameter() {
        var generator = RandomGenerator(seed: 1)
        let span = Tensor([0.3, -0.7, 1.1])
        let attention = PenalizedAttention(modelDimensions: 4, span: span, coefficient: 0.25)
        let block = TransformerBlock(attention: attention, feedForward: FeedForward(dimensions: 4, hiddenDimensions: 8, generator: &generator),
                                     dropout: 0, source: RandomSource(seed: 2))
        let input = randomTensor([2, 3, 4], seed: 3)
        let (_, grads) = valueAndGradient(model: block) { block in
            let result = block.forward(input, context: AttentionContext(mask: .causal))
            return result.output.sum() + result.auxiliaryLoss!
        }
        // d(0.25 · Σ s²)/ds = 0.5 · s; the output does not depend on the span.
        #expect(isClose(grads["attention.span"]!, span * 0.5, relativeTolerance: 1e-6))
        // The output's own parameters still get their gradients.
        #expect(grads["attention.gain"]!.scalars.allSatisfy { $0 != 0 })
    }
}
