import GlanceCore
import GlanceTestSupport
import Testing

@Suite struct SelectTests {
    @Test func comparisonsBroadcastAndAreNotRecorded() {
        let a = Tensor([1, 5, 3, 4], shape: [2, 2]).requiringGradient()
        let b = Tensor([3, 4])
        let greater = a.isGreater(than: b)
        #expect(greater.scalars == [0, 1, 0, 0])
        #expect(!greater.requiresGradient)
        #expect(a.isLess(than: b).scalars == [1, 0, 0, 0])
        #expect(a.isEqual(to: b).scalars == [0, 0, 1, 1])
        #expect(a.isGreater(than: Tensor(scalar: 2)).scalars == [0, 1, 1, 1])
    }

    @Test func selectPicksByCondition() {
        let condition = Tensor([1, 0, 2, 0, -1, 0], shape: [2, 3])
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]), b = Tensor([-1, -2, -3])
        #expect(select(condition, a, b).scalars == [1, -2, 3, -1, 5, -3])
        #expect(select(Tensor([1, 0]), Tensor(scalar: 7), Tensor([0, 0])).scalars == [7, 0])
        // Infinities in the unselected operand do not leak.
        #expect(select(Tensor([1, 0]), Tensor([1, .infinity]), Tensor([-.infinity, 2])).scalars == [1, 2])
    }

    @Test func selectGradients() {
        var random = TestRandom(seed: 161)
        let condition = random.uniform([3, 4]).isGreater(than: Tensor(scalar: 0))
        let a = random.normal([3, 4]), b = random.normal([4]), c = random.normal([3, 1])
        expectGradientsMatch([a, b], "select(a, broadcast b)") { select(condition, $0[0], $0[1]) }
        expectGradientsMatch([c, a], "select(broadcast c, a)") { select(condition, $0[0], $0[1]) }
        expectGradientsMatch([a], "select with constant") { select(condition, $0[0], Tensor(scalar: 0)) }
    }
}
