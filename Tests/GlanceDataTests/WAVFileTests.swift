import Foundation
import GlanceData
import GlanceTestSupport
import Testing

/// The bytes of a WAV file: a `fmt ` chunk (plain, or extensible with `tag` as the sub-format),
/// optional chunks before the data, and `data`. `declaredDataBytes` overrides the data size.
func wavBytes(tag: UInt16, channels: Int, sampleRate: Int = 16000, bits: Int, data: [UInt8], extensible: Bool = false,
              chunksBeforeData: [(String, [UInt8])] = [], declaredDataBytes: Int? = nil) -> [UInt8] {
    func le(_ value: Int, _ count: Int) -> [UInt8] { (0..<count).map { UInt8((value >> (8 * $0)) & 0xFF) } }
    var fmt = le(extensible ? 0xFFFE : Int(tag), 2) + le(channels, 2) + le(sampleRate, 4)
        + le(sampleRate * channels * bits / 8, 4) + le(channels * bits / 8, 2) + le(bits, 2)
    if extensible {
        let guidTail: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]
        fmt += le(22, 2) + le(bits, 2) + le(0, 4) + le(Int(tag), 2) + guidTail
    }
    var body = Array("WAVE".utf8) + Array("fmt ".utf8) + le(fmt.count, 4) + fmt
    for (name, chunk) in chunksBeforeData {
        body += Array(name.utf8) + le(chunk.count, 4) + chunk + (chunk.count % 2 == 1 ? [0] : [])
    }
    body += Array("data".utf8) + le(declaredDataBytes ?? data.count, 4) + data
    return Array("RIFF".utf8) + le(body.count, 4) + body
}

