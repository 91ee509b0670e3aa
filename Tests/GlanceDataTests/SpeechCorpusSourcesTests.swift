import Foundation
import GlanceData
import GlanceTestSupport
import Testing

@Suite struct SpeechCorpusSourcesTests {
    @Test("normalisation: lowercase, dashes as spaces, silent punctuation dropped, inner apostrophes kept; digits, symbols, capitals and stray letters rejected")
    func normalise() {
        #expect(SpokenSentences.normalise("  One's \"own\" opinion, (surely)--self-evident ") == "one's own opinion surely self evident")
        #expect(SpokenSentences.normalise("\u{2018}Tis the seasons\u{2019} end") == "tis the seasons end")
        #expect(SpokenSentences.normalise("I saw a cat") == "i saw a cat")
        #expect(SpokenSentences.normalise("ninety 9 cats") == nil)
        #expect(SpokenSentences.normalise("a café") == nil)
        #expect(SpokenSentences.normalise("ABSOLUTE, adj") == nil)
        #expect(SpokenSentences.normalise("signed G J Smith") == nil)
        #expect(SpokenSentences.normalise("costs $5 & more") == nil)
        #expect(SpokenSentences.normalise(" , ") == nil)
    }

    @Test("extraction splits at . ! ? ; :, keeps 3–20 words, drops repeats")
    func extract() {
        let text = """
        ACCORD, n.  Harmony.
        ACCIDENT, n.  An inevitable occurrence due to the action of immutable
        natural laws.  Who knows?  An inevitable occurrence due to the action of immutable natural laws!
        Said he: "so I am, so I am."
        """
        #expect(SpokenSentences.extract(from: text) == [
            "an inevitable occurrence due to the action of immutable natural laws", "so i am so i am",
        ])
        #expect(SpokenSentences.extract(from: text, words: 2...3) == ["who knows", "said he"])
    }

    static let sentences = (0..<50).map { "sentence number \(String(repeating: "x", count: $0 + 1)) here" }

    @Test("the plan: seeded, the asked counts, held-out voices and sentences never in train")
    func plan() {
        let counts: [SpeechCorpus.Split: Int] = [.train: 60, .valid: 8, .test: 8]
        let plan = SyntheticSpeechPlan.plan(sentences: Self.sentences, counts: counts, seed: 7)
        #expect(plan == SyntheticSpeechPlan.plan(sentences: Self.sentences, counts: counts, seed: 7))
        #expect(plan != SyntheticSpeechPlan.plan(sentences: Self.sentences, counts: counts, seed: 8))
        for split in SyntheticSpeechPlan.splits {
            let requests = plan.filter { $0.split == split }
            #expect(requests.count == counts[split])
            #expect(Set(requests.map(\.audioPath)).count == requests.count)
            #expect(requests.allSatisfy { SyntheticSpeechPlan.voices(for: split).contains($0.voice) })
        }
        let train = plan.filter { $0.split == .train }
        for split in [SpeechCorpus.Split.valid, .test] {
            let held = plan.filter { $0.split == split }
            #expect(Set(held.map(\.voice)).isDisjoint(with: Set(SyntheticSpeechPlan.voices(for: .train))))
            #expect(Set(held.map(\.sentence)).isDisjoint(with: Set(train.map(\.sentence))))
        }
        #expect(Set(SyntheticSpeechPlan.voices(for: .valid)).isDisjoint(with: Set(SyntheticSpeechPlan.voices(for: .test))))
        #expect(plan.allSatisfy { $0.voice.engine == .flite ? (0.8...1.25).contains($0.rate) : (130...210).contains($0.rate) })
        #expect(Set(train.map(\.voice)).count > 10)
        let flite = train.filter { $0.voice.engine == .flite }.count
        #expect((8...30).contains(flite), "\(flite) of 60 training utterances by flite, expected about 30%")
    }

    @Test("Sphinx transcription files: ids, normalised words; a malformed line is named")
    func transcription() throws {
        let folder = try makeTemporaryFolder()
        defer { remove(folder) }
        let url = folder.appendingPathComponent("transcription")
        try Data("<s> ten of clubs  </s> (001)\n\n<s> He was not an ill-disposed man </s> (s-0880)\n".utf8).write(to: url)
        let entries = try PocketsphinxTestData.transcripts(in: url, vocabulary: .english)
        #expect(entries.map(\.id) == ["001", "s-0880"])
        #expect(entries.map(\.transcript) == ["ten of clubs", "he was not an ill disposed man"])
        try Data("<s> ten of clubs </s> (001)\n<s> 7 of clubs </s> (002)\n".utf8).write(to: url)
        let error = try #require(throws: SpeechCorpusError.self) { try PocketsphinxTestData.transcripts(in: url, vocabulary: .english) }
        #expect("\(error)".contains("\(url.path), line 2"), "\(error)")
        try Data("ten of clubs\n".utf8).write(to: url)
        #expect(throws: SpeechCorpusError.malformedLine(path: url.path, line: 1, reason: "expected `<s> WORDS </s> (ID)`")) {
            try PocketsphinxTestData.transcripts(in: url, vocabulary: .english)
        }
    }
}
