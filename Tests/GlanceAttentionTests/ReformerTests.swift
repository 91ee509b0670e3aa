import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// Reformer's LSH and local attention against Hugging Face transformers 5.24.0 fixtures
/// (`LSHSelfAttention`, `LocalSelfAttention`), against a Double reference of full attention
/// with the self-mask rule where every query sees every key, finite-difference gradients,
/// Hugging Face's default buckets, reproducible rotations and configuration errors.
@Suite struct ReformerTests {
    /// Parameters, inputs and gradients of one fixture run through a Glance layer.
    static func checkParity(_ name: String, layer: Module, names: [String: String],
                            run: (Tensor, AttentionMask) -> Tensor) throws {
        let f = try ReferenceFixture(named: name)
        try layer.update(parameters: Dictionary(uniqueKeysWithValues: names.map { ($1, f[$0]) }))
        let padding = f.tensors["key_padding_mask"].map { mask in
            (0..<mask.shape[0]).map { b in (0..<mask.shape[1]).map { mask[b, $0] != 0 } }
        }
        let mask = AttentionMask(causal: f.bool("causal"), keyPadding: padding)
        let parameters = layer.trainableParameters()
        let x = f["input"].requiringGradient()
        for p in parameters { p.parameter.value = p.parameter.value.requiringGradient() }
        defer { for p in parameters { p.parameter.value = p.parameter.value.detached() } }
        let out = withGradients { run(x, mask) }
        let grads = gradients(of: out, seed: f["output_gradient"], withRespectTo: [x] + parameters.map(\.parameter.value))
        let outputError = relativeError(out.detached(), f["output"])
        #expect(outputError <= 1e-4, "\(name) output: relative error \(outputError)")
        let inputError = relativeError(grads[0], f["grad.input"])
        #expect(inputError <= 1e-4, "\(name) grad.input: relative error \(inputError)")
        let byKey = Dictionary(uniqueKeysWithValues: zip(parameters.map(\.key), grads.dropFirst()))
        for (reference, key) in names {
            let error = relativeError(byKey[key]!, f["grad." + reference])
            #expect(error <= 1e-4, "\(name) grad.\(reference): relative error \(error)")
        }
        #expect(names.count == (f.config["parameters"] as! [String]).count)
    }

    static func buckets(_ f: ReferenceFixture) throws -> LSHBuckets {
        if let factors = f.config["num_buckets"] as? [Int] { return try LSHBuckets(factors: factors) }
        return try LSHBuckets(count: f.int("num_buckets"))
    }

    @Test("LSH attention matches transformers' LSHSelfAttention within 1e-4 (outputs, input and weight gradients)",
          arguments: ["reformer_lsh_one_round", "reformer_lsh_rounds_causal", "reformer_lsh_factors_padding",
                      "reformer_lsh_odd_length", "reformer_lsh_short"])
    func lshParity(_ name: String) throws {
        let f = try ReferenceFixture(named: name)
        let options = try LSHAttentionOptions(hashes: f.int("num_hashes"), buckets: Self.buckets(f), chunkLength: f.int("chunk"),
                                              chunksBefore: f.int("before"), chunksAfter: f.int("after"))
        var generator = RandomGenerator(seed: 0)
        let layer = try LSHSelfAttention(hiddenSize: f.int("hidden"), heads: f.int("heads"), headDimensions: f.int("head_size"),
                                         options: options, generator: &generator)
        if let rotations = f.tensors["rotations"] { layer.setRotations(rotations) }
        try Self.checkParity(name, layer: layer, names: ["query_key.weight": "queryKey.weight", "value.weight": "value.weight"]) {
            layer($0, mask: $1)
        }
    }

    @Test("local attention matches transformers' LocalSelfAttention within 1e-4 (outputs, input and weight gradients)",
          arguments: ["reformer_local", "reformer_local_odd_causal_padding", "reformer_local_short"])
    func localParity(_ name: String) throws {
        let f = try ReferenceFixture(named: name)
        var generator = RandomGenerator(seed: 0)
        let layer = try LocalSelfAttention(hiddenSize: f.int("hidden"), heads: f.int("heads"), headDimensions: f.int("head_size"),
                                           chunkLength: f.int("chunk"), chunksBefore: f.int("before"), chunksAfter: f.int("after"),
                                           generator: &generator)
        try Self.checkParity(name, layer: layer, names: ["query.weight": "query.weight", "key.weight": "key.weight",
                                                        "value.weight": "value.weight"]) { layer($0, mask: $1) }
    }

