import Foundation
import GlanceAttention
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

/// Linformer against lucidrains `linformer` 0.2.3 fixtures, its limit case (k = n, E = F = I
/// is full attention), key padding, finite-difference gradients, layerwise sharing,
/// fidelity and configuration errors.
@Suite struct LinformerTests {
    /// Reference parameter name → Glance key. Under `share_kv` the reference has no `to_v`
    /// (values = keys) and no `proj_v` (F = E): Glance's key-value sharing gets `to_k` in both
    /// its key and value layers, and `to_k`'s gradient is the sum of theirs.
    static let names = ["to_q.weight": "query.weight", "to_k.weight": "key.weight", "to_v.weight": "value.weight",
                        "to_out.weight": "output.weight", "to_out.bias": "output.bias",
                        "proj_k": "projection.key", "proj_v": "projection.value"]

    @Test("outputs and gradients match lucidrains linformer 0.2.3 within 1e-4",
          arguments: ["linformer_headwise", "linformer_shorter", "linformer_share_kv", "linformer_one_kv_head"])
    func parity(_ name: String) throws {
        let f = try ReferenceFixture(named: name)
        let shareKV = f.bool("share_kv")
        var generator = RandomGenerator(seed: 0)
        let layer = try Linformer(modelDimensions: f.int("dim"), heads: f.int("heads"), maximumLength: f.int("seq_len"),
                                  projectedLength: f.int("k"), sharing: shareKV ? .keyValue : .headwise,
                                  oneKeyValueHead: f.bool("one_kv_head"), generator: &generator)
        var values: [String: Tensor] = [:]
        for (reference, key) in Self.names { if let t = f.tensors[reference] { values[key] = t } }
        if shareKV { values["value.weight"] = f.tensors["to_k.weight"]! }
        try layer.update(parameters: values)

        let parameters = layer.trainableParameters()
        let x = f.tensors["input"]!.requiringGradient()
        for p in parameters { p.parameter.value = p.parameter.value.requiringGradient() }
        defer { for p in parameters { p.parameter.value = p.parameter.value.detached() } }
        let out = withGradients { layer(x, mask: .none) }
        let grads = gradients(of: out, seed: f.tensors["output_gradient"]!, withRespectTo: [x] + parameters.map(\.parameter.value))
        let outputError = relativeError(out.detached(), f.tensors["output"]!)
        #expect(outputError <= 1e-4, "\(name) output: relative error \(outputError)")
        let inputError = relativeError(grads[0], f.tensors["grad.input"]!)
        #expect(inputError <= 1e-4, "\(name) grad.input: relative error \(inputError)")

        var glanceGradients = Dictionary(uniqueKeysWithValues: zip(parameters.map(\.key), grads.dropFirst()))
        if shareKV { glanceGradients["key.weight"] = glanceGradients["key.weight"]! + glanceGradients["value.weight"]! }
        var checked = 0
        for (reference, key) in Self.names {
            guard let expected = f.tensors["grad." + reference] else { continue }
            let error = relativeError(glanceGradients[key]!, expected)
            #expect(error <= 1e-4, "\(name) grad.\(reference): relative error \(error)")
            checked += 1
        }
        #expect(checked == (f.config["parameters"] as! [String]).count)
    }

    /// A layer with random output bias; projections from the layer's own init.
    static func makeLayer(modelDimensions: Int = 6, heads: Int = 2, maximumLength: Int = 7, k: Int = 3,
                          sharing: LinformerSharing = .headwise, oneKeyValueHead: Bool = false, seed: UInt64) throws -> Linformer {
        var generator = RandomGenerator(seed: seed)
        let layer = try Linformer(modelDimensions: modelDimensions, heads: heads, maximumLength: maximumLength, projectedLength: k,
                                  sharing: sharing, oneKeyValueHead: oneKeyValueHead, generator: &generator)
        var random = TestRandom(seed: seed &+ 1)
        try layer.update(parameters: ["output.bias": random.normal([modelDimensions], standardDeviation: 0.5)], requireAll: false)
        return layer
    }

