import Foundation

/// A tiny speech corpus for tests, in the layout of `glance data fetch --corpus speech`:
/// vocabulary.json (blank, space, apostrophe, a–z) and train/valid/test/test-real manifests
/// whose "speech" plays one tone per letter (a 400 Hz, b 900 Hz, c 1,500 Hz; a space is
/// silence), 0.12 s each, between 0.1 s of silence.
public enum ToneSpeechCorpus {
    /// The transcripts of each split.
    public static let transcripts: [String: [String]] = [
        "train": ["a", "ab", "ba", "abc", "cab", "b a", "cc", "bca", "a c", "acb", "ca", "bb"],
        "valid": ["ab", "c a", "bac"],
        "test": ["ba", "cab"],
        "test-real": ["a b c"],
    ]

    /// Writes the corpus into `folder` (created when missing) and returns it.
    @discardableResult
    public static func write(into folder: URL) throws -> URL {
        let letters = " '" + "abcdefghijklmnopqrstuvwxyz"
        let tokens = ["<blank>"] + letters.map { String($0) }
        let vocabulary = try JSONSerialization.data(withJSONObject: ["blank": 0, "tokens": tokens], options: [.sortedKeys])
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try vocabulary.write(to: folder.appendingPathComponent("vocabulary.json"))
        for (split, lines) in transcripts {
            var manifest = ""
            for (index, transcript) in lines.enumerated() {
                let path = "audio/\(split)/\(index).wav"
                let samples = tones(transcript)
                try writeWAV(samples, to: folder.appendingPathComponent(path))
                manifest += "\(path)\t\(String(format: "%.3f", Double(samples.count) / 16_000))\t\(transcript)\n"
            }
            try Data(manifest.utf8).write(to: folder.appendingPathComponent("\(split).tsv"))
        }
        return folder
    }

    /// 16 kHz samples of `transcript`'s tones.
    public static func tones(_ transcript: String) -> [Float] {
        let frequencies: [Character: Float] = ["a": 400, "b": 900, "c": 1500]
        let silence = [Float](repeating: 0, count: 1600)
        var samples = silence
        for character in transcript {
            let frequency = frequencies[character] ?? 0
            samples += (0..<1920).map { 0.5 * sin(2 * Float.pi * frequency * Float($0) / 16_000) }
        }
        return samples + silence
    }

    /// Writes mono 16-bit PCM at 16 kHz (creating the folder).
    public static func writeWAV(_ samples: [Float], to url: URL) throws {
        func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        let data = samples.flatMap { bytes(Int16(max(-1, min(1, $0)) * 32_767)) }
        var file = Array("RIFF".utf8) + bytes(UInt32(36 + data.count)) + Array("WAVEfmt ".utf8)
        file += bytes(UInt32(16)) + bytes(UInt16(1)) + bytes(UInt16(1)) + bytes(UInt32(16_000)) + bytes(UInt32(32_000)) + bytes(UInt16(2)) + bytes(UInt16(16))
        file += Array("data".utf8) + bytes(UInt32(data.count)) + data
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(file).write(to: url)
    }
}
