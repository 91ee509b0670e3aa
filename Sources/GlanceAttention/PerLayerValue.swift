/// An integer setting given once for every layer (`512`) or once per layer (`[128, 256, 512]`).
public enum PerLayerValue: Codable, Equatable, Sendable {
    case all(Int)
    case perLayer([Int])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .all(value)
        } else if let values = try? container.decode([Int].self) {
            self = .perLayer(values)
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "must be an integer or a list of integers (one per layer)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .all(value): try container.encode(value)
        case let .perLayer(values): try container.encode(values)
        }
    }

    public func value(layer: Int) -> Int {
        switch self {
        case let .all(value): value
        case let .perLayer(values): values[layer]
        }
    }

    /// Every value given.
    public var values: [Int] {
        switch self {
        case let .all(value): [value]
        case let .perLayer(values): values
        }
    }
}
