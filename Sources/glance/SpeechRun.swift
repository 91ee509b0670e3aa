import ArgumentParser
import Foundation
import GlanceData
import GlanceModels
import GlanceTraining

/// A Conformer-CTC speech recogniser: configurations whose data section names a `speech_corpus`.
enum SpeechRun: RunKind {
    static let summary = "a speech recogniser"
    static let dataKey: String? = "speech_corpus"

    static func train(_ options: TrainingOptions) throws {
        let configuration = try options.configuration(SpeechRunConfiguration.self)
        let trainer = try SpeechTrainer(configuration: configuration)
        let task = trainer.task, m = configuration.model
        let train = try task.prepare(.train), valid = try task.prepare(.valid)
        try options.train(trainer, description: "model: \(trainer.model.parameterCount()) parameters, \(m.layers) layers, d_model \(m.modelDimensions), "
            + "\(m.heads) heads, d_ff \(m.feedForwardDimensions), " + (m.kernelSize.map { "convolution kernel \($0)" } ?? "no convolution module")
            + ", \(m.subsamplingFactor)× \(m.subsampling.rawValue) subsampling; data: \(train.utterances.count) training utterances "
            + "(\(minutes(train.utterances)) min\(unfit(train))), \(valid.utterances.count) validation\(unfit(valid)), "
            + "\(task.corpus.vocabulary.tokens.count) output units")
    }

    /// WER and CER (with their substitutions, deletions and insertions) of a split, greedy or
    /// with a beam, and the real-time factor of reading, features, encoder and decoding.
    static func evaluate(_ request: EvaluationRequest) throws {
        try request.refuse([("--windows", request.windows != nil)], for: "a speech run")
        let name = request.split ?? "test"
        guard let split = SpeechCorpus.Split(rawValue: name) else {
            throw ValidationError("--split must be one of \(SpeechCorpus.Split.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
        }
        let trainer = try trainedRecognizer(config: request.config, output: request.output)
        let beam = request.beam ?? 1
        let start = Date(), startCPU = processCPUSeconds()
        let evaluation = trainer.task.evaluate(try trainer.task.prepare(split), beamWidth: beam)
        let wall = Date().timeIntervalSince(start), cpu = processCPUSeconds() - startCPU
        let prepared = try trainer.task.prepare(split)
        print("\(name): \(evaluation.utterances) utterances\(unfit(prepared)), \(String(format: "%.1f", evaluation.audioSeconds / 60)) min of audio, "
              + (beam == 1 ? "greedy decoding" : "prefix beam search, beam \(beam)") + ", step \(trainer.step)")
        print("WER \(evaluation.words) words")
        print("CER \(evaluation.characters) characters")
        print(String(format: "loss %.4f nats per character; %.1f audio s per CPU s, %.1f× real time (reading, features, encoder, decoding)",
                     evaluation.loss, evaluation.audioSeconds / max(cpu, 1e-9), evaluation.audioSeconds / max(wall, 1e-9)))
    }

    /// The trained recogniser of a run: the configuration with its run folder's checkpoint (no split loaded).
    static func trainedRecognizer(config: String, output: String?) throws -> SpeechTrainer {
        var configuration = try loadConfiguration(SpeechRunConfiguration.self, from: URL(fileURLWithPath: config))
        if let output { configuration.output = output }
        let trainer = try SpeechTrainer(configuration: configuration, preparing: [])
        try trainer.resume()
        return trainer
    }

    /// ", N left out (…)" when `split` left utterances out.
    static func unfit(_ split: PreparedSpeechSplit) -> String {
        split.unfit == 0 ? "" : "; \(split.unfit) left out: their transcripts need more frames than their audio leaves after subsampling"
    }

    static func minutes(_ utterances: [SpeechUtterance]) -> String {
        String(format: "%.1f", utterances.reduce(0) { $0 + $1.seconds } / 60)
    }
}