    @Test("axial position embeddings match transformers' AxialPositionEmbeddings within 1e-4 (outputs and weight gradients)")
    func axialPositionParity() throws {
        let f = try ReferenceFixture(named: "reformer_axial_positions")
        var generator = RandomGenerator(seed: 0)
        let positions = AxialPositions(shape: f.config["axial_pos_shape"] as! [Int], dimensions: f.config["axial_pos_embds_dim"] as! [Int],
                                       generator: &generator)
        try positions.update(parameters: ["weights.0": f["weights.0"], "weights.1": f["weights.1"]])
        let parameters = positions.trainableParameters()
        #expect(parameters.map(\.key) == ["weights.0", "weights.1"])
        for p in parameters { p.parameter.value = p.parameter.value.requiringGradient() }
        defer { for p in parameters { p.parameter.value = p.parameter.value.detached() } }
        let out = withGradients { positions(count: f.int("length")).expandingDimension(at: 0) }
        let grads = gradients(of: out, seed: f["output_gradient"], withRespectTo: parameters.map(\.parameter.value))
        #expect(relativeError(out.detached(), f["output"]) <= 1e-6)
        for (key, gradient) in zip(["weights.0", "weights.1"], grads) {
            #expect(relativeError(gradient, f["grad." + key]) <= 1e-5, "grad.\(key)")
        }
    }

    /// Full attention of shared query-keys in Double: scores q·k̂ with k̂ = k·rsqrt(mean(k²) + 1e-6)/√d,
    /// masked scores replaced by −1e9 and a query's own score by −1e5.
    static func referenceSelfMaskedAttention(queryKeys qk: Tensor, values v: Tensor, mask: AttentionMask) -> [Double] {
        let (batch, heads, n, d) = (qk.shape[0], qk.shape[1], qk.shape[2], qk.shape[3])
        let q = qk.scalars.map(Double.init), vs = v.scalars.map(Double.init)
        var out = [Double](repeating: 0, count: q.count)
        for bh in 0..<(batch * heads) {
            let base = bh * n * d
            let normalized: [[Double]] = (0..<n).map { j in
                let row = Array(q[(base + j * d)..<(base + (j + 1) * d)])
                let factor = 1 / ((row.reduce(0) { $0 + $1 * $1 } / Double(d) + 1e-6).squareRoot() * Double(d).squareRoot())
                return row.map { $0 * factor }
            }
            for i in 0..<n {
                var scores = (0..<n).map { j in (0..<d).reduce(0.0) { $0 + q[base + i * d + $1] * normalized[j][$1] } }
                for j in 0..<n {
                    if mask.causal && j > i { scores[j] = -1e9 }
                    if let padding = mask.keyPadding, !padding[bh / heads][j] { scores[j] = -1e9 }
                    if j == i { scores[j] = -1e5 }
                }
                let peak = scores.max()!
                let weights = scores.map { Foundation.exp($0 - peak) }
                let total = weights.reduce(0, +)
                for j in 0..<n {
                    for e in 0..<d { out[base + i * d + e] += weights[j] / total * vs[base + j * d + e] }
                }
            }
        }
        return out
    }

