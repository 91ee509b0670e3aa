import Foundation
import GlanceCore
import GlanceData
import GlanceTestSupport
import Testing

/// Seeded mutation fuzzing of series CSV files: read as a table, selected and pivoted as
/// `glance data` converts them, then split. Every mutated file either reads or throws a
/// TimeSeriesError; a trap fails the run.
@Suite struct TimeSeriesFuzzTests {
    @Test(.timeLimit(.minutes(1))) func mutatedSeriesFilesReadOrThrowTimeSeriesErrors() throws {
        let folder = try makeTemporaryFolder("glance-series-fuzz")
        defer { remove(folder) }
        let url = folder.appendingPathComponent("series.csv")
        var seed = "timestamp,key,load,temperature,holiday\n"
        for i in 0..<12 {
            let key = i % 2 == 0 ? "a" : "\"b,c\"", holiday = i % 3 == 0 ? "TRUE" : "FALSE", temperature = 20.5 - Double(i) / 10
            seed += "2024-02-28 \(10 + i / 2):\(i % 2 == 0 ? "00" : "30"):00,\(key),\(100 + i),\(temperature),\(holiday)\n"
        }
        let mutator = Mutator(fragments: Mutator.structuralFragments + ["2024-02-29", "9999-12-31 23:59:59", "0000-01-01", "T", "Z", ":60", "\"\""])
        var tally = FuzzTally()
        for index in 0..<3_000 {
            var random = RandomGenerator(seed: 35_000 &+ UInt64(index))
            let text = mutator.mutate(seed, &random)
            try Data(text.utf8).write(to: url)
            tally.record(text.debugDescription, isExpected: { $0 is TimeSeriesError }) {
                switch index % 3 {
                case 0:
                    let table = try TimeSeriesTable(contentsOf: url, columns: ["load", "holiday"])
                    #expect(table.columns.allSatisfy { $0.allSatisfy(\.isFinite) })
                    _ = try SeriesSplits(rows: table.count, validationRows: 2, testRows: 2, context: 2, horizon: 1, path: url.path)
                case 1: _ = try SeriesConversion.select(url, timeColumn: "timestamp", columns: ["load", "temperature"])
                default: _ = try SeriesConversion.pivot(url, keyColumn: "key", timeColumn: "timestamp", valueColumns: ["load"])
                }
            }
        }
        #expect(tally.failures.isEmpty, "\(tally)")
        #expect(tally.count("accepted") > 200 && tally.refused > 1_000, "\(tally)")
    }
}
