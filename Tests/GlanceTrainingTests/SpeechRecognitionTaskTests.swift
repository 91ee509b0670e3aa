import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceTestSupport
import GlanceTraining
import Testing

/// The speech recognition task on the tone corpus: batching by length, SpecAugment, the
/// validation metrics, exact resume and the errors of bad corpus lines.
@Suite struct SpeechRecognitionTaskTests {
    /// A tiny Conformer-CTC run (16 mel bins, d 16, 1 layer, kernel 3) on `corpus`.
    static func configuration(corpus: URL, output: URL, steps: Int = 4, kernelSize: Int? = 3) throws -> SpeechRunConfiguration {
        var model = ConformerEncoderConfiguration(features: 16, subsampling: .conv2d, subsamplingFactor: 4, subsamplingChannels: 4, modelDimensions: 16,
                                                  layers: 1, heads: 2, feedForwardDimensions: 32, kernelSize: kernelSize, dropout: 0.1)
        model.scaleInput = true
        var training = OptimizationConfiguration()
        (training.batchSize, training.steps, training.learningRate, training.warmupSteps) = (4, steps, 3e-3, 1)
        (training.logEvery, training.evalEvery, training.checkpointEvery, training.seed) = (1, 2, 1000, 5)
        return SpeechRunConfiguration(model: model, training: training, data: SpeechDataConfiguration(speechCorpus: corpus.path), output: output.path)
    }

    @Test("the shipped speech configs are one model but for the convolution module, which the ablation lacks")
    func shippedConfigurations() throws {
        let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("configs")
        let conformer = try loadConfiguration(SpeechRunConfiguration.self, from: configs.appendingPathComponent("speech-conformer-small.json"))
        let transformer = try loadConfiguration(SpeechRunConfiguration.self, from: configs.appendingPathComponent("speech-transformer-small.json"))
        #expect(conformer.model.kernelSize != nil && transformer.model.kernelSize == nil)
        var aligned = transformer
        (aligned.model.kernelSize, aligned.output) = (conformer.model.kernelSize, conformer.output)
        #expect(aligned == conformer)
        #expect(conformer.model.subsampling == .conv2d && conformer.model.subsamplingFactor == 4)
        let sizes = try [conformer, transformer].map { try ConformerEncoder(configuration: $0.model).parameterCount() }
        #expect(sizes[0] > sizes[1] && sizes[0] < 5_000_000)
    }

