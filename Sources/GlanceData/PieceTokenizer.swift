import Foundation

/// A tokenizer file that cannot be used; names the file and the field.
public struct PieceTokenizerError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let field: String
    public let reason: String

    public var description: String { "\(path): field '\(field)' \(reason)" }
}

/// The id → text half of a Hugging Face tokenizer folder as transformers 5.24.0's
/// `ParakeetTokenizer` saves it (tokenizer.json, tokenizer_config.json): the pieces of a
/// Unigram, BPE or WordPiece vocabulary with the added tokens, and the decoder that joins them
/// (SentencePiece's "▁" word boundary through `Metaspace`, or a `Sequence` of `Replace`, `Fuse`,
/// `Strip` and `Metaspace`).
///
/// ``decode(_:mergingRepeats:)`` gives what the processor's `batch_decode` gives for CTC ids: repeats merged,
/// the pad token (the CTC blank) dropped, other special tokens kept as their text.
public struct PieceTokenizer: Sendable, Equatable {
    /// One step of the decoder chain, applied to every piece in turn (``fuse`` joins them).
    public enum DecoderStep: Sendable, Equatable {
        /// The replacement character becomes a space; in the first piece it is dropped when
        /// `dropInFirstPiece` (prepend scheme "always" or "first").
        case metaspace(replacement: Character, dropInFirstPiece: Bool)
        /// Every occurrence of `pattern` becomes `content`.
        case replace(pattern: String, content: String)
        /// The pieces are joined into one.
        case fuse
        /// Up to `start` leading and `stop` trailing `content` characters are removed.
        case strip(content: Character, start: Int, stop: Int)
    }

    /// The text of each id (index = id); nil where the vocabulary has a gap.
    public var pieces: [String?]
    /// The pad token's id (the CTC blank), dropped by ``decode(_:mergingRepeats:)``.
    public var padID: Int?
    /// The decoder chain.
    public var decoder: [DecoderStep]
    /// Whether transformers' `clean_up_tokenization` (" ." → "." and the like) follows.
    public var cleansSpaces: Bool

    public init(pieces: [String?], padID: Int?, decoder: [DecoderStep], cleansSpaces: Bool = false) {
        self.pieces = pieces
        self.padID = padID
        self.decoder = decoder
        self.cleansSpaces = cleansSpaces
    }

    /// The tokenizer in `folder`: tokenizer.json, with tokenizer_config.json's pad token and
    /// clean-up flag when that file is there.
    public init(folder: URL) throws {
        let file = folder.appendingPathComponent("tokenizer.json")
        let fields = try Self.jsonObject(at: file)
        func invalid(_ field: String, _ reason: String) -> PieceTokenizerError {
            PieceTokenizerError(path: file.path, field: field, reason: reason)
        }
        guard let model = fields["model"] as? [String: Any] else { throw invalid("model", "is missing or not an object") }
        var table: [Int: String] = [:]
        switch model["type"] as? String {
        case "Unigram":
            guard let vocabulary = model["vocab"] as? [[Any]] else { throw invalid("model.vocab", "must be a list of [piece, score] pairs") }
            for (id, entry) in vocabulary.enumerated() {
                guard let piece = entry.first as? String else { throw invalid("model.vocab[\(id)]", "must start with the piece's text") }
                table[id] = piece
            }
        case "BPE", "WordPiece", "WordLevel":
            guard let vocabulary = model["vocab"] as? [String: Any] else { throw invalid("model.vocab", "must be an object of piece: id") }
            for (piece, value) in vocabulary {
                guard let id = Self.integer(value), (0...Self.largestID).contains(id) else {
                    throw invalid("model.vocab[\"\(piece)\"]", "must be an integer id in 0...\(Self.largestID)")
                }
                table[id] = piece
            }
        case let type:
            throw invalid("model.type", "is \(type.map { "'\($0)'" } ?? "missing"); Glance reads Unigram, BPE, WordPiece and WordLevel vocabularies")
        }
        for (index, entry) in ((fields["added_tokens"] as? [[String: Any]]) ?? []).enumerated() {
            guard let id = entry["id"].flatMap(Self.integer), (0...Self.largestID).contains(id), let content = entry["content"] as? String else {
                throw invalid("added_tokens[\(index)]", "must have an integer 'id' in 0...\(Self.largestID) and a string 'content'")
            }
            table[id] = content
        }
        let size = (table.keys.max() ?? -1) + 1
        pieces = (0..<size).map { table[$0] }
        decoder = try Self.decoderSteps(fields["decoder"], field: "decoder", invalid: invalid)

        let configurationFile = folder.appendingPathComponent("tokenizer_config.json")
        var padToken: String?, cleanUp = false, forceCleanUp = false
        if FileManager.default.fileExists(atPath: configurationFile.path) {
            let configuration = try Self.jsonObject(at: configurationFile)
            switch configuration["pad_token"] {
            case let token as String: padToken = token
            case let token as [String: Any]: padToken = token["content"] as? String
            case nil, is NSNull: break
            case let value?:
                throw PieceTokenizerError(path: configurationFile.path, field: "pad_token", reason: "must be a string, found \(value)")
            }
            cleanUp = configuration["clean_up_tokenization_spaces"] as? Bool ?? false
            forceCleanUp = configuration["clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output"] as? Bool ?? false
        }
        if let padToken {
            guard let id = pieces.firstIndex(of: padToken) else {
                throw PieceTokenizerError(path: configurationFile.path, field: "pad_token", reason: "is '\(padToken)', which \(file.path) does not hold")
            }
            padID = id
        } else {
            padID = nil
        }
        // transformers skips the clean-up for BPE models unless forced.
        cleansSpaces = cleanUp && (model["type"] as? String != "BPE" || forceCleanUp)
    }

