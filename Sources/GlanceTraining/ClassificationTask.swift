import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceNN

/// Mean loss (nats) and accuracy over the documents of a split.
public struct ClassificationResult: Sendable, Equatable {
    public let loss: Float
    public let accuracy: Double
    public let documents: Int
}

/// Document classification with a ``GlanceModels/TextClassifier`` on a
/// ``GlanceData/LabelledTextCorpus``: batches walk the training documents in a seeded random
/// order per epoch; validation and the final report give loss and accuracy. At the end the
/// parameters go to `OUTPUT/model.safetensors` (with the model configuration and the class
/// names as metadata), which replaces the run's checkpoint.
public final class ClassificationTask: TrainingTask {
    public static let name = "classification"
    public static let exampleName = "documents"
    public static let keepsFinalCheckpoint = false
    public static let modelName = "model.safetensors"

    public let configuration: ClassifierConfiguration
    public let corpus: LabelledTextCorpus
    public let model: TextClassifier
    /// The validation and test documents evaluated: all, or the `eval_documents` sample.
    public let evaluationDocuments: [LabelledTextCorpus.Split: [LabelledDocument]]
    /// The shuffled epochs of training documents.
    public var samplerState: ShuffledDocumentBatches

    public var modelConfiguration: LanguageModelConfiguration { configuration.model }
    public var randomSource: RandomSource { model._randomSource }

    public init(configuration: ClassifierConfiguration, corpus: LabelledTextCorpus) throws {
        self.configuration = configuration
        self.corpus = corpus
        let seed = configuration.training.seed
        model = try TextClassifier(configuration: configuration.model, classes: corpus.classNames.count, seed: seed)
        samplerState = ShuffledDocumentBatches(documentCount: corpus.train.count, seed: seed &+ 2)
        var evaluated: [LabelledTextCorpus.Split: [LabelledDocument]] = [:]
        for split in LabelledTextCorpus.Split.allCases {
            let all = corpus.documents(of: split)
            evaluated[split] = configuration.data.evaluationDocuments.map { LabelledTextCorpus.holdOut(count: $0, of: all, seed: 0).heldOut } ?? all
        }
        evaluationDocuments = evaluated
    }

    /// Byte positions (padding included) of a step.
    public func tokens(batchSize: Int) -> Int { batchSize * configuration.model.context }

    public func samplerMismatch(_ state: ShuffledDocumentBatches) -> String? {
        state.documentCount == corpus.train.count ? nil
            : "walks \(state.documentCount) training documents, but the corpus now holds \(corpus.train.count)"
    }

    public func nextBatch(size: Int) -> [LabelledDocument] {
        samplerState.nextIndices(size: size).map { corpus.train[$0] }
    }

    public func loss(_ batch: [LabelledDocument], carried: inout [String: Tensor]) -> Tensor {
        model.loss(DocumentBatch(batch, length: configuration.model.context))
    }

    public func validationMetrics() -> [Metric] { Self.metrics(evaluate(.valid)) }

    /// Loss and accuracy over the ``evaluationDocuments`` of a split, in batches of `batch_size`.
    public func evaluate(_ split: LabelledTextCorpus.Split) -> ClassificationResult {
        let documents = evaluationDocuments[split]!
        let size = configuration.training.batchSize
        model.eval()
        defer { model.train() }
        var loss = 0.0, correct = 0
        withoutGradients {
            for start in stride(from: 0, to: documents.count, by: size) {
                let batch = DocumentBatch(documents[start..<Swift.min(start + size, documents.count)], length: configuration.model.context)
                let logits = model(batch.inputs, keyPadding: batch.keyPadding)
                loss += Double(crossEntropy(logits: logits, targets: batch.labels).item()) * Double(batch.labels.count)
                correct += zip(logits.argmax(alongAxis: 1), batch.labels).filter { $0 == $1 }.count
            }
        }
        let count = Swift.max(documents.count, 1)
        return ClassificationResult(loss: Float(loss / Double(count)), accuracy: Double(correct) / Double(count), documents: documents.count)
    }

    /// Writes the parameters and reports the test loss and accuracy.
    public func finish(output: URL) throws -> [Metric] {
        let metadata = ["format": "glance-classifier-1",
                        "glance.model_configuration": String(decoding: try JSONEncoder().encode(configuration.model), as: UTF8.self),
                        "glance.classes": corpus.classNames.joined(separator: "\n")]
        try model.save(to: output.appendingPathComponent(Self.modelName), metadata: metadata)
        return Self.metrics(evaluate(.test))
    }

    static func metrics(_ result: ClassificationResult) -> [Metric] {
        [Metric("loss", Double(result.loss)), Metric("accuracy", result.accuracy)]
    }
}

extension Array: SplittableBatch where Element == LabelledDocument {
    public var exampleCount: Int { count }

    public func split(size: Int) -> [[LabelledDocument]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}

/// The text classifier's trainer.
public typealias ClassifierTrainer = Trainer<ClassificationTask>

extension Trainer where Task == ClassificationTask {
    /// A trainer of the classifier of `configuration` on `corpus`.
    public convenience init(configuration: ClassifierConfiguration, corpus: LabelledTextCorpus) throws {
        self.init(task: try ClassificationTask(configuration: configuration, corpus: corpus), settings: configuration.training,
                  output: URL(fileURLWithPath: configuration.output))
    }
}
