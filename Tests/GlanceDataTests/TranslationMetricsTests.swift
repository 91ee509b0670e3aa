import Foundation
import GlanceData
import GlanceTestSupport
import Testing

/// BLEU and chrF against sacreBLEU's corpus_bleu and corpus_chrf on the corpora of
/// tools/reference/make_sacrebleu_fixture.py (sacrebleu.json).
@Suite struct TranslationMetricsTests {
    struct Corpus: Sendable, CustomTestStringConvertible {
        let name: String
        let record: [String: any Sendable]
        var testDescription: String { name }
        var hypotheses: [String] { record["hypotheses"] as! [String] }
        var references: [String] { record["references"] as! [String] }
        func number(_ key: String) -> Double { (record[key] as! NSNumber).doubleValue }
    }

    static let corpora: [Corpus] = {
        let url = ReferenceFixtures.folder.appendingPathComponent("sacrebleu.json")
        guard let data = try? Data(contentsOf: url), let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let corpora = json["corpora"] as? [String: [String: Any]] else { return [] }
        return corpora.keys.sorted().map { name in
            Corpus(name: name, record: corpora[name]!.mapValues { value -> any Sendable in
                switch value {
                case let strings as [String]: strings
                case let rows as [[String]]: rows
                case let numbers as [NSNumber]: numbers.map(\.doubleValue)
                case let number as NSNumber: number.doubleValue
                default: "\(value)"
                }
            })
        }
    }()

    @Test("the fixture has corpora") func fixtureRead() { #expect(Self.corpora.count >= 6) }

    @Test("corpus BLEU equals sacreBLEU's (13a, exp smoothing) to 0.01", arguments: corpora)
    func bleu(_ corpus: Corpus) {
        let bleu = BLEU(hypotheses: corpus.hypotheses, references: corpus.references)
        #expect(abs(bleu.score - corpus.number("bleu")) < 0.01, "BLEU \(bleu.score) vs sacreBLEU \(corpus.number("bleu"))")
        #expect(bleu.hypothesisLength == Int(corpus.number("hypothesis_length")) && bleu.referenceLength == Int(corpus.number("reference_length")))
        #expect(abs(bleu.brevityPenalty - corpus.number("brevity_penalty")) < 1e-9)
        let precisions = corpus.record["bleu_precisions"] as! [Double]
        for (mine, theirs) in zip(bleu.precisions, precisions) { #expect(abs(mine - theirs) < 1e-9) }
    }

    @Test("the 13a tokenizer splits every line as sacreBLEU does", arguments: corpora)
    func tokens(_ corpus: Corpus) {
        let expected = corpus.record["tokens"] as! [[String]]
        for (line, tokens) in zip(corpus.hypotheses + corpus.references, expected) {
            #expect(tokenize13a(BLEU.trailingWhitespaceRemoved(line)) == tokens, "\(line)")
        }
    }

    @Test("corpus chrF equals sacreBLEU's (chrF2, character order 6) to 0.01", arguments: corpora)
    func chrF(_ corpus: Corpus) {
        let chrF = ChrF(hypotheses: corpus.hypotheses, references: corpus.references)
        #expect(abs(chrF.score - corpus.number("chrf")) < 0.01, "chrF \(chrF.score) vs sacreBLEU \(corpus.number("chrf"))")
    }

    @Test("a perfect translation scores 100") func perfect() {
        let lines = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light: and there was light."]
        #expect(abs(BLEU(hypotheses: lines, references: lines).score - 100) < 1e-9)
        #expect(abs(ChrF(hypotheses: lines, references: lines).score - 100) < 1e-9)
    }
}
