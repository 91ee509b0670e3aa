import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceTestSupport

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

/// Bit patterns of every parameter, for exact comparisons.
func parameterBits(_ values: [String: Tensor]) -> [String: [UInt32]] {
    values.mapValues { $0.scalars.map(\.bitPattern) }
}
