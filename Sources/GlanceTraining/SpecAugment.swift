import GlanceCore

/// SpecAugment's masking (Park et al. 2019; without time warping, as the Conformer paper
/// uses it): per utterance, `frequencyMasks` bands of f ~ U{0…frequencyMaskWidth} consecutive
/// mel bins and `timeMasks` spans of t ~ U{0…⌊timeMaskRatio · frames⌋} consecutive frames
/// (the utterance's real frames) are set to 0, the mean of the normalised features.
public struct SpecAugment: Sendable, Equatable {
    public var frequencyMasks: Int
    public var frequencyMaskWidth: Int
    public var timeMasks: Int
    public var timeMaskRatio: Double

    public init(frequencyMasks: Int, frequencyMaskWidth: Int, timeMasks: Int, timeMaskRatio: Double) {
        (self.frequencyMasks, self.frequencyMaskWidth, self.timeMasks, self.timeMaskRatio) = (frequencyMasks, frequencyMaskWidth, timeMasks, timeMaskRatio)
    }

    /// Masks `features` [batch, frames, bins] in place, entry b within its first `lengths[b]`
    /// frames, drawing the masks from `generator`.
    public func apply(to features: inout [Float], frames: Int, bins: Int, lengths: [Int], generator: inout RandomGenerator) {
        precondition(features.count == lengths.count * frames * bins && lengths.allSatisfy { $0 <= frames },
                     "SpecAugment: \(features.count) values for lengths \(lengths) of \(frames) frames × \(bins) bins")
        features.withUnsafeMutableBufferPointer { values in
            for (b, length) in lengths.enumerated() {
                let entry = values.baseAddress! + b * frames * bins
                for _ in 0..<frequencyMasks {
                    let (start, width) = Self.span(widest: Swift.min(frequencyMaskWidth, bins), within: bins, generator: &generator)
                    for t in 0..<length { (entry + t * bins + start).update(repeating: 0, count: width) }
                }
                let widestTime = Int(timeMaskRatio * Double(length))
                for _ in 0..<timeMasks {
                    let (start, width) = Self.span(widest: widestTime, within: length, generator: &generator)
                    (entry + start * bins).update(repeating: 0, count: width * bins)
                }
            }
        }
    }

    /// A width uniform in 0…widest and a start uniform among the positions where it fits in `extent`.
    static func span(widest: Int, within extent: Int, generator: inout RandomGenerator) -> (start: Int, width: Int) {
        let width = generator.nextInt(below: widest + 1)
        return (generator.nextInt(below: extent - width + 1), width)
    }
}
