import Foundation
import GlanceCore
import GlanceData
import GlanceTestSupport
import Testing

/// The samples of a fixture WAV file (see tools/reference/make_speech_fixtures.py).
func fixtureAudio(_ name: String) throws -> [Float] {
    let audio = try WAVFile.read(from: ReferenceFixtures.folder.appendingPathComponent(name))
    #expect(audio.sampleRate == 16000)
    return audio.samples
}

@Suite struct LogMelFeaturesTests {
    @Test(arguments: [("pcm16", "speech_cards_002.wav"), ("float", "speech_cards_003_float.wav"), ("stereo", "speech_stereo.wav")])
    func matchesParakeetFeatureExtractor(_ signal: String, _ file: String) throws {
        let reference = try ReferenceFixtures.tensors("speech_features_\(signal)")
        let result = try LogMelFeatures().features(samples: try fixtureAudio(file))
        let expected = reference["output"]!
        #expect(result.features.shape == expected.shape)
        #expect(result.lengths == [Int(reference["attention_mask"]!.scalars.reduce(0, +))])
        let difference = maxAbsoluteDifference(result.features, expected)
        #expect(difference <= 1e-4, "\(signal): max |Δ| \(difference)")
    }

    @Test func batchMatchesTheReferenceAndEachSignalAlone() throws {
        let reference = try ReferenceFixtures.tensors("speech_features_batch")
        let signals = [try fixtureAudio("speech_cards_002.wav"), try fixtureAudio("speech_cards_003_float.wav")]
        #expect(signals.map { Float($0.count) } == reference["lengths"]!.scalars)
        let extractor = try LogMelFeatures()
        let batch = try extractor.features(batch: signals)
        #expect(batch.features.shape == reference["output"]!.shape)
        let difference = maxAbsoluteDifference(batch.features, reference["output"]!)
        #expect(difference <= 1e-4, "max |Δ| \(difference)")
        #expect(batch.lengths == ReferenceFixtures.rows(reference["attention_mask"]!).map { $0.reduce(0, +) })
        // The shorter entry equals its features alone on its frames, and is zero after them.
        let alone = try extractor.features(samples: signals[1]).features
        let frames = alone.shape[1], longest = batch.features.shape[1], bins = 80
        let row = Array(batch.features.scalars[(longest * bins)..<(2 * longest * bins)])
        #expect(Array(row[0..<(frames * bins)]) == alone.scalars)
        #expect(row[(batch.lengths[1] * bins)...].allSatisfy { $0 == 0 })
    }

    @Test func melFilterBankMatchesTransformers() {
        // Values of transformers' mel_filter_bank(257, 80, 0, 8000, 16000, "slaney", "slaney", float32).
        let bank = MelFilterBank(melBins: 80, fftSize: 512, sampleRate: 16000)
        #expect(bank.weights.count == 80 && bank.bins == 257)
        for (m, first, count, firstWeight, peak) in [(0, 1, 2, 0.02253456, 0.02253456), (40, 54, 4, 0.0071594412, 0.014444176),
                                                     (79, 238, 18, 0.00033759614, 0.0032521484)] as [(Int, Int, Int, Float, Float)] {
            #expect(bank.firstBin[m] == first && bank.weights[m].count == count)
            #expect(isClose(bank.weights[m][0], firstWeight) && isClose(bank.weights[m].max()!, peak))
        }
    }

    @Test func configurationDecodesAParakeetExtractorFile() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let plain = folder.appendingPathComponent("preprocessor_config.json")
        try Data(#"{"feature_extractor_type": "ParakeetFeatureExtractor", "feature_size": 128, "hop_length": 80, "n_fft": 400, "win_length": 320, "preemphasis": null, "sampling_rate": 8000, "padding_value": 0.0}"#.utf8).write(to: plain)
        let configuration = try LogMelConfiguration(contentsOf: plain)
        #expect(configuration == LogMelConfiguration(melBins: 128, sampleRate: 8000, hopLength: 80, fftSize: 400, windowLength: 320, preemphasis: nil))
        let nested = folder.appendingPathComponent("processor_config.json")
        try Data(#"{"feature_extractor": {"hop_length": 100}, "processor_class": "ParakeetProcessor"}"#.utf8).write(to: nested)
        #expect(try LogMelConfiguration(contentsOf: nested).hopLength == 100)

        let bad: [(String, String)] = [
            (#"{"n_fft": 511}"#, "n_fft"), (#"{"win_length": 1000}"#, "win_length"), (#"{"hop_length": "160"}"#, "hop_length"),
            (#"{"preemphasis": 1.5}"#, "preemphasis"), (#"{"feature_extractor_type": "WhisperFeatureExtractor"}"#, "feature_extractor_type"),
            (#"{"dither": 0.00001}"#, "dither"), ("[1, 2]", "(file)"), ("not json", "(file)"),
        ]
        for (text, field) in bad {
            try Data(text.utf8).write(to: plain)
            #expect(performing: { _ = try LogMelConfiguration(contentsOf: plain) }, throws: { error in
                guard let error = error as? LogMelConfigurationError else { return false }
                return error.field == field && error.path == plain.path
            })
        }
    }

    @Test func tooShortAudioThrowsNamingTheEntry() throws {
        let extractor = try LogMelFeatures()
        #expect(performing: {
            _ = try extractor.features(batch: [[Float](repeating: 0.1, count: 400), [Float](repeating: 0.1, count: 300)])
        }, throws: { error in
            guard let error = error as? LogMelInputError else { return false }
            return error.batchIndex == 1 && error.samples == 300 && error.neededSamples == 320
        })
        // Two frames are enough; silence gives finite features.
        let silence = try extractor.features(samples: [Float](repeating: 0, count: 320))
        #expect(silence.lengths == [2] && silence.features.shape == [1, 3, 80])
        #expect(silence.features.scalars.allSatisfy { $0.isFinite })
    }
}
