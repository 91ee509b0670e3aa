import Foundation
import GlanceCore
import GlanceTestSupport
import Testing

/// Sets a flag when released: captured by a backward closure, it shows when the graph is freed.
final class ReleaseTracker: @unchecked Sendable {
    var onRelease: () -> Void = {}
    deinit { onRelease() }
}

final class Flag: @unchecked Sendable { var value = false }

/// y = x (identity) with a backward closure that holds `tracker`.
func trackedIdentity(_ x: Tensor, _ tracker: ReleaseTracker) -> Tensor {
    x.detached().recorded(from: [x]) { g in
        _ = tracker
        return [g]
    }
}

@Suite struct AutodiffTests {
    @Test func backwardWalkFreesTheGraph() {
        let released = Flag()
        let x = Tensor([1, 2, 3]).requiringGradient()
        var loss: Tensor
        do {
            let tracker = ReleaseTracker()
            tracker.onRelease = { released.value = true }
            loss = (trackedIdentity(x, tracker) * 2).sum()
        }
        #expect(!released.value, "the graph is alive before the backward walk")
        let grads = gradients(of: loss, withRespectTo: [x])
        #expect(grads[0].scalars == [2, 2, 2])
        #expect(released.value, "closures are released by the walk even though the loss tensor still exists")
        _ = loss
    }

    @Test func droppingTheOutputFreesTheGraph() {
        let released = Flag()
        do {
            let tracker = ReleaseTracker()
            tracker.onRelease = { released.value = true }
            let x = Tensor([1]).requiringGradient()
            let y = trackedIdentity(x, tracker) + 1
            #expect(y.requiresGradient)
        }
        #expect(released.value)
    }

    @Test func noGradientScopeRecordsNothing() {
        let x = Tensor([1, 2]).requiringGradient()
        #expect(GradientMode.isRecording)
        let y = withoutGradients { () -> Tensor in
            #expect(!GradientMode.isRecording)
            return exp(x * x).sum()
        }
        #expect(!y.requiresGradient)
        #expect(gradients(of: y, withRespectTo: [x])[0].scalars == [0, 0])
        let nested = withoutGradients { withGradients { x * 3 } }
        #expect(nested.requiresGradient)
        #expect(GradientMode.isRecording)
        // A backward closure never runs when nothing is recorded.
        let ran = Flag()
        _ = withoutGradients { x.detached().recorded(from: [x]) { g in ran.value = true; return [g] } }
        #expect(!ran.value)
    }

    @Test func operationsOnConstantsAreNotRecorded() {
        let a = Tensor([1, 2]), b = Tensor([3, 4])
        #expect(!(a * b + 1).requiresGradient)
        #expect(!a.requiresGradient && a.requiringGradient().requiresGradient)
        #expect(!a.requiringGradient().detached().requiresGradient)
    }

    @Test func sharedInputsAccumulateGradients() {
        // f(x) = x·x + x + 3x uses x in four places: f' = 2x + 4.
        let (value, grads) = valueAndGradient(at: [Tensor([0.5, -2, 3])]) { p in
            let x = p[0]
            return (x * x + x + 3 * x).sum()
        }
        #expect(value.item() == 19.25)
        #expect(grads[0].scalars == [5, 0, 10])
        // Diamond: y = a·b with a = 2x, b = x + 1 reuses x along two paths.
        let (_, diamond) = valueAndGradient(at: [Tensor([1.5])]) { p in ((p[0] * 2) * (p[0] + 1)).sum() }
        #expect(diamond[0].scalars == [4 * 1.5 + 2])
        // The same tensor passed twice: each position gets its own gradient.
        let x = Tensor([2]).requiringGradient()
        let grads2 = gradients(of: (x * x).sum(), withRespectTo: [x, x])
        #expect(grads2[0].scalars == [4])
    }

    @Test func accumulationNeverWritesIntoTensorsTheCallerHolds() {
        let w = Tensor([1, 2]).requiringGradient()
        let seed1 = Tensor([0.5, -1]), seed2 = Tensor([3, 4])
        _ = gradients(of: w + 0, seed: seed1, withRespectTo: [])
        _ = gradients(of: w * 1, seed: seed2, withRespectTo: [])
        _ = gradients(of: w + 0, seed: seed2, withRespectTo: [])
        #expect(w.takeGradient()?.scalars == [6.5, 7])
        #expect(seed1.scalars == [0.5, -1] && seed2.scalars == [3, 4])
        // One gradient tensor handed to several parents (x + x + x) is summed, not aliased.
        let (_, grads) = valueAndGradient(at: [Tensor([1, 1])]) { p in (p[0] + p[0] + p[0]).sum() }
        #expect(grads[0].scalars == [3, 3])
        let (_, wide) = valueAndGradient(at: [Tensor.ones([40_000])]) { p in ((p[0] + p[0]) * 2 + p[0]).sum() }
        #expect(wide[0].scalars.allSatisfy { $0 == 5 })
    }