    @Test("limit: when every chunk sees every chunk (or one chunk covers the sequence) LSH attention is full attention with the self mask",
          arguments: [(12, 4, false, false), (12, 4, true, true), (10, 4, true, false), (7, 8, true, true), (12, 12, false, true)])
    func fullCoverageLimit(_ length: Int, _ chunk: Int, _ causal: Bool, _ padded: Bool) throws {
        let (batch, heads, d) = (2, 2, 4)
        let chunks = (length + chunk - 1) / chunk
        // One round; chunksBefore = chunks − 1 makes the window cover all chunks once, whatever the buckets.
        let options = try LSHAttentionOptions(hashes: 1, buckets: LSHBuckets(factors: [2, 4]), chunkLength: chunk,
                                              chunksBefore: Swift.max(chunks - 1, 0), chunksAfter: 0)
        var random = TestRandom(seed: 51)
        let qk = random.normal([batch, heads, length, d]), v = random.normal([batch, heads, length, d])
        let rotations = random.normal([heads, d, 1, options.buckets.directions])
        let mask = AttentionMask(causal: causal, keyPadding: padded ? randomPadding(batch: batch, keys: length, seed: 52) : nil)
        let actual = withoutGradients { lshAttention(queryKeys: qk, values: v, rotations: rotations, options: options, mask: mask) }
        let expected = Self.referenceSelfMaskedAttention(queryKeys: qk, values: v, mask: mask)
        let error = relativeError(actual.scalars, expected)
        #expect(error <= 1e-5, "relative error \(error)")
    }

    /// Query-keys whose buckets cannot change under a finite-difference step: with rotations
    /// along the axes (round r looks at coordinates 2r, 2r + 1), one of each pair is ±2 and
    /// the other in [−1, 1].
    static func stableQueryKeys(batch: Int, heads: Int, length: Int, depth: Int, hashes: Int, seed: UInt64) -> (Tensor, Tensor) {
        var generator = RandomGenerator(seed: seed)
        var values = (0..<(batch * heads * length * depth)).map { _ in 2 * generator.nextUniform() - 1 }
        for row in 0..<(batch * heads * length) {
            for r in 0..<hashes {
                let pick = generator.nextInt(below: 2)
                values[row * depth + 2 * r + pick] = generator.nextUniform() < 0.5 ? -2 : 2
            }
        }
        var rotations = [Float](repeating: 0, count: heads * depth * hashes * 2)
        for h in 0..<heads {
            for r in 0..<hashes {
                for direction in 0..<2 { rotations[((h * depth + 2 * r + direction) * hashes + r) * 2 + direction] = 1 }
            }
        }
        return (Tensor(values, shape: [batch, heads, length, depth]), Tensor(rotations, shape: [heads, depth, hashes, 2]))
    }

    @Test("LSH attention gradients match finite differences (rounds, neighbours, causal, padding, odd length)",
          arguments: [(12, 2, 1, 0, false, false), (12, 2, 1, 1, true, false), (10, 2, 1, 0, false, true), (11, 1, 2, 0, true, true),
                      (6, 2, 1, 0, true, true)])
    func lshGradients(_ length: Int, _ hashes: Int, _ before: Int, _ after: Int, _ causal: Bool, _ padded: Bool) throws {
        let (batch, heads, depth) = (2, 2, 4)
        let (qk, rotations) = Self.stableQueryKeys(batch: batch, heads: heads, length: length, depth: depth, hashes: hashes, seed: 61)
        let v = randomTensor([batch, heads, length, depth], seed: 62)
        let options = try LSHAttentionOptions(hashes: hashes, buckets: LSHBuckets(count: 4), chunkLength: length == 6 ? 8 : 4,
                                              chunksBefore: before, chunksAfter: after)
        let mask = AttentionMask(causal: causal, keyPadding: padded ? randomPadding(batch: batch, keys: length, seed: 63) : nil)
        expectGradientsMatch([qk, v], "length \(length) hashes \(hashes)") { t in
            lshAttention(queryKeys: t[0], values: t[1], rotations: rotations, options: options, mask: mask)
        }
    }

    @Test("local attention gradients match finite differences", arguments: [(12, 1, 0, false, false), (11, 1, 1, true, true), (5, 1, 0, true, false)])
    func localGradients(_ length: Int, _ before: Int, _ after: Int, _ causal: Bool, _ padded: Bool) {
        var random = TestRandom(seed: 71)
        let shape = [2, 2, length, 4]
        let (q, k, v) = (random.normal(shape), random.normal(shape), random.normal(shape))
        let mask = AttentionMask(causal: causal, keyPadding: padded ? randomPadding(batch: 2, keys: length, seed: 72) : nil)
        expectGradientsMatch([q, k, v], "length \(length)") { t in
            localChunkedAttention(queries: t[0], keys: t[1], values: t[2], chunkLength: 4, chunksBefore: before, chunksAfter: after, mask: mask)
        }
    }

