import Foundation
import GlanceCore
import GlanceData

/// A line that cannot be translated: why, in words that name the limit.
public struct TranslationInputError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public var description: String { reason }
}

/// Text in, text out: a model, its byte-pair encoding and a beam search.
///
/// Characters the encoding never saw in training are spelled by their UTF-8 bytes (byte
/// fallback), so any text encodes; an empty line, or one of more than max_length − 1
/// subwords, is a ``TranslationInputError``.
public struct Translator {
    public let model: EncoderDecoderModel
    public let encoding: BytePairEncoding
    public var search: BeamSearch

    public init(model: EncoderDecoderModel, encoding: BytePairEncoding, search: BeamSearch) {
        precondition(encoding.vocabularySize <= model.vocabularySize,
                     "the encoding has \(encoding.vocabularySize) ids, the model \(model.vocabularySize)")
        (self.model, self.encoding, self.search) = (model, encoding, search)
    }

    /// The subwords of `line`, checked against the model's length.
    public func encode(_ line: String) throws -> [Int] {
        let ids = encoding.encode(line)
        guard !ids.isEmpty else { throw TranslationInputError(reason: "the line is empty: there is nothing to translate") }
        let limit = model.configuration.maximumLength - 1
        guard ids.count <= limit else {
            throw TranslationInputError(reason: "the line has \(ids.count) subword tokens; the model reads at most \(limit) (max_length \(model.configuration.maximumLength) − 1)")
        }
        return ids
    }

    /// The best translation of `line` (the model in evaluation mode).
    public func translate(_ line: String) throws -> String {
        let ids = try encode(line)
        let best = withoutGradients { model.translate([ids], search: search)[0] }
        return encoding.decode(best.tokens)
    }
}
