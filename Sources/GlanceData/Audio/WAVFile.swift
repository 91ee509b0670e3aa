import Foundation

/// Mono audio read from a WAV file: samples in [−1, 1] (floats as stored) at `sampleRate`.
public struct MonoAudio: Sendable, Equatable {
    public var samples: [Float]
    public var sampleRate: Int

    public init(samples: [Float], sampleRate: Int) {
        self.samples = samples
        self.sampleRate = sampleRate
    }

    /// Length in seconds.
    public var seconds: Double { Double(samples.count) / Double(sampleRate) }
}

/// How the samples of a WAV file are stored.
public struct WAVSampleFormat: Sendable, Equatable, CustomStringConvertible {
    public enum Encoding: Sendable, Equatable { case integer, float }
    public var encoding: Encoding
    public var bitsPerSample: Int
    public var channels: Int
    public var sampleRate: Int

    public var description: String {
        "\(channels) channel(s), \(sampleRate) Hz, \(bitsPerSample)-bit \(encoding == .integer ? "PCM" : "float")"
    }
}

/// Reading RIFF/WAVE files: PCM 8-bit (unsigned), 16/24/32-bit (signed) integer and 32/64-bit
/// IEEE float, plain or WAVE_FORMAT_EXTENSIBLE, any channel count (mixed down to mono by the
/// mean of the channels) and any sample rate. Integers are scaled by 2^(bits−1) (8-bit: minus
/// 128 first), as soundfile and torchaudio do.
public enum WAVFile {
    /// The mono audio of the file at `url`, resampled to `sampleRate` when given and different
    /// (libsamplerate, best sinc quality). Throws ``AudioFileError`` naming the file.
    public static func read(from url: URL, resamplingTo sampleRate: Int? = nil) throws -> MonoAudio {
        let bytes: [UInt8]
        do { bytes = try [UInt8](Data(contentsOf: url)) } catch {
            throw AudioFileError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        let audio = try decode(bytes, path: url.path)
        guard let sampleRate, sampleRate != audio.sampleRate else { return audio }
        return try Resampler.resample(audio, to: sampleRate, path: url.path)
    }

    /// Decodes the bytes of a WAV file; `path` names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> MonoAudio {
        let (format, data) = try locateChunks(bytes, path: path)
        let frameBytes = format.channels * format.bitsPerSample / 8
        guard data.count % frameBytes == 0 else {
            throw AudioFileError.truncated(path: path, reason: "the data chunk holds \(data.count) bytes, not a whole number of \(frameBytes)-byte frames")
        }
        let frames = data.count / frameBytes
        guard frames > 0 else { throw AudioFileError.emptyAudio(path: path) }
        return MonoAudio(samples: mixedDown(bytes, data: data, format: format, frames: frames), sampleRate: format.sampleRate)
    }

    /// Writes mono `samples` as 16-bit PCM (clipped to [−1, 1]) or 32-bit float.
    public static func write(_ audio: MonoAudio, to url: URL, encoding: WAVSampleFormat.Encoding = .integer) throws {
        let bits = encoding == .integer ? 16 : 32
        var out = [UInt8]()
        func append(_ value: UInt32, bytes count: Int) { for i in 0..<count { out.append(UInt8((value >> (8 * UInt32(i))) & 0xFF)) } }
        let dataBytes = audio.samples.count * bits / 8
        out += Array("RIFF".utf8); append(UInt32(36 + dataBytes), bytes: 4); out += Array("WAVEfmt ".utf8)
        append(16, bytes: 4); append(encoding == .integer ? 1 : 3, bytes: 2); append(1, bytes: 2)
        append(UInt32(audio.sampleRate), bytes: 4); append(UInt32(audio.sampleRate * bits / 8), bytes: 4)
        append(UInt32(bits / 8), bytes: 2); append(UInt32(bits), bytes: 2)
        out += Array("data".utf8); append(UInt32(dataBytes), bytes: 4)
        for sample in audio.samples {
            if encoding == .integer {
                let scaled = (Swift.min(Swift.max(sample, -1), 1) * 32767).rounded()
                append(UInt32(UInt16(bitPattern: Int16(scaled))), bytes: 2)
            } else {
                append(sample.bitPattern, bytes: 4)
            }
        }
        try Data(out).write(to: url)
    }

