import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

@Suite struct DropoutMaskTests {
    /// The mask of the first dropout call of a generator seeded with `seed`.
    func mask(count: Int, seed: UInt64, probability: Float) -> [Float] {
        var generator = RandomGenerator(seed: seed)
        return dropout(Tensor.ones([count]), probability: probability, generator: &generator).scalars
    }

    @Test func eachElementDependsOnlyOnTheGeneratorAndItsIndex() {
        // 70 003 elements run in several parallel chunks with a tail; 37 in one partial vector.
        let long = mask(count: 70_003, seed: 42, probability: 0.3), short = mask(count: 37, seed: 42, probability: 0.3)
        #expect(Array(long.prefix(37)) == short)
        #expect(long.allSatisfy { $0 == 0 || $0 == 1 / Float(0.7) })
        let kept = Double(long.filter { $0 != 0 }.count) / Double(long.count)
        #expect(Swift.abs(kept - 0.7) < 0.01, "kept fraction \(kept)")
        #expect(mask(count: 1000, seed: 43, probability: 0.3) != Array(long.prefix(1000)), "another seed, another mask")
    }

    @Test func neighbouringElementsAreIndependent() {
        // Pairs (i, i + 1) and (i, i + 16) are both kept with probability ≈ 0.5² when p = 0.5.
        let values = mask(count: 100_000, seed: 7, probability: 0.5)
        for offset in [1, 16] {
            let both = (0..<(values.count - offset)).filter { values[$0] != 0 && values[$0 + offset] != 0 }.count
            let fraction = Double(both) / Double(values.count - offset)
            #expect(Swift.abs(fraction - 0.25) < 0.01, "offset \(offset): \(fraction)")
        }
    }

    @Test func aRestoredGeneratorDrawsTheSameMasks() throws {
        var generator = RandomGenerator(seed: 5)
        let x = Tensor.ones([3, 50])
        _ = dropout(x, probability: 0.2, generator: &generator)
        let saved = try JSONEncoder().encode(generator)
        let first = dropout(x, probability: 0.2, generator: &generator).scalars
        let second = dropout(x, probability: 0.2, generator: &generator).scalars
        var restored = try JSONDecoder().decode(RandomGenerator.self, from: saved)
        #expect(dropout(x, probability: 0.2, generator: &restored).scalars == first)
        #expect(dropout(x, probability: 0.2, generator: &restored).scalars == second)
        #expect(first != second, "each call draws a new mask")
    }
}
