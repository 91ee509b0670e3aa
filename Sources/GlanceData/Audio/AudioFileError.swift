import Foundation

/// A WAV file that cannot be read, or audio that cannot be used; each case names the file.
public enum AudioFileError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist or cannot be opened.
    case unreadable(path: String, reason: String)
    /// The file is not a RIFF/WAVE file.
    case notWAV(path: String, reason: String)
    /// A chunk or the sample data ends before its declared size.
    case truncated(path: String, reason: String)
    /// A sample format that Glance does not read (e.g. µ-law, ADPCM, 12-bit PCM).
    case unsupportedFormat(path: String, reason: String)
    /// The file holds no samples.
    case emptyAudio(path: String)
    /// Resampling failed (libsamplerate's message).
    case resamplingFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read the file: \(reason)"
        case .notWAV(let path, let reason): "\(path): not a WAV file: \(reason)"
        case .truncated(let path, let reason): "\(path): truncated WAV file: \(reason)"
        case .unsupportedFormat(let path, let reason):
            "\(path): unsupported WAV sample format: \(reason); Glance reads PCM 8/16/24/32-bit integer and 32/64-bit float "
                + "(convert with e.g. `sox \(path) -b 16 -e signed-integer out.wav`)"
        case .emptyAudio(let path): "\(path): the WAV file holds no audio samples"
        case .resamplingFailed(let path, let reason):
            "\(path): resampling failed: \(reason) (resample it beforehand with e.g. `sox \(path) -r 16000 out.wav`)"
        }
    }
}
