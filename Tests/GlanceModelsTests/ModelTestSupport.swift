import Foundation
import GlanceCore
import GlanceData
import GlanceModels

/// A fresh temporary folder; callers remove it with `defer { remove(folder) }`.
func makeTemporaryFolder(_ name: String = "glance-models-tests") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func remove(_ url: URL) { try? FileManager.default.removeItem(at: url) }

/// `count` bytes of real English text: the GPL shipped with Debian (or another license text).
func englishText(bytes count: Int) throws -> [UInt8] {
    for path in ["/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0", "/usr/share/common-licenses/GPL-2",
                 "/usr/share/common-licenses/LGPL-2.1"] {
        if let data = FileManager.default.contents(atPath: path), data.count >= count { return Array([UInt8](data).prefix(count)) }
    }
    struct NoText: Error {}
    throw NoText()
}

/// Writes a small English corpus (train/valid/test 90/5/5) into `folder` and loads it.
func writeEnglishCorpus(into folder: URL, bytes: Int = 12_000) throws -> ByteCorpus {
    try ByteCorpus.write(splitting: try englishText(bytes: bytes), into: folder)
    return try ByteCorpus(folder: folder)
}

/// A tiny language model configuration (context 16, 1 layer, d 16).
func tinyModel(dropout: Float = 0, layers: Int = 1, positions: String = "learned") -> LanguageModelConfiguration {
    var m = LanguageModelConfiguration()
    m.context = 16
    m.layers = layers
    m.modelDimensions = 16
    m.heads = 2
    m.feedForwardMultiplier = 2
    m.dropout = dropout
    m.positions = positions
    return m
}

/// A tiny training configuration writing into `output`.
func tinyTraining(corpus: URL, output: URL, steps: Int, dropout: Float = 0, learningRate: Float = 3e-3) -> TrainingConfiguration {
    var t = OptimizationConfiguration()
    t.batchSize = 8
    t.steps = steps
    t.learningRate = learningRate
    t.warmupSteps = 3
    t.logEvery = 1
    t.evalEvery = 1000
    t.evalWindows = 8
    t.checkpointEvery = 1000
    t.seed = 77
    return TrainingConfiguration(model: tinyModel(dropout: dropout), training: t, data: DataConfiguration(corpus: corpus.path), output: output.path)
}

/// Bit patterns of every parameter, for exact comparisons.
func parameterBits(_ values: [String: Tensor]) -> [String: [UInt32]] {
    values.mapValues { $0.scalars.map(\.bitPattern) }
}
