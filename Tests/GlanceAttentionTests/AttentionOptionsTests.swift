import Foundation
import GlanceAttention
import GlanceCore
import Testing

/// A layer from the JSON a config gives (`{"type": …, options…}`), through the registry.
func attentionLayer(_ json: String, modelDimensions: Int = 8, heads: Int = 2, maximumLength: Int = 32,
                    required: AttentionCapabilities = .bidirectional, generator: inout RandomGenerator) throws -> any AttentionMechanism {
    let configuration = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(json.utf8))
    let shape = AttentionShape(modelDimensions: modelDimensions, heads: heads, maximumLength: maximumLength)
    return try configuration.make(shape: shape, build: AttentionBuild(required: required), generator: &generator)
}

/// Expects building the layer of `json` to throw an AttentionConfigurationError that names `field`.
func expectOptionError(_ field: String, _ json: String, modelDimensions: Int = 8, heads: Int = 2,
                       sourceLocation: SourceLocation = #_sourceLocation) {
    var generator = RandomGenerator(seed: 0)
    #expect(sourceLocation: sourceLocation) {
        _ = try attentionLayer(json, modelDimensions: modelDimensions, heads: heads, generator: &generator)
    } throws: { error in
        guard let error = error as? AttentionConfigurationError else { return false }
        return error.field == field && error.description.contains(field)
    }
}

