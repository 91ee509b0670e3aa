import GlanceCore
import GlanceTestSupport
import Testing

@Suite struct CopyOnWriteTests {
    @Test func mutatingACopyLeavesTheOriginal() {
        let original = Tensor([1, 2, 3])
        var copy = original
        #expect(copy.sharesStorage(with: original))
        copy.withUnsafeMutableBufferPointer { $0[0] = 100 }
        #expect(original.scalars == [1, 2, 3])
        #expect(copy.scalars == [100, 2, 3])
        #expect(!copy.sharesStorage(with: original))
    }

    @Test func reshapedViewsShareUntilWritten() {
        let original = Tensor((0..<6).map(Float.init), shape: [2, 3])
        var view = original.reshaped(to: [3, 2])
        #expect(view.sharesStorage(with: original))
        view.withUnsafeMutableBufferPointer { $0[5] = -1 }
        #expect(original.scalars == [0, 1, 2, 3, 4, 5])
        #expect(view.scalars == [0, 1, 2, 3, 4, -1])
        var detached = original.detached()
        #expect(detached.sharesStorage(with: original))
        detached.withUnsafeMutableBufferPointer { $0[0] = 9 }
        #expect(original[0, 0] == 0)
    }

    @Test func uniqueTensorsAreWrittenInPlace() {
        var tensor = Tensor([1, 2])
        let before = tensor.withUnsafeBufferPointer { $0.baseAddress! }
        tensor.withUnsafeMutableBufferPointer { $0[1] = 5 }
        let after = tensor.withUnsafeBufferPointer { $0.baseAddress! }
        #expect(before == after)
        #expect(tensor.scalars == [1, 5])
    }

    @Test func writingLeavesTheGradientGraph() {
        var x = Tensor([1, 2]).requiringGradient()
        #expect(x.requiresGradient)
        x.withUnsafeMutableBufferPointer { $0[0] = 3 }
        #expect(!x.requiresGradient)
    }

    @Test func copiesInArraysAreIndependent() {
        let base = Tensor([1, 1])
        var tensors = [base, base]
        tensors[1].withUnsafeMutableBufferPointer { $0[0] = 2 }
        #expect(tensors[0].scalars == [1, 1] && tensors[1].scalars == [2, 1] && base.scalars == [1, 1])
    }

    @Test func addInPlaceCopiesSharedStorage() {
        let original = Tensor([1, 2, 3])
        var sum = original
        sum.addInPlace(Tensor([10, 20, 30]))
        #expect(original.scalars == [1, 2, 3])
        #expect(sum.scalars == [11, 22, 33])
        var doubled = Tensor((0..<70_000).map { Float($0 % 7) })
        let alias = doubled
        doubled.addInPlace(alias)
        #expect(doubled.scalars == alias.scalars.map { 2 * $0 })
        #expect(alias.scalars[13] == 6)
    }
}
