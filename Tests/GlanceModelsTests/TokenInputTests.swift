import Foundation
import GlanceAttention
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// The token input stage, "positions": "none" in particular.
@Suite struct TokenInputTests {
    @Test("without positions the stage is the token embedding alone, with no position parameter")
    func noPositions() {
        var generator = RandomGenerator(seed: 51)
        let input = TokenInput(vocabularySize: 20, dimensions: 8, maximumLength: 6, positions: .none, dropout: 0,
                               source: RandomSource(seed: 52), generator: &generator)
        let ids = IndexTensor([3, 7, 3, 19], shape: [2, 2])
        #expect(input(ids, firstPosition: 4).scalars == input.tokenEmbedding(ids).scalars)
        #expect(input.namedParameters().map(\.key) == ["tokenEmbedding.weight"])
    }

    @Test("with learned positions, position p adds row p of the table")
    func learnedPositions() throws {
        var generator = RandomGenerator(seed: 53)
        let input = TokenInput(vocabularySize: 20, dimensions: 8, maximumLength: 6, positions: .learned, dropout: 0,
                               source: RandomSource(seed: 54), generator: &generator)
        let ids = IndexTensor([3, 7], shape: [1, 2])
        let table = try #require(input.learnedPositions).weight.value
        let expected = input.tokenEmbedding(ids) + table.sliced(alongAxis: 0, 4..<6)
        #expect(input(ids, firstPosition: 4).scalars == expected.scalars)
    }

    @Test("a classifier without positions gives the same logits for any order of the bytes")
    func classifierIgnoresOrder() throws {
        let model = try TextClassifier(configuration: TextClassifierTests.configuration(positions: "none"), classes: 3, seed: 55)
        let logits = { (text: String) in
            withoutGradients { model(IndexTensor(text.utf8.map(Int.init), shape: [1, text.utf8.count])) }
        }
        #expect(relativeError(logits("glance"), logits("ecnalg")) <= 1e-5)
        #expect(relativeError(logits("glance"), logits("glancf")) > 1e-3)
    }

    @Test("a language model without positions decodes with a cache as without one")
    func languageModelCachedDecoding() throws {
        let model = try CharacterLanguageModel(configuration: CharacterLanguageModelTests.configuration(positions: "none"), seed: 56)
        let tokens = [10, 200, 31, 7, 99]
        let (whole, stepped) = try withoutGradients {
            let whole = model(IndexTensor(tokens, shape: [1, 5])).scalars
            let cache = try model.makeCache()
            let stepped = tokens.flatMap { model(IndexTensor([$0], shape: [1, 1]), cache: cache).scalars }
            return (whole, stepped)
        }
        #expect(relativeError(whole, stepped) <= 1e-5)
    }

    @Test("\"positions\": \"none\" loads; another name is an error naming model.positions")
    func configuration() throws {
        let loaded = try ConfigurationTests.load(#"{"data": {"corpus": "data/x"}, "model": {"positions": "none"}}"#).get()
        #expect(loaded.model.positions == "none")
        let bad = try ConfigurationTests.load(#"{"data": {"corpus": "data/x"}, "model": {"positions": "relative"}}"#)
        #expect(ConfigurationTests.field(of: bad) == "model.positions")
    }
}
