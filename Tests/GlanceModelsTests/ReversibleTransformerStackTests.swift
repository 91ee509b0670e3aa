import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// Reformer's reversible stack of Transformer blocks: the same function and gradients as the
/// stack that stores its activations, with dropout and LSH attention, whose recomputation
/// must replay the forward's masks and sort orders.
@Suite struct ReversibleTransformerStackTests {
    static func blocks(_ mechanism: String, depth: Int, dropout: Float, source: RandomSource, chunk: Int?) throws -> [TransformerBlock] {
        var generator = RandomGenerator(seed: 21)
        let json = mechanism == "reformer" ? #"{"type": "reformer", "hashes": 2, "chunk_length": 4, "buckets": [4]}"# : "\"\(mechanism)\""
        let attention = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(json.utf8))
        let build = AttentionBuild(required: .causal)
        return try (0..<depth).map { _ in
            TransformerBlock(attention: try attention.make(shape: AttentionShape(modelDimensions: 8, heads: 2, maximumLength: 37), build: build,
                                                           generator: &generator),
                             feedForward: FeedForward(dimensions: 8, hiddenDimensions: 16, chunkLength: chunk, generator: &generator),
                             dropout: dropout, source: source)
        }
    }

    @Test("outputs and the gradients of the input and every weight equal the stored stack's",
          arguments: [("full", Float(0), Int?.none), ("reformer", 0, 5), ("reformer", 0.2, nil), ("longformer", 0.1, 8)])
    func matchesStoredStack(_ mechanism: String, _ dropout: Float, _ chunk: Int?) throws {
        let source = RandomSource(seed: 3)
        let blocks = try Self.blocks(mechanism, depth: 3, dropout: dropout, source: source, chunk: chunk)
        let parameters = blocks.flatMap { $0.trainableParameters().map(\.parameter) }
        var random = TestRandom(seed: 4)
        let input = random.normal([2, 37, 16]), seed = random.normal([2, 37, 16])
        func run(storing: Bool) -> (Tensor, [Tensor]) {
            source.generator = RandomGenerator(seed: 99)
            let x = input.requiringGradient()
            for p in parameters { p.value = p.value.requiringGradient() }
            defer { for p in parameters { p.value = p.value.detached() } }
            let out = withGradients {
                reversibleTransformerStack(x, blocks: blocks, mask: .causal, randomSource: source, storingActivations: storing)
            }
            return (out.detached(), gradients(of: out, seed: seed, withRespectTo: [x] + parameters.map(\.value)))
        }
        let (reversible, reversibleGradients) = run(storing: false)
        let streamAfterReversible = source.generator
        let (stored, storedGradients) = run(storing: true)
        #expect(streamAfterReversible == source.generator, "the recomputation leaves the random stream where the forward left it")
        #expect(relativeError(reversible, stored) <= 1e-6)
        // Key biases have a gradient of zero up to rounding (softmax ignores a shift of all scores),
        // so those are compared absolutely.
        for (index, (a, b)) in zip(reversibleGradients, storedGradients).enumerated() {
            let largest = zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
            #expect(relativeError(a, b) <= 1e-4 || (b.scalars.allSatisfy { Swift.abs($0) < 1e-5 } && largest < 1e-6),
                    "gradient \(index): relative error \(relativeError(a, b))")
        }
    }
}