/// Little-endian bytes of signed integers of `width` bytes.
func integerSamples(_ values: [Int], width: Int) -> [UInt8] {
    values.flatMap { value in (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
}

@Suite struct WAVFileTests {
    @Test("a sample rate whose ratio to the target is beyond libsamplerate's 1/256…256 is an error, not an allocation")
    func resamplingRatioLimits() {
        for rate in [1, 40, 16000 * 257] {
            #expect(throws: AudioFileError.self, "\(rate) Hz") { try Resampler.resample(MonoAudio(samples: [0, 0.5, -0.5], sampleRate: rate), to: 16000) }
        }
    }

    @Test func readsEveryIntegerWidth() throws {
        let cases: [(bits: Int, data: [UInt8], expected: [Float])] = [
            (8, [0, 128, 255, 192], [-1, 0, 127.0 / 128, 0.5]),
            (16, integerSamples([-32768, 0, 16384, 32767], width: 2), [-1, 0, 0.5, 32767.0 / 32768]),
            (24, integerSamples([-8_388_608, -1, 4_194_304, 8_388_607], width: 3), [-1, -1.0 / 8_388_608, 0.5, Float(8_388_607.0 / 8_388_608)]),
            (32, integerSamples([Int(Int32.min), 0, 1 << 30, -(1 << 29)], width: 4), [-1, 0, 0.5, -0.25]),
        ]
        for c in cases {
            let audio = try WAVFile.decode(wavBytes(tag: 1, channels: 1, sampleRate: 22050, bits: c.bits, data: c.data), path: "x.wav")
            #expect(audio.sampleRate == 22050)
            #expect(audio.samples == c.expected, "\(c.bits)-bit")
        }
    }

    @Test func readsFloatsAndExtensibleFormats() throws {
        let values: [Float] = [0.25, -1.5, 3e-8, 0.75]
        let float32 = values.flatMap { v in integerSamples([Int(v.bitPattern)], width: 4) }
        let float64 = values.flatMap { v in integerSamples([Int(bitPattern: UInt(Double(v).bitPattern))], width: 8) }
        #expect(try WAVFile.decode(wavBytes(tag: 3, channels: 1, bits: 32, data: float32), path: "f.wav").samples == values)
        #expect(try WAVFile.decode(wavBytes(tag: 3, channels: 1, bits: 64, data: float64), path: "d.wav").samples == values)
        #expect(try WAVFile.decode(wavBytes(tag: 3, channels: 1, bits: 32, data: float32, extensible: true), path: "e.wav").samples == values)
        let pcm = integerSamples([16384, -16384], width: 2)
        #expect(try WAVFile.decode(wavBytes(tag: 1, channels: 1, bits: 16, data: pcm, extensible: true), path: "e.wav").samples == [0.5, -0.5])
    }

    @Test func mixesChannelsDownAndSkipsOtherChunks() throws {
        // Three channels, two frames: the mean of each frame.
        let data = integerSamples([16384, 0, -8192, 32767, 32767, 32767], width: 2)
        let bytes = wavBytes(tag: 1, channels: 3, bits: 16, data: data, chunksBeforeData: [("LIST", [1, 2, 3]), ("fact", [0, 0, 0, 0])])
        let audio = try WAVFile.decode(bytes, path: "x.wav")
        #expect(audio.samples.count == 2)
        #expect(isClose(audio.samples[0], (0.5 + 0 - 0.25) / 3) && isClose(audio.samples[1], 32767.0 / 32768))
    }

    @Test func badFilesThrowErrorsNamingTheFile() throws {
        let good = wavBytes(tag: 1, channels: 1, bits: 16, data: integerSamples([1, 2, 3], width: 2))
        let cases: [(bytes: [UInt8], check: (AudioFileError) -> Bool)] = [
            (Array("just some text, not audio".utf8), { if case .notWAV = $0 { true } else { false } }),
            (Array(good.prefix(30)), { if case .truncated = $0 { true } else { false } }),
            (wavBytes(tag: 1, channels: 1, bits: 16, data: [1, 2], declaredDataBytes: 200), { if case .truncated = $0 { true } else { false } }),
            (wavBytes(tag: 1, channels: 2, bits: 16, data: [1, 2, 3, 4, 5, 6]), { if case .truncated = $0 { true } else { false } }),
            (wavBytes(tag: 7, channels: 1, bits: 8, data: [1, 2]), { if case .unsupportedFormat = $0 { true } else { false } }),
            (wavBytes(tag: 1, channels: 1, bits: 12, data: [1, 2]), { if case .unsupportedFormat = $0 { true } else { false } }),
            (wavBytes(tag: 3, channels: 1, bits: 16, data: [1, 2]), { if case .unsupportedFormat = $0 { true } else { false } }),
            (wavBytes(tag: 1, channels: 1, bits: 16, data: []), { $0 == .emptyAudio(path: "bad.wav") }),
        ]
        for (index, c) in cases.enumerated() {
            #expect("case \(index)", performing: { _ = try WAVFile.decode(c.bytes, path: "bad.wav") }, throws: { error in
                guard let error = error as? AudioFileError else { return false }
                return c.check(error) && error.description.contains("bad.wav")
            })
        }
        #expect(throws: AudioFileError.self) { _ = try WAVFile.read(from: URL(fileURLWithPath: "/nonexistent/missing.wav")) }
    }

    @Test func writesAndReadsBack() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let audio = MonoAudio(samples: [0, 0.5, -0.25, 1, -1], sampleRate: 8000)
        for encoding in [WAVSampleFormat.Encoding.integer, .float] {
            let url = folder.appendingPathComponent("out.wav")
            try WAVFile.write(audio, to: url, encoding: encoding)
            let back = try WAVFile.read(from: url)
            #expect(back.sampleRate == 8000)
            #expect(isClose(back.samples, audio.samples, relativeTolerance: 0, absoluteTolerance: encoding == .float ? 0 : 1.0 / 32768))
        }
    }

    /// The frequency of the largest DFT magnitude of `samples` between 100 Hz and 2 kHz, in 1 Hz steps.
    func dominantFrequency(_ samples: [Float], sampleRate: Int) -> Int {
        var best = (frequency: 0, power: 0.0)
        for frequency in 100..<2000 {
            var re = 0.0, im = 0.0
            for (n, x) in samples.enumerated() {
                let phase = 2 * Double.pi * Double(frequency) * Double(n) / Double(sampleRate)
                re += Double(x) * cos(phase); im += Double(x) * sin(phase)
            }
            if re * re + im * im > best.power { best = (frequency, re * re + im * im) }
        }
        return best.frequency
    }

    @Test func resamplingKeepsASinesFrequencyAndTheDuration() throws {
        let sampleRate = 44100, frequency = 440.0, count = 4410
        let sine = (0..<count).map { Float(0.5 * sin(2 * Double.pi * frequency * Double($0) / Double(sampleRate))) }
        let resampled = try Resampler.resample(MonoAudio(samples: sine, sampleRate: sampleRate), to: 16000)
        #expect(resampled.sampleRate == 16000)
        #expect(Swift.abs(resampled.samples.count - 1600) <= 1)
        #expect(dominantFrequency(Array(resampled.samples[200..<1400]), sampleRate: 16000) == 440)
        // Amplitude kept away from the edges.
        let peak = resampled.samples[200..<1400].map { Swift.abs($0) }.max()!
        #expect(Swift.abs(peak - 0.5) < 0.01, "peak \(peak)")
    }

    @Test func readResamplesToTheRequestedRate() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let url = folder.appendingPathComponent("tone.wav")
        let tone = (0..<2205).map { Float(0.3 * sin(2 * Double.pi * 1000 * Double($0) / 22050)) }
        try WAVFile.write(MonoAudio(samples: tone, sampleRate: 22050), to: url, encoding: .float)
        let audio = try WAVFile.read(from: url, resamplingTo: 16000)
        #expect(audio.sampleRate == 16000 && Swift.abs(audio.samples.count - 1600) <= 1)
        #expect(dominantFrequency(Array(audio.samples[200..<1400]), sampleRate: 16000) == 1000)
    }
}
