import GlanceCore

/// A translation model decoding without a cache: every step runs the decoder over each row's
/// whole prefix again (the teacher-forcing pass) and keeps the last position's logits. It
/// finds what ``TranslationDecoderState`` finds, at O(length²) decoder positions per sentence
/// instead of O(length): the measure of what the cache saves (`glance bench --model translate`).
public final class RecomputingDecoderState: BeamSearchDecoder {
    public let model: EncoderDecoderModel
    private var source: EncodedSource
    /// The tokens each row has read: the beginning marker and those decoded since.
    private var prefixes: [[Int]]

    /// The state before the first token, for the encoded sources.
    public init(model: EncoderDecoderModel, source: EncodedSource) {
        (self.model, self.source) = (model, source)
        prefixes = Array(repeating: [], count: source.states.shape[0])
    }

    public func nextLogProbabilities(after tokens: [Int]) -> [Float] {
        precondition(tokens.count == prefixes.count, "\(tokens.count) tokens for \(prefixes.count) rows")
        for (row, token) in tokens.enumerated() { prefixes[row].append(token) }
        let logits = model.decode(prefixes, source: source)
        let length = logits.shape[1]
        return logits.sliced(alongAxis: 1, (length - 1)..<length).reshaped(to: [tokens.count, model.vocabularySize])
            .logSoftmax(alongAxis: -1).scalars
    }

    public func reorder(_ rows: [Int]) {
        prefixes = rows.map { prefixes[$0] }
        source = EncodedSource(states: source.states.gathered(alongAxis: 0, indices: IndexTensor(rows)), padding: rows.map { source.padding[$0] })
    }
}
