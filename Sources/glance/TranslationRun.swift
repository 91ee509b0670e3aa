import ArgumentParser
import Foundation
import GlanceData
import GlanceModels
import GlanceTraining

/// An encoder-decoder translation model: configurations whose data section names a `bitext`.
enum TranslationRun: RunKind {
    static let summary = "a translation model"
    static let dataKey: String? = "bitext"

    /// `glance train` on a translation config.
    static func train(_ options: TrainingOptions) throws {
        let configuration = try options.configuration(TranslationRunConfiguration.self)
        let trainer = try TranslationTrainer(configuration: configuration)
        let task = trainer.task, c = configuration.model
        try options.train(trainer, description: "model: \(trainer.model.parameterCount()) parameters, \(c.encoderLayers)+\(c.decoderLayers) layers, "
            + "d_model \(c.modelDimensions), encoder attention \(c.encoderAttention), decoder attention \(c.decoderAttention), \(c.block.rawValue); "
            + "\(multiplyAddsDescription(c)); "
            + "\(task.trainPairs.sources.count) training pairs (\(task.droppedPairs) longer than max_length − 1 left out), "
            + "\(task.valid.count) validation pairs, \(task.encoding.vocabularySize) subword ids")
    }

    /// `glance eval` on a translation config: BLEU and chrF of a split.
    static func evaluate(_ request: EvaluationRequest) throws {
        try request.refuse([("--beam", request.beam != nil)], for: "a translation run (its beam is data.beam)")
        let split = request.split ?? "test"
        guard let part = Bitext.Split(rawValue: split) else { throw ValidationError("--split must be train, valid or test, got '\(split)'") }
        var configuration = try loadConfiguration(TranslationRunConfiguration.self, from: URL(fileURLWithPath: request.config))
        if let output = request.output { configuration.output = output }
        let translator = try loadTranslator(configuration, output: nil)
        let data = configuration.data
        let bitext = try Bitext(folder: URL(fileURLWithPath: data.bitext), split: part, source: data.source, target: data.target)
        var skipped = 0
        let translations = bitext.source.map { line -> String in
            do { return try translator.translate(line) } catch { skipped += 1; return "" }
        }
        let bleu = BLEU(hypotheses: translations, references: bitext.target), chrF = ChrF(hypotheses: translations, references: bitext.target)
        print(String(format: "%@ BLEU %.2f chrF %.2f (%d sentences, beam %d, length penalty %.2f%@; sacreBLEU 13a / chrF2 definitions)",
                     split, bleu.score, chrF.score, bitext.count, translator.search.beamWidth, translator.search.lengthPenalty,
                     skipped > 0 ? ", \(skipped) too long to translate, scored as empty" : ""))
    }
}
