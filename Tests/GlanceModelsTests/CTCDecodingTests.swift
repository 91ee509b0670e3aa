import Foundation
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTestSupport
import Testing

/// Log-probabilities [frames, classes] from per-frame probabilities.
func logProbabilityRows(_ rows: [[Double]]) -> Tensor {
    Tensor(rows.flatMap { $0.map { Float(Foundation.log($0)) } }, shape: [rows.count, rows[0].count])
}

/// log p(tokens | x) over all alignments, from the CTC loss.
func ctcLogProbability(_ logProbabilities: Tensor, _ tokens: [Int], blank: Int = 0) throws -> Double {
    let batched = logProbabilities.reshaped(to: [1] + logProbabilities.shape)
    return -Double(try ctcLoss(logProbabilities: batched, labels: [tokens], inputLengths: [logProbabilities.shape[0]], blank: blank,
                               reduction: .sum).item())
}

@Suite struct CTCDecodingTests {
    @Test func greedyCollapsesRepeatsAndDropsBlanks() {
        // Arg-max path 1 1 0 1 2 2 0 0 3 (blank 0) → 1 1 2 3; the first 6 frames → 1 1 2.
        let path = [1, 1, 0, 1, 2, 2, 0, 0, 3]
        let rows = path.map { best in (0..<4).map { $0 == best ? 0.7 : 0.1 } }
        let outputs = logProbabilityRows(rows).reshaped(to: [1, 9, 4])
        #expect(ctcGreedyDecode(outputs) == [[1, 1, 2, 3]])
        #expect(ctcGreedyDecode(outputs, lengths: [6]) == [[1, 1, 2]])
        // Blank 3: the 3s are separators and the 0s labels.
        #expect(ctcGreedyDecode(outputs, blank: 3) == [[1, 0, 1, 2, 0]])
    }

    @Test func beamSearchFindsTheLabellingThatTheBestPathMisses() throws {
        // Two frames, p(blank) = 0.6, p(a) = 0.4: the best path is "blank blank" (0.36), but
        // "a" has the paths aa, a-, -a: 0.16 + 0.24 + 0.24 = 0.64.
        let logProbabilities = logProbabilityRows([[0.6, 0.4], [0.6, 0.4]])
        #expect(ctcGreedyDecode(logProbabilities.reshaped(to: [1, 2, 2])) == [[]])
        let beams = ctcPrefixBeamSearch(logProbabilities, beamWidth: 4)
        #expect(beams.map(\.tokens) == [[1], []])
        #expect(Swift.abs(beams[0].logProbability - Foundation.log(0.64)) < 1e-6)
        #expect(Swift.abs(beams[1].logProbability - Foundation.log(0.36)) < 1e-6)
    }

    @Test func wideBeamIsExactAndNeverWorseThanGreedy() throws {
        for seed in UInt64(1310)..<1316 {
            let logProbabilities = (randomTensor([5, 3], seed: seed, standardDeviation: 1.5)).logSoftmax()
            let beams = ctcPrefixBeamSearch(logProbabilities, beamWidth: 100)  // 5 frames, 2 labels: at most 63 prefixes
            for beam in beams.prefix(5) {
                #expect(Swift.abs(beam.logProbability - (try ctcLogProbability(logProbabilities, beam.tokens))) < 1e-4)
            }
            let greedy = ctcGreedyDecode(logProbabilities.reshaped(to: [1, 5, 3]))[0]
            #expect(beams[0].logProbability >= (try ctcLogProbability(logProbabilities, greedy)) - 1e-6)
            // A narrow beam keeps its best-first order and respects its width.
            let narrow = ctcPrefixBeamSearch(logProbabilities, beamWidth: 2)
            #expect(narrow.count <= 2 && narrow[0].logProbability >= narrow.last!.logProbability)
        }
    }

    @Test func beamSearchWithALastBlankAndALength() throws {
        // Blank 2; only the first two frames are read.
        let logProbabilities = logProbabilityRows([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]])
        let beams = ctcPrefixBeamSearch(logProbabilities, length: 2, beamWidth: 3, blank: 2)
        #expect(beams[0].tokens == [0])
        #expect(Swift.abs(beams[0].logProbability - (try ctcLogProbability(logProbabilities.sliced(alongAxis: 0, 0..<2), [0], blank: 2))) < 1e-4)
    }
}
