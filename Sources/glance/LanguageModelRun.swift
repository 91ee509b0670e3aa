import ArgumentParser
import Foundation
import GlanceData
import GlanceModels
import GlanceTraining

/// The character-level language model on a byte corpus: every configuration that no other
/// kind claims.
enum LanguageModelRun: RunKind {
    static let summary = "a character-level language model"
    static let dataKey: String? = nil

    static func train(_ options: TrainingOptions) throws {
        let configuration = try options.configuration(TrainingConfiguration.self)
        let corpus = try ByteCorpus(folder: URL(fileURLWithPath: configuration.data.corpus), requiredSplits: [.train, .valid])
        let trainer = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        try options.train(trainer, description: describe(trainer.model, configuration.model))
    }

    /// Bits per character of a split, and the spans an Adaptive Span model learned.
    static func evaluate(_ request: EvaluationRequest) throws {
        try request.refuse([("--beam", request.beam != nil)], for: "a language model")
        let split = request.split ?? "test"
        guard let part = ByteCorpus.Split(rawValue: split) else { throw ValidationError("--split must be train, valid or test, got '\(split)'") }
        var configuration = try loadConfiguration(TrainingConfiguration.self, from: URL(fileURLWithPath: request.config))
        if let windows = request.windows { configuration.training.evalWindows = windows }
        if let output = request.output { configuration.output = output }
        let corpus = try ByteCorpus(folder: URL(fileURLWithPath: configuration.data.corpus), requiredSplits: [.train, .valid, part])
        let bytes = corpus.bytes(of: part).count, needed = configuration.model.context + 2
        guard bytes >= needed else { throw CorpusError.tooSmall(path: corpus.path(of: part), bytes: bytes, needed: needed) }
        let trainer = try LanguageModelTrainer(configuration: configuration, corpus: corpus)
        try trainer.resume()
        let loss = trainer.evaluate(part)
        guard loss.isFinite else {
            throw CommandFailure("the loss on \(split) is not a number (\(loss)): the weights of the checkpoint in \(configuration.output) overflow on this data")
        }
        let read = configuration.model.memoryLength > 0
            ? "all \(bytes) bytes as one stream of \(configuration.model.context)-byte segments with memory"
            : "\(configuration.training.evalWindows) windows of \(configuration.model.context) bytes"
        print(String(format: "%@ bpc %.4f (loss %.4f nats, step %d, %@)", split, loss / Float(M_LN2), loss, trainer.step, read))
        printLearnedSpans(of: trainer.model.blocks)
    }
}
