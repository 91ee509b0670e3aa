import Foundation
import GlanceAttention
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// The Conformer-CTC model against a random Hugging Face transformers 5.24.0 `ParakeetForCTC`
/// checkpoint (tools/reference/make_parakeet_fixtures.py): encoder outputs and logits on a
/// padded batch, one block's output and gradients, the key mapping and the loader's errors.
@Suite struct ParakeetCheckpointTests {
    static var checkpoint: URL { ReferenceFixtures.folder.appendingPathComponent("parakeet_ctc") }

    static func cases() throws -> [String: Tensor] { try ReferenceFixtures.tensors("parakeet_ctc_cases") }

    static let lengths = [64, 45]

    /// `t` [batch, time, width] with each entry's frames from `lengths[b]` on zeroed.
    static func validOnly(_ t: Tensor, _ lengths: [Int]) -> Tensor { t * frameMask(lengths, time: t.shape[1]) }

    @Test("encoder output and logits match transformers 5.24.0 ParakeetForCTC within 1e-4 on the real frames")
    func parity() throws {
        let model = try ParakeetCheckpoint.load(folder: Self.checkpoint)
        let cases = try Self.cases()
        let (hidden, reduced) = withoutGradients { model.encoder(cases["input_features"]!, lengths: Self.lengths) }
        #expect(reduced == cases["output_lengths"]!.scalars.map { Int($0) })
        let expectedHidden = Self.validOnly(cases["last_hidden_state"]!, reduced)
        let hiddenError = relativeError(hidden, expectedHidden)
        #expect(hiddenError <= 1e-4, "last_hidden_state: relative error \(hiddenError), max difference \(maxAbsoluteDifference(hidden, expectedHidden))")
        let logits = withoutGradients { model.logits(cases["input_features"]!, lengths: Self.lengths).logits }
        let logitsError = relativeError(Self.validOnly(logits, reduced), Self.validOnly(cases["logits"]!, reduced))
        #expect(logitsError <= 1e-4, "logits: relative error \(logitsError)")
        #expect(model.blank == 10 && model.head.vocabulary == 11)
    }

    @Test("one block's output and the gradients of its input and every weight match transformers within 1e-4")
    func blockGradients() throws {
        let model = try ParakeetCheckpoint.load(folder: Self.checkpoint)
        let block = model.encoder.blocks[0]
        let cases = try Self.cases()
        let lengths = cases["output_lengths"]!.scalars.map { Int($0) }
        let input = cases["block.input"]!, time = input.shape[1]
        let context = AttentionContext(mask: AttentionMask(keyPadding: lengths.map { n in (0..<time).map { $0 < n } }),
                                       relativePositions: encoderRelativeEncodings(length: time, dimensions: 32))
        let validFrames = frameMask(lengths, time: time)
        let leaf = input.requiringGradient()
        var output = Tensor(scalar: 0)
        let (_, gradients) = valueAndGradient(model: block) { block in
            output = block.forward(leaf, context: context, validFrames: validFrames).output
            return (output * cases["block.projection"]!).sum()
        }
        let checks: [(String, Tensor, Tensor)] = [
            ("output", Self.validOnly(output.detached(), lengths), Self.validOnly(cases["block.output"]!, lengths)),
            ("grad.input", leaf.takeGradient()!, cases["block.grad.input"]!),
        ] + cases.keys.filter { $0.hasPrefix("block.grad.") && $0 != "block.grad.input" }.sorted().map { key in
            let name = String(key.dropFirst("block.grad.".count))
            let glance = String(ParakeetCheckpoint.glanceKey(for: "encoder.layers.0." + name)!.dropFirst("encoder.blocks.0.".count))
            let expected = cases[key]!
            return ("grad.\(name)", gradients[glance]!, expected.reshaped(to: gradients[glance]!.shape))
        }
        #expect(checks.count == 2 + 37)
        for (label, actual, expected) in checks {
            // The key bias's gradient is zero in exact arithmetic (a constant per query row, which
            // the softmax removes): both sides are rounding noise, compared absolutely.
            let vanishing = expected.scalars.allSatisfy { Swift.abs($0) < 1e-6 }
            let error = vanishing ? Double(maxAbsoluteDifference(actual, expected)) : relativeError(actual, expected)
            #expect(error <= 1e-4, "\(label): \(vanishing ? "absolute" : "relative") error \(error)")
        }
    }

