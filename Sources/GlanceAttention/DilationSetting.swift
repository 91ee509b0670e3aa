/// Longformer's dilation: one value for every head of every layer (`2`), one per head
/// (`[1, 1, 2, 2]`, the same in every layer), or one list of per-head values per layer
/// (`[[1, 1, 1, 1], [1, 1, 2, 2]]`).
public enum DilationSetting: Codable, Equatable, Sendable {
    case all(Int)
    case perHead([Int])
    case perLayer([[Int]])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .all(value)
        } else if let values = try? container.decode([Int].self) {
            self = .perHead(values)
        } else if let rows = try? container.decode([[Int]].self) {
            self = .perLayer(rows)
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "must be an integer, a list of integers (one per head) or a list of such lists (one per layer)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .all(value): try container.encode(value)
        case let .perHead(values): try container.encode(values)
        case let .perLayer(rows): try container.encode(rows)
        }
    }

    /// The dilation of each head of layer `layer` (one value when it is the same for all heads).
    public func heads(layer: Int) -> [Int] {
        switch self {
        case let .all(value): [value]
        case let .perHead(values): values
        case let .perLayer(rows): rows[layer]
        }
    }

    /// Every value given.
    public var values: [Int] {
        switch self {
        case let .all(value): [value]
        case let .perHead(values): values
        case let .perLayer(rows): rows.flatMap { $0 }
        }
    }
}
