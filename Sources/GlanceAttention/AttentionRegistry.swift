/// The attention mechanisms that configs, `glance bench` and `glance mechanisms` know, by
/// name: the only central list. Each mechanism's options type, in the mechanism's own file,
/// holds its options, defaults, validation and construction.
public enum AttentionRegistry {
    /// The options type of every mechanism, in the order the docs list them.
    public static let optionTypes: [any AttentionOptions.Type] = [
        FullAttentionOptions.self, LinformerOptions.self, PerformerOptions.self,
        LogSparseOptions.self, ReformerOptions.self, LongformerOptions.self,
        AdaptiveSpanOptions.self, TransformerXLOptions.self, RelativePositionOptions.self, LongShortRangeOptions.self,
    ]

    /// Names that configs accept.
    public static var names: [String] { optionTypes.map { $0.mechanism } }

    /// The options type of mechanism `name`; an unknown name throws an error naming `type`.
    public static func optionsType(named name: String) throws -> any AttentionOptions.Type {
        guard let found = optionTypes.first(where: { $0.mechanism == name }) else {
            throw AttentionConfigurationError(field: "type", reason: "unknown mechanism '\(name)'; known: \(names.joined(separator: ", "))")
        }
        return found
    }

    /// The mechanism and option that a former model-level config key became.
    public static func formerOption(named key: String) -> (mechanism: String, option: String)? {
        for type in optionTypes {
            if let option = type.formerNames[key] { return (type.mechanism, option) }
        }
        return nil
    }

    /// Every former model-level config key of an option.
    public static var formerNames: [String] { optionTypes.flatMap { $0.formerNames.keys }.sorted() }
}
