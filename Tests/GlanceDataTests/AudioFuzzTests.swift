import Foundation
import GlanceCore
import GlanceData
import GlanceTestSupport
import Testing

/// Seeded mutation fuzzing of the speech corpus files: WAV files (decoded, then resampled to
/// 16 kHz), manifests and vocabulary.json. Every mutated file either reads or throws the
/// reader's own error type; a trap fails the run.
@Suite struct AudioFuzzTests {
    /// Offsets of the size and format fields of a plain WAV header (RIFF size, fmt size, tag,
    /// channels, sample rate, byte rate, block align, bits, data size).
    static let headerFields: [(offset: Int, width: Int)] = [(4, 4), (16, 4), (20, 2), (22, 2), (24, 4), (28, 4), (32, 2), (34, 2), (40, 4)]
    static let hostileFieldValues: [UInt64] = [0, 1, 2, 3, 7, 8, 12, 24, 64, 0xFFFE, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000, 44100, 1 << 20]

    static func seeds() -> [[UInt8]] {
        let samples = (0..<64).map { Int(20_000 * sin(Double($0) / 3)) }
        return [wavBytes(tag: 1, channels: 1, bits: 16, data: integerSamples(samples, width: 2)),
                wavBytes(tag: 1, channels: 2, sampleRate: 8000, bits: 24, data: integerSamples(samples, width: 3), extensible: true),
                wavBytes(tag: 3, channels: 1, sampleRate: 22050, bits: 32, data: samples.flatMap { value in
                    withUnsafeBytes(of: (Float(value) / 32768).bitPattern.littleEndian) { Array($0) } }, chunksBeforeData: [("LIST", [1, 2, 3])]),
                wavBytes(tag: 1, channels: 3, sampleRate: 48000, bits: 8, data: (0..<63).map { UInt8($0 * 4) })]
    }

    /// A header field overwritten with a hostile value, or a generic byte mutation.
    static func mutateWAV(_ bytes: [UInt8], _ random: inout RandomGenerator) -> [UInt8] {
        guard random.nextInt(below: 2) == 0 else { return Mutator().mutate(bytes, &random) }
        var result = bytes
        let field = headerFields.randomElement(using: &random)!
        let value = hostileFieldValues.randomElement(using: &random)!
        for i in 0..<field.width where field.offset + i < result.count { result[field.offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        return result
    }

    @Test(.timeLimit(.minutes(1))) func mutatedWAVFilesDecodeOrThrowAudioFileErrors() throws {
        let seeds = Self.seeds()
        var tally = FuzzTally()
        for index in 0..<4_000 {
            var random = RandomGenerator(seed: 31_000 &+ UInt64(index))
            var bytes = seeds[index % seeds.count]
            for _ in 0...random.nextInt(below: 2) { bytes = Self.mutateWAV(bytes, &random) }
            tally.record("case \(index)", isExpected: { $0 is AudioFileError }) {
                let audio = try WAVFile.decode(bytes, path: "fuzz.wav")
                #expect(audio.sampleRate > 0 && !audio.samples.isEmpty)
                _ = try Resampler.resample(audio, to: 16000, path: "fuzz.wav")
            }
        }
        #expect(tally.failures.isEmpty, "\(tally)")
        #expect(tally.count("accepted") > 400 && tally.refused > 1_000, "\(tally)")
    }

    @Test(.timeLimit(.minutes(1))) func mutatedManifestsAndVocabulariesReadOrThrowSpeechCorpusErrors() throws {
        let folder = try makeTemporaryFolder("glance-speech-fuzz")
        defer { remove(folder) }
        let manifest = folder.appendingPathComponent("train.tsv")
        let seed = "audio/a.wav\t1.250\thello world\naudio/b.wav\t0.5\tit's here\n\nc.wav\t12\tz\n"
        let vocabulary = try String(decoding: JSONEncoder().encode(SpeechVocabulary.english), as: UTF8.self)
        let mutator = Mutator(fragments: Mutator.structuralFragments + ["\t", "\t\t", "/abs.wav", "ß", "\"<blank>\","])
        var tally = FuzzTally()
        for index in 0..<3_000 {
            var random = RandomGenerator(seed: 32_000 &+ UInt64(index))
            if index % 2 == 0 {
                let text = mutator.mutate(seed, &random)
                try Data(text.utf8).write(to: manifest)
                tally.record("manifest \(text.debugDescription)", isExpected: { $0 is SpeechCorpusError }) {
                    let utterances = try SpeechManifest.read(from: manifest, vocabulary: .english)
                    #expect(utterances.allSatisfy { $0.seconds > 0 && $0.seconds.isFinite && !$0.transcript.isEmpty })
                }
            } else {
                let text = mutator.mutate(vocabulary, &random)
                try Data(text.utf8).write(to: folder.appendingPathComponent(SpeechVocabulary.fileName))
                tally.record("vocabulary \(text.debugDescription)", isExpected: { $0 is SpeechCorpusError }) {
                    let read = try SpeechVocabulary.read(from: folder)
                    _ = read.decode(read.encode("hello") ?? [])
                }
            }
        }
        #expect(tally.failures.isEmpty, "\(tally)")
        #expect(tally.count("accepted") > 100 && tally.refused > 1_000, "\(tally)")
    }
}
