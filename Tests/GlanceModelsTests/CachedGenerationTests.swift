import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// Cached generation of the character language model: the cached forward gives the full
/// forward's logits, greedy generation through the caches gives the uncached path's tokens,
/// and past the context it follows the documented re-filled windows.
@Suite struct CachedGenerationTests {
    /// A small random model with `attention` (and its options): weights of standard deviation
    /// 0.3 (LayerNorm gains kept at 1), so that greedy choices are clear-cut.
    static func model(_ attention: String, context: Int = 64, positions: String = "learned", reversible: Bool = false) throws
        -> CharacterLanguageModel {
        var c = CharacterLanguageModelTests.configuration(vocabulary: 256, context: context, layers: 2, width: 16, heads: 2,
                                                          positions: positions)
        switch attention {
        case "full": c.attention = .full
        case "reformer": c.attention = AttentionConfiguration(ReformerOptions(chunkLength: 4, buckets: [2, 2], hashSeed: 3))
        case "performer softmax": c.attention = AttentionConfiguration(PerformerOptions(features: 24))
        case "performer relu": c.attention = AttentionConfiguration(PerformerOptions(features: 24, kernel: .relu))
        case "longformer": c.attention = AttentionConfiguration(LongformerOptions(window: .all(4), dilation: .perHead([1, 2])))
        case "logsparse K=1": c.attention = AttentionConfiguration(LogSparseOptions())
        case "logsparse K=3": c.attention = AttentionConfiguration(LogSparseOptions(queryKeyKernel: 3, window: 1, subsequence: 5))
        case "lsra":
            var options = LongShortRangeOptions()
            (options.convolution, options.kernelSize) = (.dynamic, .perLayer([3, 5]))
            c.attention = AttentionConfiguration(options)
        default: Issue.record("unknown mechanism \(attention)")
        }
        c.reversible = reversible
        let model = try CharacterLanguageModel(configuration: c, seed: 21)
        var random = TestRandom(seed: 22)
        var values = model.parameterValues()
        for (key, value) in values.sorted(by: { $0.key < $1.key }) where !key.lowercased().contains("norm.weight") {
            values[key] = random.normal(value.shape, standardDeviation: 0.3)
        }
        try model.update(parameters: values)
        model.eval()
        return model
    }

    static let cases: [(String, String, Bool)] = [
        ("full", "learned", false), ("full", "sinusoidal", false), ("full", "learned", true),
        ("performer softmax", "learned", false), ("performer relu", "sinusoidal", false), ("longformer", "learned", false),
        ("logsparse K=1", "learned", false), ("logsparse K=3", "sinusoidal", false),
        ("lsra", "learned", false),
    ]

    @Test("the cached forward, fed in pieces, gives the full forward's logits (≤ 1e-5)", arguments: cases)
    func cachedLogits(_ attention: String, _ positions: String, _ reversible: Bool) throws {
        let model = try Self.model(attention, positions: positions, reversible: reversible)
        #expect(model.supportsIncrementalDecoding)
        var random = TestRandom(seed: 23)
        let ids = random.indices([2, 64], below: 256)
        let expected = withoutGradients { model(ids) }
        let cache = try model.makeCache(batch: 2)
        var pieces: [Tensor] = [], start = 0
        for size in [9, 1, 1, 4, 1, 16, 1, 1, 30] {
            let rows = (0..<2).flatMap { b in ids.values[(b * 64 + start)..<(b * 64 + start + size)] }
            pieces.append(withoutGradients { model(IndexTensor(rows, shape: [2, size]), cache: cache) })
            start += size
            #expect(cache.length == start)
        }
        let cached = concatenate(pieces, alongAxis: 1)
        #expect(isClose(cached.scalars, expected.scalars, relativeTolerance: 1e-5, absoluteTolerance: 1e-5),
                "max difference \(maxAbsoluteDifference(cached.scalars, expected.scalars))")
    }

    @Test("greedy generation of 40 bytes through the caches equals the uncached path", arguments: cases)
    func greedyGeneration(_ attention: String, _ positions: String, _ reversible: Bool) throws {
        let model = try Self.model(attention, positions: positions, reversible: reversible)
        let prompt = Array("a prompt".utf8).map(Int.init)
        var g1 = RandomGenerator(seed: 0), g2 = RandomGenerator(seed: 0)
        let cached = model.generate(prompt: prompt, count: 40, temperature: 0, topK: nil, generator: &g1)
        let uncached = model.generate(prompt: prompt, count: 40, temperature: 0, topK: nil, caching: false, generator: &g2)
        #expect(cached == uncached)
        #expect(Set(cached).count > 1, "a degenerate model repeats one byte: \(cached)")
    }

    @Test("sampling through the caches draws the same bytes as the uncached path")
    func sampledGeneration() throws {
        let model = try Self.model("full")
        var g1 = RandomGenerator(seed: 5), g2 = RandomGenerator(seed: 5)
        let cached = model.generate(prompt: [], count: 30, temperature: 1, topK: 20, generator: &g1)
        let uncached = model.generate(prompt: [], count: 30, temperature: 1, topK: 20, caching: false, generator: &g2)
        #expect(cached == uncached)
    }

    @Test("past the context, each byte is the greedy choice over the documented window: the last ⌈context/2⌉ bytes, growing to context, refilled")
    func beyondTheContext() throws {
        let context = 12, refill = 6
        let model = try Self.model("full", context: context)
        let prompt = Array("a prompt longer than the context".utf8).map(Int.init)
        var generator = RandomGenerator(seed: 0)
        let generated = model.generate(prompt: prompt, count: 40, temperature: 0, topK: nil, generator: &generator)
        var tokens = prompt, window = context
        for byte in generated {
            let last = Array(tokens.suffix(window))
            let logits = Array(withoutGradients { model(IndexTensor(last, shape: [1, last.count])) }.scalars.suffix(256))
            #expect(byte == logits.indices.max { logits[$0] < logits[$1] }!, "after \(tokens.count) bytes, window \(window)")
            tokens.append(byte)
            window = window == context ? refill : window + 1
        }
    }

    @Test("a Reformer model cannot decode incrementally: makeCache names it, generate recomputes")
    func reformerFallsBack() throws {
        let model = try Self.model("reformer", context: 16)
        #expect(!model.supportsIncrementalDecoding)
        #expect(throws: AttentionCapabilityError(mechanism: "reformer", capability: "incremental decoding")) { _ = try model.makeCache() }
        var g1 = RandomGenerator(seed: 0), g2 = RandomGenerator(seed: 0)
        let a = model.generate(prompt: [65, 66], count: 5, temperature: 0, topK: nil, generator: &g1)
        let b = model.generate(prompt: [65, 66], count: 5, temperature: 0, topK: nil, caching: false, generator: &g2)
        #expect(a == b && a.count == 5)
    }
}
