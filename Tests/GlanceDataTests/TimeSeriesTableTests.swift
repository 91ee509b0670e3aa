import Foundation
import GlanceData
import GlanceTestSupport
import Testing

@Suite struct TimeSeriesTableTests {
    /// Writes `text` to a CSV file in a fresh folder.
    static func file(_ text: String) throws -> URL {
        let url = try makeTemporaryFolder("glance-series").appendingPathComponent("series.csv")
        try Data(text.utf8).write(to: url)
        return url
    }

    /// `rows` half-hourly rows from 2024-01-01 00:00 with a target, a covariate and a flag.
    static func halfHourly(_ rows: Int) -> String {
        "timestamp,load,temperature,holiday\n" + (0..<rows).map { i in
            let minutes = i * 30
            return String(format: "2024-01-%02d %02d:%02d:00,%d,%.1f,%@\n", 1 + minutes / 1440, minutes / 60 % 24, minutes % 60, 100 + i, 20.5 - Double(i) / 10,
                          i % 2 == 0 ? "TRUE" : "FALSE")
        }.joined()
    }

    @Test("timestamps parse in every accepted form, print back and know their weekday")
    func timestamps() throws {
        let a = try #require(Timestamp(parsing: "2011-12-31T13:00:00Z"))
        #expect("\(a)" == "2011-12-31 13:00:00")
        #expect(Timestamp(parsing: "2024-02-29")?.description == "2024-02-29 00:00:00")
        #expect(Timestamp(parsing: "2024-03-01 07:45")?.seconds == Timestamp(parsing: "2024-03-01 07:45:00")?.seconds)
        #expect(Timestamp(parsing: "1970-01-01")?.seconds == 0)
        #expect(Timestamp(parsing: "2024-01-01")?.weekday == 0)  // a Monday
        #expect(Timestamp(parsing: "2026-12-02 05:00")?.weekday == 2)  // a Wednesday
        for bad in ["2023-02-29", "2024-13-01", "2024-01-01 25:00", "01/02/2024", "2024-01-01 10", ""] { #expect(Timestamp(parsing: Substring(bad)) == nil, "\(bad)") }
    }

    @Test("a regular file reads its columns in order; the interval is inferred; flags read as 1/0; quoted fields")
    func reads() throws {
        let url = try Self.file(Self.halfHourly(5))
        defer { remove(url.deletingLastPathComponent()) }
        let table = try TimeSeriesTable(contentsOf: url, columns: ["holiday", "load"])
        #expect(table.count == 5 && table.interval == 1800)
        #expect(table.columnNames == ["holiday", "load"])
        #expect(table.column("load") == [100, 101, 102, 103, 104])
        #expect(table.column("holiday") == [1, 0, 1, 0, 1])
        let quoted = try Self.file("day,\"name, quoted\",value\r\n2024-01-01,\"a,b\",1.5\r\n2024-01-02,\"c\"\"d\",2.5\r\n")
        defer { remove(quoted.deletingLastPathComponent()) }
        let daily = try TimeSeriesTable(contentsOf: quoted, timestampColumn: "day", columns: ["value"])
        #expect(daily.interval == 86_400 && daily.column("value") == [1.5, 2.5])
    }

    @Test("missing timestamps are reported with their rows, never filled")
    func gaps() throws {
        var lines = Self.halfHourly(12).split(separator: "\n").map(String.init)
        lines.removeSubrange(5...6)  // file rows 6 and 7 (02:00, 02:30): a gap of 2 after row 5
        lines.remove(at: 7)  // 04:00, now at file row 8: a gap of 1 after row 7 (03:30)
        let url = try Self.file(lines.joined(separator: "\n") + "\n")
        defer { remove(url.deletingLastPathComponent()) }
        #expect(throws: TimeSeriesError.self) { try TimeSeriesTable(contentsOf: url, columns: ["load"]) }
        do {
            _ = try TimeSeriesTable(contentsOf: url, columns: ["load"])
        } catch let error as TimeSeriesError {
            guard case let .missingTimestamps(path, interval, gaps) = error else { Issue.record("\(error)"); return }
            #expect(path == url.path && interval == 1800)
            #expect(gaps.map(\.row) == [5, 7] && gaps.map(\.missing) == [2, 1])
            #expect("\(error)".contains("3 timestamps missing") && "\(error)".contains("after row 5 (2024-01-01 01:30:00"), "\(error)")
        }
    }

    @Test("every bad input names the file, the row and the column")
    func badInput() throws {
        func message(_ text: String, columns: [String] = ["load"]) throws -> String {
            let url = try Self.file(text)
            defer { remove(url.deletingLastPathComponent()) }
            do {
                _ = try TimeSeriesTable(contentsOf: url, columns: columns)
                return "no error"
            } catch let error as TimeSeriesError { return "\(error)".replacingOccurrences(of: url.path, with: "FILE") }
        }
        let header = "timestamp,load\n"
        #expect(try message(header + "2024-01-01 00:00,1\n2024-01-01 00:30,n/a\n") == "series file FILE, row 3, column 'load': 'n/a' is not a number (values are never filled in)")
        #expect(try message(header + "2024-01-01 00:00,1\n2024-01-01 00:30,\n").contains("row 3, column 'load': '' is not a number"))
        #expect(try message(header + "2024-01-01 00:00,1\nyesterday,2\n").contains("row 3, column 'timestamp': 'yesterday' is not a timestamp"))
        #expect(try message(header + "2024-01-01 01:00,1\n2024-01-01 00:30,2\n2024-01-01 01:00,3\n").contains("row 3: timestamp 2024-01-01 00:30:00 does not come after"))
        #expect(try message(header + "2024-01-01 00:00,1\n2024-01-01 00:30,2\n2024-01-01 01:00,3\n2024-01-01 01:45,4\n").contains("row 5: 2024-01-01 01:45:00 follows"))
        #expect(try message(header + "2024-01-01 00:00,1\n2024-01-01 00:30\n").contains("row 3: expected 2 comma-separated fields, found 1"))
        #expect(try message(header + "2024-01-01 00:00,1\n2024-01-01 00:30,2\n", columns: ["demand"]).contains("has no column 'demand' (columns: timestamp, load)"))
        #expect(try message(header + "2024-01-01 00:00,1\n").contains("'rows' needs at least 2 rows"))
    }

    @Test("splits by time; a horizon longer than the series, a split shorter than a forecast and too few rows for a window name the field")
    func splits() throws {
        let splits = try SeriesSplits(rows: 100, validationRows: 10, testRows: 20, context: 40, horizon: 10, path: "s.csv")
        #expect(splits.train == 0..<70 && splits.validation == 70..<80 && splits.test == 80..<100)
        func message(_ body: () throws -> SeriesSplits) -> String {
            do { _ = try body(); return "no error" } catch { return "\(error)" }
        }
        #expect(message { try SeriesSplits(rows: 100, validationRows: 10, testRows: 20, context: 40, horizon: 120, path: "s.csv") }
                == "series file s.csv: 'model.horizon' is 120 steps, longer than the series of 100 rows")
        #expect(message { try SeriesSplits(rows: 100, validationRows: 10, testRows: 5, context: 40, horizon: 10, path: "s.csv") }
                .contains("'data.test_steps' is 5 rows, shorter than one forecast of model.horizon 10 steps"))
        #expect(message { try SeriesSplits(rows: 100, validationRows: 10, testRows: 20, context: 61, horizon: 10, path: "s.csv") }
                .contains("'model.context' 61 + model.horizon 10 = 71 rows make one training window, but the series has 70 training rows"))
    }

    @Test("scaling divides by 1 + mean |z| of the conditioning range and multiplies back")
    func scaling() {
        let conditioning: [Float] = [2, -4, 6, 8]
        let v = SeriesScaling.scale(of: conditioning)
        #expect(v == 6)
        for z: Float in [0, 3.5, -120, 1e4] { #expect(Swift.abs(SeriesScaling.unscaled(SeriesScaling.scaled(z, by: v), by: v) - z) <= 1e-6 * Swift.max(1, Swift.abs(z))) }
        #expect(SeriesScaling.scale(of: [Float]()) == 1)
    }

    @Test("a dataset's covariates: calendar sine and cosine, then standardized columns; windows and batches")
    func dataset() throws {
        let url = try Self.file(Self.halfHourly(200))
        defer { remove(url.deletingLastPathComponent()) }
        let table = try TimeSeriesTable(contentsOf: url, columns: ["load", "temperature"])
        let splits = try SeriesSplits(rows: 200, validationRows: 20, testRows: 40, context: 48, horizon: 12, path: url.path)
        let data = SeriesDataset(table: table, targets: ["load"], covariates: ["temperature"], calendar: CalendarFeature.allCases, splits: splits)
        #expect(data.featureCount == 5 && data.seriesCount == 1)
        // Row 12 is 06:00 on a Monday: time of day a quarter round.
        let row = Array(data.features[(12 * 5)..<(13 * 5)])
        #expect(Swift.abs(row[0] - 1) < 1e-6 && Swift.abs(row[1]) < 1e-6)
        let temperatures = (0..<140).map { data.features[$0 * 5 + 4] }
        #expect(Swift.abs(temperatures.reduce(0, +) / 140) < 1e-4)
        let windows = data.rollingWindows(over: splits.test, context: 48, horizon: 12)
        #expect(windows.map(\.start) == [112, 124, 136] && windows.allSatisfy { $0.start + 48 + 12 <= 200 })
        let batch = data.batch(Array(windows.prefix(2)), length: 60, context: 48)
        #expect(batch.values.count == 120 && batch.covariates.count == 600 && batch.values[0] == 212)
        #expect(batch.scales[0] == SeriesScaling.scale(of: (112..<160).map { Float(100 + $0) }))
        #expect(batch.rows(1..<2).values == Array(batch.values[60...]))
    }

    @Test("conversion: a long file becomes one column per series, keeping the longest stretch without missing values")
    func conversion() throws {
        let url = try Self.file("""
            id,time,y,load
            A,2024-01-01 00:00,1,10
            B,2024-01-01 00:00,2,20
            A,2024-01-01 01:00,3,30
            A,2024-01-01 02:00,5,50
            B,2024-01-01 02:00,6,60
            A,2024-01-01 03:00,7,70
            B,2024-01-01 03:00,8,80
            A,2024-01-01 04:00,9,90
            B,2024-01-01 04:00,10,100

            """)
        defer { remove(url.deletingLastPathComponent()) }
        let result = try SeriesConversion.pivot(url, keyColumn: "id", timeColumn: "time", valueColumns: ["y", "load"])
        #expect(result.sourceTimestamps == 5 && result.table.count == 3)
        #expect(result.table.columnNames == ["A", "B", "A_load", "B_load"])
        #expect(result.table.column("B") == [6, 8, 10] && result.table.column("A_load") == [50, 70, 90])
        let out = url.deletingLastPathComponent().appendingPathComponent("wide.csv")
        try SeriesConversion.write(result.table, to: out)
        let back = try TimeSeriesTable(contentsOf: out, columns: ["A", "B_load"])
        #expect(back.column("A") == [5, 7, 9] && back.column("B_load") == [60, 80, 100] && back.interval == 3600)
    }
}
