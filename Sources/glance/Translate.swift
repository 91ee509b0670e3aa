import ArgumentParser
import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceTraining

/// `glance translate`: translates standard input, line by line, with a trained translation run.
struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Translate lines from standard input with a trained translation run.",
        discussion: """
        --config is the run's configuration (a data section with `bitext`); the model is the run \
        folder's checkpoint and bpe.json. Each input line (UTF-8) gives one output line. Characters \
        never seen in training are spelled by their bytes; an empty line, or one longer than the \
        model reads (max_length − 1 subwords), stops the command with an error naming the line \
        before anything is translated.
        """)

    @Option(help: "The translation run's configuration (JSON).") var config: String
    @Option(help: "Beam width (default: the config's data.beam).") var beam: Int?
    @Flag(help: "Greedy decoding (beam width 1).") var greedy = false
    @Option(name: .customLong("length-penalty"), help: "fairseq's length penalty α (default: the config's data.length_penalty).")
    var lengthPenalty: Float?
    @Option(help: "The run folder, when training overrode the config's output.") var output: String?
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let beam, beam < 1 || beam > 1024 { throw ValidationError("--beam must be in 1…1024, got \(beam)") }
        if greedy && beam != nil && beam != 1 { throw ValidationError("--greedy and --beam \(beam!) contradict each other") }
    }

    func run() throws {
        compute.apply()
        let configuration = try loadConfiguration(TranslationRunConfiguration.self, from: URL(fileURLWithPath: config))
        var translator = try loadTranslator(configuration, output: output)
        if greedy { translator.search.beamWidth = 1 } else if let beam { translator.search.beamWidth = beam }
        if let lengthPenalty { translator.search.lengthPenalty = lengthPenalty }
        let lines = try standardInputLines()
        let encoded = try lines.enumerated().map { index, line in
            do { return try translator.encode(line) } catch let error as TranslationInputError {
                throw CommandFailure("standard input, line \(index + 1): \(error.reason)")
            }
        }
        for ids in encoded {
            let best = withoutGradients { translator.model.translate([ids], search: translator.search)[0] }
            print(translator.encoding.decode(best.tokens))
        }
    }

    /// Standard input's lines (a final newline ends the last one; "\r\n" counts as one newline).
    func standardInputLines() throws -> [String] {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        var rows = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if rows.last?.isEmpty == true { rows.removeLast() }
        return try rows.enumerated().map { index, row in
            guard let line = String(validating: row.last == UInt8(ascii: "\r") ? row.dropLast() : row, as: UTF8.self) else {
                throw CommandFailure("standard input, line \(index + 1): is not valid UTF-8")
            }
            return line
        }
    }
}

/// The model of a translation run (its checkpoint) with the run's bpe.json and beam settings.
func loadTranslator(_ configuration: TranslationRunConfiguration, output: String?) throws -> Translator {
    let folder = URL(fileURLWithPath: output ?? configuration.output)
    let encodingURL = folder.appendingPathComponent(BytePairEncoding.fileName)
    let checkpoint = folder.appendingPathComponent(TranslationTrainer.checkpointName)
    for url in [encodingURL, checkpoint] where !FileManager.default.fileExists(atPath: url.path) {
        throw CommandFailure("\(url.path) does not exist: train the run first (glance train --config …)")
    }
    let encoding = try BytePairEncoding(contentsOf: encodingURL)
    let model = try EncoderDecoderModel(configuration: configuration.model, seed: configuration.training.seed)
    let (tensors, _) = try SafeTensors.read(from: checkpoint)
    let parameters = Dictionary(uniqueKeysWithValues: tensors.compactMap { key, value in key.hasPrefix("model.") ? (String(key.dropFirst(6)), value) : nil })
    if let key = parameters.keys.sorted().first(where: { !parameters[$0]!.scalars.allSatisfy(\.isFinite) }) {
        throw CommandFailure("checkpoint \(checkpoint.path): 'model.\(key)' holds a value that is not finite")
    }
    do { try model.update(parameters: parameters) } catch {
        throw CommandFailure("checkpoint \(checkpoint.path) does not fit the model of the configuration: \(error)")
    }
    guard encoding.vocabularySize <= model.vocabularySize else {
        throw CommandFailure("\(encodingURL.path) has \(encoding.vocabularySize) ids, more than model.vocab_size \(model.vocabularySize)")
    }
    model.eval()
    let data = configuration.data
    return Translator(model: model, encoding: encoding,
                      search: BeamSearch(beamWidth: data.beam, lengthPenalty: data.lengthPenalty, maximumTokens: configuration.model.maximumLength - 1))
}

/// The model's multiply-adds per sentence as Lite Transformer counts them (``GlanceModels/MultiplyAddCount``).
func multiplyAddsDescription(_ c: TranslationConfiguration) -> String {
    let n = TranslationConfiguration.paperSentenceLength
    guard let count = c.multiplyAdds() else { return "multiply-adds not counted for these mechanisms (full and lsra only)" }
    return String(format: "%.2fM multiply-adds per sentence (%d source + %d target tokens, encoder and decoder layers; "
                  + "the output projection adds %.2fM)", Double(count.layers) / 1e6, n, n, Double(count.outputProjection) / 1e6)
}
