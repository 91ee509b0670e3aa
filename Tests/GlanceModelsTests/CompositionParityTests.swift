import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// The language model and the classifier, now compositions of an input stage, a block stack
/// and a head, compute what they computed before (values recorded with the models of
/// commit cefdb1d, which held their parts themselves): same seed, same weights, same
/// dropout draws, same outputs. The training-mode values (logits and loss) were recorded
/// again when dropout's mask became counter-based (hashed indices instead of one generator
/// draw per element); the evaluation-mode values are still those of cefdb1d.
@Suite struct CompositionParityTests {
    struct Recorded: Sendable, CustomTestStringConvertible {
        let positions: String
        let reversible: Bool
        /// The first four and the last two logits in training mode (dropout 0.1).
        let trainingLogits: [Float]
        let loss: Float
        /// The same in evaluation mode.
        let evaluationLogits: [Float]
        var testDescription: String { "\(positions)\(reversible ? ", reversible" : "")" }
    }

    static let languageModels = [
        Recorded(positions: "learned", reversible: false,
                 trainingLogits: [0.0057150405, -0.02933315, 0.011792639, -0.02364105, 0.04399334, 0.076190405], loss: 3.475621,
                 evaluationLogits: [0.0057886858, -0.033643436, 0.016467791, -0.021939754, 0.043917496, 0.076873474]),
        Recorded(positions: "sinusoidal", reversible: false,
                 trainingLogits: [-0.07404196, -0.10526174, -0.006568415, -0.009372558, 0.0027965296, -0.084753916], loss: 3.4658916,
                 evaluationLogits: [-0.036874402, -0.11840073, 0.0793233, 0.035670154, 0.0027936986, -0.08476716]),
        Recorded(positions: "learned", reversible: true,
                 trainingLogits: [-0.02879224, -0.0085381325, 0.032166667, 0.06681945, -0.062730335, -0.07767919], loss: 3.432621,
                 evaluationLogits: [-0.031965267, -0.0041450635, 0.034054276, 0.06670913, -0.06298694, -0.077710375]),
    ]

    static func ends(_ values: [Float]) -> [Float] { Array(values.prefix(4)) + Array(values.suffix(2)) }

    @Test("the language model's logits and loss equal those of the model before the composition", arguments: languageModels)
    func languageModel(_ recorded: Recorded) throws {
        var c = CharacterLanguageModelTests.configuration(vocabulary: 32, context: 8, layers: 2, width: 8, heads: 2,
                                                          positions: recorded.positions, dropout: 0.1)
        c.reversible = recorded.reversible
        let model = try CharacterLanguageModel(configuration: c, seed: 7)
        let ids = IndexTensor([1, 5, 9, 30, 2, 2, 17, 4, 8, 0, 31, 12], shape: [2, 6])
        let training = Self.ends(model(ids).scalars)
        let loss = model.loss(inputs: ids, targets: [5, 9, 30, 2, 2, 17, 8, 0, 31, 12, 3, 3]).item()
        model.eval()
        let evaluation = Self.ends(model(ids).scalars)
        #expect(isClose(training, recorded.trainingLogits), "\(training)")
        #expect(isClose(loss, recorded.loss), "\(loss)")
        #expect(isClose(evaluation, recorded.evaluationLogits), "\(evaluation)")
    }

    @Test("the classifier's logits and loss equal those of the classifier before the composition")
    func classifier() throws {
        var c = TextClassifierTests.configuration(positions: "learned")
        c.dropout = 0.1
        let model = try TextClassifier(configuration: c, classes: 3, seed: 9)
        let batch = DocumentBatch([LabelledDocument(label: 0, bytes: Array("hello".utf8)), LabelledDocument(label: 2, bytes: Array("a longer one".utf8))],
                                  length: 8)
        let training = model(batch.inputs, keyPadding: batch.keyPadding).scalars
        let loss = model.loss(batch).item()
        model.eval()
        let evaluation = model(batch.inputs, keyPadding: batch.keyPadding).scalars
        #expect(isClose(training, [-0.012610831, 0.0031815309, -0.0022248442, -0.01942194, -0.01010579, 0.0029129966]), "\(training)")
        #expect(isClose(loss, 1.0917423), "\(loss)")
        #expect(isClose(evaluation, [0.0013538188, 0.012076496, -0.009233605, -0.019566637, -0.011648005, 0.0056218244]), "\(evaluation)")
    }
}