    @Test("every Glance parameter has a Hugging Face key that maps back to it")
    func keyMapping() throws {
        let model = try ParakeetCheckpoint.load(folder: Self.checkpoint)
        for (key, _) in model.namedParameters() {
            #expect(ParakeetCheckpoint.glanceKey(for: ParakeetCheckpoint.huggingFaceKey(for: key)) == key, "\(key)")
        }
        #expect(ParakeetCheckpoint.huggingFaceKey(for: "encoder.subsampling.convolutions.4.weight") == "encoder.subsampling.layers.6.weight")
        #expect(ParakeetCheckpoint.glanceKey(for: "encoder.subsampling.layers.4.weight") == nil, "layer 4 is a ReLU")
    }

    @Test("unknown, missing and misshapen weights are refused naming the Hugging Face key")
    func weightErrors() throws {
        let model = try ParakeetCheckpoint.load(folder: Self.checkpoint)
        let tensors = try SafeTensors.read(from: Self.checkpoint.appendingPathComponent("model.safetensors"),
                                           skipping: ParakeetCheckpoint.isBatchCounter).tensors
        func message(_ edit: (inout [String: Tensor]) -> Void) -> String {
            var edited = tensors
            edit(&edited)
            do { _ = try ParakeetCheckpoint.glanceParameters(edited, of: model, path: "model.safetensors"); return "" } catch { return "\(error)" }
        }
        #expect(message { $0["encoder.layers.0.extra.weight"] = .zeros([2]) }.contains("encoder.layers.0.extra.weight"))
        #expect(message { $0["encoder.layers.1.self_attn.bias_v"] = nil }.contains("lacks 1 weight(s) of the model: encoder.layers.1.self_attn.bias_v"))
        #expect(message { $0["ctc_head.weight"] = .zeros([11, 32]) }.contains("'ctc_head.weight' has shape [11, 32], the model needs [11, 32, 1]"))
        #expect(message { _ in }.isEmpty)
    }

    @Test("a config that Glance cannot build is refused naming the field", arguments: [
        ("model_type", "\"parakeet_tdt\"", "model_type"), ("pad_token_id", "11", "pad_token_id"),
    ])
    func badTopLevelConfig(_ field: String, _ value: String, _ named: String) throws {
        let folder = try ReferenceFixtures.editedCopy(of: Self.checkpoint) { $0[field] = try! JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed) }
        defer { remove(folder) }
        #expect { _ = try ParakeetCheckpoint.load(folder: folder) } throws: { "\($0)".contains("'\(named)'") }
    }

    @Test("an encoder_config that Glance cannot build is refused naming the field", arguments: [
        ("hidden_act", "\"relu\""), ("subsampling_conv_kernel_size", "5"), ("num_mel_bins", "20"), ("conv_kernel_size", "4"),
        ("num_attention_heads", "5"), ("attention_bias", "false"),
    ])
    func badEncoderConfig(_ field: String, _ value: String) throws {
        let folder = try ReferenceFixtures.editedCopy(of: Self.checkpoint) { config in
            var encoder = config["encoder_config"] as! [String: Any]
            encoder[field] = try! JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
            config["encoder_config"] = encoder
        }
        defer { remove(folder) }
        #expect { _ = try ParakeetCheckpoint.load(folder: folder) } throws: { "\($0)".contains("'encoder_config.\(field)'") }
    }
}
