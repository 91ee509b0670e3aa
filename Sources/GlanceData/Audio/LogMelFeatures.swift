import CKissFFT
import Foundation
import GlanceCore

/// Log-mel features of a batch: `features` [batch, frames, mel bins], zero on each entry's
/// frames from `lengths[b]` on.
public struct LogMelFeatureBatch: Sendable {
    public var features: Tensor
    /// Valid frames per batch entry.
    public var lengths: [Int]
}

/// Audio that is too short for normalised features.
public struct LogMelInputError: Error, CustomStringConvertible, Equatable {
    public let batchIndex: Int
    public let samples: Int
    public let neededSamples: Int

    public var description: String {
        "audio \(batchIndex) holds \(samples) samples; log-mel features need at least \(neededSamples) (two frames) to be normalised"
    }
}

/// Log-mel filterbank features equal to transformers 5.24.0's `ParakeetFeatureExtractor`
/// (dither off): pre-emphasis (masked to each signal's length), a centred STFT with zero
/// padding of n_fft/2 and a symmetric Hann window of `win_length` centred in the n_fft frame
/// (kissfft's real FFT), the power spectrum through ``MelFilterBank``, log(x + 2⁻²⁴), then per
/// mel bin: the mean and the unbiased standard deviation over the valid frames,
/// (x − mean)/(std + 1e-5), padding frames zero. An entry of n samples has n / hop valid
/// frames; the batch has (longest n) / hop + 1 frames, as the reference's.
public struct LogMelFeatures: Sendable {
    public let configuration: LogMelConfiguration
    public let filterBank: MelFilterBank
    /// The Hann window zero-padded and centred in n_fft samples.
    let window: [Float]

    /// Throws ``LogMelConfigurationError`` for an invalid configuration.
    public init(_ configuration: LogMelConfiguration = LogMelConfiguration()) throws {
        try configuration.validate()
        self.configuration = configuration
        filterBank = MelFilterBank(melBins: configuration.melBins, fftSize: configuration.fftSize, sampleRate: configuration.sampleRate)
        let length = configuration.windowLength, offset = (configuration.fftSize - length) / 2
        var window = [Float](repeating: 0, count: configuration.fftSize)
        for i in 0..<length {
            window[offset + i] = length == 1 ? 1 : Float(0.5 - 0.5 * Foundation.cos(2 * Double.pi * Double(i) / Double(length - 1)))
        }
        self.window = window
    }

    /// Valid frames of a signal of `samples` samples.
    public func validFrames(samples: Int) -> Int { samples / configuration.hopLength }

    /// The features of one signal at ``LogMelConfiguration/sampleRate``: a batch of one.
    public func features(samples: [Float]) throws -> LogMelFeatureBatch { try features(batch: [samples]) }

    /// The features of signals of any lengths, padded as the reference pads a batch.
    /// Throws ``LogMelInputError`` for a signal shorter than two hops.
    public func features(batch: [[Float]]) throws -> LogMelFeatureBatch {
        precondition(!batch.isEmpty, "log-mel features of an empty batch")
        let hop = configuration.hopLength, melBins = configuration.melBins
        for (index, signal) in batch.enumerated() where validFrames(samples: signal.count) < 2 {
            throw LogMelInputError(batchIndex: index, samples: signal.count, neededSamples: 2 * hop)
        }
        let lengths = batch.map { validFrames(samples: $0.count) }
        let frames = batch.map(\.count).max()! / hop + 1
        let signals = batch.map(preemphasized)
        let output = Tensor(shape: [batch.count, frames, melBins]) { out in
            out.update(repeating: 0)
            let o = SendablePointer(out.baseAddress!)
            signals.withUnsafeBufferPointer { signalBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    let s = SendablePointer(signalBuffer.baseAddress!), l = SendablePointer(lengthBuffer.baseAddress!)
                    parallelFor(batch.count * frames, grain: 16) { range in
                        logMelFrames(range, frames: frames, signals: s.base, lengths: l.base, output: o.base)
                    }
                    parallelFor(batch.count) { range in
                        for b in range { normalize(o.base + b * frames * melBins, frames: l.base[b]) }
                    }
                }
            }
        }
        return LogMelFeatureBatch(features: output, lengths: lengths)
    }

    /// x[0], x[t] − a·x[t−1] (the signal itself without pre-emphasis).
    func preemphasized(_ signal: [Float]) -> [Float] {
        guard let a = configuration.preemphasis, !signal.isEmpty else { return signal }
        var out = signal
        for t in stride(from: signal.count - 1, to: 0, by: -1) { out[t] = signal[t] - a * signal[t - 1] }
        return out
    }

    /// log(mel power + 2⁻²⁴) of the valid frames among the flat (entry, frame) indices `range`.
    func logMelFrames(_ range: Range<Int>, frames: Int, signals: UnsafeMutablePointer<[Float]>, lengths: UnsafeMutablePointer<Int>,
                      output: UnsafeMutablePointer<Float>) {
        let fftSize = configuration.fftSize, hop = configuration.hopLength, melBins = configuration.melBins
        guard let plan = kiss_fftr_alloc(Int32(fftSize), 0, nil, nil) else { fatalError("kissfft could not allocate a \(fftSize)-point plan") }
        defer { free(UnsafeMutableRawPointer(plan)) }  // kiss_fftr_free is a macro for free
        var frame = [Float](repeating: 0, count: fftSize)
        var spectrum = [kiss_fft_cpx](repeating: kiss_fft_cpx(), count: fftSize / 2 + 1)
        var power = [Float](repeating: 0, count: fftSize / 2 + 1)
        let guardValue = Float(1.0 / 16_777_216.0)  // 2⁻²⁴
        for index in range {
            let b = index / frames, t = index % frames
            guard t < lengths[b] else { continue }
            signals[b].withUnsafeBufferPointer { signal in
                let start = t * hop - fftSize / 2
                for j in 0..<fftSize {
                    let i = start + j
                    frame[j] = i >= 0 && i < signal.count ? signal[i] * window[j] : 0
                }
            }
            kiss_fftr(plan, frame, &spectrum)
            for k in power.indices { power[k] = spectrum[k].r * spectrum[k].r + spectrum[k].i * spectrum[k].i }
            let row = output + index * melBins
            for m in 0..<melBins {
                let first = filterBank.firstBin[m]
                var total: Float = 0
                for (k, weight) in filterBank.weights[m].enumerated() { total += weight * power[first + k] }
                row[m] = Foundation.log(total + guardValue)
            }
        }
    }

    /// Per mel bin over the first `frames` rows: (x − mean)/(unbiased std + 1e-5).
    func normalize(_ rows: UnsafeMutablePointer<Float>, frames: Int) {
        let melBins = configuration.melBins
        for m in 0..<melBins {
            var total = 0.0
            for t in 0..<frames { total += Double(rows[t * melBins + m]) }
            let mean = total / Double(frames)
            var squares = 0.0
            for t in 0..<frames { let d = Double(rows[t * melBins + m]) - mean; squares += d * d }
            let scale = 1 / ((squares / Double(frames - 1)).squareRoot() + 1e-5)
            for t in 0..<frames { rows[t * melBins + m] = Float((Double(rows[t * melBins + m]) - mean) * scale) }
        }
    }
}
