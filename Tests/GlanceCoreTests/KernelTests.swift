import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

@Suite struct KernelTests {
    @Test func fastExpRelativeErrorOverTheFullRange() {
        // Every 1/1024 over [-87, 88] (179 200 points), plus the ends.
        var worst = 0.0, worstAt: Float = 0
        var x: Float = -87
        while x <= 88 {
            var batch = FloatVector()
            for lane in 0..<16 { batch[lane] = x + Float(lane) / 1024 }
            let y = fastExp(batch)
            for lane in 0..<16 {
                let input = Double(batch[lane])
                guard input <= 88 else { continue }
                let error = Swift.abs(Double(y[lane]) - Foundation.exp(input)) / Foundation.exp(input)
                if error > worst { worst = error; worstAt = batch[lane] }
            }
            x += 16.0 / 1024
        }
        print("fastExp: max relative error \(worst) at x = \(worstAt) over [-87, 88]")
        #expect(worst < 1e-6, "fastExp max relative error \(worst) at \(worstAt)")
        #expect(fastExp(Float(0)) == 1)
        #expect(fastExp(Float(-100)) == 0)
        #expect(fastExp(Float(-Float.infinity)) == 0)
        #expect(fastExp(Float(100)).isFinite)
    }

    @Test func fastErfAgainstFoundation() {
        var worst = 0.0
        for i in -6000...6000 {
            let x = Float(i) / 1000
            let error = Swift.abs(Double(fastErf(FloatVector(repeating: x))[0]) - Foundation.erf(Double(x)))
            worst = Swift.max(worst, error)
        }
        print("fastErf: max absolute error \(worst) over [-6, 6]")
        #expect(worst < 5e-7, "fastErf max absolute error \(worst)")
    }

    @Test func geluAgainstFoundationErf() {
        let x = Tensor((-800...800).map { Float($0) / 100 })
        let y = gelu(x).scalars
        var worst = 0.0
        for (input, output) in zip(x.scalars, y) {
            let v = Double(input)
            let reference = 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))
            worst = Swift.max(worst, Swift.abs(Double(output) - reference) / Swift.max(Swift.abs(reference), 1))
        }
        print("gelu: max error \(worst) over [-8, 8]")
        #expect(worst < 1e-6)
    }

    @Test(arguments: [0, 1, 15, 16, 17, 31, 32, 33, 100, 1001])
    func vectorKernelsMatchLoops(_ count: Int) {
        var random = TestRandom(seed: 151)
        let x = random.normal([count]).scalars, y = random.normal([count]).scalars
        let sum = x.withUnsafeBufferPointer { vectorSum($0.baseAddress!, count) }
        #expect(Swift.abs(Double(sum) - x.reduce(0.0) { $0 + Double($1) }) < 1e-4)
        let dot = x.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { b in vectorDot(a.baseAddress!, b.baseAddress!, count) } }
        #expect(Swift.abs(Double(dot) - zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }) < 1e-4)
        let peak = x.withUnsafeBufferPointer { vectorMax($0.baseAddress!, count) }
        #expect(peak == (x.max() ?? -.infinity))
        var z = y
        z.withUnsafeMutableBufferPointer { out in x.withUnsafeBufferPointer { vectorAxpy(2, $0.baseAddress!, out.baseAddress!, count) } }
        #expect(isClose(z, zip(x, y).map { 2 * $0 + $1 }, relativeTolerance: 1e-6, absoluteTolerance: 1e-6))
        z.withUnsafeMutableBufferPointer { vectorScale($0.baseAddress!, 0.5, count) }
        #expect(isClose(z, zip(x, y).map { $0 + 0.5 * $1 }, relativeTolerance: 1e-6, absoluteTolerance: 1e-6))
    }

    @Test(arguments: [1, 2, 7, 100, 10_001])
    func parallelForVisitsEveryIndexOnce(_ count: Int) {
        let visits = UnsafeMutablePointer<Int32>.allocate(capacity: count)
        visits.initialize(repeating: 0, count: count)
        defer { visits.deallocate() }
        let pointer = SendablePointer(visits)
        parallelFor(count, grain: 3) { range in for i in range { pointer.base[i] += 1 } }
        #expect((0..<count).allSatisfy { visits[$0] == 1 })
        visits.update(repeating: 0, count: count)
        let chunks = parallelChunks(count) { chunk, range in
            for i in range { pointer.base[i] += Int32(chunk + 1) }
        }
        #expect(chunks >= 1 && chunks <= Threading.count)
        #expect((0..<count).allSatisfy { visits[$0] >= 1 && visits[$0] <= Int32(chunks) })
        parallelFor(0) { _ in Issue.record("no work for an empty range") }
        #expect(parallelChunks(0) { _, _ in } == 0)
    }

    @Test func laneWiseMaxAndMin() {
        var a = FloatVector(), b = FloatVector()
        for lane in 0..<16 { a[lane] = Float(lane); b[lane] = Float(15 - lane) }
        let high = vectorMax(a, b), low = vectorMin(a, b)
        for lane in 0..<16 {
            #expect(high[lane] == Swift.max(a[lane], b[lane]) && low[lane] == Swift.min(a[lane], b[lane]))
        }
        #expect(horizontalSum(a) == 120)
    }

    @Test func threadCountIsPositive() {
        #expect(Threading.count >= 1)
    }
}