    /// The parsed `fmt ` chunk and the byte range of the `data` chunk.
    static func locateChunks(_ bytes: [UInt8], path: String) throws -> (WAVSampleFormat, Range<Int>) {
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw AudioFileError.notWAV(path: path, reason: "it does not start with a RIFF/WAVE header")
        }
        var offset = 12
        var format: WAVSampleFormat?
        while offset + 8 <= bytes.count {
            let identifier = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
            let size = Int(littleEndian(bytes, offset + 4, count: 4))
            let body = offset + 8
            if identifier == "data" {
                guard let format else { throw AudioFileError.notWAV(path: path, reason: "the data chunk comes before any fmt chunk") }
                guard body + size <= bytes.count else {
                    throw AudioFileError.truncated(path: path, reason: "the data chunk declares \(size) bytes but the file holds \(bytes.count - body)")
                }
                return (format, body..<(body + size))
            }
            guard body + size <= bytes.count else {
                throw AudioFileError.truncated(path: path, reason: "the '\(identifier)' chunk declares \(size) bytes but the file holds \(bytes.count - body)")
            }
            if identifier == "fmt " { format = try parseFormat(bytes[body..<(body + size)], path: path) }
            offset = body + size + (size & 1)  // chunks are padded to an even size
        }
        if format == nil { throw AudioFileError.notWAV(path: path, reason: "no fmt chunk") }
        throw AudioFileError.truncated(path: path, reason: "no data chunk")
    }

    /// The sample format of a `fmt ` chunk.
    static func parseFormat(_ chunk: ArraySlice<UInt8>, path: String) throws -> WAVSampleFormat {
        let start = chunk.startIndex
        guard chunk.count >= 16 else { throw AudioFileError.truncated(path: path, reason: "the fmt chunk holds \(chunk.count) bytes, fewer than 16") }
        var tag = littleEndian(chunk, start, count: 2)
        let channels = Int(littleEndian(chunk, start + 2, count: 2))
        let sampleRate = Int(littleEndian(chunk, start + 4, count: 4))
        let bits = Int(littleEndian(chunk, start + 14, count: 2))
        if tag == 0xFFFE {  // WAVE_FORMAT_EXTENSIBLE: the format tag is the first two bytes of the sub-format GUID
            guard chunk.count >= 40 else { throw AudioFileError.truncated(path: path, reason: "the extensible fmt chunk holds \(chunk.count) bytes, fewer than 40") }
            tag = littleEndian(chunk, start + 24, count: 2)
        }
        guard channels > 0 else { throw AudioFileError.unsupportedFormat(path: path, reason: "0 channels") }
        guard sampleRate > 0 else { throw AudioFileError.unsupportedFormat(path: path, reason: "sample rate 0") }
        switch (tag, bits) {
        case (1, 8), (1, 16), (1, 24), (1, 32):
            return WAVSampleFormat(encoding: .integer, bitsPerSample: bits, channels: channels, sampleRate: sampleRate)
        case (3, 32), (3, 64):
            return WAVSampleFormat(encoding: .float, bitsPerSample: bits, channels: channels, sampleRate: sampleRate)
        case (1, _), (3, _):
            throw AudioFileError.unsupportedFormat(path: path, reason: "\(bits)-bit \(tag == 1 ? "PCM" : "float") samples")
        default:
            throw AudioFileError.unsupportedFormat(path: path, reason: "format tag \(String(format: "0x%04X", tag)) (\(formatName(tag)))")
        }
    }

    /// The mean over channels of each frame, as Float.
    static func mixedDown(_ bytes: [UInt8], data: Range<Int>, format: WAVSampleFormat, frames: Int) -> [Float] {
        let channels = format.channels, width = format.bitsPerSample / 8
        var samples = [Float](repeating: 0, count: frames)
        bytes.withUnsafeBufferPointer { source in
            let base = source.baseAddress! + data.lowerBound
            for frame in 0..<frames {
                var total = 0.0
                for channel in 0..<channels {
                    total += sampleValue(base + (frame * channels + channel) * width, format: format)
                }
                samples[frame] = Float(channels == 1 ? total : total / Double(channels))
            }
        }
        return samples
    }

    /// One stored sample as a Double in [−1, 1] (integers) or as stored (floats).
    @inline(__always)
    static func sampleValue(_ p: UnsafePointer<UInt8>, format: WAVSampleFormat) -> Double {
        switch (format.encoding, format.bitsPerSample) {
        case (.integer, 8): return (Double(p[0]) - 128) / 128
        case (.integer, 16): return Double(Int16(bitPattern: UInt16(p[0]) | UInt16(p[1]) << 8)) / 32768
        case (.integer, 24):
            let raw = Int32(bitPattern: UInt32(p[0]) << 8 | UInt32(p[1]) << 16 | UInt32(p[2]) << 24) >> 8
            return Double(raw) / 8_388_608
        case (.integer, _): return Double(Int32(bitPattern: UInt32(littleEndian(p, count: 4)))) / 2_147_483_648
        case (.float, 32): return Double(Float(bitPattern: UInt32(littleEndian(p, count: 4))))
        default: return Double(bitPattern: littleEndian(p, count: 8))
        }
    }

    static func formatName(_ tag: UInt64) -> String {
        switch tag {
        case 2: "Microsoft ADPCM"
        case 6: "A-law"
        case 7: "µ-law"
        case 0x11: "IMA ADPCM"
        case 0x55: "MP3"
        default: "compressed or unknown"
        }
    }

    static func littleEndian<C: Collection>(_ bytes: C, _ offset: C.Index, count: Int) -> UInt64 where C.Element == UInt8, C.Index == Int {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    @inline(__always)
    static func littleEndian(_ p: UnsafePointer<UInt8>, count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(p[$1]) << (8 * UInt64($1)) }
    }
}
