import Foundation

/// A regular time series read from a CSV file of the documented layout: a header row, then one
/// row per time step; a timestamp column (``Timestamp``'s forms, in time order), one or more
/// target columns and optional covariate columns, all numeric (`TRUE`/`FALSE` read as 1/0).
/// Columns that are not asked for are ignored; quoted fields (`"a,b"`) are allowed.
///
/// The interval is the most common step between rows; every step must be a whole number of it.
/// Missing timestamps are collected and thrown together (``TimeSeriesError/missingTimestamps(path:interval:gaps:)``),
/// never filled in; so are non-numeric values (the first one, naming row and column).
public struct TimeSeriesTable: Sendable {
    public let path: String
    public let timestamps: [Timestamp]
    /// Seconds between consecutive rows.
    public let interval: Int64
    /// The columns read, in the order asked.
    public let columnNames: [String]
    /// The values of each column read, one per row.
    public let columns: [[Float]]

    /// A table of given values (tests, conversions): every column has one value per timestamp.
    public init(path: String, timestamps: [Timestamp], interval: Int64, columnNames: [String], columns: [[Float]]) {
        precondition(columns.count == columnNames.count && columns.allSatisfy { $0.count == timestamps.count },
                     "\(columnNames.count) names for \(columns.count) columns of \(columns.map(\.count)) values, \(timestamps.count) timestamps")
        (self.path, self.timestamps, self.interval, self.columnNames, self.columns) = (path, timestamps, interval, columnNames, columns)
    }

    /// Reads `columns` (and `timestampColumn`) of the CSV file at `url`.
    public init(contentsOf url: URL, timestampColumn: String = "timestamp", columns wanted: [String]) throws {
        let path = url.path
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw TimeSeriesError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? error.localizedDescription : "no such file")
        }
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        while lines.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { lines.removeLast() }
        guard let headerLine = lines.first else { throw TimeSeriesError.unreadable(path: path, reason: "the file is empty") }
        let header = try Self.fields(of: headerLine, path: path, row: 1)
        func position(_ column: String) throws -> Int {
            guard let index = header.firstIndex(of: column) else {
                throw TimeSeriesError.missingColumn(path: path, column: column, available: header)
            }
            return index
        }
        let timeIndex = try position(timestampColumn)
        let indices = try wanted.map(position)
        var timestamps: [Timestamp] = []
        var values = [[Float]](repeating: [], count: wanted.count)
        timestamps.reserveCapacity(lines.count)
        for (offset, line) in lines.enumerated().dropFirst() {
            let row = offset + 1
            let fields = try Self.fields(of: line, path: path, row: row)
            guard fields.count == header.count else {
                throw TimeSeriesError.malformedRow(path: path, row: row, reason: "expected \(header.count) comma-separated fields, found \(fields.count)")
            }
            guard let time = Timestamp(parsing: Substring(fields[timeIndex])) else {
                throw TimeSeriesError.badTimestamp(path: path, row: row, column: timestampColumn, value: fields[timeIndex])
            }
            timestamps.append(time)
            for (k, index) in indices.enumerated() {
                guard let value = Self.number(fields[index]) else {
                    throw TimeSeriesError.nonNumeric(path: path, row: row, column: wanted[k], value: fields[index])
                }
                values[k].append(value)
            }
        }
        guard timestamps.count >= 2 else {
            throw TimeSeriesError.tooShort(path: path, field: "rows", reason: "needs at least 2 rows to have an interval, found \(timestamps.count)")
        }
        let interval = try Self.checkedInterval(timestamps, path: path)
        self.init(path: path, timestamps: timestamps, interval: interval, columnNames: wanted, columns: values)
    }

    public var count: Int { timestamps.count }

    /// The values of the column called `name` (one of ``columnNames``).
    public func column(_ name: String) -> [Float] {
        guard let index = columnNames.firstIndex(of: name) else { preconditionFailure("column '\(name)' was not read; read: \(columnNames)") }
        return columns[index]
    }

    /// The most common step, after checking order and regularity; throws every gap at once.
    static func checkedInterval(_ timestamps: [Timestamp], path: String) throws -> Int64 {
        var steps: [Int64: Int] = [:]
        for i in 1..<timestamps.count {
            let step = timestamps[i].seconds - timestamps[i - 1].seconds
            guard step > 0 else {
                throw TimeSeriesError.outOfOrder(path: path, row: i + 2, timestamp: "\(timestamps[i])", previous: "\(timestamps[i - 1])")
            }
            steps[step, default: 0] += 1
        }
        let interval = steps.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
        var gaps: [TimeSeriesGap] = []
        for i in 1..<timestamps.count {
            let step = timestamps[i].seconds - timestamps[i - 1].seconds
            guard step % interval == 0 else {
                throw TimeSeriesError.irregular(path: path, row: i + 2, timestamp: "\(timestamps[i])", previous: "\(timestamps[i - 1])", interval: interval)
            }
            if step > interval {
                gaps.append(TimeSeriesGap(row: i + 1, after: timestamps[i - 1], before: timestamps[i], missing: Int(step / interval) - 1))
            }
        }
        guard gaps.isEmpty else { throw TimeSeriesError.missingTimestamps(path: path, interval: interval, gaps: gaps) }
        return interval
    }

    /// A numeric field: a decimal number, or TRUE/FALSE as 1/0; nil for anything else (empty included).
    static func number(_ field: String) -> Float? {
        let text = field.trimmingCharacters(in: .whitespaces)
        switch text.uppercased() {
        case "TRUE": return 1
        case "FALSE": return 0
        default:
            guard let value = Float(text), value.isFinite else { return nil }
            return value
        }
    }

    /// The comma-separated fields of one line; double quotes enclose fields with commas (`""` is a quote).
    static func fields(of line: Substring, path: String, row: Int) throws -> [String] {
        var fields: [String] = []
        var current = "", quoted = false, iterator = line.makeIterator()
        while let character = iterator.next() {
            switch character {
            case "\"" where quoted:
                if let next = iterator.next() {
                    if next == "\"" { current.append("\"") } else {
                        quoted = false
                        if next == "," { fields.append(current); current = "" } else if next != "\r" { current.append(next) }
                    }
                } else { quoted = false }
            case "\"" where current.isEmpty: quoted = true
            case "," where !quoted: fields.append(current); current = ""
            case "\r" where !quoted: break
            default: current.append(character)
            }
        }
        guard !quoted else { throw TimeSeriesError.malformedRow(path: path, row: row, reason: "a quoted field is not closed") }
        fields.append(current)
        return fields
    }
}
