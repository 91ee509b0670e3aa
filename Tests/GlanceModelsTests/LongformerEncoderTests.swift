import Foundation
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// The Longformer encoder against a random Hugging Face transformers 5.24.0 `LongformerModel`
/// checkpoint (tools/reference/make_longformer_model_fixture.py), and its errors.
@Suite struct LongformerEncoderTests {
    static var fixtures: URL { ReferenceFixtures.folder }

    static var checkpoint: URL { fixtures.appendingPathComponent("longformer_model") }

    static func cases() throws -> [String: Tensor] { try ReferenceFixtures.tensors("longformer_model_cases") }

    static func rows(_ t: Tensor) -> [[Int]] { ReferenceFixtures.rows(t) }

    @Test("last_hidden_state matches transformers 5.24.0 LongformerModel within 1e-4", arguments: ["local", "global", "padded", "long"])
    func parity(_ name: String) throws {
        let encoder = try LongformerEncoder.load(folder: Self.checkpoint)
        #expect(encoder.configuration.layers == 2 && encoder.configuration.attentionWindow(layer: 1) == 8)
        let cases = try Self.cases()
        let ids = Self.rows(cases["\(name).input_ids"]!)
        let mask = Self.rows(cases["\(name).attention_mask"]!).map { $0.map { $0 == 1 } }
        let global = Self.rows(cases["\(name).global_attention_mask"]!).map { $0.map { $0 == 1 } }
        let hidden = try withoutGradients { try encoder(inputIDs: ids, attentionMask: mask, globalAttention: global) }
        let expected = cases["\(name).last_hidden_state"]!
        let error = relativeError(hidden, expected)
        #expect(error <= 1e-4, "\(name): relative error \(error), max difference \(maxAbsoluteDifference(hidden, expected))")
    }

    @Test("RoBERTa position ids: padding keeps pad_token_id, the others count from pad_token_id + 1")
    func positionIDs() {
        #expect(LongformerEmbeddings.positionIDs([0, 5, 1, 7, 1], padTokenID: 1) == [2, 3, 1, 4, 1])
        #expect(LongformerEmbeddings.positionIDs([3, 3], padTokenID: 0) == [1, 2])
    }

    @Test("checkpoint keys map to the encoder's; a task model's prefix, the pooler and heads are dropped")
    func sanitize() throws {
        let t = Tensor.zeros([1])
        let mapped = try LongformerEncoder.sanitize([
            "longformer.embeddings.word_embeddings.weight": t, "embeddings.position_ids": t, "pooler.dense.weight": t,
            "lm_head.bias": t, "encoder.layer.3.attention.self.key_global.bias": t, "encoder.layer.0.attention.output.LayerNorm.weight": t,
            "encoder.layer.1.output.dense.weight": t, "encoder.layer.1.intermediate.dense.bias": t, "encoder.layer.2.attention.output.dense.bias": t,
        ], layers: 4)
        #expect(Set(mapped.keys) == ["embeddings.words.weight", "layers.3.attention.keyGlobal.bias", "layers.0.attentionNorm.weight",
                                     "layers.1.output.weight", "layers.1.intermediate.bias", "layers.2.attention.output.bias"])
    }

    /// A copy of the fixture checkpoint whose config.json is changed by `edit`.
    static func editedCheckpoint(_ edit: (inout [String: Any]) -> Void) throws -> URL {
        try ReferenceFixtures.editedCopy(of: checkpoint, edit)
    }

    @Test("a checkpoint of another model or with a bad config is refused, naming the field", arguments: [
        ("model_type", "roberta"), ("attention_window", "7"), ("attention_window", "[4, 8, 8]"), ("hidden_act", "\"gelu_new\""),
        ("num_attention_heads", "5"),
    ])
    func badConfig(_ field: String, _ value: String) throws {
        let folder = try Self.editedCheckpoint { config in
            config[field] = try! JSONSerialization.jsonObject(with: Data((field == "model_type" ? "\"\(value)\"" : value).utf8), options: .fragmentsAllowed)
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try LongformerEncoder.load(folder: folder)
        } throws: { error in
            guard case let .invalid(_, named, _) = error as? PretrainedCheckpointError else { return false }
            return named == (field == "num_attention_heads" ? "hidden_size" : field) && "\(error)".contains(named)
        }
    }

    @Test("a folder without model.safetensors, or with other weights, is refused")
    func missingOrWrongWeights() throws {
        let folder = try Self.editedCheckpoint { $0["hidden_size"] = 48 }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect { _ = try LongformerEncoder.load(folder: folder) } throws: { "\($0)".contains("hidden") || "\($0)".contains("shape") }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        #expect { _ = try LongformerEncoder.load(folder: folder) } throws: { "\($0)".contains("model.safetensors") }
    }

    @Test("inputs that do not fit the model are refused, naming the input")
    func badInputs() throws {
        let encoder = try LongformerEncoder.load(folder: Self.checkpoint)
        for (ids, mask, name) in [([[0, 100, 2]], nil, "input_ids"), ([[0, -1]], nil, "input_ids"),
                                  ([Array(repeating: 5, count: 43)], nil, "input_ids"), ([[0, 5], [0]], nil, "input_ids"),
                                  ([[0, 5, 2]], [[true, false]], "attention_mask")] as [([[Int]], [[Bool]]?, String)] {
            #expect { _ = try encoder(inputIDs: ids, attentionMask: mask) } throws: { ($0 as? ModelInputError)?.input == name }
        }
    }
}
