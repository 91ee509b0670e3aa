import GlanceCore
import GlanceNN

/// A Conformer encoder with a CTC head: log-mel frames → per-frame scores over the output
/// units and the blank (Hugging Face's `ParakeetForCTC`).
public final class ConformerCTC: Module {
    public let encoder: ConformerEncoder
    public let head: CTCHead
    /// The index of the blank unit.
    public let blank: Int

    public init(encoder: ConformerEncoder, vocabulary: Int, blank: Int, seed: UInt64 = 0) {
        precondition(blank >= 0 && blank < vocabulary, "the blank \(blank) must be one of the \(vocabulary) units")
        var generator = RandomGenerator(seed: seed &+ 2)
        self.encoder = encoder
        head = CTCHead(modelDimensions: encoder.configuration.modelDimensions, vocabulary: vocabulary, generator: &generator)
        self.blank = blank
        super.init()
    }

    /// Scores [batch, time′, vocabulary] (unnormalized) for `features` [batch, time, bins] with
    /// each entry's real frames in `lengths`, and the frames left per entry.
    public func logits(_ features: Tensor, lengths: [Int]? = nil) -> (logits: Tensor, lengths: [Int]) {
        let (hidden, reduced) = encoder(features, lengths: lengths)
        return (head.logits(hidden), reduced)
    }

    /// Log-probabilities [batch, time′, vocabulary] and the frames left per entry.
    public func callAsFunction(_ features: Tensor, lengths: [Int]? = nil) -> (logProbabilities: Tensor, lengths: [Int]) {
        let (hidden, reduced) = encoder(features, lengths: lengths)
        return (head(hidden), reduced)
    }

    /// The units recognised in each entry of `features` (repeats collapsed, blanks dropped):
    /// greedy decoding when `beamWidth` is 1, else CTC prefix beam search keeping `beamWidth`
    /// prefixes. No gradients are recorded.
    public func decode(_ features: Tensor, lengths: [Int]? = nil, beamWidth: Int = 1) -> [[Int]] {
        precondition(beamWidth >= 1, "the beam width must be at least 1, got \(beamWidth)")
        if beamWidth == 1 {
            let (logits, reduced) = withoutGradients { self.logits(features, lengths: lengths) }
            return ctcGreedyDecode(logits, lengths: reduced, blank: blank)
        }
        let (logProbabilities, reduced) = withoutGradients { self(features, lengths: lengths) }
        return reduced.enumerated().map { index, length in
            let rows = logProbabilities.sliced(alongAxis: 0, index..<(index + 1))
            let utterance = rows.reshaped(to: Array(rows.shape.dropFirst()))
            return ctcPrefixBeamSearch(utterance, length: length, beamWidth: beamWidth, blank: blank).first?.tokens ?? []
        }
    }
}