    @Test("kernel_size: absent is the default, null is the encoder without convolution; bad model and data fields are named")
    func modelSection() throws {
        func load(_ model: String, _ data: String = "") throws -> SpeechRunConfiguration {
            let folder = try makeTemporaryFolder()
            defer { remove(folder) }
            let url = folder.appendingPathComponent("c.json")
            try Data(#"{"model": {\#(model)}, "data": {"speech_corpus": "x"\#(data)}}"#.utf8).write(to: url)
            return try loadConfiguration(SpeechRunConfiguration.self, from: url)
        }
        #expect(try load(#""d_model": 64"#).model.kernelSize == 31)
        #expect(try load(#""kernel_size": null"#).model.kernelSize == nil)
        #expect(try load(#""subsampling": "conv2d""#).model.subsamplingFactor == 4)
        // A checkpoint keeps its model section as JSON and resume compares it: the ablation's null must survive.
        for model in [try load(#""kernel_size": null"#).model, try load(#""kernel_size": 15"#).model] {
            #expect(try JSONDecoder().decode(ConformerEncoderConfiguration.self, from: JSONEncoder().encode(model)) == model)
        }
        for (model, data, field) in [(#""kernel_size": 4"#, "", "model.kernel_size"), (#""subsampling": "fast""#, "", "model.subsampling"),
                                     (#""heads": 3"#, "", "model.heads"), ("", #", "freq_mask_width": 81"#, "data.freq_mask_width"),
                                     ("", #", "time_mask_ratio": 2"#, "data.time_mask_ratio"), ("", #", "eval_utterances": 0"#, "data.eval_utterances")] {
            #expect { try load(model, data) } throws: { "\($0)".contains(field) }
        }
    }

    @Test("SpecAugment masks bands and spans inside each utterance's frames, leaves padding alone and repeats with its generator")
    func specAugment() {
        let augment = SpecAugment(frequencyMasks: 2, frequencyMaskWidth: 3, timeMasks: 2, timeMaskRatio: 0.2)
        let (frames, bins, lengths) = (20, 8, [20, 12])
        let original = [Float](repeating: 1, count: 2 * frames * bins)
        var a = original, b = original, generatorA = RandomGenerator(seed: 9), generatorB = RandomGenerator(seed: 9)
        augment.apply(to: &a, frames: frames, bins: bins, lengths: lengths, generator: &generatorA)
        augment.apply(to: &b, frames: frames, bins: bins, lengths: lengths, generator: &generatorB)
        #expect(a == b && a != original)
        for t in 12..<frames { #expect(a[(frames + t) * bins..<(frames + t + 1) * bins].allSatisfy { $0 == 1 }, "padded frame \(t)") }
        let masked = a.filter { $0 == 0 }.count
        #expect(masked <= 2 * (2 * 3 * 20 + 2 * 4 * 8))
        var none = original
        SpecAugment(frequencyMasks: 0, frequencyMaskWidth: 3, timeMasks: 0, timeMaskRatio: 0.2)
            .apply(to: &none, frames: frames, bins: bins, lengths: lengths, generator: &generatorA)
        #expect(none == original)
    }

    @Test("length-bucketed batches hold neighbours in length and visit every example once per epoch")
    func bucketedBatches() throws {
        let byLength = [7, 2, 9, 0, 4, 1, 8, 3, 6, 5]
        var batches = LengthBucketedBatches(seed: 1)
        var epoch: [[Int]] = []
        for _ in 0..<4 { epoch.append(batches.next(size: 3, byLength: byLength)) }
        #expect(epoch.flatMap { $0 }.sorted() == Array(0..<10) && batches.epoch == 1)
        #expect(Set(epoch) == Set([[7, 2, 9], [0, 4, 1], [8, 3, 6], [5]]))
        let saved = try JSONDecoder().decode(LengthBucketedBatches.self, from: JSONEncoder().encode(batches))
        var resumed = saved
        #expect(resumed.next(size: 3, byLength: byLength) == batches.next(size: 3, byLength: byLength) && batches.epoch == 2)
    }

    @Test("a training run validates with loss, WER and CER, finishes with test and test-real scores, and resumes exactly")
    func trainsAndResumes() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try ToneSpeechCorpus.write(into: folder.appendingPathComponent("corpus"))
        let (_, a, _) = try expectExactResume(half: 3) { name in
            try SpeechTrainer(configuration: try Self.configuration(corpus: corpus, output: folder.appendingPathComponent(name), steps: 6))
        }
        #expect(a.validate().map(\.name) == ["loss", "wer", "cer"])
        let finished = try a.task.finish(output: a.output)
        #expect(finished.map(\.name) == ["loss", "wer", "cer", "real_wer", "real_cer"])
        #expect(a.model.namedParameters().contains { $0.key.contains("runningMean") || $0.key.contains("running") },
                "the convolution module's BatchNorm statistics are checkpointed")
    }

    @Test("evaluation gives each utterance what it gets alone: a padded batch equals batches of one")
    func batchedEvaluation() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try ToneSpeechCorpus.write(into: folder.appendingPathComponent("corpus"))
        var configuration = try Self.configuration(corpus: corpus, output: folder.appendingPathComponent("run"))
        let batched = try SpeechRecognitionTask(configuration: configuration)
        configuration.training.batchSize = 1
        let single = try SpeechRecognitionTask(configuration: configuration)
        let (x, y) = (batched.evaluate(try batched.prepare(.train)), single.evaluate(try single.prepare(.train)))
        #expect(abs(x.loss - y.loss) < 1e-4 && x.words == y.words && x.characters == y.characters && x.utterances == 12)
        let beam = batched.evaluate(try batched.prepare(.valid), beamWidth: 4)
        #expect(beam.utterances == 3 && beam.words.referenceLength == 4)
    }

    @Test("a transcript longer than its frames allow, audio that is not a WAV or empty, and a foreign character name the manifest line")
    func badLines() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let corpus = try ToneSpeechCorpus.write(into: folder.appendingPathComponent("corpus"))
        let manifest = corpus.appendingPathComponent("train.tsv")
        let original = try String(contentsOf: manifest, encoding: .utf8)
        func expectError(_ line: String, mentioning needles: [String]) throws {
            try Data((original + "\n" + line + "\n").utf8).write(to: manifest)
            #expect { try SpeechRecognitionTask(configuration: try Self.configuration(corpus: corpus, output: folder.appendingPathComponent("run"))) } throws: { error in
                let text = "\(error)"
                return needles.allSatisfy { text.contains($0) } && text.contains(manifest.path)
            }
        }
        try expectError("audio/train/0.wav\t0.440\tabcabcabcabcabc", mentioning: ["line 14", "audio/train/0.wav", "too long for its audio", "4× conv2d"])
        var skipping = try Self.configuration(corpus: corpus, output: folder.appendingPathComponent("run"))
        skipping.data.skipUnfit = true
        let train = try SpeechRecognitionTask(configuration: skipping).prepare(.train)
        #expect(train.unfit == 1 && train.utterances.count == 12)
        try Data("not audio".utf8).write(to: corpus.appendingPathComponent("text.wav"))
        try expectError("text.wav\t1.0\tab", mentioning: ["line 14", "text.wav", "not a WAV"])
        try ToneSpeechCorpus.writeWAV([], to: corpus.appendingPathComponent("empty.wav"))
        try expectError("empty.wav\t1.0\tab", mentioning: ["line 14", "empty.wav"])
        try expectError("audio/train/0.wav\t0.440\tabé", mentioning: ["line 14", "é"])
    }
}
