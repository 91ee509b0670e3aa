import Foundation
import GlanceAttention
import GlanceCore
import GlanceData
import GlanceNN

/// What a classifier training run reports as it goes.
public enum ClassificationEvent: Sendable {
    /// After `step` (1-based): the batch loss, byte positions (padding included) per second
    /// since the last report, learning rate and estimated seconds left.
    case progress(step: Int, loss: Float, tokensPerSecond: Double, learningRate: Float, secondsLeft: Double)
    case validation(step: Int, result: ClassificationResult)
    /// The end: the last validation and the test result, the training rate (steps after
    /// the tenth) and the wall time.
    case finished(step: Int, validation: ClassificationResult, test: ClassificationResult,
                  trainingTokensPerSecond: Double, trainingDocumentsPerSecond: Double, seconds: Double)
}

/// Mean loss (nats) and accuracy over the documents of a split.
public struct ClassificationResult: Sendable, Equatable {
    public let loss: Float
    public let accuracy: Double
    public let documents: Int
}

/// Trains a ``TextClassifier`` on a ``LabelledTextCorpus`` with AdamW, warm-up + cosine decay
/// and global-norm clipping (as ``LanguageModelTrainer``); batches walk the training documents
/// in a seeded random order per epoch. There is no resumable checkpoint: the parameters are
/// written once, at the end, to `OUTPUT/model.safetensors`.
public final class ClassifierTrainer {
    public let configuration: ClassifierConfiguration
    public let model: TextClassifier
    public let corpus: LabelledTextCorpus
    /// The validation and test documents evaluated: all, or the `eval_documents` sample.
    public let evaluationDocuments: [LabelledTextCorpus.Split: [LabelledDocument]]
    let optimizer: AdamW
    let schedule: WarmupCosineSchedule
    var batches: ShuffledDocumentBatches
    /// Steps completed so far.
    public private(set) var step = 0

    public static let modelName = "model.safetensors"
    public var modelURL: URL { URL(fileURLWithPath: configuration.output).appendingPathComponent(Self.modelName) }

    public init(configuration: ClassifierConfiguration, corpus: LabelledTextCorpus) throws {
        self.configuration = configuration
        self.corpus = corpus
        let t = configuration.training
        model = try TextClassifier(configuration: configuration.model, classes: corpus.classNames.count, seed: t.seed)
        optimizer = AdamW(learningRate: t.learningRate, beta1: t.beta1, beta2: t.beta2, epsilon: t.epsilon, weightDecay: t.weightDecay)
        optimizer.decays = { _, parameter in parameter.value.rank >= 2 }
        schedule = WarmupCosineSchedule(peak: t.learningRate, warmupSteps: t.warmupSteps, totalSteps: t.steps, minimumRatio: t.minimumLearningRateRatio)
        batches = ShuffledDocumentBatches(documentCount: corpus.train.count, seed: t.seed &+ 2)
        var evaluated: [LabelledTextCorpus.Split: [LabelledDocument]] = [:]
        for split in LabelledTextCorpus.Split.allCases {
            let all = corpus.documents(of: split)
            evaluated[split] = configuration.data.evaluationDocuments.map { LabelledTextCorpus.holdOut(count: $0, of: all, seed: 0).heldOut } ?? all
        }
        evaluationDocuments = evaluated
    }

    /// One optimization step on the next training batch; returns the batch loss.
    @discardableResult
    public func trainStep() throws -> Float {
        let batch = batches.next(from: corpus.train, size: configuration.training.batchSize, length: configuration.model.context)
        model.train()
        for (_, module) in model.namedModules() { (module as? FeatureRedrawing)?.redrawFeatures(step: step) }
        let (loss, initialGradients) = valueAndGradient(model: model) { $0.loss(batch) }
        let value = loss.item()
        guard value.isFinite else { throw NonFiniteLossError(step: step + 1, loss: value, checkpoint: nil) }
        var grads = initialGradients
        if configuration.training.gradientClip > 0 { clipGlobalNorm(&grads, maximumNorm: configuration.training.gradientClip) }
        optimizer.learningRate = schedule.learningRate(at: step)
        optimizer.update(model: model, gradients: grads)
        step += 1
        return value
    }

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

    /// Trains for `training.steps`, validating every `eval_every` steps, then reports the
    /// final validation and test results and writes the parameters.
    public func run(report: (ClassificationEvent) -> Void) throws {
        let t = configuration.training
        let tokensPerStep = Double(t.batchSize * configuration.model.context)
        let started = Date()
        var windowStart = Date(), windowSteps = 0
        // Step times after the tenth (warm-up excluded), and of all steps for short runs.
        var timedSeconds = 0.0, timedSteps = 0, allSeconds = 0.0
        var validation: ClassificationResult? = nil
        while step < t.steps {
            let stepStart = Date()
            let loss = try trainStep()
            let elapsed = Date().timeIntervalSince(stepStart)
            allSeconds += elapsed
            if step > 10 { timedSeconds += elapsed; timedSteps += 1 }
            windowSteps += 1
            if step % t.logEvery == 0 || step == t.steps {
                let seconds = Date().timeIntervalSince(windowStart)
                report(.progress(step: step, loss: loss, tokensPerSecond: Double(windowSteps) * tokensPerStep / Swift.max(seconds, 1e-9),
                                 learningRate: optimizer.learningRate, secondsLeft: Double(t.steps - step) * seconds / Double(windowSteps)))
                windowStart = Date()
                windowSteps = 0
            }
            if step % t.evalEvery == 0 || step == t.steps {
                let result = evaluate(.valid)
                validation = result
                report(.validation(step: step, result: result))
                windowStart = Date()
            }
        }
        let test = evaluate(.test)
        try saveParameters()
        if timedSteps == 0 { (timedSeconds, timedSteps) = (allSeconds, step) }
        let stepsPerSecond = Double(timedSteps) / Swift.max(timedSeconds, 1e-9)
        report(.finished(step: step, validation: validation ?? evaluate(.valid), test: test,
                         trainingTokensPerSecond: stepsPerSecond * tokensPerStep,
                         trainingDocumentsPerSecond: stepsPerSecond * Double(t.batchSize), seconds: Date().timeIntervalSince(started)))
    }

    /// Writes the parameters (and the model configuration and class names, as metadata) to ``modelURL``.
    public func saveParameters() throws {
        let metadata = ["format": "glance-classifier-1",
                        "glance.model_configuration": String(decoding: try JSONEncoder().encode(configuration.model), as: UTF8.self),
                        "glance.classes": corpus.classNames.joined(separator: "\n")]
        try SafeTensors.write(model.parameterValues(), metadata: metadata, to: modelURL)
    }
}
