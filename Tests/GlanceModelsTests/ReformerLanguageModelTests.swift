import Foundation
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// The Reformer language model against a random Hugging Face transformers 5.24.0
/// `ReformerModelWithLMHead` checkpoint (tools/reference/make_reformer_model_fixture.py), its
/// configuration, loading and input errors, and generation.
@Suite struct ReformerLanguageModelTests {
    static var fixtures: URL { ReferenceFixtures.folder }

    static var checkpoint: URL { fixtures.appendingPathComponent("reformer_model") }

    static func cases() throws -> [String: Tensor] { try ReferenceFixtures.tensors("reformer_model_cases") }

    static func rows(_ t: Tensor) -> [[Int]] { ReferenceFixtures.rows(t) }

    /// The rotations a case's Hugging Face forward drew, under the keys `setRotations` takes.
    static func rotations(_ cases: [String: Tensor], _ name: String) -> [String: Tensor] {
        let prefix = "\(name).rotations."
        return Dictionary(uniqueKeysWithValues: cases.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
    }

    @Test("last_hidden_state and logits match transformers 5.24.0 ReformerModelWithLMHead within 1e-4, with its rotations",
          arguments: ["aligned", "odd", "padded_batch", "short"])
    func parity(_ name: String) throws {
        let cases = try Self.cases()
        let ids = Self.rows(cases["\(name).input_ids"]!)
        let mask = Self.rows(cases["\(name).attention_mask"]!).map { $0.map { $0 == 1 } }
        let model = try ReformerLanguageModel.load(folder: Self.checkpoint, bucketLength: ids[0].count)
        #expect(model.layerKinds == [.local, .lsh, .local, .lsh] && model.buckets.factors == [2, 4])
        let rotations = Self.rotations(cases, name)
        if !rotations.isEmpty { try model.setRotations(rotations) }
        let output = try withoutGradients { try model(inputIDs: ids, attentionMask: mask) }
        for (key, actual) in [("last_hidden_state", output.lastHiddenState), ("logits", output.logits)] {
            let expected = cases["\(name).\(key)"]!
            let error = relativeError(actual, expected)
            #expect(error <= 1e-4, "\(name) \(key): relative error \(error), max difference \(maxAbsoluteDifference(actual, expected))")
        }
    }

    @Test("an all-ones attention mask changes nothing; padding a row changes its real positions not at all")
    func maskEquivalence() throws {
        let cases = try Self.cases()
        let model = try ReformerLanguageModel.load(folder: Self.checkpoint)
        try model.setRotations(Self.rotations(cases, "aligned"))
        let ids = Self.rows(cases["aligned.input_ids"]!)
        let (plain, masked) = try withoutGradients {
            (try model(inputIDs: ids).logits, try model(inputIDs: ids, attentionMask: [Array(repeating: true, count: ids[0].count)]).logits)
        }
        #expect(plain.scalars == masked.scalars)
    }

    @Test("HF keys map to the model's parameters one to one")
    func keys() throws {
        let model = try ReformerLanguageModel.load(folder: Self.checkpoint)
        #expect(ReformerLanguageModel.huggingFaceKey(for: "blocks.1.attention.attention.queryKey.weight")
                == "reformer.encoder.layers.1.attention.self_attention.query_key.weight")
        #expect(ReformerLanguageModel.huggingFaceKey(for: "blocks.0.attention.output.weight") == "reformer.encoder.layers.0.attention.output.dense.weight")
        #expect(ReformerLanguageModel.huggingFaceKey(for: "blocks.3.feedForward.input.bias") == "reformer.encoder.layers.3.feed_forward.dense.dense.bias")
        #expect(ReformerLanguageModel.huggingFaceKey(for: "axialPositions.weights.1") == "reformer.embeddings.position_embeddings.weights.1")
        #expect(ReformerLanguageModel.huggingFaceKey(for: "head.bias") == "lm_head.decoder.bias")
        let stored = try SafeTensors.read(from: Self.checkpoint.appendingPathComponent("model.safetensors")).tensors
        let mapped = Set(model.namedParameters().map { ReformerLanguageModel.huggingFaceKey(for: $0.key) })
        #expect(mapped == Set(stored.keys).subtracting(["lm_head.bias"]))
    }

    // MARK: - Configuration

