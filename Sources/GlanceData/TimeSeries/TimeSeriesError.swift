/// A problem with a series file or with what is asked of it, naming the file, the row
/// (1-based line of the file, the header being line 1) and the column or field.
public enum TimeSeriesError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case missingColumn(path: String, column: String, available: [String])
    case malformedRow(path: String, row: Int, reason: String)
    case nonNumeric(path: String, row: Int, column: String, value: String)
    case badTimestamp(path: String, row: Int, column: String, value: String)
    case outOfOrder(path: String, row: Int, timestamp: String, previous: String)
    case irregular(path: String, row: Int, timestamp: String, previous: String, interval: Int64)
    /// Timestamps absent from a regular series: each gap after `row`, never filled.
    case missingTimestamps(path: String, interval: Int64, gaps: [TimeSeriesGap])
    /// A request (split, window, horizon) the series is too short for; `field` names the setting.
    case tooShort(path: String, field: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "series file \(path) cannot be read: \(reason)"
        case let .missingColumn(path, column, available):
            "series file \(path) has no column '\(column)' (columns: \(available.joined(separator: ", ")))"
        case let .malformedRow(path, row, reason): "series file \(path), row \(row): \(reason)"
        case let .nonNumeric(path, row, column, value):
            "series file \(path), row \(row), column '\(column)': '\(value)' is not a number (values are never filled in)"
        case let .badTimestamp(path, row, column, value):
            "series file \(path), row \(row), column '\(column)': '\(value)' is not a timestamp (YYYY-MM-DD[ HH:MM[:SS]])"
        case let .outOfOrder(path, row, timestamp, previous):
            "series file \(path), row \(row): timestamp \(timestamp) does not come after \(previous) (rows must be in time order, without duplicates)"
        case let .irregular(path, row, timestamp, previous, interval):
            "series file \(path), row \(row): \(timestamp) follows \(previous), which is not a whole number of the series' interval of \(interval) s"
        case let .missingTimestamps(path, interval, gaps):
            "series file \(path): \(gaps.reduce(0) { $0 + $1.missing }) timestamps missing at the interval of \(interval) s in \(gaps.count) gaps "
                + "(they are reported, never filled): " + gaps.prefix(10).map(\.description).joined(separator: "; ")
                + (gaps.count > 10 ? "; … \(gaps.count - 10) more" : "")
        case let .tooShort(path, field, reason): "series file \(path): '\(field)' \(reason)"
        }
    }
}

/// Timestamps missing between two consecutive rows of a series file.
public struct TimeSeriesGap: Equatable, Sendable, CustomStringConvertible {
    /// The row before the gap (1-based line of the file).
    public let row: Int
    public let after: Timestamp
    public let before: Timestamp
    /// How many timestamps are missing.
    public let missing: Int

    public var description: String { "\(missing) missing after row \(row) (\(after) … \(before))" }
}
