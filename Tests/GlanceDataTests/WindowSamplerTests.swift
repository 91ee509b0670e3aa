import Foundation
import GlanceCore
import GlanceData
import Testing

/// A real English text (the GPL), or a fallback paragraph repeated when it is absent.
func englishText(bytes count: Int) -> [UInt8] {
    for path in ["/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0", "/usr/share/common-licenses/GPL-2"] {
        if let data = FileManager.default.contents(atPath: path), data.count >= count { return Array([UInt8](data).prefix(count)) }
    }
    let paragraph = Array("The licenses for most software and other practical works are designed to take away your freedom to share and change the works. ".utf8)
    return (0..<count).map { paragraph[$0 % paragraph.count] }
}

@Suite struct WindowSamplerTests {
    /// Every byte value once, so that a window's first input is its offset.
    static let ramp: [UInt8] = (0..<251).map { UInt8($0) }

    @Test("random windows are contiguous and targets are the inputs shifted by one")
    func shiftedTargets() {
        let text = englishText(bytes: 2000)
        var generator = RandomGenerator(seed: 11)
        let batch = WindowSampler.randomBatch(from: text, batchSize: 6, length: 32, generator: &generator)
        #expect(batch.inputs.shape == [6, 32])
        #expect(batch.targets.count == 6 * 32)
        for row in 0..<6 {
            let inputs = Array(batch.inputs.values[(row * 32)..<((row + 1) * 32)])
            let targets = Array(batch.targets[(row * 32)..<((row + 1) * 32)])
            #expect(Array(inputs.dropFirst()) == Array(targets.dropLast()))
            // The window, with its last target, is a contiguous piece of the text.
            let piece = (inputs + [targets.last!]).map { UInt8($0) }
            let found = (0...(text.count - piece.count)).contains { Array(text[$0..<($0 + piece.count)]) == piece }
            #expect(found, "window \(row) is not a contiguous piece of the text")
        }
    }

    @Test("offsets are recoverable and stay inside the text")
    func offsetsInRange() {
        // On a ramp every byte value appears once, so the first input is the offset.
        var generator = RandomGenerator(seed: 3)
        var seen = Set<Int>()
        for _ in 0..<200 {
            let batch = WindowSampler.randomBatch(from: Self.ramp, batchSize: 4, length: 10, generator: &generator)
            for row in 0..<4 {
                let offset = batch.inputs.values[row * 10]
                seen.insert(offset)
                #expect(batch.inputs.values[(row * 10)..<(row * 10 + 10)].elementsEqual(offset..<(offset + 10)))
                #expect(batch.targets[(row * 10)..<(row * 10 + 10)].elementsEqual((offset + 1)..<(offset + 11)))
                #expect(offset + 10 < Self.ramp.count)
            }
        }
        // 800 draws over 240 offsets reach nearly all of them.
        #expect(seen.count > 200)
    }

    @Test("the same generator state gives the same batches; the generator advances")
    func reproducible() {
        let text = englishText(bytes: 3000)
        var a = RandomGenerator(seed: 99)
        _ = WindowSampler.randomBatch(from: text, batchSize: 3, length: 16, generator: &a)
        var b = a  // a saved state
        let fromA = (0..<5).map { _ in WindowSampler.randomBatch(from: text, batchSize: 3, length: 16, generator: &a) }
        let fromB = (0..<5).map { _ in WindowSampler.randomBatch(from: text, batchSize: 3, length: 16, generator: &b) }
        #expect(a == b)
        for (x, y) in zip(fromA, fromB) {
            #expect(x.inputs == y.inputs)
            #expect(x.targets == y.targets)
        }
        // Successive batches differ, and a generator restored from JSON continues the stream.
        #expect(fromA[0].inputs != fromA[1].inputs)
        var restored = try! JSONDecoder().decode(RandomGenerator.self, from: try! JSONEncoder().encode(a))
        let next = WindowSampler.randomBatch(from: text, batchSize: 3, length: 16, generator: &a)
        #expect(WindowSampler.randomBatch(from: text, batchSize: 3, length: 16, generator: &restored).inputs == next.inputs)
    }

    @Test("a different seed gives different batches")
    func differentSeeds() {
        let text = englishText(bytes: 3000)
        var a = RandomGenerator(seed: 1), b = RandomGenerator(seed: 2)
        #expect(WindowSampler.randomBatch(from: text, batchSize: 4, length: 16, generator: &a).inputs
                != WindowSampler.randomBatch(from: text, batchSize: 4, length: 16, generator: &b).inputs)
    }

    @Test("evaluation windows are the first non-overlapping windows, in order, in batches",
          arguments: [(1000, 7, 10, 3), (1000, 100, 10, 4), (101, 100, 10, 4), (100, 100, 10, 4), (41, 5, 10, 2), (11, 5, 10, 8), (5, 3, 10, 2)])
    func evaluationWindows(_ textCount: Int, _ windows: Int, _ length: Int, _ batchSize: Int) {
        let text = englishText(bytes: textCount)
        let batches = WindowSampler.evaluationBatches(from: text, windows: windows, length: length, batchSize: batchSize)
        let expectedWindows = Swift.min(windows, (textCount - 1) / length)
        #expect(batches.map { $0.inputs.shape[0] }.reduce(0, +) == expectedWindows)
        #expect(batches.allSatisfy { $0.inputs.shape[0] <= batchSize && $0.inputs.shape[1] == length })
        // Only the last batch may be partial.
        #expect(batches.dropLast().allSatisfy { $0.inputs.shape[0] == batchSize })
        var window = 0
        for batch in batches {
            #expect(batch.targets.count == batch.inputs.values.count)
            for row in 0..<batch.inputs.shape[0] {
                let start = window * length
                let inputs = batch.inputs.values[(row * length)..<((row + 1) * length)]
                let targets = batch.targets[(row * length)..<((row + 1) * length)]
                #expect(inputs.elementsEqual(text[start..<(start + length)].map(Int.init)))
                #expect(targets.elementsEqual(text[(start + 1)..<(start + length + 1)].map(Int.init)))
                window += 1
            }
        }
        #expect(window == expectedWindows)
    }

    @Test("evaluation batches are the same on every call")
    func evaluationDeterministic() {
        let text = englishText(bytes: 500)
        let a = WindowSampler.evaluationBatches(from: text, windows: 9, length: 16, batchSize: 4)
        let b = WindowSampler.evaluationBatches(from: text, windows: 9, length: 16, batchSize: 4)
        #expect(a.map(\.inputs) == b.map(\.inputs) && a.map(\.targets) == b.map(\.targets))
    }
}
