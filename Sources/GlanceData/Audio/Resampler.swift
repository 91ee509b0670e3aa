import CSampleRate
import Foundation

/// Sample rate conversion with libsamplerate (Secret Rabbit Code), best-quality sinc
/// interpolation: the band below the lower Nyquist frequency passes unchanged, the rest is
/// filtered out.
public enum Resampler {
    /// `audio` converted to `sampleRate`; `path` names the source in errors.
    public static func resample(_ audio: MonoAudio, to sampleRate: Int, path: String = "audio") throws -> MonoAudio {
        precondition(sampleRate > 0, "resampling to \(sampleRate) Hz")
        guard sampleRate != audio.sampleRate, !audio.samples.isEmpty else { return MonoAudio(samples: audio.samples, sampleRate: sampleRate) }
        let ratio = Double(sampleRate) / Double(audio.sampleRate)
        guard src_is_valid_ratio(ratio) != 0 else {
            throw AudioFileError.resamplingFailed(path: path, reason: "\(audio.sampleRate) Hz to \(sampleRate) Hz is a ratio beyond libsamplerate's 1/256…256")
        }
        let outputCapacity = Int((Double(audio.samples.count) * ratio).rounded(.up)) + 16
        var output = [Float](repeating: 0, count: outputCapacity)
        var produced = 0
        let status: Int32 = audio.samples.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                var data = SRC_DATA()
                data.data_in = input.baseAddress
                data.data_out = out.baseAddress
                data.input_frames = Int(input.count)
                data.output_frames = Int(out.count)
                data.src_ratio = ratio
                data.end_of_input = 1
                let status = src_simple(&data, Int32(SRC_SINC_BEST_QUALITY), 1)
                produced = Int(data.output_frames_gen)
                return status
            }
        }
        guard status == 0 else {
            throw AudioFileError.resamplingFailed(path: path, reason: String(cString: src_strerror(status)))
        }
        output.removeSubrange(produced...)
        return MonoAudio(samples: output, sampleRate: sampleRate)
    }
}