    @Test func gradientsOfAnUnrelatedInputAreZero() {
        let x = Tensor([1, 2]).requiringGradient(), unrelated = Tensor([1, 2, 3]).requiringGradient()
        let grads = gradients(of: (x * x).sum(), withRespectTo: [x, unrelated, Tensor([5])])
        #expect(grads[0].scalars == [2, 4])
        #expect(grads[1].scalars == [0, 0, 0] && grads[2].scalars == [0])
    }

    @Test func seedGivesVectorJacobianProducts() {
        let x = Tensor([1, 2, 3]).requiringGradient()
        let y = x * x
        let grads = gradients(of: y, seed: Tensor([1, 0, -1]), withRespectTo: [x])
        #expect(grads[0].scalars == [2, 0, -6])
    }

    @Test func leavesKeepGradientsAcrossWalksUntilTaken() {
        let w = Tensor([2, -1]).requiringGradient()
        let x1 = Tensor([1, 1]).requiringGradient(), x2 = Tensor([3, 0]).requiringGradient()
        _ = gradients(of: (w * x1).sum(), withRespectTo: [x1])
        _ = gradients(of: (w * x2).sum(), withRespectTo: [x2])
        #expect(w.takeGradient()?.scalars == [4, 1])
        #expect(w.takeGradient() == nil, "taking a gradient clears it")
        #expect(Tensor([1]).takeGradient() == nil)
        // Wanted inputs are cleared by gradients(of:) itself.
        #expect(x1.takeGradient() == nil)
    }

    @Test func deepChainsDoNotOverflowTheStack() {
        let (_, grads) = valueAndGradient(at: [Tensor(scalar: 1)]) { p in
            var y = p[0]
            for _ in 0..<20_000 { y = y + 0.001 }
            return y * 2
        }
        #expect(grads[0].item() == 2)
    }

    @Test func valueAndGradientReturnsDetachedValue() {
        let (value, grads) = valueAndGradient(at: [Tensor([3])]) { ($0[0] * $0[0]).sum() }
        #expect(!value.requiresGradient && value.item() == 9 && grads[0].scalars == [6])
    }

    // MARK: Recomputation

    @Test func recomputingInBackwardEqualsPlainEvaluation() {
        var random = TestRandom(seed: 131)
        let x = random.normal([3, 4]), w = random.normal([4, 4]), b = random.normal([4])
        func block(_ input: Tensor, _ weight: Tensor, _ bias: Tensor) -> Tensor { tanh(input.matmul(weight) + bias).softmax() * input }

        let plain = valueAndGradient(at: [x, w, b]) { p in
            let y = block(p[0], p[1], p[2])
            return (y * y + p[1].sum()).sum()
        }
        let recomputed = valueAndGradient(at: [x, w, b]) { p in
            // Weight and bias are captured, not passed as inputs: they are named as parameters.
            let y = recomputingInBackward([p[0]], parameters: [p[1], p[2]]) { inputs in block(inputs[0], p[1], p[2]) }
            return (y * y + p[1].sum()).sum()
        }
        #expect(plain.value.item() == recomputed.value.item())
        for (a, c) in zip(plain.gradients, recomputed.gradients) {
            #expect(a.shape == c.shape)
            #expect(isClose(a, c, relativeTolerance: 1e-6, absoluteTolerance: 1e-7), "\(a) vs \(c)")
        }
    }

    @Test func recomputingWithOnlyParametersRecords() {
        let x = Tensor([1, 2]), w = Tensor([3, 4]).requiringGradient()
        let y = recomputingInBackward([x], parameters: [w]) { inputs in inputs[0] * w }
        #expect(y.requiresGradient)
        let grads = gradients(of: y.sum(), withRespectTo: [w])
        #expect(grads[0].scalars == [1, 2])
    }

    @Test func recomputingKeepsNoActivationsAndRerunsForward() {
        let runs = Flag()
        var count = 0
        let x = Tensor([0.5, 1]).requiringGradient()
        let y = recomputingInBackward([x]) { inputs in
            count += 1
            runs.value = GradientMode.isRecording
            return exp(inputs[0])
        }
        #expect(count == 1 && !runs.value, "forward runs once without recording")
        let grads = gradients(of: y.sum(), withRespectTo: [x])
        #expect(count == 2 && runs.value, "backward reruns the forward with recording on")
        #expect(isClose(grads[0].scalars, [Float(Foundation.exp(0.5)), Float(Foundation.exp(1.0))], relativeTolerance: 1e-6))
    }

    @Test func recomputingGradientMatchesFiniteDifferences() {
        var random = TestRandom(seed: 132)
        let x = random.normal([2, 3]), w = random.normal([3, 3])
        expectGradientsMatch([x, w], "recomputingInBackward") { p in
            recomputingInBackward([p[0]], parameters: [p[1]]) { inputs in gelu(inputs[0].matmul(p[1])).layerNormalized(weight: nil, bias: nil) }
        }
        expectGradientsMatch([x, w], "nested recomputingInBackward") { p in
            recomputingInBackward([p[0], p[1]]) { outer in
                recomputingInBackward([outer[0]], parameters: [outer[1]]) { inner in sigmoid(inner[0].matmul(outer[1])) } * outer[0]
            }
        }
    }
}
