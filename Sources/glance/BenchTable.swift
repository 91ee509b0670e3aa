import Foundation
import GlanceAttention

/// The text form of `glance bench`'s reports: the settings the rows share (the mechanism with
/// every one of its options, the sizes, the threads) as a heading, then one aligned row per
/// measurement under explicit column names. Byte counts become MiB (`peak_rss_bytes` →
/// `peak_rss_mib`) and `backward_ms`, which times forward and backward, is `forward_backward_ms`.
enum BenchTable {
    /// The heading: `mechanism performer (features=…, kernel=softmax, …)` then the other settings.
    static func heading(_ settings: [(String, Any)]) -> [String] {
        var lines: [String] = []
        var others: [String] = []
        for (key, value) in settings {
            if let configuration = value as? AttentionConfiguration {
                lines.append("\(key) \(configuration.type)" + describe(configuration))
            } else if key == "mechanism" || key == "model" {
                lines.append("\(key) \(text(value))")
            } else {
                others.append("\(key) \(text(value))")
            }
        }
        return lines + (others.isEmpty ? [] : [others.joined(separator: ", ")])
    }

    /// The column names of `measurements`, right-aligned to their columns' widths.
    static func header(_ measurements: [(String, Any)]) -> String {
        line(measurements.map { columnName($0.0) })
    }

    /// One row of values under ``header(_:)``.
    static func row(_ measurements: [(String, Any)]) -> String {
        line(measurements.map { key, value in
            if key.hasSuffix("_bytes"), let bytes = value as? Int { return String(format: "%.1f", Double(bytes) / 1_048_576) }
            if let number = value as? Double, !(value is Int) {
                return String(format: fixedPointKeys.contains(where: key.hasSuffix) ? "%.2f" : "%.4g", number)
            }
            return text(value)
        }, widths: measurements.map { columnName($0.0).count })
    }

    /// Every documented option of the mechanism: the given value, or the documented default.
    static func describe(_ configuration: AttentionConfiguration) -> String {
        let given = configuration.optionsObject
        let documentation = type(of: configuration.options).documentation
        guard !documentation.isEmpty else { return " (no options)" }
        return " (" + documentation.map { option in
            "\(option.name)=" + (given[option.name].map(text) ?? option.defaultValue)
        }.joined(separator: ", ") + ")"
    }

    /// Keys whose values are shown with two decimals (times, rates, ratios).
    static let fixedPointKeys = ["_ms", "gflops", "ratio", "_per_s"]

    static func columnName(_ key: String) -> String {
        if key == "backward_ms" { return "forward_backward_ms" }
        if key.hasSuffix("_bytes") { return String(key.dropLast("_bytes".count)) + "_mib" }
        return key
    }

    /// `cells` right-aligned in columns of at least `widths` (at least 8) characters, two spaces apart.
    static func line(_ cells: [String], widths: [Int]? = nil) -> String {
        zip(cells, widths ?? cells.map(\.count)).map { cell, width in
            String(repeating: " ", count: max(0, max(width, 8) - cell.count)) + cell
        }.joined(separator: "  ")
    }

    /// A value as text: strings as they are, `-` for null, anything else as JSON (`true`, `[1,2]`).
    static func text(_ value: Any) -> String {
        switch value {
        case let string as String: return string
        case is NSNull: return "-"
        default:
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
            return data.map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
        }
    }
}