    @Test("the reformer mechanism's input and weight gradients match finite differences")
    func mechanismGradients() throws {
        var generator = RandomGenerator(seed: 81)
        // Three chunks of 4, each seeing the other two: the result does not depend on the buckets,
        // so finite-difference steps cannot move it across a bucket boundary.
        let options = try LSHAttentionOptions(hashes: 1, buckets: LSHBuckets(count: 4), chunkLength: 4, chunksBefore: 2)
        let layer = try Reformer(modelDimensions: 8, heads: 2, options: options, generator: &generator)
        let parameters = layer.trainableParameters()
        #expect(parameters.map(\.key) == ["attention.queryKey.weight", "attention.value.weight", "output.weight"])
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        let mask = AttentionMask(causal: true, keyPadding: randomPadding(batch: 2, keys: 12, seed: 82))
        expectGradientsMatch([randomTensor([2, 12, 8], seed: 83)] + saved) { t in
            for (p, value) in zip(parameters, t.dropFirst()) { p.parameter.value = value }
            return layer(t[0], mask: mask)
        }
    }

    @Test("a sort cache replays the orders it kept: frozen buckets make the whole layer differentiable by finite differences")
    func sortCacheReplays() throws {
        var generator = RandomGenerator(seed: 95)
        // Two rounds, chunks that see only part of the sequence, causal and padded.
        let options = try LSHAttentionOptions(hashes: 2, buckets: LSHBuckets(factors: [2, 4]), chunkLength: 4, chunksBefore: 1, chunksAfter: 1)
        let layer = try Reformer(modelDimensions: 8, heads: 2, options: options, generator: &generator)
        let cache = LSHSortCache()
        layer.attention.sortCache = cache
        let mask = AttentionMask(causal: true, keyPadding: randomPadding(batch: 2, keys: 14, seed: 96))
        let x = randomTensor([2, 14, 8], seed: 97), moved = randomTensor([2, 14, 8], seed: 98)
        let first = withoutGradients { layer(x, mask: mask) }
        #expect(!cache.isEmpty)
        // Other inputs hash differently; with the cache they keep the first call's orders.
        let replayed = withoutGradients { layer(moved, mask: mask) }
        layer.attention.sortCache = nil
        let hashed = withoutGradients { layer(moved, mask: mask) }
        #expect(maxAbsoluteDifference(replayed, hashed) > 1e-3)
        #expect(withoutGradients { layer(x, mask: mask) }.scalars == first.scalars)
        layer.attention.sortCache = cache
        let parameters = layer.trainableParameters()
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        expectGradientsMatch([x] + saved) { t in
            for (p, value) in zip(parameters, t.dropFirst()) { p.parameter.value = value }
            return layer(t[0], mask: mask)
        }
    }

    @Test("a reversible stack of LSH attention and feed-forward layers has the gradients of the plain stack")
    func reversibleStack() throws {
        var generator = RandomGenerator(seed: 85)
        let options = try LSHAttentionOptions(hashes: 2, buckets: LSHBuckets(count: 4), chunkLength: 4)
        let blocks = try (0..<3).map { _ in
            (LayerNorm(dimensions: 8), try Reformer(modelDimensions: 8, heads: 2, options: options, generator: &generator),
             LayerNorm(dimensions: 8), FeedForward(dimensions: 8, hiddenDimensions: 16, generator: &generator))
        }
        let blockParameters = blocks.map { block in
            ([block.0, block.1, block.2, block.3] as [Module]).flatMap { $0.trainableParameters().map(\.parameter) }
        }
        let parameters = blockParameters.flatMap { $0 }
        let x = randomTensor([2, 16, 8], seed: 86)
        let input = concatenate([x, x], alongAxis: 2)
        let seed = randomTensor([2, 16, 16], seed: 87)
        func run(reversible: Bool) -> [Tensor] {
            // The backward pass replays the forward's buckets, as Hugging Face does.
            for block in blocks { block.1.attention.sortCache = LSHSortCache() }
            let leaf = input.requiringGradient()
            for p in parameters { p.value = p.value.requiringGradient() }
            defer { for p in parameters { p.value = p.value.detached() } }
            let layers = zip(blocks, blockParameters).map { block, weights in
                ReversibleLayer(parameters: weights.map(\.value), f: { block.1(block.0($0), mask: .causal) }, g: { block.3(block.2($0)) })
            }
            let out = withGradients { reversible ? reversibleResidualStack(leaf, layers: layers) : Self.plainReversibleStack(leaf, layers) }
            return gradients(of: out, seed: seed, withRespectTo: [leaf] + parameters.map(\.value))
        }
        let (reversible, plain) = (run(reversible: true), run(reversible: false))
        for (index, (a, b)) in zip(reversible, plain).enumerated() {
            #expect(relativeError(a, b) <= 1e-4, "gradient \(index): relative error \(relativeError(a, b))")
        }
    }