    /// The number of ids (the largest id + 1).
    public var count: Int { pieces.count }

    /// The text of CTC output ids: consecutive repeats merged (unless `mergingRepeats` is false,
    /// for ids that a CTC decoder already collapsed), the pad token dropped, the pieces joined
    /// through the decoder chain. Ids without a piece are skipped (as `tokenizers` does).
    public func decode(_ ids: [Int], mergingRepeats: Bool = true) -> String {
        var merged: [Int] = []
        for id in ids where !mergingRepeats || merged.last != id { merged.append(id) }
        var tokens = merged.filter { $0 != padID }.compactMap { $0 >= 0 && $0 < pieces.count ? pieces[$0] : nil }
        for step in decoder { tokens = apply(step, to: tokens) }
        let text = tokens.joined()
        return cleansSpaces ? Self.cleanUpSpaces(text) : text
    }

    func apply(_ step: DecoderStep, to tokens: [String]) -> [String] {
        switch step {
        case let .metaspace(replacement, dropInFirstPiece):
            return tokens.enumerated().map { index, token in
                let dropped = index == 0 && dropInFirstPiece
                return String(token.compactMap { $0 == replacement ? (dropped ? nil : " ") : $0 })
            }
        case let .replace(pattern, content):
            return tokens.map { $0.replacingOccurrences(of: pattern, with: content) }
        case .fuse:
            return [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { token in
                var characters = Substring(token)
                for _ in 0..<start where characters.first == content { characters.removeFirst() }
                for _ in 0..<stop where characters.last == content { characters.removeLast() }
                return String(characters)
            }
        }
    }

    /// transformers' `clean_up_tokenization`: no space before . ? ! , and English contractions.
    static func cleanUpSpaces(_ text: String) -> String {
        [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"),
         (" 've", "'ve"), (" 're", "'re")]
            .reduce(text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }

    static func decoderSteps(_ value: Any?, field: String, invalid: (String, String) -> PieceTokenizerError) throws -> [DecoderStep] {
        guard let value, !(value is NSNull) else { return [] }
        guard let fields = value as? [String: Any] else { throw invalid(field, "must be an object") }
        func character(_ key: String, _ fallback: Character) throws -> Character {
            guard let text = fields[key] else { return fallback }
            guard let text = text as? String, text.count == 1 else { throw invalid("\(field).\(key)", "must be one character") }
            return Character(text)
        }
        switch fields["type"] as? String {
        case "Sequence":
            guard let steps = fields["decoders"] as? [Any] else { throw invalid("\(field).decoders", "must be a list") }
            return try steps.enumerated().flatMap { try decoderSteps($1, field: "\(field).decoders[\($0)]", invalid: invalid) }
        case "Metaspace":
            let drop: Bool
            if let scheme = fields["prepend_scheme"] {
                guard let scheme = scheme as? String, ["always", "first", "never"].contains(scheme) else {
                    throw invalid("\(field).prepend_scheme", "must be 'always', 'first' or 'never'")
                }
                drop = scheme != "never"
            } else {
                drop = fields["add_prefix_space"] as? Bool ?? true
            }
            return [.metaspace(replacement: try character("replacement", "▁"), dropInFirstPiece: drop)]
        case "Replace":
            guard let pattern = (fields["pattern"] as? [String: Any])?["String"] as? String, let content = fields["content"] as? String else {
                throw invalid(field, "Replace needs a string 'pattern' {\"String\": …} and a string 'content'")
            }
            return [.replace(pattern: pattern, content: content)]
        case "Fuse":
            return [.fuse]
        case "Strip":
            guard let start = fields["start"].flatMap(integer), let stop = fields["stop"].flatMap(integer), start >= 0, stop >= 0 else {
                throw invalid(field, "Strip needs non-negative integers 'start' and 'stop'")
            }
            return [.strip(content: try character("content", " "), start: start, stop: stop)]
        case let type:
            throw invalid("\(field).type", "is \(type.map { "'\($0)'" } ?? "missing"); Glance decodes Metaspace, Replace, Fuse, Strip and Sequence")
        }
    }

    static func jsonObject(at url: URL) throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw PieceTokenizerError(path: url.path, field: "(file)", reason: "cannot be read: \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let fields = object as? [String: Any] else {
            throw PieceTokenizerError(path: url.path, field: "(file)", reason: "is not a JSON object")
        }
        return fields
    }

    /// The largest token id read: the piece table is as long as the largest id.
    static let largestID = (1 << 24) - 1

    /// A JSON integer (a whole number), or nil.
    static func integer(_ value: Any) -> Int? {
        if let number = value as? Int { return number }
        guard let number = value as? Double, number == number.rounded(), abs(number) < 1e15 else { return nil }
        return Int(number)
    }
}
