import Foundation
import GlanceAttention
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN
import GlanceTestSupport
import GlanceTraining
import Testing

@Suite struct EncoderDecoderTests {
    /// Lite Transformer's self-attention for the tiny models: 8 channels of full attention, 8 of
    /// dynamic convolution (kernel 4, so that its cache holds 3 frames), DropConnect on.
    static let lsra = #"{"type": "lsra", "convolution": "dynamic", "kernel_size": 4, "weight_dropout": 0.1}"#

    /// A tiny model of `block` normalization with random weights (dropout 0); `lsra` makes both
    /// self-attentions LSRA (Lite Transformer).
    static func tinyModel(block: BlockNormalization = .postLN, tie: EmbeddingTying = .all, lsra: Bool = false,
                          seed: UInt64 = 3) throws -> EncoderDecoderModel {
        var c = TranslationConfiguration()
        (c.vocabularySize, c.maximumLength, c.encoderLayers, c.decoderLayers) = (270, 16, 2, 2)
        (c.modelDimensions, c.heads, c.feedForwardDimensions, c.dropout, c.block, c.tie) = (16, 2, 24, 0, block, tie)
        if lsra {
            c.encoderAttention = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(Self.lsra.utf8))
            c.decoderAttention = c.encoderAttention
        }
        let model = try EncoderDecoderModel(configuration: c, seed: seed)
        // Larger weights than the init, so that the tests see more than near-uniform outputs.
        for (_, parameter) in model.namedParameters() where parameter.value.rank == 2 { parameter.value = parameter.value * 8 }
        model.eval()
        return model
    }

    @Test("logits, loss and every gradient equal PyTorch's nn.Transformer with the same weights",
          arguments: ["seq2seq_post_ln", "seq2seq_pre_ln", "seq2seq_post_ln_untied"])
    func parity(_ name: String) throws {
        let tensors = try ReferenceFixtures.tensors(name)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: ReferenceFixtures.folder.appendingPathComponent("\(name).json"))) as! [String: Any]
        var c = TranslationConfiguration()
        (c.vocabularySize, c.maximumLength) = (json["vocab"] as! Int, json["max_length"] as! Int)
        (c.encoderLayers, c.decoderLayers) = (json["encoder_layers"] as! Int, json["decoder_layers"] as! Int)
        (c.modelDimensions, c.heads, c.feedForwardDimensions) = (json["d_model"] as! Int, json["heads"] as! Int, json["ffn_dim"] as! Int)
        c.block = BlockNormalization(rawValue: json["block"] as! String)!
        c.tie = EmbeddingTying(rawValue: json["tie"] as! String)!
        c.dropout = 0
        let model = try EncoderDecoderModel(configuration: c, seed: 0)
        let parameters = Dictionary(uniqueKeysWithValues: tensors.filter { $0.key.hasPrefix("param.") }.map { (String($0.key.dropFirst(6)), $0.value) })
        try model.update(parameters: parameters)
        let sources = ReferenceFixtures.rows(tensors["sources"]!).map { $0.filter { $0 >= 0 } }
        let targets = ReferenceFixtures.rows(tensors["targets"]!).map { $0.filter { $0 >= 0 } }
        let logits = withoutGradients { model.decode(targets.map { [BytePairEncoding.beginID] + $0 }, source: model.encode(sources)) }
        #expect(logits.shape == tensors["output"]!.shape)
        #expect(relativeError(logits, tensors["output"]!) <= 1e-4, "logits: relative error \(relativeError(logits, tensors["output"]!))")
        let (loss, gradients) = valueAndGradient(model: model) { $0.loss(sources: sources, targets: targets, labelSmoothing: 0.1).loss }
        #expect(isClose(loss.item(), tensors["loss"]!.scalars[0], relativeTolerance: 1e-4), "loss \(loss.item()) vs \(tensors["loss"]!.scalars[0])")
        let expected = tensors.filter { $0.key.hasPrefix("grad.") }
        #expect(Set(expected.keys.map { String($0.dropFirst(5)) }) == Set(gradients.keys))
        for (key, gradient) in expected {
            let mine = try #require(gradients[String(key.dropFirst(5))], "no gradient for \(key)")
            // The key biases' gradients are zero in exact arithmetic (softmax ignores a shift): rounding only.
            let isZero = gradient.scalars.allSatisfy { Swift.abs($0) < 1e-9 }
            #expect(isZero ? maxAbsoluteDifference(mine, gradient) < 1e-6 : relativeError(mine, gradient) <= 1e-4,
                    "\(key): relative error \(relativeError(mine, gradient)), largest difference \(maxAbsoluteDifference(mine, gradient))")
        }
    }

    @Test("decoding one position at a time against the cache equals the full decoder pass, rows reordered too (full and LSRA decoders)",
          arguments: [BlockNormalization.postLN, .preLN], [false, true])
    func incrementalEqualsFull(_ block: BlockNormalization, lsra: Bool) throws {
        let model = try Self.tinyModel(block: block, lsra: lsra)
        let sources = [[10, 20, 30, 40, 50], [60, 70]]
        let inputs = [[1, 100, 101, 102, 103, 104, 105], [1, 200, 201, 202, 203, 204, 205]]
        try withoutGradients {
            let encoded = model.encode(sources)
            let full = model.decode(inputs, source: encoded)
            let state = TranslationDecoderState(model: model, source: encoded)
            let vocabulary = model.vocabularySize
            for step in 0..<3 {
                let logits = state.nextLogits(after: inputs.map { $0[step] })
                let expected = full.sliced(alongAxis: 1, step..<(step + 1)).reshaped(to: [2, vocabulary])
                #expect(relativeError(logits, expected) <= 1e-5, "step \(step): \(relativeError(logits, expected))")
            }
            // Keep row 1 twice and row 0: the cache must follow its rows.
            let order = [1, 1, 0]
            state.reorder(order)
            let reordered = model.decode(order.map { inputs[$0] }, source: model.encode(order.map { sources[$0] }))
            for step in 3..<7 {
                let logits = state.nextLogits(after: order.map { inputs[$0][step] })
                let expected = reordered.sliced(alongAxis: 1, step..<(step + 1)).reshaped(to: [3, vocabulary])
                #expect(relativeError(logits, expected) <= 1e-5, "step \(step) after reordering")
            }
        }
    }

    /// A decoder whose next-token probabilities depend on the prefix only: after nothing x 0.6,
    /// y 0.4; after x: end 0.4, x 0.3, y 0.3; after y: end 0.9, x 0.05, y 0.05; after two
    /// tokens: end 1. With `neverEnds`: x 1 after anything.
    final class TableDecoder: BeamSearchDecoder {
        static let x = 3, y = 4, vocabulary = 5
        var prefixes: [[Int]] = [[]]
        var started = false
        let neverEnds: Bool
        init(neverEnds: Bool = false) { self.neverEnds = neverEnds }

        func probabilities(after prefix: [Int]) -> [Int: Float] {
            if neverEnds { return [Self.x: 1] }
            return switch prefix {
            case []: [Self.x: 0.6, Self.y: 0.4]
            case [Self.x]: [BytePairEncoding.endID: 0.4, Self.x: 0.3, Self.y: 0.3]
            case [Self.y]: [BytePairEncoding.endID: 0.9, Self.x: 0.05, Self.y: 0.05]
            default: [BytePairEncoding.endID: 1]
            }
        }

        func nextLogProbabilities(after tokens: [Int]) -> [Float] {
            if started { prefixes = zip(prefixes, tokens).map { $0 + [$1] } }
            started = true
            return prefixes.flatMap { prefix in
                let table = probabilities(after: prefix)
                return (0..<Self.vocabulary).map { table[$0].map { Foundation.log($0) } ?? -Float.infinity }
            }
        }

        func reorder(_ rows: [Int]) { prefixes = rows.map { prefixes[$0] } }
    }

    @Test("beam search finds the better translation greedy decoding misses; scores follow fairseq's length penalty")
    func handChecked() {
        let greedy = BeamSearch(beamWidth: 1, lengthPenalty: 0, maximumTokens: 5).search(TableDecoder(), vocabulary: TableDecoder.vocabulary)
        #expect(greedy.count == 1 && greedy[0].tokens == [TableDecoder.x])
        #expect(isClose(greedy[0].logProbability, log(0.6 * 0.4), relativeTolerance: 1e-5))
        let beam = BeamSearch(beamWidth: 2, lengthPenalty: 0, maximumTokens: 5).search(TableDecoder(), vocabulary: TableDecoder.vocabulary)
        #expect(beam.map(\.tokens) == [[TableDecoder.y], [TableDecoder.x]])
        #expect(isClose(beam[0].score, log(0.4 * 0.9), relativeTolerance: 1e-5) && isClose(beam[1].score, log(0.24), relativeTolerance: 1e-5))
        // α = 1: log P / (tokens + end marker).
        let normalized = BeamSearch(beamWidth: 2, lengthPenalty: 1, maximumTokens: 5).search(TableDecoder(), vocabulary: TableDecoder.vocabulary)
        #expect(isClose(normalized[0].score, log(0.36) / 2, relativeTolerance: 1e-5))
    }

    @Test("at the maximum length every live hypothesis ends with the end marker's log-probability")
    func maximumLength() {
        let result = BeamSearch(beamWidth: 1, lengthPenalty: 0, maximumTokens: 3).search(TableDecoder(neverEnds: true), vocabulary: TableDecoder.vocabulary)
        #expect(result[0].tokens == [TableDecoder.x, TableDecoder.x, TableDecoder.x])
        #expect(result[0].logProbability == -Float.infinity)
    }

    @Test("greedy search on a model picks the argmax of the full decoder pass at every step")
    func greedyEqualsArgmax() throws {
        let model = try Self.tinyModel(block: .preLN, tie: .decoder)
        let source = [40, 50, 60, 70]
        let translation = withoutGradients { model.translate([source], search: BeamSearch(beamWidth: 1, maximumTokens: 8))[0] }
        #expect(translation.tokens.count <= 8)
        let expected: [Int] = withoutGradients {
            var tokens: [Int] = []
            let encoded = model.encode([source])
            for _ in 0..<8 {
                let logits = model.decode([[BytePairEncoding.beginID] + tokens], source: encoded)
                let last = Array(logits.scalars.suffix(model.vocabularySize))
                let next = last.indices.max { last[$0] < last[$1] }!
                if next == BytePairEncoding.endID { break }
                tokens.append(next)
            }
            return tokens
        }
        #expect(translation.tokens == expected)
        let beam = withoutGradients { model.translate([source], search: BeamSearch(beamWidth: 4, lengthPenalty: 0, maximumTokens: 8))[0] }
        #expect(beam.logProbability >= translation.logProbability - 1e-4, "beam 4 finds a hypothesis at least as likely as greedy")
    }

    @Test("beam search and greedy decoding find the same translations with the decoder cache as by recomputing the decoder",
          arguments: [false, true])
    func cacheEqualsRecomputing(_ lsra: Bool) throws {
        let model = try Self.tinyModel(block: .preLN, lsra: lsra, seed: 7)
        let sources = [[40, 50, 60, 70], [90, 91, 92, 93, 94, 95, 96]]
        for width in [1, 4] {
            let search = BeamSearch(beamWidth: width, lengthPenalty: 1, maximumTokens: 10)
            let cached = withoutGradients { model.translate(sources, search: search) }
            let recomputed = withoutGradients { model.translate(sources, search: search, decoderCache: false) }
            #expect(cached.map(\.tokens) == recomputed.map(\.tokens), "beam \(width)")
            for (a, b) in zip(cached, recomputed) { #expect(isClose(a.logProbability, b.logProbability, relativeTolerance: 1e-4)) }
        }
    }

    @Test("multiply-adds per sentence reproduce Lite Transformer's figures; the shipped lite and vanilla configs match within 5%")
    func multiplyAdds() throws {
        func count(_ json: String) throws -> MultiplyAddCount {
            try #require(try JSONDecoder().decode(TranslationConfiguration.self, from: Data(json.utf8)).multiplyAdds())
        }
        // The paper's mobile Transformer (87M) and Lite Transformer d 200 (90M) and d 496 (527M), 6 + 6 layers, dynamic convolutions.
        let transformer = try count(#"{"encoder_layers": 6, "decoder_layers": 6, "d_model": 128, "heads": 4, "ffn_dim": 512, "vocab_size": 1000}"#)
        #expect(transformer.layers == 86_722_560 && transformer.outputProjection == 30 * 128 * 1000)
        let lite = #"{"type": "lsra", "convolution": "dynamic", "convolution_heads": 4, "attention_heads": 4}"#
        for (d, published) in [(200, 90e6), (496, 527e6)] {
            let c = try count(#"{"d_model": \#(d), "heads": 8, "ffn_dim": \#(d), "encoder_attention": \#(lite), "decoder_attention": \#(lite)}"#)
            #expect(Swift.abs(Double(c.layers) / published - 1) < 0.01, "d \(d): \(c.layers)")
        }
        #expect(try JSONDecoder().decode(TranslationConfiguration.self, from: Data(#"{"encoder_attention": "performer"}"#.utf8)).multiplyAdds() == nil)
        let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("configs")
        let pair = try ["translate-lite.json", "translate-vanilla-matched.json"].map { name in
            try #require(try loadConfiguration(TranslationRunConfiguration.self, from: configs.appendingPathComponent(name)).model.multiplyAdds())
        }
        #expect(Swift.abs(Double(pair[1].layers) / Double(pair[0].layers) - 1) < 0.05, "\(pair[0].layers) vs \(pair[1].layers)")
    }

    @Test("the encoder's self-attention can be another mechanism of the registry; training gradients stay finite",
          arguments: [#""performer""#, #"{"type": "linformer", "k": 8}"#, #"{"type": "longformer", "window": 4}"#])
    func encoderMechanisms(_ attention: String) throws {
        var c = TranslationConfiguration()
        (c.vocabularySize, c.maximumLength, c.encoderLayers, c.decoderLayers) = (270, 16, 1, 1)
        (c.modelDimensions, c.heads, c.feedForwardDimensions) = (16, 2, 24)
        c.encoderAttention = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(attention.utf8))
        let model = try EncoderDecoderModel(configuration: c, seed: 5)
        let (loss, gradients) = valueAndGradient(model: model) {
            $0.loss(sources: [[10, 20, 30, 40, 50], [60, 70]], targets: [[100, 101], [200, 201, 202]], labelSmoothing: 0.1).loss
        }
        #expect(loss.item().isFinite && loss.item() > 0)
        #expect(Set(gradients.keys) == Set(model.trainableParameters().map(\.key)))
        #expect(gradients.values.allSatisfy { $0.scalars.allSatisfy(\.isFinite) })
    }

    @Test("configuration: strict keys, named errors") func configuration() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        struct Wrapper: StrictConfigurationSection {
            var model: TranslationConfiguration
            static let fields: [String: (any StrictConfigurationSection.Type)?] = ["model": TranslationConfiguration.self]
        }
        func load(_ model: String) throws -> TranslationConfiguration {
            let url = folder.appendingPathComponent("c.json")
            try Data(#"{"model": \#(model)}"#.utf8).write(to: url)
            let c = try loadConfiguration(Wrapper.self, from: url).model
            try c.validate()
            return c
        }
        let c = try load(#"{"d_model": 32, "heads": 4, "encoder_attention": {"type": "linformer", "k": 8}, "tie": "decoder", "block": "pre-ln"}"#)
        #expect(c.modelDimensions == 32 && c.tie == .decoder && c.block == .preLN && c.encoderAttention.type == "linformer")
        #expect { try load(#"{"dmodel": 32}"#) } throws: { "\($0)".contains("unknown field 'model.dmodel'") }
        #expect { try load(#"{"tie": "some"}"#) } throws: { "\($0)".contains("model.tie") && "\($0)".contains("none, decoder, all") }
        #expect { try load(#"{"encoder_block": "lsra"}"#) } throws: { "\($0)".contains("model.encoder_block") }
        #expect { try load(#"{"decoder_attention": {"type": "lsra", "kernel": 3}}"#) } throws: { "\($0)".contains("model.decoder_attention") }
        for attention in [#"{"type": "linformer", "k": 8}"#, #""performer""#] {
            var c = try load(#"{"d_model": 16, "heads": 2, "decoder_attention": \#(attention)}"#)
            c.vocabularySize = 300
            #expect(throws: ConfigurationValueError.self, "\(attention)") { try EncoderDecoderModel(configuration: c, seed: 1) }
            do { _ = try EncoderDecoderModel(configuration: c, seed: 1) } catch let error as ConfigurationValueError {
                #expect(error.field == "model.decoder_attention", "\(error)")
            }
        }
        #expect { try load(#"{"vocab_size": 100}"#) } throws: { "\($0)".contains("model.vocab_size") }
        #expect { try load(#"{"d_model": 30, "heads": 4}"#) } throws: { "\($0)".contains("model.d_model") }
    }
}
