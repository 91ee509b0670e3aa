import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

@Suite struct RandomTests {
    @Test func sameSeedSameStream() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42), c = RandomGenerator(seed: 43)
        let x = (0..<10).map { _ in a.next() }
        #expect(x == (0..<10).map { _ in b.next() })
        #expect(x != (0..<10).map { _ in c.next() })
        #expect(Set(x).count == 10)
    }

    @Test func stateRoundTripsThroughCodableAndContinues() throws {
        var generator = RandomGenerator(seed: 5)
        for _ in 0..<17 { _ = generator.next() }
        let data = try JSONEncoder().encode(generator)
        var restored = try JSONDecoder().decode(RandomGenerator.self, from: data)
        #expect(restored == generator)
        #expect((0..<8).map { _ in restored.next() } == (0..<8).map { _ in generator.next() })
    }

    @Test func uniformAndNormalStatistics() {
        var generator = RandomGenerator(seed: 9)
        let n = 20_000
        let uniform = (0..<n).map { _ in Double(generator.nextUniform()) }
        #expect(uniform.allSatisfy { $0 >= 0 && $0 < 1 })
        let uniformMean = uniform.reduce(0, +) / Double(n)
        #expect(Swift.abs(uniformMean - 0.5) < 0.01)
        #expect(Swift.abs(uniform.map { ($0 - uniformMean) * ($0 - uniformMean) }.reduce(0, +) / Double(n) - 1.0 / 12) < 0.003)
        let normal = (0..<n).map { _ in Double(generator.nextNormal()) }
        #expect(normal.allSatisfy { $0.isFinite })
        let mean = normal.reduce(0, +) / Double(n)
        let variance = normal.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        #expect(Swift.abs(mean) < 0.03 && Swift.abs(variance - 1) < 0.05)
        let ints = (0..<n).map { _ in generator.nextInt(below: 7) }
        #expect(ints.allSatisfy { (0..<7).contains($0) } && Set(ints).count == 7)
    }

    @Test func tensorMakersUseTheirParameters() {
        var generator = RandomGenerator(seed: 10)
        let normal = Tensor.randomNormal(shape: [100, 100], mean: 3, standardDeviation: 0.5, generator: &generator)
        #expect(normal.shape == [100, 100])
        let values = normal.scalars.map(Double.init)
        let mean = values.reduce(0, +) / 10_000
        let deviation = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 10_000).squareRoot()
        #expect(Swift.abs(mean - 3) < 0.02 && Swift.abs(deviation - 0.5) < 0.02)
        let uniform = Tensor.randomUniform(shape: [1000], lower: -2, upper: 4, generator: &generator)
        #expect(uniform.scalars.allSatisfy { $0 >= -2 && $0 < 4 })
        #expect(uniform.scalars.min()! < -1.9 && uniform.scalars.max()! > 3.9)
        var g1 = RandomGenerator(seed: 11), g2 = RandomGenerator(seed: 11)
        #expect(Tensor.randomNormal(shape: [5], generator: &g1).scalars == Tensor.randomNormal(shape: [5], generator: &g2).scalars)
    }

    @Test func dropoutZeroesAndScales() {
        var generator = RandomGenerator(seed: 12)
        let x = Tensor.ones([10_000])
        let y = dropout(x, probability: 0.25, generator: &generator).scalars
        let kept = y.filter { $0 != 0 }
        #expect(kept.allSatisfy { isClose($0, 1 / 0.75) })
        #expect(Swift.abs(Double(kept.count) / 10_000 - 0.75) < 0.02)
        let identity = dropout(x, probability: 0, generator: &generator)
        #expect(identity.sharesStorage(with: x))
        // The same generator state gives the same mask.
        var a = RandomGenerator(seed: 13), b = RandomGenerator(seed: 13)
        #expect(dropout(x, probability: 0.5, generator: &a).scalars == dropout(x, probability: 0.5, generator: &b).scalars)
    }

    @Test func dropoutGradientWithAFixedGenerator() {
        let x = randomTensor([4, 6], seed: 14)
        expectGradientsMatch([x], "dropout p = 0.3") { p in
            var generator = RandomGenerator(seed: 15)
            return dropout(p[0], probability: 0.3, generator: &generator)
        }
        let (_, grads) = valueAndGradient(at: [x]) { p in
            var generator = RandomGenerator(seed: 15)
            return dropout(p[0], probability: 0.3, generator: &generator).sum()
        }
        var generator = RandomGenerator(seed: 15)
        let mask = dropout(Tensor.ones(x.shape), probability: 0.3, generator: &generator)
        #expect(grads[0].scalars == mask.scalars)
    }
}
