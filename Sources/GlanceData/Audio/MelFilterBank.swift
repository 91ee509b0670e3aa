import Foundation

/// Triangular mel filters on the bins of a real FFT, Slaney mel scale and Slaney area
/// normalisation, from 0 Hz to the Nyquist frequency: transformers' `mel_filter_bank(…,
/// norm="slaney", mel_scale="slaney", dtype=float32)` (equal to librosa's). The triangles are
/// computed in Double and rounded to Float before the normalisation, as there.
/// Each filter is stored as its nonzero run of bins.
public struct MelFilterBank: Sendable {
    /// First FFT bin of each filter's nonzero run.
    public let firstBin: [Int]
    /// The weights of each filter's run.
    public let weights: [[Float]]
    /// FFT bins (n_fft/2 + 1).
    public let bins: Int

    public init(melBins: Int, fftSize: Int, sampleRate: Int) {
        let bins = fftSize / 2 + 1
        let melMax = Self.slaneyMel(hertz: Double(sampleRate) / 2)
        let melStep = melMax / Double(melBins + 1)
        var edges = (0..<(melBins + 2)).map { Self.slaneyHertz(mel: Double($0) * melStep) }
        edges[melBins + 1] = Self.slaneyHertz(mel: melMax)
        let binStep = Double(sampleRate / 2) / Double(bins - 1)
        var firstBin = [Int](), weights = [[Float]]()
        for m in 0..<melBins {
            let lower = edges[m], centre = edges[m + 1], upper = edges[m + 2]
            let area = 2 / (upper - lower)
            var run = [Float](), first = -1
            for k in 0..<bins {
                let frequency = k == bins - 1 ? Double(sampleRate / 2) : Double(k) * binStep
                let rising = (frequency - lower) / (centre - lower), falling = (upper - frequency) / (upper - centre)
                let triangle = Float(Swift.max(0, Swift.min(rising, falling)))
                guard triangle > 0 else { if first >= 0 { break } else { continue } }
                if first < 0 { first = k }
                run.append(Float(Double(triangle) * area))
            }
            firstBin.append(Swift.max(first, 0))
            weights.append(run)
        }
        self.firstBin = firstBin
        self.weights = weights
        self.bins = bins
    }

    /// Slaney's mel scale: linear below 1 kHz (3 mel per 200 Hz), logarithmic above.
    static func slaneyMel(hertz: Double) -> Double {
        hertz < 1000 ? 3 * hertz / 200 : 15 + Foundation.log(hertz / 1000) * 27 / Foundation.log(6.4)
    }

    /// The inverse of ``slaneyMel(hertz:)``.
    static func slaneyHertz(mel: Double) -> Double {
        mel < 15 ? 200 * mel / 3 : 1000 * Foundation.exp(Foundation.log(6.4) / 27 * (mel - 15))
    }
}
