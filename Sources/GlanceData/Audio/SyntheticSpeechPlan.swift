import Foundation
import GlanceCore

/// A voice of a Debian speech synthesiser.
public struct SyntheticVoice: Sendable, Hashable, CustomStringConvertible {
    public enum Engine: String, Sendable { case espeak = "espeak-ng", flite }
    public let engine: Engine
    /// espeak-ng: `LANGUAGE+VARIANT` (e.g. `en-us+m3`); flite: the voice name (e.g. `slt`).
    public let name: String

    public init(_ engine: Engine, _ name: String) {
        self.engine = engine
        self.name = name
    }

    public var description: String { "\(engine.rawValue):\(name)" }
}

/// One utterance to synthesise: a sentence, a voice and its prosody, and where it goes.
public struct SynthesisRequest: Sendable, Equatable {
    public let split: SpeechCorpus.Split
    public let sentence: String
    public let voice: SyntheticVoice
    /// espeak-ng: words per minute (`-s`); flite: `duration_stretch` (> 1 is slower).
    public let rate: Double
    /// espeak-ng: pitch 0–99 (`-p`); flite: `int_f0_target_mean` in Hz.
    public let pitch: Double
    /// The WAV path relative to the corpus folder.
    public let audioPath: String
}

/// Which voices speak which split, and the seeded plan of a synthetic speech corpus.
///
/// Valid and test voices never speak in train: espeak-ng accents and variants and flite voices
/// are held out whole. Train: accents en-us, en-gb, en-gb-x-rp, en-gb-x-gbclan and en-us-nyc ×
/// variants m1–m5, f1–f3 (40 voices), flite kal16 and slt. Valid: en-gb-scotland × m6, f4, and
/// flite rms. Test: en-029 and en-gb-x-gbcwmd × m7, f5, and flite awb. Sentences are split
/// 80/10/10 between train, valid and test, so no test sentence is heard in training either.
public enum SyntheticSpeechPlan {
    static func espeak(_ accents: [String], _ variants: [String]) -> [SyntheticVoice] {
        accents.flatMap { accent in variants.map { SyntheticVoice(.espeak, "\(accent)+\($0)") } }
    }

    /// The voices of a synthetic split (none for `.testReal`).
    public static func voices(for split: SpeechCorpus.Split) -> [SyntheticVoice] {
        switch split {
        case .train:
            espeak(["en-us", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-us-nyc"], ["m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3"])
                + [SyntheticVoice(.flite, "kal16"), SyntheticVoice(.flite, "slt")]
        case .valid: espeak(["en-gb-scotland"], ["m6", "f4"]) + [SyntheticVoice(.flite, "rms")]
        case .test: espeak(["en-029", "en-gb-x-gbcwmd"], ["m7", "f5"]) + [SyntheticVoice(.flite, "awb")]
        case .testReal: []
        }
    }

    /// The synthetic splits.
    public static let splits: [SpeechCorpus.Split] = [.train, .valid, .test]

    /// The fraction of each split spoken by flite (its few voices would otherwise be drowned by
    /// espeak-ng's many).
    public static let fliteShare = 0.3

    /// Plans `counts[split]` utterances per synthetic split from `sentences` (at least 3,
    /// shuffled with `seed` and dealt 80/10/10, each split cycling through its share), each with
    /// a voice of its split drawn at random (a flite voice with probability ``fliteShare``, else
    /// an espeak-ng voice), an espeak-ng rate of 130–210 words per minute and
    /// pitch 25–75, or a flite duration stretch of 0.8–1.25 and a mean pitch of 85–130 Hz
    /// (150–210 Hz for the female voice slt).
    public static func plan(sentences: [String], counts: [SpeechCorpus.Split: Int], seed: UInt64) -> [SynthesisRequest] {
        precondition(sentences.count >= 3, "a synthetic corpus needs at least 3 sentences, got \(sentences.count)")
        var generator = RandomGenerator(seed: seed)
        let shuffled = sentences.shuffled(using: &generator)
        let held = max(1, shuffled.count / 10)
        let shares: [SpeechCorpus.Split: ArraySlice<String>] = [
            .valid: shuffled[0..<held], .test: shuffled[held..<(2 * held)], .train: shuffled[(2 * held)...],
        ]
        var requests = [SynthesisRequest]()
        for split in splits {
            let share = Array(shares[split]!), voices = voices(for: split)
            let espeak = voices.filter { $0.engine == .espeak }, flite = voices.filter { $0.engine == .flite }
            for index in 0..<(counts[split] ?? 0) {
                let engineVoices = Double.random(in: 0..<1, using: &generator) < fliteShare ? flite : espeak
                let voice = engineVoices[Int.random(in: 0..<engineVoices.count, using: &generator)]
                let (rate, pitch): (Double, Double)
                switch voice.engine {
                case .espeak:
                    rate = Double(Int.random(in: 130...210, using: &generator))
                    pitch = Double(Int.random(in: 25...75, using: &generator))
                case .flite:
                    rate = (Double.random(in: 0.8...1.25, using: &generator) * 100).rounded() / 100
                    pitch = Double(voice.name == "slt" ? Int.random(in: 150...210, using: &generator) : Int.random(in: 85...130, using: &generator))
                }
                requests.append(SynthesisRequest(split: split, sentence: share[index % share.count], voice: voice, rate: rate, pitch: pitch,
                                                 audioPath: "audio/\(split.rawValue)/\(String(format: "%06d", index)).wav"))
            }
        }
        return requests
    }
}
