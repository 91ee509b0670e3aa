import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

@Suite struct CharacterLanguageModelTests {
    static func configuration(vocabulary: Int = 256, context: Int = 8, layers: Int = 2, width: Int = 8, heads: Int = 2,
                              activation: Activation = .gelu, positions: String = "learned", dropout: Float = 0) -> LanguageModelConfiguration {
        var c = LanguageModelConfiguration()
        c.vocabularySize = vocabulary
        c.context = context
        c.layers = layers
        c.modelDimensions = width
        c.heads = heads
        c.feedForwardMultiplier = 2
        c.activation = activation
        c.positions = positions
        c.dropout = dropout
        return c
    }

    @Test("logits are [batch, length, vocabulary], for any length up to the context", arguments: [1, 5, 8])
    func logitsShape(_ length: Int) throws {
        let model = try CharacterLanguageModel(configuration: Self.configuration(), seed: 1)
        var random = TestRandom(seed: 2)
        let logits = model(random.indices([3, length], below: 256))
        #expect(logits.shape == [3, length, 256])
        #expect(logits.scalars.allSatisfy { $0.isFinite })
    }

    @Test("the language model is causal: a mechanism without causal attention (Linformer) is a capability error naming model.attention")
    func causalCapability() throws {
        var c = Self.configuration(context: 16)
        c.attention = AttentionConfiguration(LinformerOptions(k: 8))
        try c.validate()  // the options are fine; the model's need is checked when it builds its layers
        #expect { _ = try CharacterLanguageModel(configuration: c, seed: 1) } throws: { error in
            guard let error = error as? ConfigurationValueError else { return false }
            return error.field == "model.attention" && error.reason.contains("linformer") && error.reason.contains("causal attention")
        }
    }

    @Test("a Reformer language model builds from its attention options and runs lengths beyond its chunk")
    func reformerModel() throws {
        var c = Self.configuration(context: 24)
        c.attention = AttentionConfiguration(ReformerOptions(hashes: 2, chunkLength: 4, buckets: [2, 2], hashSeed: 5))
        try c.validate()
        let model = try CharacterLanguageModel(configuration: c, seed: 1)
        #expect(model.parameterValues().keys.contains("blocks.layers.0.attention.attention.queryKey.weight"))
        var random = TestRandom(seed: 2)
        for length in [3, 13, 24] {
            let logits = model(random.indices([2, length], below: 256))
            #expect(logits.shape == [2, length, 256])
            #expect(logits.scalars.allSatisfy { $0.isFinite })
        }
    }

    @Test("a reversible LM reads the pair of halves in its head and stays causal")
    func reversibleModelIsCausal() throws {
        var c = Self.configuration(context: 24, layers: 2, width: 8)
        (c.reversible, c.feedForwardChunk) = (true, 8)
        let model = try CharacterLanguageModel(configuration: c, seed: 1)
        #expect(model.head.norm.weight?.shape == [16] && model.head.projection.weight.shape == [256, 16])
        var random = TestRandom(seed: 2)
        let ids = random.indices([2, 24], below: 256)
        var changed = ids.values
        changed[20] = (changed[20] + 1) % 256
        let (a, b) = withoutGradients { (model(ids), model(IndexTensor(changed, shape: [2, 24]))) }
        #expect(a.sliced(alongAxis: 1, 0..<20).scalars == b.sliced(alongAxis: 1, 0..<20).scalars)
    }

    /// (LSH attention itself is not prefix-invariant: a later token's bucket moves the chunk
    /// boundaries of the sorted sequence, and so which earlier keys an earlier query meets.)
    @Test("a reversible Reformer LM with dropout and chunked feed-forward trains: its loss falls")
    func reversibleReformerTrains() throws {
        var c = Self.configuration(context: 24, layers: 2, width: 8)
        c.attention = AttentionConfiguration(ReformerOptions(hashes: 2, chunkLength: 4, hashSeed: 5))
        (c.reversible, c.feedForwardChunk, c.dropout) = (true, 8, 0.1)
        let model = try CharacterLanguageModel(configuration: c, seed: 1)
        var random = TestRandom(seed: 2)
        let ids = random.indices([2, 24], below: 256)
        let targets = Array(ids.values.dropFirst()) + [0]
        let optimizer = AdamW(learningRate: 1e-2)
        var losses: [Float] = []
        for _ in 0..<8 {
            let (loss, gradients) = valueAndGradient(model: model) { $0.loss(inputs: ids, targets: targets) }
            losses.append(loss.scalars[0])
            optimizer.update(model: model, gradients: gradients)
        }
        #expect(losses.last! < losses.first! - 0.5, "\(losses)")
    }

    @Test("parameter keys and count follow the configuration")
    func parameters() throws {
        let c = Self.configuration(vocabulary: 20, context: 8, layers: 2, width: 8)
        let model = try CharacterLanguageModel(configuration: c, seed: 1)
        let keys = model.trainableParameters().map(\.key)
        #expect(keys.first == "input.tokenEmbedding.weight")
        #expect(keys.contains("input.learnedPositions.weight"))
        #expect(keys.contains("blocks.layers.1.attention.query.weight"))
        #expect(keys.last == "head.projection.bias")
        let d = 8, ffn = 16
        let block = 2 * 2 * d + 4 * (d * d + d) + (d * ffn + ffn) + (ffn * d + d)
        #expect(model.parameterCount() == 20 * d + 8 * d + 2 * block + 2 * d + (d * 20 + 20))
        let sinusoidal = try CharacterLanguageModel(configuration: Self.configuration(positions: "sinusoidal"), seed: 1)
        #expect(!sinusoidal.trainableParameters().map(\.key).contains("input.learnedPositions.weight"))
    }

    @Test("the same seed builds the same model; another seed another one")
    func seeded() throws {
        let a = try CharacterLanguageModel(configuration: Self.configuration(), seed: 5)
        let b = try CharacterLanguageModel(configuration: Self.configuration(), seed: 5)
        let c = try CharacterLanguageModel(configuration: Self.configuration(), seed: 6)
        #expect(parameterBits(a.parameterValues()) == parameterBits(b.parameterValues()))
        #expect(parameterBits(a.parameterValues()) != parameterBits(c.parameterValues()))
    }

    @Test("an invalid configuration throws instead of building", arguments: [0, 3])
    func invalidConfiguration(_ heads: Int) {
        var c = Self.configuration()
        c.heads = heads
        #expect(throws: ConfigurationValueError.self) { _ = try CharacterLanguageModel(configuration: c, seed: 1) }
    }

    @Test("changing a later token does not change earlier logits", arguments: ["learned", "sinusoidal"])
    func causality(_ positions: String) throws {
        let model = try CharacterLanguageModel(configuration: Self.configuration(context: 12, positions: positions), seed: 3)
        model.eval()
        var random = TestRandom(seed: 4)
        let ids = random.indices([2, 12], below: 256)
        let base = withoutGradients { model(ids) }
        for position in [0, 5, 11] {
            var changed = ids.values
            for b in 0..<2 { changed[b * 12 + position] = (changed[b * 12 + position] + 101) % 256 }
            let logits = withoutGradients { model(IndexTensor(changed, shape: [2, 12])) }
            for b in 0..<2 {
                for t in 0..<12 {
                    let range = ((b * 12 + t) * 256)..<((b * 12 + t + 1) * 256)
                    let before = Array(base.scalars[range]), after = Array(logits.scalars[range])
                    if t < position {
                        #expect(isClose(after, before, relativeTolerance: 1e-6, absoluteTolerance: 1e-6),
                                "position \(t) changed when token \(position) did: \(maxAbsoluteDifference(after, before))")
                    } else if t == position {
                        #expect(maxAbsoluteDifference(after, before) > 1e-4, "the changed token did not change its own logits")
                    }
                }
            }
        }
    }

    @Test("Longformer: causal, and each layer reaches back w tokens (w·δ positions with dilation δ)",
          arguments: [([1], 1), ([2, 1], 2)])
    func longformerReach(_ dilation: [Int], _ reachPerLayer: Int) throws {
        var c = Self.configuration(context: 16, layers: 2)
        // w = 1
        c.attention = AttentionConfiguration(LongformerOptions(window: .all(2), dilation: dilation.count == 1 ? .all(dilation[0]) : .perHead(dilation)))
        let model = try CharacterLanguageModel(configuration: c, seed: 3)
        #expect(!model.trainableParameters().map(\.key).contains { $0.contains("Global") })
        model.eval()
        var random = TestRandom(seed: 4)
        let ids = random.indices([1, 16], below: 256)
        let base = withoutGradients { model(ids) }
        let position = 5, reach = 2 * reachPerLayer  // two layers
        var changed = ids.values
        changed[position] = (changed[position] + 101) % 256
        let logits = withoutGradients { model(IndexTensor(changed, shape: [1, 16])) }
        for t in 0..<16 {
            let range = (t * 256)..<((t + 1) * 256)
            let difference = maxAbsoluteDifference(Array(logits.scalars[range]), Array(base.scalars[range]))
            if t < position || t > position + reach {
                #expect(difference <= 1e-6, "position \(t) moved when token \(position) changed (reach \(reach))")
            } else if t == position || t == position + reach {
                #expect(difference > 1e-5, "position \(t) did not move when token \(position) changed (reach \(reach))")
            }
        }
    }

    @Test("\"attention\": \"logsparse\" builds LogSparse layers from qk_kernel and the pattern fields; a prefix gives the same logits")
    func logSparseModel() throws {
        var c = Self.configuration(context: 16)
        c.attention = AttentionConfiguration(LogSparseOptions(queryKeyKernel: 3, window: 1, subsequence: 4))
        let model = try CharacterLanguageModel(configuration: c, seed: 5)
        let attention = try #require(model.blocks[1].attention as? LogSparseAttention)
        #expect(attention.queryKeyKernel == 3 && attention.pattern.localWindow == 1 && attention.pattern.subsequenceLength == 4)
        var random = TestRandom(seed: 6)
        let ids = random.indices([1, 16], below: 256)
        let full = withoutGradients { model(ids) }
        let prefix = withoutGradients { model(IndexTensor(Array(ids.values.prefix(9)), shape: [1, 9])) }
        #expect(isClose(prefix.scalars, Array(full.scalars.prefix(9 * 256)), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    }

    @Test("a prefix gives the same logits as the full sequence at its positions")
    func prefixConsistency() throws {
        let model = try CharacterLanguageModel(configuration: Self.configuration(context: 10), seed: 8)
        model.eval()
        var random = TestRandom(seed: 9)
        let ids = random.indices([1, 10], below: 256)
        let full = withoutGradients { model(ids) }
        let prefix = withoutGradients { model(IndexTensor(Array(ids.values.prefix(6)), shape: [1, 6])) }
        #expect(isClose(prefix.scalars, Array(full.scalars.prefix(6 * 256)), relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    }

    @Test("the loss is the mean cross-entropy of the logits; about ln 256 at init")
    func loss() throws {
        let model = try CharacterLanguageModel(configuration: Self.configuration(), seed: 10)
        model.eval()
        var random = TestRandom(seed: 11)
        let ids = random.indices([2, 8], below: 256)
        let targets = random.integers(16, below: 256)
        let loss = withoutGradients { model.loss(inputs: ids, targets: targets) }.item()
        let logits = withoutGradients { model(ids) }.scalars
        var total = 0.0
        for row in 0..<16 {
            let values = logits[(row * 256)..<((row + 1) * 256)].map(Double.init)
            let peak = values.max()!
            total += peak + Foundation.log(values.map { Foundation.exp($0 - peak) }.reduce(0, +)) - values[targets[row]]
        }
        #expect(Swift.abs(Double(loss) - total / 16) < 1e-4)
        #expect(Swift.abs(loss - Float(Foundation.log(256.0))) < 0.1)
    }

    @Test("gradients of every parameter match finite differences",
          arguments: [("learned", "full"), ("sinusoidal", "full"), ("learned", "longformer")])
    func gradientCheck(_ positions: String, _ attention: String) throws {
        // Small vocabulary and width keep the finite differences cheap; init std 0.02 is raised
        // so that every parameter has a gradient well above Float32 noise.
        var c = Self.configuration(vocabulary: 11, context: 5, layers: 2, width: 4, heads: 2, positions: positions)
        // Longformer: one token back, two layers
        c.attention = attention == "longformer" ? AttentionConfiguration(LongformerOptions(window: .all(2))) : .full
        let model = try CharacterLanguageModel(configuration: c, seed: 12)
        var random = TestRandom(seed: 13)
        var values = model.parameterValues()
        // Sorted: dictionary order changes from one process to the next.
        for (key, value) in values.sorted(by: { $0.key < $1.key }) where !key.contains("Norm.weight") && !key.contains("norm.weight") {
            values[key] = random.normal(value.shape, standardDeviation: 0.5)
        }
        try model.update(parameters: values)
        let parameters = model.trainableParameters()
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        let ids = random.indices([2, 5], below: 11)
        let function = { (leaves: [Tensor]) -> Tensor in
            for (p, leaf) in zip(parameters, leaves) { p.parameter.value = leaf }
            return model(ids)
        }
        let projection = randomProjection(shape: [2, 5, 11])
        let (_, analytic) = valueAndGradient(at: saved) { (function($0) * projection).sum() }
        // With weights of std 0.5 and width 4, LayerNorm curves sharply: steps of 1e-2 leave up to
        // 3% truncation error on some draws (seen on 4 of 12 seeds); 2e-3 passes all of them.
        let numeric = numericalGradients(at: saved, step: 2e-3, projection: projection, function)
        let comparisons = compareGradients(analytic: analytic, numeric: numeric, labels: parameters.map(\.key))
        for comparison in comparisons { #expect(comparison.passed, "\(comparison)") }
        // Per parameter, the whole gradient is close to the numerical one in norm, and not zero,
        // except the key bias: it shifts all scores of a row alike, which softmax ignores.
        for (key, (a, n)) in zip(parameters.map(\.key), zip(analytic, numeric)) {
            if key.hasSuffix("attention.key.bias") {
                #expect(a.scalars.allSatisfy { Swift.abs($0) < 1e-4 }, "\(key): \(a.scalars)")
                continue
            }
            let error = relativeError(a.scalars, n.scalars)
            // Float32 central differences leave about 1 % of noise here; a wrong rule is off by far more.
            #expect(error < 5e-2, "\(key): relative error \(error)")
            #expect(n.scalars.contains { Swift.abs($0) > 1e-3 }, "\(key) has no gradient")
        }
    }

    @Test("dropout is active in training mode only")
    func dropoutModes() throws {
        let model = try CharacterLanguageModel(configuration: Self.configuration(dropout: 0.3), seed: 14)
        var random = TestRandom(seed: 15)
        let ids = random.indices([2, 8], below: 256)
        model.train()
        let a = withoutGradients { model(ids) }, b = withoutGradients { model(ids) }
        #expect(a.scalars != b.scalars)
        model.eval()
        let c = withoutGradients { model(ids) }, d = withoutGradients { model(ids) }
        #expect(c.scalars == d.scalars)
    }

    @Test("greedy generation is deterministic, in the vocabulary, and reads at most the context")
    func generation() throws {
        let model = try CharacterLanguageModel(configuration: Self.configuration(vocabulary: 256, context: 8), seed: 16)
        model.eval()
        var g1 = RandomGenerator(seed: 0), g2 = RandomGenerator(seed: 0)
        let prompt = Array("a prompt longer than the context".utf8).map(Int.init)
        let a = model.generate(prompt: prompt, count: 12, temperature: 0, topK: nil, generator: &g1)
        let b = model.generate(prompt: prompt, count: 12, temperature: 0, topK: nil, generator: &g2)
        #expect(a.count == 12 && a == b && a.allSatisfy { (0..<256).contains($0) })
        // The first greedy token is the argmax of the last logits of the prompt's last window.
        let window = Array(prompt.suffix(8))
        let logits = withoutGradients { model(IndexTensor(window, shape: [1, 8])) }.scalars.suffix(256)
        #expect(a[0] == Array(logits).indices.max { logits[logits.startIndex + $0] < logits[logits.startIndex + $1] }!)
        var g3 = RandomGenerator(seed: 1)
        let sampled = model.generate(prompt: [], count: 20, temperature: 1, topK: 5, generator: &g3)
        #expect(sampled.count == 20 && sampled.allSatisfy { (0..<256).contains($0) })
    }

    @Test("sampleToken: greedy at temperature 0, top-k 1 is greedy, samples stay in the top k")
    func sampling() {
        let logits: [Float] = [0.1, 2.0, -1.0, 1.5, 0.3]
        var g = RandomGenerator(seed: 2)
        #expect(sampleToken(logits, temperature: 0, topK: nil, generator: &g) == 1)
        for _ in 0..<50 { #expect(sampleToken(logits, temperature: 1, topK: 1, generator: &g) == 1) }
        var counts = [Int](repeating: 0, count: 5)
        for _ in 0..<2000 { counts[sampleToken(logits, temperature: 1, topK: 2, generator: &g)] += 1 }
        #expect(counts[0] == 0 && counts[2] == 0 && counts[4] == 0)
        // P(1) / P(3) = e^0.5 ≈ 1.65.
        let ratio = Double(counts[1]) / Double(counts[3])
        #expect(ratio > 1.4 && ratio < 1.95, "\(counts)")
    }
}
