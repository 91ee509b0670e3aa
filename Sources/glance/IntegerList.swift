import ArgumentParser

/// Parses a flag's comma-separated integers, naming the flag and the bad item in errors
/// (`--length 1,,2`: item 2 is empty; `--length 8,-5`: item 2 is below the minimum).
func integerList(_ text: String, flag: String, minimum: Int, maximum: Int = .max) throws -> [Int] {
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    return try items.enumerated().map { index, item in
        let position = items.count > 1 ? " item \(index + 1)" : ""
        guard !item.isEmpty else { throw ValidationError("\(flag)\(position) is empty in '\(text)' (give integers separated by commas)") }
        guard let value = Int(item) else { throw ValidationError("\(flag)\(position) '\(item)' is not an integer") }
        guard value >= minimum else { throw ValidationError("\(flag)\(position) must be at least \(minimum), got \(value)") }
        guard value <= maximum else { throw ValidationError("\(flag)\(position) must be at most \(maximum), got \(value)") }
        return value
    }
}
