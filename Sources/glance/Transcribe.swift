import ArgumentParser
import Foundation
import GlanceData
import GlanceModels
import GlanceTraining

/// `glance transcribe`: speech → text with a Hugging Face Parakeet CTC folder or a trained speech run.
struct Transcribe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Transcribe WAV files with a Hugging Face ParakeetForCTC folder (--model) or a trained speech run (--config).",
        discussion: """
        --model: the folder is what transformers' save_pretrained writes for ParakeetForCTC and its \
        processor: config.json, model.safetensors, processor_config.json (or \
        preprocessor_config.json) and tokenizer.json (with tokenizer_config.json). Each WAV \
        (PCM or float, any rate, mixed down to mono) is resampled to the extractor's rate; files \
        are batched with padding. One line per file: the file, the transcript, the audio seconds \
        and the real-time factor of the whole pipeline (reading, features, encoder, decoding) over \
        all files: audio seconds per wall-clock second and per CPU second (all threads).
        """
    )

    @Option(name: .long, help: "The ParakeetForCTC folder.")
    var model: String?

    @Option(help: "A trained speech run's configuration (JSON).")
    var config: String?

    @Option(help: "With --config: the run folder, when training overrode the config's output.")
    var output: String?

    @Argument(help: "WAV files to transcribe.")
    var files: [String]

    @Option(name: .long, help: "CTC prefix beam search with this many prefixes (default 1: greedy).")
    var beam = 1

    @Option(name: .customLong("batch-size"), help: "Files per padded batch.")
    var batchSize = 8

    @Flag(help: "One JSON object per line (file, transcript, ids, audio_seconds, real_time_factor, audio_seconds_per_cpu_second).")
    var json = false

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one WAV file") }
        if (model == nil) == (config == nil) { throw ValidationError("give either --model (a ParakeetForCTC folder) or --config (a trained speech run)") }
        if output != nil && config == nil { throw ValidationError("--output applies to --config runs only") }
        if beam < 1 { throw ValidationError("--beam must be at least 1, got \(beam)") }
        // Every prefix a wider beam keeps is extended by every unit at every frame.
        if beam > 1024 { throw ValidationError("--beam must be at most 1024, got \(beam)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        compute.apply()
        let recognizer = try self.recognizer()
        let start = Date(), startCPU = processCPUSeconds()
        let rate = recognizer.sampleRate
        let audio = try files.map { try WAVFile.read(from: URL(fileURLWithPath: $0), resamplingTo: rate) }
        var transcripts: [Transcript] = []
        for batchStart in stride(from: 0, to: files.count, by: batchSize) {
            let range = batchStart..<min(batchStart + batchSize, files.count)
            do {
                transcripts += try recognizer.transcribe(Array(audio[range]), beam)
            } catch let error as LogMelInputError {
                throw CommandFailure("\(files[range.lowerBound + error.batchIndex]): too short: \(error.samples) samples at \(rate) Hz; "
                    + "the features need at least \(error.neededSamples)")
            }
        }
        let audioSeconds = audio.map(\.seconds).reduce(0, +)
        let realTime = audioSeconds / max(Date().timeIntervalSince(start), 1e-9)
        let perCPUSecond = audioSeconds / max(processCPUSeconds() - startCPU, 1e-9)
        for (index, transcript) in transcripts.enumerated() {
            let file = files[index], fileSeconds = audio[index].seconds
            if json {
                let record: [String: Any] = ["file": file, "transcript": transcript.text, "ids": transcript.ids,
                                             "audio_seconds": fileSeconds, "real_time_factor": realTime,
                                             "audio_seconds_per_cpu_second": perCPUSecond]
                let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("\(file)\t\(transcript.text)\t\(String(format: "%.2f", fileSeconds)) s\t"
                    + "\(String(format: "%.1f", realTime))× real time (\(String(format: "%.1f", perCPUSecond)) audio s per CPU s)")
            }
        }
    }

    /// The model that transcribes: its sample rate and its batch transcription.
    func recognizer() throws -> (sampleRate: Int, transcribe: ([MonoAudio], Int) throws -> [Transcript]) {
        if let model {
            let transcriber = try ParakeetTranscriber(folder: URL(fileURLWithPath: model))
            return (transcriber.features.configuration.sampleRate, { try transcriber.transcribe($0, beamWidth: $1) })
        }
        let task = try SpeechRun.trainedRecognizer(config: config!, output: output).task
        return (task.extractor.configuration.sampleRate, { try task.transcribe($0, beamWidth: $1) })
    }
}
