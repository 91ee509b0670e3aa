import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

@Suite struct ScheduleTests {
    @Test func constantSchedule() {
        let schedule = ConstantSchedule(3e-4)
        #expect([0, 1, 1000].map(schedule.learningRate(at:)) == [3e-4, 3e-4, 3e-4])
    }

    @Test func warmupCosineAtKeySteps() {
        let s = WarmupCosineSchedule(peak: 1e-3, warmupSteps: 10, totalSteps: 110, minimumRatio: 0.1)
        #expect(isClose(s.learningRate(at: 0), 1e-4))
        #expect(isClose(s.learningRate(at: 4), 5e-4))
        #expect(isClose(s.learningRate(at: 9), 1e-3))
        #expect(isClose(s.learningRate(at: 10), 1e-3), "decay starts from the peak")
        // Halfway through the decay (step 10 + 99/2): cosine term ½ → min + ½·(1 − min).
        let mid = s.learningRate(at: 10 + 99 / 2)
        let expectedMid = 1e-3 * (0.1 + 0.9 * 0.5 * (1 + Foundation.cos(Double.pi * 49 / 99)))
        #expect(isClose(mid, Float(expectedMid), relativeTolerance: 1e-5))
        #expect(isClose(s.learningRate(at: 109), 1e-4, relativeTolerance: 1e-5), "reaches peak · minimumRatio at the last step")
        #expect(isClose(s.learningRate(at: 500), 1e-4, relativeTolerance: 1e-5), "stays at the minimum afterwards")
        // Monotone: up during warm-up, down afterwards.
        let rates = (0..<110).map(s.learningRate(at:))
        #expect(zip(rates[0..<10], rates[1..<10]).allSatisfy { $0 < $1 })
        #expect(zip(rates[10..<109], rates[11..<110]).allSatisfy { $0 >= $1 })
        let noWarmup = WarmupCosineSchedule(peak: 2, warmupSteps: 0, totalSteps: 3)
        #expect(isClose(noWarmup.learningRate(at: 0), 2) && isClose(noWarmup.learningRate(at: 1), 1) && Swift.abs(noWarmup.learningRate(at: 2)) < 1e-6)
    }

    @Test func inverseSquareRootAtKeySteps() {
        let s = InverseSquareRootSchedule(peak: 0.01, warmupSteps: 4)
        #expect(isClose(s.learningRate(at: 0), 0.0025))
        #expect(isClose(s.learningRate(at: 3), 0.01))
        #expect(isClose(s.learningRate(at: 15), 0.005), "√(4 / 16) = ½")
        #expect(isClose(s.learningRate(at: 99), 0.002), "√(4 / 100)")
        #expect(isClose(InverseSquareRootSchedule(peak: 1, warmupSteps: 0).learningRate(at: 3), 0.5))
    }

    @Test func clipGlobalNormScalesOnlyWhenAbove() {
        var gradients = ["a": Tensor([3, 0]), "b": Tensor([0, 4], shape: [2, 1])]
        let norm = clipGlobalNorm(&gradients, maximumNorm: 1)
        #expect(isClose(norm, 5))
        let clipped = gradients.values.flatMap(\.scalars).reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        #expect(isClose(clipped, 1, relativeTolerance: 1e-5))
        #expect(isClose(gradients["a"]!.scalars, [0.6, 0], relativeTolerance: 1e-5))
        #expect(gradients["b"]!.shape == [2, 1])
        var small = ["a": Tensor([0.3, 0.4])]
        #expect(isClose(clipGlobalNorm(&small, maximumNorm: 1), 0.5))
        #expect(small["a"]!.scalars == [0.3, 0.4])
        var disabled = ["a": Tensor([30, 40])]
        #expect(isClose(clipGlobalNorm(&disabled, maximumNorm: 0), 50))
        #expect(disabled["a"]!.scalars == [30, 40], "a maximum of 0 disables clipping")
    }

    @Test func gradientAccumulatorAveragesAndResets() {
        var accumulator = GradientAccumulator()
        accumulator.add(["w": Tensor([1, 2]), "b": Tensor([4])])
        accumulator.add(["w": Tensor([3, -2]), "b": Tensor([0])])
        accumulator.add(["w": Tensor([2, 3]), "b": Tensor([2])])
        #expect(accumulator.count == 3)
        let mean = accumulator.average()
        #expect(isClose(mean["w"]!.scalars, [2, 1]) && isClose(mean["b"]!.scalars, [2]))
        #expect(accumulator.count == 0)
        accumulator.add(["w": Tensor([5, 5])])
        #expect(accumulator.average()["w"]!.scalars == [5, 5])
        #expect(accumulator.average().isEmpty)
    }

    @Test func accumulatedMicroBatchesEqualOneLargeBatch() {
        var generator = RandomGenerator(seed: 261)
        let layer = Linear(3, 2, generator: &generator)
        let x = randomTensor([4, 3], seed: 262), target = randomTensor([4, 2], seed: 263)
        let (_, full) = valueAndGradient(model: layer) { m in meanSquaredError(predictions: m(x), targets: target) }
        var accumulator = GradientAccumulator()
        for half in [0..<2, 2..<4] {
            let (_, grads) = valueAndGradient(model: layer) { m in
                meanSquaredError(predictions: m(x.sliced(alongAxis: 0, half)), targets: target.sliced(alongAxis: 0, half))
            }
            accumulator.add(grads)
        }
        let averaged = accumulator.average()
        for (key, value) in full { #expect(isClose(averaged[key]!, value, relativeTolerance: 1e-5, absoluteTolerance: 1e-6), "\(key)") }
    }
}
