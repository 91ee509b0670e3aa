import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

@Suite struct VectorMathTests {
    /// Largest error of `function` against `reference` on 16-lane batches of `inputs`,
    /// relative where the reference exceeds 1 in magnitude and absolute below.
    func worstError(_ inputs: [Float], _ function: (FloatVector) -> FloatVector, _ reference: (Double) -> Double) -> (error: Double, at: Float) {
        var worst = 0.0, worstAt: Float = 0
        for start in stride(from: 0, to: inputs.count, by: 16) {
            var batch = FloatVector(repeating: 1)
            for lane in 0..<Swift.min(16, inputs.count - start) { batch[lane] = inputs[start + lane] }
            let output = function(batch)
            for lane in 0..<Swift.min(16, inputs.count - start) {
                let expected = reference(Double(batch[lane]))
                let error = Swift.abs(Double(output[lane]) - expected) / Swift.max(Swift.abs(expected), 1)
                if error > worst { worst = error; worstAt = batch[lane] }
            }
        }
        return (worst, worstAt)
    }

    @Test func fastLogOverEveryBinade() {
        // 4096 points in each binade from 2^-149 (subnormal) to 2^127, and around 1.
        var inputs: [Float] = []
        for exponent in -149...127 {
            for step in 0..<64 { inputs.append(Float(sign: .plus, exponent: exponent, significand: 1 + Float(step) / 64)) }
        }
        inputs += (-4096...4096).map { 1 + Float($0) / 65536 }
        let relative = worstError(inputs, fastLog) { Foundation.log($0) }
        print("fastLog: max error \(relative.error) at \(relative.at)")
        #expect(relative.error < 3e-7, "fastLog error \(relative.error) at \(relative.at)")
        let special = fastLog(FloatVector(0, -1, .infinity, .nan, -.infinity, 1, 2, .leastNonzeroMagnitude, 0, 0, 0, 0, 0, 0, 0, 0))
        #expect(special[0] == -.infinity && special[1].isNaN && special[2] == .infinity && special[3].isNaN && special[4].isNaN)
        #expect(special[5] == 0 && isClose(special[6], Float(M_LN2)) && isClose(special[7], -103.27893))
    }

    @Test func fastTanhAcrossBothBranches() {
        var inputs: [Float] = (-20000...20000).map { Float($0) / 1000 }
        inputs += [1e-30, -1e-30, 1e-6, 100, -100, .infinity, -.infinity]
        let absolute = worstError(inputs, fastTanh) { Foundation.tanh($0) }
        print("fastTanh: max absolute error \(absolute.error) at \(absolute.at)")
        #expect(absolute.error < 3e-7, "fastTanh error \(absolute.error) at \(absolute.at)")
        // Small inputs keep their relative accuracy (no cancellation in 1 − 2/(e^2x + 1)).
        let small = fastTanh(FloatVector(repeating: 1e-4))[0]
        #expect(isClose(small, Float(Foundation.tanh(1e-4)), relativeTolerance: 1e-6, absoluteTolerance: 0))
    }

    @Test(arguments: [Float(1.5), -0.5, 3, -2, 0.25, 7])
    func fastPowAgainstFoundation(_ exponent: Float) {
        let integer = exponent.rounded() == exponent
        var inputs: [Float] = (1...4000).map { Float($0) / 400 }
        if integer { inputs += (1...400).map { Float(-$0) / 100 } }
        var worst = 0.0
        for start in stride(from: 0, to: inputs.count, by: 16) {
            var batch = FloatVector(repeating: 1)
            for lane in 0..<Swift.min(16, inputs.count - start) { batch[lane] = inputs[start + lane] }
            let output = fastPow(batch, exponent)
            for lane in 0..<16 {
                let expected = Foundation.pow(Double(batch[lane]), Double(exponent))
                // The documented bound: about 2e-7 · (1 + |exponent · log x|).
                let scale = 1 + Swift.abs(Double(exponent) * Foundation.log(Swift.abs(Double(batch[lane]))))
                worst = Swift.max(worst, Swift.abs(Double(output[lane]) - expected) / Swift.abs(expected) / scale)
            }
        }
        print("fastPow ^\(exponent): max relative error / (1 + |exponent · log x|) \(worst)")
        #expect(worst < 3e-7)
        let special = fastPow(FloatVector(0, -2, 1e30, .nan, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), exponent)
        #expect(special[0] == (exponent > 0 ? 0 : .infinity))
        let negative = Float(Foundation.pow(-2.0, Double(exponent)))
        #expect(integer ? isClose(special[1], negative, relativeTolerance: 2e-6) : special[1].isNaN)
        #expect(exponent < 2 || special[2] == .infinity, "overflow gives ∞")
        #expect(special[3].isNaN && special[4] == 1)
    }
}
