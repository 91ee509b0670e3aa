import Foundation
import GlanceData

/// A decoder that beam search drives: it holds one row of state per live hypothesis and
/// extends every row by one token per call.
public protocol BeamSearchDecoder: AnyObject {
    /// Log-probabilities of the next token after each row, row-major [rows × vocabulary],
    /// given each row's last token (`tokens`, one per row); the state then holds that token.
    func nextLogProbabilities(after tokens: [Int]) -> [Float]
    /// Keeps rows `rows` of the state (indices into the current rows; repeats allowed), in order.
    func reorder(_ rows: [Int])
}

/// A finished translation: its tokens (without the markers), the sum of their log-probabilities
/// (the end marker's included) and the length-normalized score beam search ranks by.
public struct Hypothesis: Equatable, Sendable {
    public let tokens: [Int]
    public let logProbability: Float
    public let score: Float
}

/// Beam search as fairseq's `SequenceGenerator` does it, simplified to one sentence at a time.
///
/// At each step every live hypothesis (at most `beamWidth`, one decoder row each; one at the
/// start) is extended by every token; the 2·`beamWidth` best extensions by summed
/// log-probability are visited best first: an end marker among the first `beamWidth` of them
/// finishes its hypothesis, the other tokens become the next live hypotheses until there are
/// `beamWidth`. The search stops when `beamWidth` hypotheses have finished, or after
/// `maximumTokens` tokens, when every live hypothesis is finished with the end marker.
///
/// Length penalty (fairseq's `--lenpen`, not GNMT's ((5 + |Y|)/6)^α): a finished hypothesis is
/// ranked by log P(Y) / |Y|^α, |Y| counting its tokens and the end marker; α = 1 averages the
/// log-probability per token, α = 0 ranks by log P(Y). Width 1 is greedy decoding.
public struct BeamSearch: Sendable {
    public var beamWidth: Int
    public var lengthPenalty: Float
    /// Tokens a translation may have before its end marker.
    public var maximumTokens: Int

    public init(beamWidth: Int, lengthPenalty: Float = 1, maximumTokens: Int) {
        precondition(beamWidth >= 1 && maximumTokens >= 0, "beam width must be ≥ 1 and the maximum tokens ≥ 0, got \(beamWidth), \(maximumTokens)")
        (self.beamWidth, self.lengthPenalty, self.maximumTokens) = (beamWidth, lengthPenalty, maximumTokens)
    }

    /// The finished hypotheses, best first, of `decoder` (whose state holds one row: the sentence
    /// before its first token). `vocabulary` is the width of each row of log-probabilities.
    public func search(_ decoder: some BeamSearchDecoder, vocabulary: Int) -> [Hypothesis] {
        let end = BytePairEncoding.endID
        var live: [(tokens: [Int], logProbability: Float)] = [([], 0)]
        var finished: [Hypothesis] = []
        for step in 0...maximumTokens {
            let lastTokens = live.map { $0.tokens.last ?? BytePairEncoding.beginID }
            let logProbabilities = decoder.nextLogProbabilities(after: lastTokens)
            precondition(logProbabilities.count == live.count * vocabulary,
                         "the decoder gave \(logProbabilities.count) log-probabilities for \(live.count) rows of \(vocabulary)")
            if step == maximumTokens {
                // Out of room: every live hypothesis ends here.
                for (row, hypothesis) in live.enumerated() {
                    finished.append(finish(hypothesis.tokens, hypothesis.logProbability + logProbabilities[row * vocabulary + end]))
                }
                break
            }
            let candidates = best(2 * beamWidth, of: logProbabilities, live: live.map(\.logProbability), vocabulary: vocabulary)
            var next: [(tokens: [Int], logProbability: Float)] = [], rows: [Int] = []
            for (rank, candidate) in candidates.enumerated() {
                if candidate.token == end {
                    if rank < beamWidth { finished.append(finish(live[candidate.row].tokens, candidate.logProbability)) }
                } else if next.count < beamWidth {
                    next.append((live[candidate.row].tokens + [candidate.token], candidate.logProbability))
                    rows.append(candidate.row)
                }
            }
            if finished.count >= beamWidth || next.isEmpty { break }
            decoder.reorder(rows)
            live = next
        }
        return finished.sorted { $0.score > $1.score }
    }

    private func finish(_ tokens: [Int], _ logProbability: Float) -> Hypothesis {
        Hypothesis(tokens: tokens, logProbability: logProbability,
                   score: logProbability / pow(Float(tokens.count + 1), lengthPenalty))
    }

    /// The `count` best (row, token) extensions by summed log-probability, best first (ties: lower row, then lower token).
    private func best(_ count: Int, of logProbabilities: [Float], live: [Float], vocabulary: Int)
        -> [(row: Int, token: Int, logProbability: Float)] {
        var top: [(row: Int, token: Int, logProbability: Float)] = []
        for (row, base) in live.enumerated() {
            for token in 0..<vocabulary {
                let value = base + logProbabilities[row * vocabulary + token]
                guard value > -Float.infinity, top.count < count || value > top.last!.logProbability else { continue }
                let position = top.firstIndex { value > $0.logProbability } ?? top.count
                top.insert((row, token, value), at: position)
                if top.count > count { top.removeLast() }
            }
        }
        return top
    }
}

extension EncoderDecoderModel {
    /// The best translation (token ids without markers) of each source sentence by `search`,
    /// which gets at most max_length − 1 tokens. `decoderCache` false recomputes the decoder
    /// over every prefix at each step (``RecomputingDecoderState``; the same translations,
    /// for measuring the cache). Inference only: call it inside `withoutGradients`.
    public func translate(_ sources: [[Int]], search: BeamSearch, decoderCache: Bool = true) -> [Hypothesis] {
        var search = search
        search.maximumTokens = Swift.min(search.maximumTokens, configuration.maximumLength - 1)
        return sources.map { source in
            let encoded = encode([source])
            let state: any BeamSearchDecoder = decoderCache ? TranslationDecoderState(model: self, source: encoded)
                : RecomputingDecoderState(model: self, source: encoded)
            return search.search(state, vocabulary: vocabularySize).first!
        }
    }
}
