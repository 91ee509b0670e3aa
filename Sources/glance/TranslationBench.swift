import ArgumentParser
import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceTraining

extension Bench {
    /// `--model translate`: the translation speed of a trained run (`--config`, its checkpoint
    /// and bpe.json) on the first `--sentences` source sentences of the test split, one sentence
    /// at a time as `glance translate` does: beam 4 and greedy, each with the decoder's cache and
    /// recomputing the decoder over the whole prefix at every step. One report per combination:
    /// sentences/s, wall seconds and the tokens written (the same for both cache settings).
    /// One warm-up sentence runs before each; `--repeat` does not apply.
    func runTranslation() throws {
        guard let config else { throw ValidationError("--model translate needs --config, the configuration of a trained translation run") }
        let configuration = try loadConfiguration(TranslationRunConfiguration.self, from: URL(fileURLWithPath: config))
        let translator = try loadTranslator(configuration, output: translationRun)
        let data = configuration.data
        let test = try Bitext(folder: URL(fileURLWithPath: data.bitext), split: .test, source: data.source, target: data.target)
        let lines = Array(test.source.prefix(sentences))
        let encoded = lines.compactMap { try? translator.encode($0) }
        guard !encoded.isEmpty else { throw ValidationError("none of the first \(lines.count) test sentences fits the model (empty or longer than max_length − 1)") }
        for (index, (beam, decoderCache)) in [(4, true), (4, false), (1, true), (1, false)].enumerated() {
            var search = translator.search
            search.beamWidth = beam
            let model = translator.model
            _ = withoutGradients { model.translate([encoded[0]], search: search, decoderCache: decoderCache) }
            let start = DispatchTime.now().uptimeNanoseconds
            let hypotheses = withoutGradients { model.translate(encoded, search: search, decoderCache: decoderCache) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            try report(settings: [("model", "translate"), ("config", config), ("sentences", encoded.count), ("skipped", lines.count - encoded.count),
                                  ("threads", Threading.count)],
                       measurements: [("beam", beam), ("decoder_cache", decoderCache), ("seconds", rounded(seconds)),
                                      ("sentences_per_s", rounded(Double(encoded.count) / seconds)),
                                      ("output_tokens", hypotheses.reduce(0) { $0 + $1.tokens.count })],
                       first: index == 0)
        }
    }
}