    @Test("limit case: k = n and E = F = I is exact full attention", arguments: [1, 2])
    func identityLimit(_ batch: Int) throws {
        let (n, width, heads) = (9, 12, 3)
        let layer = try Self.makeLayer(modelDimensions: width, heads: heads, maximumLength: n, k: n, seed: 11)
        var identity = [Float](repeating: 0, count: n * n)
        for i in 0..<n { identity[i * n + i] = 1 }
        try layer.update(parameters: ["projection.key": Tensor(identity, shape: [n, n]), "projection.value": Tensor(identity, shape: [n, n])],
                         requireAll: false)
        var generator = RandomGenerator(seed: 12)
        let full = try FullAttention(modelDimensions: width, heads: heads, generator: &generator)
        let own = layer.parameterValues()
        try full.update(parameters: [
            "query.weight": own["query.weight"]!, "key.weight": own["key.weight"]!, "value.weight": own["value.weight"]!,
            "output.weight": own["output.weight"]!, "output.bias": own["output.bias"]!,
            "query.bias": .zeros([width]), "key.bias": .zeros([width]), "value.bias": .zeros([width]),
        ])
        let x = randomTensor([batch, n, width], seed: 13)
        let expected = withoutGradients { full(x, mask: .none) }
        let actual = withoutGradients { layer(x, mask: .none) }
        #expect(relativeError(actual, expected) <= 1e-5, "max difference \(maxAbsoluteDifference(actual, expected))")
        // The attention core too, through the fidelity measure: zero error.
        var random = TestRandom(seed: 14)
        let (q, k, v) = (random.normal([batch, heads, n, 4]), random.normal([batch, heads, n, 4]), random.normal([batch, heads, n, 4]))
        #expect(approximationError(of: layer, queries: q, keys: k, values: v) <= 1e-5)
    }

    @Test("padded keys and values have no influence; trailing padding equals truncation")
    func keyPadding() throws {
        let layer = try Self.makeLayer(modelDimensions: 8, heads: 2, maximumLength: 10, k: 4, seed: 21)
        let x = randomTensor([2, 10, 8], seed: 22)
        let padding = [[true, true, false, true, true, true, false, true, true, true],
                       [true, true, true, true, true, true, true, false, false, false]]
        let mask = AttentionMask(keyPadding: padding)
        let base = withoutGradients { layer(x, mask: mask) }
        // Change the input at every padded position: outputs at real positions stay the same.
        var changed = x
        var random = TestRandom(seed: 23)
        let noise = random.normal([8], standardDeviation: 5).scalars
        changed.withUnsafeMutableBufferPointer { buffer in
            for b in 0..<2 { for i in 0..<10 where !padding[b][i] { for c in 0..<8 { buffer[(b * 10 + i) * 8 + c] += noise[c] } } }
        }
        let moved = withoutGradients { layer(changed, mask: mask) }
        for b in 0..<2 {
            for i in 0..<10 where padding[b][i] {
                for c in 0..<8 { #expect(Swift.abs(base[b, i, c] - moved[b, i, c]) <= 1e-5, "b\(b) i\(i) c\(c)") }
            }
        }
        // Without the mask the same change does reach the outputs.
        let unmasked = withoutGradients { (layer(x, mask: .none), layer(changed, mask: .none)) }
        #expect(maxAbsoluteDifference(unmasked.0, unmasked.1) > 1e-2)
        // Trailing padding (entry 1) equals the truncated sequence (E's first 7 rows).
        let truncated = withoutGradients { layer(x.sliced(alongAxis: 0, 1..<2).sliced(alongAxis: 1, 0..<7), mask: .none) }
        let kept = base.sliced(alongAxis: 0, 1..<2).sliced(alongAxis: 1, 0..<7)
        #expect(relativeError(kept, truncated) <= 1e-5)
    }

    @Test("gradients of the input and every parameter match finite differences",
          arguments: [(LinformerSharing.none, false, false), (.headwise, false, true), (.keyValue, false, false), (.headwise, true, true)])
    func gradientCheck(_ sharing: LinformerSharing, _ oneKeyValueHead: Bool, _ padded: Bool) throws {
        let layer = try Self.makeLayer(sharing: sharing, oneKeyValueHead: oneKeyValueHead, seed: 31)
        let parameters = layer.trainableParameters()
        var keys = ["query.weight", "key.weight", "value.weight", "output.weight", "output.bias", "projection.key"]
        if sharing == .none || sharing == .headwise { keys.append("projection.value") }
        #expect(parameters.map(\.key) == keys)
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        // Length 6 < maximum 7: the last row of E and F gets no gradient.
        let x = randomTensor([2, 6, 6], seed: 32)
        let mask = padded ? AttentionMask(keyPadding: [[true, false, true, true, true, true], [true, true, true, true, false, false]]) : .none
        let report = checkGradients(at: [x] + saved) { t in
            for (p, value) in zip(parameters, t.dropFirst()) { p.parameter.value = value }
            return layer(t[0], mask: mask)
        }
        #expect(report.passed, "\(sharing) oneKV \(oneKeyValueHead) padded \(padded)\n\(report)")
    }

    /// Two layers sharing one projection, as a model would hold them: the first layer makes
    /// it, the second is given it.
    final class SharedStack: Module {
        let layers: [Linformer]
        init(generator: inout RandomGenerator) throws {
            let first = try Linformer(modelDimensions: 6, heads: 2, maximumLength: 7, projectedLength: 3, sharing: .layerwise, generator: &generator)
            let second = try Linformer(modelDimensions: 6, heads: 2, maximumLength: 7, projectedLength: 3, sharing: .layerwise,
                                       sharedProjection: first.projection, generator: &generator)
            layers = [first, second]
            super.init()
        }
        func callAsFunction(_ x: Tensor) -> Tensor { layers[1](layers[0](x, mask: .none), mask: .none) }
    }

    @Test("layerwise sharing: every layer holds the one E as its projection, the model lists it once, gradients from every layer")
    func layerwiseSharing() throws {
        var generator = RandomGenerator(seed: 41)
        let stack = try SharedStack(generator: &generator)
        #expect(stack.layers[1].projection === stack.layers[0].projection)
        // Each layer alone lists the projection it uses under its normal name.
        #expect(stack.layers.allSatisfy { $0.trainableParameters().map(\.key).contains("projection.key") })
        #expect(stack.layers[1].projection.value == nil)
        // The model lists it once, under the first layer's key; the second layer's key is an alias.
        let keys = stack.trainableParameters().map(\.key)
        #expect(keys.filter { $0.contains("projection") } == ["layers.0.projection.key"])
        #expect(stack.parameterAliases() == ["layers.1.projection.key": "layers.0.projection.key"])
        #expect(stack.parameterValues().keys.filter { $0.contains("projection") } == ["layers.0.projection.key"])
        let parameters = stack.trainableParameters()
        let saved = parameters.map(\.parameter.value)
        defer { for (p, value) in zip(parameters, saved) { p.parameter.value = value } }
        let report = checkGradients(at: [randomTensor([1, 7, 6], seed: 42)] + saved) { t in
            for (p, value) in zip(parameters, t.dropFirst()) { p.parameter.value = value }
            return stack(t[0])
        }
        #expect(report.passed, "\(report)")
    }

    @Test("fidelity against exact attention improves as k grows")
    func fidelityFallsWithK() throws {
        let errors = try [8, 32, 128].map { k in
            try approximationErrors(seeds: [0, 1, 2], heads: 2, length: 128, headDimensions: 16) { generator in
                try Linformer(modelDimensions: 32, heads: 2, maximumLength: 128, projectedLength: k, generator: &generator)
            }.reduce(0, +)
        }
        #expect(errors[0] > errors[1] && errors[1] > errors[2], "errors \(errors)")
    }

    @Test("bad configurations throw an error naming the field",
          arguments: [(0, 16, LinformerSharing.headwise, false, "linformer_k"), (-3, 16, .headwise, false, "linformer_k"),
                      (17, 16, .headwise, false, "linformer_k"), (4, 0, .headwise, false, "max_length"), (4, 16, .none, true, "linformer_sharing")])
    func invalidConfiguration(_ k: Int, _ maximumLength: Int, _ sharing: LinformerSharing, _ oneKV: Bool, _ field: String) {
        var generator = RandomGenerator(seed: 0)
        #expect {
            _ = try Linformer(modelDimensions: 8, heads: 2, maximumLength: maximumLength, projectedLength: k, sharing: sharing,
                              oneKeyValueHead: oneKV, generator: &generator)
        } throws: { error in
            guard let error = error as? AttentionConfigurationError else { return false }
            return error.field == field && error.description.contains(field)
        }
    }