    @Test("config.json: num_buckets as an integer, a list or null; defaults are transformers 5.24.0's")
    func configuration() throws {
        let decoder = JSONDecoder()
        let listed = try decoder.decode(ReformerModelConfiguration.self, from: Data(#"{"model_type": "reformer", "num_buckets": [4, 8]}"#.utf8))
        #expect(listed.buckets == [4, 8] && listed.attentionLayers.count == 6 && listed.hiddenSize == 256 && listed.layerNormEpsilon == 1e-12)
        let single = try decoder.decode(ReformerModelConfiguration.self, from: Data(#"{"model_type": "reformer", "num_buckets": 32, "hash_seed": 5}"#.utf8))
        #expect(single.buckets == [32] && single.hashSeed == 5)
        let automatic = try decoder.decode(ReformerModelConfiguration.self, from: Data(#"{"model_type": "reformer", "num_buckets": null}"#.utf8))
        #expect(automatic.buckets == nil)
        // Hugging Face's choice on a first forward of 4,096 positions with chunks of 64: 2·4096/64 = 128.
        #expect(try automatic.lshBuckets(forLength: 4096).factors == [128])
        #expect(automatic.chunkMultiple == 64 && automatic.paddedLength(65) == 128 && automatic.paddedLength(64) == 64 && automatic.paddedLength(10) == 10)
        var mixed = ReformerModelConfiguration()
        (mixed.lshChunkLength, mixed.localChunkLength) = (8, 12)
        #expect(mixed.chunkMultiple == 24 && mixed.paddedLength(9) == 24 && mixed.paddedLength(8) == 8)
    }

    @Test("the model picks null num_buckets from the padded input length, as Hugging Face's first forward does")
    func automaticBuckets() throws {
        let folder = try Self.editedCheckpoint { $0["num_buckets"] = NSNull() }
        defer { try? FileManager.default.removeItem(at: folder) }
        // Chunks of 8, 24 tokens: 2·24/8 = 6 → 4 buckets; 32 tokens → 8.
        #expect(try ReformerLanguageModel.load(folder: folder, bucketLength: 21).buckets.factors == [4])
        #expect(try ReformerLanguageModel.load(folder: folder, bucketLength: 32).buckets.factors == [8])
    }

    /// A copy of the fixture checkpoint whose config.json is changed by `edit`.
    static func editedCheckpoint(_ edit: (inout [String: Any]) -> Void) throws -> URL {
        try ReferenceFixtures.editedCopy(of: checkpoint, edit)
    }

    @Test("a bad config is refused with an error naming the field", arguments: [
        ("attn_layers", #"["local", "lsh", "foo", "lsh"]"#, "attn_layers[2]", "unknown attention layer type 'foo' (expected \"lsh\" or \"local\")"),
        ("attn_layers", "[]", "attn_layers", "at least one layer"),
        ("num_buckets", "3", "num_buckets", "even"),
        ("num_buckets", "[2, 3]", "num_buckets", "even"),
        ("num_buckets", "[]", "num_buckets", "factor"),
        ("num_buckets", "64", "num_buckets", "max_position_embeddings"),
        ("num_buckets", "\"many\"", "num_buckets", "even integer"),
        ("lsh_attn_chunk_length", "0", "lsh_attn_chunk_length", "at least 1"),
        ("local_attn_chunk_length", "-4", "local_attn_chunk_length", "at least 1"),
        ("num_hashes", "0", "num_hashes", "at least 1"),
        ("lsh_num_chunks_after", "1", "lsh_num_chunks_after", "is_decoder"),
        ("axial_pos_embds_dim", "[6, 11]", "axial_pos_embds_dim", "hidden_size"),
        ("axial_pos_shape", "[9223372036854775807, 8]", "axial_pos_shape", "2^31"),
        ("hidden_act", "\"gelu_new\"", "hidden_act", "gelu_new"),
        ("model_type", "\"longformer\"", "model_type", "not 'reformer'"),
        ("hash_seed", "-1", "hash_seed", "non-negative"),
    ])
    func badConfig(_ field: String, _ value: String, _ named: String, _ says: String) throws {
        let folder = try Self.editedCheckpoint { config in
            config[field] = try! JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try ReformerLanguageModel.load(folder: folder)
        } throws: { error in
            guard case let .invalid(_, field, _) = error as? PretrainedCheckpointError else { return false }
            return field == named && "\(error)".contains(named) && "\(error)".contains(says)
        }
    }

    @Test("missing weights are named by their Hugging Face keys; other shapes and extra tensors are refused")
    func badWeights() throws {
        let folder = try Self.editedCheckpoint { _ in }
        defer { try? FileManager.default.removeItem(at: folder) }
        let weights = folder.appendingPathComponent("model.safetensors")
        let stored = try SafeTensors.read(from: weights).tensors
        func expectLoad(_ tensors: [String: Tensor], failsWith check: (PretrainedCheckpointError) -> Bool) throws {
            try SafeTensors.write(tensors, to: weights)
            #expect { _ = try ReformerLanguageModel.load(folder: folder) } throws: { ($0 as? PretrainedCheckpointError).map(check) ?? false }
        }
        let lshQueryKey = "reformer.encoder.layers.1.attention.self_attention.query_key.weight"
        var tensors = stored
        tensors[lshQueryKey] = nil
        tensors["lm_head.decoder.weight"] = nil
        try expectLoad(tensors) { error in
            guard case let .missingWeights(_, keys) = error else { return false }
            return keys == ["lm_head.decoder.weight", lshQueryKey] && "\(error)".contains(lshQueryKey)
        }
        tensors = stored
        tensors["reformer.encoder.layer_norm.weight"] = .zeros([16])
        try expectLoad(tensors) { error in
            guard case let .mismatchedWeight(_, key, expected, found) = error else { return false }
            return key == "reformer.encoder.layer_norm.weight" && expected == [32] && found == [16]
        }
        tensors = stored
        tensors["classifier.dense.weight"] = .zeros([2, 2])
        try expectLoad(tensors) { error in
            guard case let .unexpectedWeights(_, keys) = error else { return false }
            return keys == ["classifier.dense.weight"]
        }
        // A checkpoint that keeps the LM head's bias only as lm_head.bias (as older transformers shared it).
        tensors = stored
        tensors["lm_head.bias"] = stored["lm_head.decoder.bias"]
        tensors["lm_head.decoder.bias"] = nil
        try SafeTensors.write(tensors, to: weights)
        #expect(try ReformerLanguageModel.load(folder: folder).head.bias!.value.scalars == stored["lm_head.decoder.bias"]!.scalars)
    }

    @Test("a folder with only pytorch_model.bin, or without weights, is refused with a hint")
    func missingWeightsFile() throws {
        let folder = try Self.editedCheckpoint { _ in }
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.moveItem(at: folder.appendingPathComponent("model.safetensors"), to: folder.appendingPathComponent("pytorch_model.bin"))
        #expect { _ = try ReformerLanguageModel.load(folder: folder) } throws: { "\($0)".contains("pytorch_model.bin") && "\($0)".contains("safe_serialization") }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("pytorch_model.bin"))
        #expect { _ = try ReformerLanguageModel.load(folder: folder) } throws: { "\($0)".contains("model.safetensors") }
    }

    @Test("config.json's model_type picks the model; another one is named in the error")
    func modelType() throws {
        #expect(try PretrainedModelType.of(folder: Self.checkpoint) == .reformer)
        #expect(try PretrainedModelType.of(folder: Self.fixtures.appendingPathComponent("longformer_model")) == .longformer)
        let folder = try Self.editedCheckpoint { $0["model_type"] = "bert" }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect { _ = try PretrainedModelType.of(folder: folder) } throws: { "\($0)".contains("bert") && "\($0)".contains("reformer") }
    }

    // MARK: - Inputs

    @Test("rotations of the wrong layer, shape or number are refused, naming the key")
    func badRotations() throws {
        let model = try ReformerLanguageModel.load(folder: Self.checkpoint)
        let good = Tensor.zeros([2, 8, 2, 3])
        for (rotations, needle) in [(["layers.1": good], "layers.3"), (["layers.1": good, "layers.3": good, "layers.0": good], "layers.0"),
                                    (["layers.1": good, "layers.3": .zeros([2, 8, 2, 4])], "[2, 8, 2, 3]")] as [([String: Tensor], String)] {
            #expect { try model.setRotations(rotations) } throws: { ($0 as? ModelInputError)?.input == "rotations" && "\($0)".contains(needle) }
        }
    }

    @Test("inputs that do not fit the model are refused, naming the input")
    func badInputs() throws {
        let model = try ReformerLanguageModel.load(folder: Self.checkpoint)
        #expect(model.configuration.contextLength == 32)
        for (ids, mask, name) in [([[2, 258]], nil, "input_ids"), ([[-1, 5]], nil, "input_ids"), ([Array(repeating: 5, count: 33)], nil, "input_ids"),
                                  ([[3, 5], [3]], nil, "input_ids"), ([[3, 5, 7]], [[true, false]], "attention_mask")] as [([[Int]], [[Bool]]?, String)] {
            #expect { _ = try model(inputIDs: ids, attentionMask: mask) } throws: { ($0 as? ModelInputError)?.input == name }
        }
        #expect(try withoutGradients { try model(inputIDs: [Array(repeating: 5, count: 32)]) }.logits.shape == [1, 32, 258])
    }

    @Test("generation: greedy is deterministic, samples stay among the candidate ids, the window slides past the context")
    func generation() throws {
        let model = try ReformerLanguageModel.load(folder: Self.checkpoint)
        var first = RandomGenerator(seed: 3), second = RandomGenerator(seed: 4)
        let prompt = Array("Hello".utf8).map { Int($0) + 2 }
        let greedy = try model.generate(prompt: prompt, count: 30, temperature: 0, topK: nil, candidates: 2..<258, generator: &first)
        let again = try model.generate(prompt: prompt, count: 30, temperature: 0, topK: nil, candidates: 2..<258, generator: &second)
        #expect(greedy == again && greedy.count == 30)
        let sampled = try model.generate(prompt: prompt, count: 12, temperature: 1, topK: 5, candidates: 100..<110, generator: &first)
        #expect(sampled.count == 12 && sampled.allSatisfy { (100..<110).contains($0) })
        #expect { _ = try model.generate(prompt: [], count: 1, temperature: 0, topK: nil, generator: &first) } throws: { ($0 as? ModelInputError)?.input == "prompt" }
    }
}
