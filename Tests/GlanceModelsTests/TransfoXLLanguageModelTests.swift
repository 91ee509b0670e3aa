import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// The Transformer-XL language model against random Hugging Face transformers 4.57.6
/// `TransfoXLLMHeadModel` checkpoints (tools/reference/make_transfo_xl_model_fixture.py) over two
/// segments with memory, from Hugging Face's zero-filled and the authors' empty start; its
/// configuration, loading and input errors.
@Suite struct TransfoXLLanguageModelTests {
    static let variants = ["transfo_xl_model", "transfo_xl_same_length", "transfo_xl_clamp", "transfo_xl_shared", "transfo_xl_div1"]

    static func checkpoint(_ variant: String = "transfo_xl_model") -> URL { ReferenceFixtures.folder.appendingPathComponent(variant) }

    static func cases(_ variant: String) throws -> [String: Tensor] { try ReferenceFixtures.tensors(variant + "_cases") }

    static func segments(_ cases: [String: Tensor]) -> [[[Int]]] {
        [ReferenceFixtures.rows(cases["segment1.input_ids"]!), ReferenceFixtures.rows(cases["segment2.input_ids"]!)]
    }

    static func expectClose(_ actual: Tensor, _ expected: Tensor, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = relativeError(actual, expected)
        #expect(error <= 1e-4, "\(label): relative error \(error), max difference \(maxAbsoluteDifference(actual, expected))",
                sourceLocation: sourceLocation)
    }

    @Test("log-probabilities and memories of two segments match transformers 4.57.6 within 1e-4, from either start",
          arguments: variants, TransfoXLMemoryStart.allCases)
    func parity(_ variant: String, _ start: TransfoXLMemoryStart) throws {
        let cases = try Self.cases(variant)
        let model = try TransfoXLLanguageModel.load(folder: Self.checkpoint(variant))
        var memories: [Tensor]? = nil
        for (index, ids) in Self.segments(cases).enumerated() {
            let output = try withoutGradients { try model(inputIDs: ids, memories: memories, start: start) }
            let prefix = "\(start.rawValue).segment\(index + 1)"
            Self.expectClose(output.logProbabilities, cases["\(prefix).log_probs"]!, "\(variant) \(prefix) log_probs")
            #expect(output.memories.count == model.blocks.count)
            for (layer, memory) in output.memories.enumerated() {
                Self.expectClose(memory, cases["\(prefix).mems.\(layer)"]!, "\(variant) \(prefix) mems.\(layer)")
            }
            memories = output.memories
        }
    }

    @Test("Hugging Face's zero-filled start and the authors' empty start give different first segments")
    func startsDiffer() throws {
        let cases = try Self.cases("transfo_xl_model")
        let model = try TransfoXLLanguageModel.load(folder: Self.checkpoint())
        let ids = Self.segments(cases)[0]
        let (zeros, empty) = try withoutGradients {
            (try model(inputIDs: ids, start: .zeros), try model(inputIDs: ids, start: .empty))
        }
        #expect(maxAbsoluteDifference(cases["zeros.segment1.log_probs"]!, cases["empty.segment1.log_probs"]!) > 1e-3)
        #expect(maxAbsoluteDifference(zeros.logProbabilities, empty.logProbabilities) > 1e-3)
        // mem_len 6 after 5 tokens: one zero vector is left from the zero start; the empty start keeps 5.
        #expect(zeros.memories[0].shape == [2, 6, 16] && empty.memories[0].shape == [2, 5, 16])
    }

    @Test("gradients of segment 2's NLL after segment 1's memories match transformers 4.57.6 within 1e-4", arguments: variants)
    func gradients(_ variant: String) throws {
        let cases = try Self.cases(variant)
        let model = try TransfoXLLanguageModel.load(folder: Self.checkpoint(variant))
        let segments = Self.segments(cases)
        let memories = try withoutGradients { try model(inputIDs: segments[0]).memories }
        let (loss, gradients) = valueAndGradient(model: model) { m in try! m.loss(inputIDs: segments[1], memories: memories) }
        Self.expectClose(loss.reshaped(to: [1]), cases["loss"]!, "\(variant) loss")
        let keys = Dictionary(uniqueKeysWithValues: model.namedParameters().map { (TransfoXLLanguageModel.huggingFaceKey(for: $0.key), $0.key) })
        let stored = cases.keys.filter { $0.hasPrefix("grad.") }.sorted()
        #expect(stored.count >= 7)
        for key in stored {
            let huggingFace = String(key.dropFirst("grad.".count))
            guard let own = keys[huggingFace] else { Issue.record("\(variant): no parameter for \(huggingFace)"); continue }
            Self.expectClose(gradients[own]!, cases[key]!, "\(variant) \(key)")
        }
    }

    @Test("Hugging Face keys map to the parameters; tied ones are aliases; the shared u and v sit at the top", arguments: variants)
    func keys(_ variant: String) throws {
        let model = try TransfoXLLanguageModel.load(folder: Self.checkpoint(variant))
        #expect(TransfoXLLanguageModel.huggingFaceKey(for: "blocks.1.attention.queryKeyValue.weight") == "transformer.layers.1.dec_attn.qkv_net.weight")
        #expect(TransfoXLLanguageModel.huggingFaceKey(for: "blocks.0.feedForward.output.bias") == "transformer.layers.0.pos_ff.CoreNet.3.bias")
        #expect(TransfoXLLanguageModel.huggingFaceKey(for: "softmax.projections.2") == "crit.out_projs.2")
        let stored = Set(try SafeTensors.read(from: Self.checkpoint(variant).appendingPathComponent("model.safetensors")).tensors.keys)
        let named = Set(model.namedParameters().map { TransfoXLLanguageModel.huggingFaceKey(for: $0.key) })
        let aliases = Set(model.parameterAliases().keys.map(TransfoXLLanguageModel.huggingFaceKey(for:)))
        #expect(named.isSubset(of: stored))
        #expect(stored.subtracting(named).subtracting(aliases) == ["transformer.pos_emb.inv_freq"])
        #expect((model.contentBias == nil) == model.configuration.untieBiases)
        if let shared = model.contentBias { #expect(model.blocks.allSatisfy { ($0.attention as! RelativeMultiHeadAttention).contentBias === shared }) }
    }

    @Test("config.json: defaults are transformers 4.57.6's; tie_projs follows proj_share_all_but_first; unknown fields are listed")
    func configuration() throws {
        let decoder = JSONDecoder()
        let plain = try decoder.decode(TransfoXLConfiguration.self, from: Data(#"{"model_type": "transfo-xl"}"#.utf8))
        #expect(plain == TransfoXLConfiguration() && plain.clamp == 1000)
        let unshared = try decoder.decode(TransfoXLConfiguration.self, from: Data(#"{"cutoffs": [4], "proj_share_all_but_first": false}"#.utf8))
        #expect(unshared.tieProjections == [false, false])
        let object: [String: Any] = ["model_type": "transfo-xl", "dropout": 0.1, "tgt_len": 128, "mystery": 1]
        #expect(TransfoXLConfiguration.unrecognizedFields(in: object) == ["mystery"])
    }

    @Test("a bad config is refused with an error naming the field", arguments: [
        ("cutoffs", "[20, 10]", "cutoffs", "increase"),
        ("cutoffs", "[10, 40]", "cutoffs", "below vocab_size"),
        ("div_val", "0", "div_val", "at least 1"),
        ("div_val", "8", "div_val", "no width"),
        ("mem_len", "-1", "mem_len", "at least 0"),
        ("clamp_len", "-2", "clamp_len", "at least 0"),
        ("n_head", "0", "n_head", "at least 1"),
        ("d_model", "15", "d_model", "even"),
        ("tie_projs", "[false, true]", "tie_projs", "one entry per cluster"),
        ("attn_type", "1", "attn_type", "only 0"),
        ("sample_softmax", "5", "sample_softmax", "not supported"),
        ("ext_len", "3", "ext_len", "only 0"),
        ("tie_weight", "false", "tie_weight", "tie_word_embeddings"),
        ("model_type", "\"reformer\"", "model_type", "not 'transfo-xl'"),
        ("cutoffs", "\"many\"", "cutoffs", "Array"),
    ])
    func badConfig(_ field: String, _ value: String, _ named: String, _ says: String) throws {
        let folder = try ReferenceFixtures.editedCopy(of: Self.checkpoint()) { config in
            config[field] = try! JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try TransfoXLLanguageModel.load(folder: folder)
        } throws: { error in
            guard case let .invalid(_, field, _) = error as? PretrainedCheckpointError else { return false }
            return field == named && "\(error)".contains(says)
        }
    }

    @Test("same_length needs mem_len ≥ 1")
    func sameLengthWithoutMemory() throws {
        let folder = try ReferenceFixtures.editedCopy(of: Self.checkpoint()) { config in
            config["same_length"] = true
            config["mem_len"] = 0
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect { _ = try TransfoXLLanguageModel.load(folder: folder) } throws: { "\($0)".contains("'mem_len'") && "\($0)".contains("same_length") }
    }

    @Test("missing, unexpected, misshapen weights and differing copies of a tied weight are named by their Hugging Face keys")
    func badWeights() throws {
        let folder = try ReferenceFixtures.editedCopy(of: Self.checkpoint("transfo_xl_shared")) { _ in }
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = folder.appendingPathComponent("model.safetensors")
        let stored = try SafeTensors.read(from: weights).tensors
        func expectLoad(_ tensors: [String: Tensor], failsWith check: (PretrainedCheckpointError) -> Bool) throws {
            try SafeTensors.write(tensors, to: weights)
            #expect { _ = try TransfoXLLanguageModel.load(folder: folder) } throws: { ($0 as? PretrainedCheckpointError).map(check) ?? false }
        }
        var tensors = stored
        tensors["crit.cluster_bias"] = nil
        tensors["transformer.layers.1.pos_ff.CoreNet.0.weight"] = nil
        try expectLoad(tensors) { error in
            guard case let .missingWeights(_, keys) = error else { return false }
            return keys == ["crit.cluster_bias", "transformer.layers.1.pos_ff.CoreNet.0.weight"]
        }
        tensors = stored
        tensors["transformer.layers.0.dec_attn.r_net.weight"] = .zeros([16, 8])
        try expectLoad(tensors) { error in
            guard case let .mismatchedWeight(_, key, expected, found) = error else { return false }
            return key == "transformer.layers.0.dec_attn.r_net.weight" && expected == [16, 16] && found == [16, 8]
        }
        tensors = stored
        tensors["lm_head.weight"] = .zeros([2, 2])
        try expectLoad(tensors) { error in
            guard case let .unexpectedWeights(_, keys) = error else { return false }
            return keys == ["lm_head.weight"]
        }
        tensors = stored
        tensors["transformer.layers.1.dec_attn.r_w_bias"] = stored["transformer.layers.1.dec_attn.r_w_bias"]! + 1
        try expectLoad(tensors) { error in
            guard case let .differingCopies(_, keys) = error else { return false }
            return keys == ["transformer.r_w_bias", "transformer.layers.1.dec_attn.r_w_bias"] && "\(error)".contains("different values")
        }
        // The shared u and v under the model's key only (no per-layer copies) load as well.
        tensors = stored.filter { !($0.key.contains(".dec_attn.r_") && $0.key.hasSuffix("_bias")) }
        try SafeTensors.write(tensors, to: weights)
        let model = try TransfoXLLanguageModel.load(folder: folder)
        #expect(model.contentBias!.value.scalars == stored["transformer.r_w_bias"]!.scalars)
    }

    @Test("config.json's model_type picks the Transformer-XL loader")
    func modelType() throws {
        #expect(try PretrainedModelType.of(folder: Self.checkpoint()) == .transfoXL)
    }

    @Test("token ids outside the vocabulary and memories of the wrong count or shape are refused, naming the input")
    func badInputs() throws {
        let model = try TransfoXLLanguageModel.load(folder: Self.checkpoint())
        let ids = [[1, 2, 3], [4, 5, 6]]
        let good = Tensor.zeros([2, 4, 16])
        let cases: [([[Int]], [Tensor]?, String, String)] = [
            ([[1, 40]], nil, "input_ids", "outside the vocabulary"),
            ([[1, 2], [3]], nil, "input_ids", "same"),
            (ids, [good], "mems", "one memory per layer"),
            (ids, [good, .zeros([2, 3, 16])], "mems", "layer 1"),
            (ids, [.zeros([1, 4, 16]), .zeros([1, 4, 16])], "mems", "[2, M, 16]"),
        ]
        for (rows, memories, input, says) in cases {
            #expect { _ = try model(inputIDs: rows, memories: memories) } throws: { error in
                (error as? ModelInputError)?.input == input && "\(error)".contains(says)
            }
        }
        #expect { _ = try model.loss(inputIDs: [[3]]) } throws: { ($0 as? ModelInputError)?.input == "input_ids" }
    }
}
