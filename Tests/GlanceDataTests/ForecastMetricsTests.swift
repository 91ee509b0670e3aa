import Foundation
import GlanceData
import GlanceTestSupport
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite struct ForecastMetricsTests {
    @Test("ρ-quantile losses, MAE and sMAPE on a hand-computed example")
    func handComputed() {
        var score = ForecastScore()
        // truth, median, p90
        score.add(truth: [10, 20, 0, 5], forecasts: [[12, 15, 0, 5], [14, 25, 1, 6]])
        // P_0.5: |10−12|/2 + |20−15|/2 + 0 + 0 = 3.5; Σ|y| = 35 → R0.5 = 7/35 = 0.2
        #expect(Swift.abs(score.risk(0.5) - 0.2) < 1e-12)
        // P_0.9: y ≤ ŷ everywhere: 0.1·(4 + 5 + 1 + 1) = 1.1 → R0.9 = 2.2/35
        #expect(Swift.abs(score.risk(0.9) - 2.2 / 35) < 1e-12)
        #expect(Swift.abs(score.meanAbsoluteError - 7.0 / 4) < 1e-12)
        // sMAPE: 2·2/22 + 2·5/35 + 0 (0 and 0) + 0, mean over 4, in percent
        #expect(Swift.abs(score.symmetricMAPE - 100 * (4.0 / 22 + 10.0 / 35) / 4) < 1e-9)
        #expect(Swift.abs(ForecastScore.pinball(3, 5, level: 0.9) - 0.2) < 1e-12)
        #expect(Swift.abs(ForecastScore.pinball(5, 3, level: 0.9) - 1.8) < 1e-12)
    }

    @Test("empirical quantiles interpolate between order statistics")
    func quantiles() {
        let sorted: [Float] = [1, 2, 3, 4, 5]
        #expect(ForecastScore.quantile(sorted, 0.5) == 3)
        #expect(ForecastScore.quantile(sorted, 0) == 1 && ForecastScore.quantile(sorted, 1) == 5)
        #expect(Swift.abs(ForecastScore.quantile(sorted, 0.9) - 4.6) < 1e-6)
    }

    @Test("seasonal naive repeats the value one season back")
    func seasonalNaive() {
        let series: [Float] = (0..<20).map(Float.init)
        #expect(SeasonalNaive.forecast(series, start: 10, horizon: 3, season: 7) == [3, 4, 5])
        #expect(SeasonalNaive.forecast(series, start: 10, horizon: 9, season: 4) == [6, 7, 8, 9, 6, 7, 8, 9, 6])
        #expect(SeasonalNaive.weeklySeason(interval: 1800) == 336 && SeasonalNaive.weeklySeason(interval: 3600) == 168)
    }

    @Test("the forecast plot is well-formed SVG with the band, the lines and escaped text")
    func plot() throws {
        let start = try #require(Timestamp(parsing: "2024-01-01"))
        func at(_ i: Int) -> Timestamp { Timestamp(seconds: start.seconds + Int64(i) * 3600) }
        let plot = ForecastPlot(title: "load <MW> & more", history: (0..<10).map { (at($0), Float($0)) }, truth: (10..<14).map { (at($0), Float($0)) },
                                forecast: (10..<14).map { (at($0), Float($0) - 1, Float($0), Float($0) + 1) })
        let svg = plot.svg()
        #expect(svg.contains("<polygon") && svg.components(separatedBy: "<polyline").count - 1 >= 6 && svg.contains("load &lt;MW&gt; &amp; more"))
        final class Delegate: NSObject, XMLParserDelegate {
            var elements: [String] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
                elements.append(name)
            }
        }
        let parser = XMLParser(data: Data(svg.utf8)), delegate = Delegate()
        parser.delegate = delegate
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(delegate.elements.first == "svg" && delegate.elements.contains("text"))
    }
}