    static func plainReversibleStack(_ input: Tensor, _ layers: [ReversibleLayer]) -> Tensor {
        var y1 = input.sliced(alongAxis: 2, 0..<8), y2 = input.sliced(alongAxis: 2, 8..<16)
        for layer in layers {
            y1 = y1 + layer.f(y2)
            y2 = y2 + layer.g(y1)
        }
        return concatenate([y1, y2], alongAxis: 2)
    }

    @Test("Hugging Face's default buckets: 2·n/chunk rounded down to a power of two, factorized when large")
    func defaultBuckets() {
        #expect(LSHBuckets.huggingFaceDefault(length: 4096, chunkLength: 64, maximumPositions: 4096).factors == [128])
        #expect(LSHBuckets.huggingFaceDefault(length: 65536, chunkLength: 64, maximumPositions: 65536).factors == [32, 64])
        #expect(LSHBuckets.huggingFaceDefault(length: 100, chunkLength: 64, maximumPositions: 4096).factors == [2])
        #expect(LSHBuckets.huggingFaceDefault(length: 1000, chunkLength: 8, maximumPositions: 1000).factors == [8, 16])
    }

    @Test("rotations are reproducible from hash_seed; different seeds hash differently")
    func reproducibleRotations() throws {
        func layer(seed: Int, generator: inout RandomGenerator) throws -> Reformer {
            try #require(try attentionLayer(#"{"type": "reformer", "hashes": 2, "chunk_length": 8, "hash_seed": \#(seed)}"#, modelDimensions: 16,
                                            maximumLength: 64, generator: &generator) as? Reformer)
        }
        var first = RandomGenerator(seed: 1), second = RandomGenerator(seed: 2)
        let a = try layer(seed: 7, generator: &first)
        let b = try layer(seed: 7, generator: &second)
        #expect(a.attention.rotations.scalars == b.attention.rotations.scalars)
        #expect(a.attention.options.buckets.factors == [16])
        let c = try layer(seed: 8, generator: &first)
        #expect(a.attention.rotations.scalars != c.attention.rotations.scalars)
        // Same weights and rotations: the same outputs on every call.
        let x = randomTensor([1, 64, 16], seed: 91)
        let (y1, y2) = withoutGradients { (a(x, mask: .causal), a(x, mask: .causal)) }
        #expect(y1.scalars == y2.scalars)
    }

    @Test("bad options throw an error naming the option",
          arguments: [([3], 64, 1, 8, "buckets"), ([4, 5], 64, 1, 8, "buckets"), ([], 64, 1, 8, "buckets"),
                      ([128], 64, 1, 8, "buckets"), ([4], 64, 0, 8, "hashes"), ([4], 64, 1, 0, "chunk_length")])
    func invalidConfiguration(_ buckets: [Int], _ maximumLength: Int, _ hashes: Int, _ chunk: Int, _ field: String) {
        let json = #"{"type": "reformer", "buckets": \#(buckets), "hashes": \#(hashes), "chunk_length": \#(chunk)}"#
        var generator = RandomGenerator(seed: 0)
        #expect {
            _ = try attentionLayer(json, modelDimensions: 16, maximumLength: maximumLength, generator: &generator)
        } throws: { error in
            (error as? AttentionConfigurationError)?.field == field
        }
    }
}
