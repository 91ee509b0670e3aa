import GlanceData
import Testing

@Suite struct ErrorRatesTests {
    @Test func wordErrorsCountEachEditKind() {
        // "sat" → "sit" (S), "the" before "mat" dropped (D).
        let counts = ErrorRates.words(reference: "the cat sat on the mat", hypothesis: "the cat sit on mat")
        #expect(counts == ErrorCounts(substitutions: 1, deletions: 1, insertions: 0, referenceLength: 6))
        #expect(counts.rate == 2.0 / 6)
        let inserted = ErrorRates.words(reference: "ten of clubs", hypothesis: "ten of the clubs please")
        #expect(inserted == ErrorCounts(substitutions: 0, deletions: 0, insertions: 2, referenceLength: 3))
        #expect(ErrorRates.words(reference: "a b c", hypothesis: "").deletions == 3)
        #expect(ErrorRates.words(reference: "", hypothesis: "").rate == 0 && ErrorRates.words(reference: "", hypothesis: "x").rate == 1)
    }

    @Test func characterErrorsIncludeSpacesAndNormalise() {
        #expect(ErrorRates.characters(reference: "abc", hypothesis: "axc") == ErrorCounts(substitutions: 1, referenceLength: 3))
        // "five five" vs "fivefive": one space deleted out of 9 characters.
        let joined = ErrorRates.characters(reference: "five five", hypothesis: "fivefive")
        #expect(joined.deletions == 1 && joined.errors == 1 && joined.referenceLength == 9)
        // Case, punctuation and spacing do not count; apostrophes stay.
        #expect(ErrorRates.characters(reference: "Ten of Clubs!", hypothesis: "ten  of clubs").errors == 0)
        #expect(ErrorRates.normalizeTranscript("  Don't -- STOP,now ") == "don't stop now")
    }

    @Test func countsAddUpOverUtterances() {
        let total = ErrorRates.words(reference: "four queen of clubs", hypothesis: "for queen of clubs")
            + ErrorRates.words(reference: "seven of clubs", hypothesis: "seven clubs")
        #expect(total == ErrorCounts(substitutions: 1, deletions: 1, insertions: 0, referenceLength: 7))
        #expect(total.description == "28.57% (S 1, D 1, I 0, N 7)")
        // Levenshtein distance "kitten" → "sitting" is 3.
        #expect(ErrorCounts(reference: Array("kitten"), hypothesis: Array("sitting")).errors == 3)
    }
}
