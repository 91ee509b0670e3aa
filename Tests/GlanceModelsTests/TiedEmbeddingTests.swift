import Foundation
import GlanceCore
import GlanceModels
import GlanceNN
import Testing

/// `tie_embeddings`: the char-LM's head reads the token embedding as its weight.
@Suite struct TiedEmbeddingTests {
    @Test("the head's weight is the token embedding, one parameter with its own bias")
    func tiedModel() throws {
        var c = tinyModel()
        c.tieEmbeddings = true
        let model = try CharacterLanguageModel(configuration: c, seed: 3)
        #expect(model.head.projection.weight === model.input.tokenEmbedding.weight)
        #expect(model.parameterAliases() == ["head.projection.weight": "input.tokenEmbedding.weight"])
        #expect(model.parameterValues()["head.projection.bias"] != nil && model.parameterValues()["head.projection.weight"] == nil)
        let untied = try CharacterLanguageModel(configuration: tinyModel(), seed: 3)
        #expect(untied.parameterCount() - model.parameterCount() == 256 * 16)
        #expect(untied.parameterAliases().isEmpty)
        let decoded = try JSONDecoder().decode(LanguageModelConfiguration.self, from: Data(#"{"tie_embeddings": true}"#.utf8))
        #expect(decoded.tieEmbeddings && !LanguageModelConfiguration().tieEmbeddings)
    }

    @Test("with a reversible stack or in a classifier it is an error naming the field")
    func errors() {
        var c = tinyModel()
        c.tieEmbeddings = true
        var reversible = c
        reversible.reversible = true
        #expect {
            _ = try CharacterLanguageModel(configuration: reversible, seed: 0)
        } throws: { ($0 as? ConfigurationValueError)?.field == "model.tie_embeddings" }
        #expect {
            _ = try TextClassifier(configuration: c, classes: 2, seed: 0)
        } throws: { ($0 as? ConfigurationValueError)?.field == "model.tie_embeddings" }
    }
}
