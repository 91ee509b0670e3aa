import Foundation
import GlanceCore
import GlanceNN
import GlanceTestSupport
import Testing

final class CheckpointModel: Module, @unchecked Sendable {
    let linear: Linear
    let norm: SequenceBatchNorm
    init(seed: UInt64) {
        var generator = RandomGenerator(seed: seed)
        linear = Linear(3, 2, generator: &generator)
        norm = SequenceBatchNorm(channels: 2)
        super.init()
        randomizeParameters(self, seed: seed + 1)
    }
}

func expectUnchanged(_ model: Module, _ before: [String: Tensor], sourceLocation: SourceLocation = #_sourceLocation) {
    let after = model.parameterValues()
    for (key, value) in before {
        #expect(after[key]?.scalars == value.scalars, "\(key) changed", sourceLocation: sourceLocation)
    }
}

@Suite struct CheckpointTests {
    @Test func saveAndLoadRoundTripIncludingRunningStatistics() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("checkpoint.safetensors")
        let source = CheckpointModel(seed: 1)
        _ = source.norm(randomTensor([1, 4, 2], seed: 5))  // moves the running statistics away from 0 and 1
        source.norm.updateRunningStatistics()
        try source.save(to: url, metadata: ["step": "42"])
        let target = CheckpointModel(seed: 2)
        let metadata = try target.load(from: url)
        #expect(metadata == ["step": "42"])
        let expected = source.parameterValues(), loaded = target.parameterValues()
        #expect(Set(loaded.keys) == ["linear.weight", "linear.bias", "norm.weight", "norm.bias", "norm.runningMean", "norm.runningVariance"])
        for (key, value) in expected { #expect(loaded[key]?.scalars == value.scalars, "\(key)") }
        let x = randomTensor([1, 3, 3], seed: 6)
        source.eval(); target.eval()
        #expect(source.norm(source.linear(x)).scalars == target.norm(target.linear(x)).scalars)
    }

    @Test func missingCheckpoint() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("none.safetensors")
        let model = CheckpointModel(seed: 3)
        do {
            try model.load(from: url)
            Issue.record("loading a missing checkpoint must throw")
        } catch let error as CheckpointError {
            guard case let .missing(path) = error else { Issue.record("wrong error \(error)"); return }
            #expect(path == url.path && error.description.contains(url.path))
        }
    }

    @Test func wrongShapeOrKeysThrowAndKeepTheModel() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("other.safetensors")
        var values = CheckpointModel(seed: 4).parameterValues()
        values["linear.weight"] = Tensor.zeros([3, 2])  // transposed shape
        values["extra.weight"] = Tensor.zeros([1])
        values.removeValue(forKey: "norm.bias")
        try SafeTensors.write(values, to: url)
        let model = CheckpointModel(seed: 5)
        let before = model.parameterValues()
        do {
            try model.load(from: url)
            Issue.record("loading an incompatible checkpoint must throw")
        } catch let error as CheckpointError {
            guard case let .incompatible(path, reason) = error else { Issue.record("wrong error \(error)"); return }
            #expect(path == url.path)
            for fragment in ["linear.weight", "[2, 3]", "[3, 2]", "extra.weight", "norm.bias"] {
                #expect(reason.contains(fragment), "\(fragment) in \(reason)")
            }
        }
        expectUnchanged(model, before)
    }

    @Test func corruptFileThrowsSafeTensorsErrorAndKeepsTheModel() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("corrupt.safetensors")
        let model = CheckpointModel(seed: 6)
        try model.save(to: url)
        let full = try Data(contentsOf: url)
        try full.prefix(full.count - 5).write(to: url)  // cut inside the last tensor
        let before = model.parameterValues()
        #expect(throws: SafeTensorsError.self) { try CheckpointModel(seed: 7).load(from: url) }
        do { try model.load(from: url) } catch {}
        expectUnchanged(model, before)
    }

    @Test func saveReplacesAtomically() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        let first = CheckpointModel(seed: 8), second = CheckpointModel(seed: 9)
        try first.save(to: url)
        try second.save(to: url, metadata: ["run": "2"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.safetensors"])
        let restored = CheckpointModel(seed: 10)
        #expect(try restored.load(from: url) == ["run": "2"])
        for (key, value) in second.parameterValues() { #expect(restored.parameterValues()[key]?.scalars == value.scalars) }
    }
}
