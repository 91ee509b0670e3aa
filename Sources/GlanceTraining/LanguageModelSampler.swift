import GlanceCore

/// Where the language model's training batches have got to: the generator of random windows'
/// offsets, and the next segment of the streams (Transformer-XL's ordered segments, when the
/// model carries a memory). Stored as the generator's JSON plus `"segment"`, so that the
/// checkpoints of earlier versions (the generator alone) still resume.
public struct LanguageModelSampler: Codable, Sendable, Equatable {
    public var generator: RandomGenerator
    /// The index of the next segment each stream yields.
    public var segment: Int

    public init(seed: UInt64) {
        generator = RandomGenerator(seed: seed)
        segment = 0
    }

    private enum CodingKeys: String, CodingKey { case segment }

    public init(from decoder: any Decoder) throws {
        generator = try RandomGenerator(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        segment = try container.decodeIfPresent(Int.self, forKey: .segment) ?? 0
        guard segment >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .segment, in: container, debugDescription: "must be at least 0, got \(segment)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try generator.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(segment, forKey: .segment)
    }
}
