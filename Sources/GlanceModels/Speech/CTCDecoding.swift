import Foundation
import GlanceCore
import GlanceNN

/// One decoded label sequence and log p(labels | x) summed over the alignments that the
/// search kept (all of them for ``ctcPrefixBeamSearch(_:length:beamWidth:blank:)`` when the
/// beam is wide enough).
public struct CTCHypothesis: Sendable, Equatable {
    public var tokens: [Int]
    public var logProbability: Double
}

/// Best-path decoding of CTC outputs [batch, frames, classes] (log-probabilities or logits):
/// the arg-max class of each of the first `lengths[b]` frames, repeats collapsed, blanks dropped.
public func ctcGreedyDecode(_ outputs: Tensor, lengths: [Int]? = nil, blank: Int = 0) -> [[Int]] {
    precondition(outputs.rank == 3, "CTC greedy decoding takes [batch, frames, classes], got \(outputs.shape)")
    let batch = outputs.shape[0], frames = outputs.shape[1], classes = outputs.shape[2]
    let lengths = lengths ?? [Int](repeating: frames, count: batch)
    precondition(lengths.count == batch && lengths.allSatisfy { $0 >= 0 && $0 <= frames },
                 "CTC greedy decoding: lengths \(lengths) for outputs \(outputs.shape)")
    return outputs.withUnsafeBufferPointer { values in
        (0..<batch).map { b in
            var tokens = [Int](), previous = blank
            for t in 0..<lengths[b] {
                let row = values.baseAddress! + (b * frames + t) * classes
                var best = 0
                for c in 1..<classes where row[c] > row[best] { best = c }
                if best != blank && best != previous { tokens.append(best) }
                previous = best
            }
            return tokens
        }
    }
}

/// CTC prefix beam search over log-probabilities [frames, classes] (a log-softmax): keeps the
/// `beamWidth` label prefixes of highest probability, each with the probability of its
/// alignments ending in a blank and ending in its last label, and extends them frame by frame
/// (a repeated label extends only from the blank-ending alignments). Returns the final beams,
/// best first. Only the first `length` frames (all by default) are read.
public func ctcPrefixBeamSearch(_ logProbabilities: Tensor, length: Int? = nil, beamWidth: Int, blank: Int = 0) -> [CTCHypothesis] {
    precondition(logProbabilities.rank == 2, "CTC beam search takes [frames, classes], got \(logProbabilities.shape)")
    precondition(beamWidth >= 1, "CTC beam width must be at least 1, got \(beamWidth)")
    let frames = length ?? logProbabilities.shape[0], classes = logProbabilities.shape[1]
    precondition(frames >= 0 && frames <= logProbabilities.shape[0], "CTC beam search: length \(frames) for \(logProbabilities.shape)")
    precondition(blank >= 0 && blank < classes, "CTC blank \(blank) outside \(classes) classes")
    /// log p of the alignments of a prefix that end in a blank and in its last label.
    struct Ends {
        var blank = -Double.infinity, label = -Double.infinity
        var total: Double { logAddExp(blank, label) }
        mutating func add(blank p: Double) { blank = logAddExp(blank, p) }
        mutating func add(label p: Double) { label = logAddExp(label, p) }
    }
    var beams: [[Int]: Ends] = [[]: Ends(blank: 0)]
    logProbabilities.withUnsafeBufferPointer { values in
        for t in 0..<frames {
            let row = values.baseAddress! + t * classes
            var next = [[Int]: Ends]()
            for (prefix, ends) in beams {
                let total = ends.total
                for c in 0..<classes {
                    let p = Double(row[c])
                    guard p > -.infinity else { continue }
                    if c == blank {
                        next[prefix, default: Ends()].add(blank: total + p)
                    } else if c == prefix.last {  // a repeat extends only after a blank; otherwise it continues the last label
                        if ends.blank > -.infinity { next[prefix + [c], default: Ends()].add(label: ends.blank + p) }
                        if ends.label > -.infinity { next[prefix, default: Ends()].add(label: ends.label + p) }
                    } else {
                        next[prefix + [c], default: Ends()].add(label: total + p)
                    }
                }
            }
            beams = Dictionary(uniqueKeysWithValues: bestFirst(next).prefix(beamWidth).map { ($0.tokens, next[$0.tokens]!) })
        }
    }
    return bestFirst(beams)

    func bestFirst(_ beams: [[Int]: Ends]) -> [CTCHypothesis] {
        beams.map { CTCHypothesis(tokens: $0.key, logProbability: $0.value.total) }.sorted {
            $0.logProbability != $1.logProbability ? $0.logProbability > $1.logProbability : $0.tokens.lexicographicallyPrecedes($1.tokens)
        }
    }
}