    @Test("the registry builds 'linformer' and rejects bad options naming the option")
    func registry() throws {
        var generator = RandomGenerator(seed: 0)
        #expect(AttentionRegistry.names.contains("linformer"))
        let layer = try attentionLayer(#"{"type": "linformer", "k": 5, "sharing": "key-value"}"#, generator: &generator)
        let linformer = try #require(layer as? Linformer)
        #expect(linformer.projectedLength == 5 && linformer.sharing == .keyValue && linformer.maximumLength == 32)
        // Default k: min(256, maximum length).
        let defaulted = try attentionLayer(#""linformer""#, generator: &generator)
        #expect((defaulted as? Linformer)?.projectedLength == 32)
        for (json, field) in [(#"{"type": "linformer", "sharing": "diagonal"}"#, "sharing"), (#"{"type": "linformer", "k": 33}"#, "k")] {
            #expect {
                _ = try attentionLayer(json, generator: &generator)
            } throws: { error in (error as? AttentionConfigurationError)?.field == field }
        }
        #expect(throws: AttentionCapabilityError(mechanism: "linformer", capability: "causal attention")) { try layer.check(.causal) }
    }

    @Test("projection along the sequence of a shorter input uses the first rows of E")
    func projectionUsesFirstRows() {
        var random = TestRandom(seed: 51)
        let e = random.normal([5, 2]), x = random.normal([1, 3, 4])
        let y = projectAlongSequence(x, by: e)
        let expected = e.sliced(alongAxis: 0, 0..<3).matmul(x.reshaped(to: [3, 4]), transposeSelf: true)
        #expect(isClose(y.reshaped(to: [2, 4]), expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-6))
    }
}