/// Decoding, validation and documentation of the mechanisms' options.
@Suite struct AttentionOptionsTests {
    @Test("an option of another mechanism is an error naming the option and the mechanism")
    func foreignOption() {
        #expect { _ = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(#"{"type": "full", "linformer_k": 8}"#.utf8)) } throws: {
            guard let error = $0 as? AttentionConfigurationError else { return false }
            return error.field == "linformer_k" && error.reason == "is not an option of the full attention mechanism (its options: none)"
        }
        #expect { _ = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(#"{"type": "performer", "k": 8}"#.utf8)) } throws: {
            guard let error = $0 as? AttentionConfigurationError else { return false }
            return error.field == "k" && error.reason.contains("performer") && error.reason.contains("features, kernel, orthogonal, redraw_every")
        }
    }

    @Test("an unknown mechanism is an error naming it and the known ones")
    func unknownMechanism() {
        for json in [#""nope""#, #"{"type": "nope"}"#] {
            #expect { _ = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(json.utf8)) } throws: {
                guard let error = $0 as? AttentionConfigurationError else { return false }
                return error.field == "type" && error.reason.contains("'nope'") && error.reason.contains("full, linformer, performer")
            }
        }
    }

    @Test("options round-trip through JSON; a bare name means the defaults", arguments: [
        #"{"type": "full"}"#, #"{"type": "linformer", "k": 16, "sharing": "layerwise"}"#,
        #"{"type": "performer", "features": 32, "kernel": "relu", "orthogonal": false, "redraw_every": 100}"#,
        #"{"type": "logsparse", "qk_kernel": 3, "window": 4, "subsequence": 16}"#,
        #"{"type": "reformer", "hashes": 2, "chunk_length": 8, "chunks_before": 1, "chunks_after": 1, "buckets": [4, 4], "hash_seed": 3}"#,
        #"{"type": "longformer", "window": [4, 8], "dilation": [[1, 1], [1, 2]]}"#,
    ])
    func roundTrip(_ json: String) throws {
        let decoded = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(json.utf8))
        let again = try JSONDecoder().decode(AttentionConfiguration.self, from: JSONEncoder().encode(decoded))
        #expect(again == decoded)
        let bare = try JSONDecoder().decode(AttentionConfiguration.self, from: Data("\"\(decoded.type)\"".utf8))
        let emptyObject = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(#"{"type": "\#(decoded.type)"}"#.utf8))
        #expect(bare == emptyObject && bare.type == decoded.type)
    }

    @Test("each mechanism's options are validated, errors naming the option", arguments: [
        (#"{"type": "linformer", "k": 0}"#, "k"), (#"{"type": "linformer", "k": 33}"#, "k"), (#"{"type": "linformer", "sharing": "diagonal"}"#, "sharing"),
        (#"{"type": "performer", "features": 0}"#, "features"), (#"{"type": "performer", "kernel": "gelu"}"#, "kernel"),
        (#"{"type": "performer", "redraw_every": 0}"#, "redraw_every"),
        (#"{"type": "logsparse", "qk_kernel": 0}"#, "qk_kernel"), (#"{"type": "logsparse", "window": -1}"#, "window"),
        (#"{"type": "logsparse", "subsequence": 0}"#, "subsequence"),
        (#"{"type": "reformer", "buckets": 3}"#, "buckets"), (#"{"type": "reformer", "buckets": [4, 5]}"#, "buckets"),
        (#"{"type": "reformer", "buckets": []}"#, "buckets"), (#"{"type": "reformer", "buckets": 64}"#, "buckets"),
        (#"{"type": "reformer", "buckets": "x"}"#, "buckets"), (#"{"type": "reformer", "hashes": 0}"#, "hashes"),
        (#"{"type": "reformer", "chunk_length": 0}"#, "chunk_length"), (#"{"type": "reformer", "chunks_before": -1}"#, "chunks_before"),
        (#"{"type": "reformer", "chunks_after": -1}"#, "chunks_after"),
        (#"{"type": "longformer", "window": 5}"#, "window"), (#"{"type": "longformer", "window": [4, 4]}"#, "window"),
        (#"{"type": "longformer", "dilation": 0}"#, "dilation"), (#"{"type": "longformer", "dilation": [1, 2, 3]}"#, "dilation"),
    ])
    func invalidOptions(_ json: String, _ option: String) {
        var generator = RandomGenerator(seed: 0)
        #expect { _ = try attentionLayer(json, generator: &generator) } throws: { ($0 as? AttentionConfigurationError)?.field == option }
    }

    @Test("a mechanism's capabilities decide what a model may ask: Linformer is not causal")
    func capabilities() throws {
        var generator = RandomGenerator(seed: 0)
        let linformer = try attentionLayer(#"{"type": "linformer", "k": 8}"#, required: .causal, generator: &generator)
        #expect(throws: AttentionCapabilityError(mechanism: "linformer", capability: "causal attention")) { try linformer.check(.causal) }
        let longformer = try attentionLayer(#"{"type": "longformer", "window": 4}"#, required: .causal, generator: &generator)
        #expect(throws: AttentionCapabilityError(mechanism: "longformer", capability: "global tokens")) { try longformer.check([.causal, .globalTokens]) }
    }

    @Test("Linformer's layerwise sharing passes the first layer's projection to the later layers through the build state")
    func layerwiseSharing() throws {
        var generator = RandomGenerator(seed: 0)
        let configuration = try JSONDecoder().decode(AttentionConfiguration.self, from: Data(#"{"type": "linformer", "k": 4, "sharing": "layerwise"}"#.utf8))
        let build = AttentionBuild(required: .bidirectional)
        let layers = try (0..<3).map { layer in
            try #require(try configuration.make(shape: AttentionShape(modelDimensions: 8, heads: 2, maximumLength: 16, layers: 3, layer: layer),
                                                build: build, generator: &generator) as? Linformer)
        }
        #expect(layers[1].sharedProjection === layers[0].sharedProjection && layers[2].sharedProjection === layers[0].sharedProjection)
        let other = try #require(try configuration.make(shape: AttentionShape(modelDimensions: 8, heads: 2, maximumLength: 16),
                                                        build: AttentionBuild(required: .bidirectional), generator: &generator) as? Linformer)
        #expect(other.sharedProjection !== layers[0].sharedProjection)
    }

    @Test("docs/attention-options.md is the generated documentation")
    func committedDocumentation() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let committed = try String(contentsOf: root.appendingPathComponent("docs/attention-options.md"), encoding: .utf8)
        #expect(committed == AttentionRegistry.documentation(), "regenerate with: glance mechanisms > docs/attention-options.md")
        for type in AttentionRegistry.optionTypes {
            for option in type.optionNames { #expect(committed.contains("| `\(option)` |")) }
        }
    }
}
