import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import GlanceReport
import Testing

/// Whether `text` is well-formed XML, by Foundation's parser.
func isWellFormedXML(_ text: String) -> Bool {
    XMLParser(data: Data(text.utf8)).parse()
}

@Suite struct ChartTests {
    @Test("log-log chart: ticks at the powers of 2 and 10 enclosing the data, well-formed SVG with their labels")
    func logLogTicks() throws {
        let chart = LineChart(title: "Time <fwd> & bwd", xLabel: "length", yLabel: "ms", xScale: .logarithmic(base: 2), yScale: .logarithmic(base: 10),
                              series: [.init(label: "full", colour: "#123456", points: [(512, 2), (1024, 8), (2048, 30), (4096, 120)]),
                                       .init(label: "performer", colour: "#654321", dashed: true, points: [(512, 5), (4096, 40), (8192, -1)])],
                              marks: [.init(x: 1500, label: "crossover", colour: "#654321")])
        #expect(chart.xTicks == [512, 1024, 2048, 4096])
        #expect(chart.yTicks == [1, 10, 100, 1000])
        let svg = chart.svg()
        #expect(isWellFormedXML(svg))
        for label in ["512", "1,024", "2,048", "4K", "1,000", "Time &lt;fwd&gt; &amp; bwd", "stroke-dasharray=\"6 4\"", "crossover"] {
            #expect(svg.contains(label), "\(label)")
        }
    }

    @Test("linear chart: ticks at nice steps; an empty chart is still well-formed")
    func linearTicks() {
        let chart = LineChart(title: "bpc", xLabel: "step", yLabel: "bpc", xScale: .linear, yScale: .linear,
                              series: [.init(label: "run", colour: "#000", points: [(0, 3.1), (100, 2.4), (200, 2.05)])])
        #expect(chart.xTicks == [0, 50, 100, 150, 200])
        #expect(chart.yTicks.first! <= 2.05 && chart.yTicks.last! >= 3.1)
        #expect(isWellFormedXML(chart.svg()))
        let empty = LineChart(title: "none", xLabel: "x", yLabel: "y", xScale: .logarithmic(base: 2), yScale: .linear, series: [])
        #expect(isWellFormedXML(empty.svg()) && empty.svg().contains("no measurements"))
    }

    @Test("the crossover of n² and 1024·n is 1024 exactly, interpolated between 512 and 2048")
    func crossoverOfTwoLines() throws {
        let lengths: [Double] = [256, 512, 2048, 4096]
        let exact = LogLogCurve(lengths.map { (x: $0, y: $0 * $0) }), linear = LogLogCurve(lengths.map { (x: $0, y: 1024 * $0) })
        guard case let .at(x) = linear.crossover(below: exact) else { Issue.record("no crossover"); return }
        #expect(abs(x - 1024) < 1e-9)
        #expect(LogLogCurve(lengths.map { (x: $0, y: $0) }).crossover(below: exact) == .atStart(256))
        #expect(LogLogCurve(lengths.map { (x: $0, y: 1e9 * $0) }).crossover(below: exact) == .beyond(4096))
        #expect(LogLogCurve([(x: 3, y: 1)]).crossover(below: exact) == .noSharedLengths)
        #expect(LogLogCurve.Crossover.at(2900.4).text == "≈ 2,900")
    }

    @Test("log-log interpolation is exact for power laws; beyond the points it extends the last segment, flagged")
    func interpolation() throws {
        let curve = LogLogCurve([512.0, 1024, 4096].map { (x: $0, y: pow($0, 1.5)) })
        let inside = try #require(curve.value(at: 2048))
        #expect(abs(inside.value / pow(2048, 1.5) - 1) < 1e-12 && !inside.isExtrapolated)
        let beyond = try #require(curve.value(at: 65536))
        #expect(abs(beyond.value / pow(65536, 1.5) - 1) < 1e-12 && beyond.isExtrapolated)
        #expect(curve.value(at: 256)!.isExtrapolated)
        #expect(LogLogCurve([]).value(at: 10) == nil)
    }

    @Test("memory sizes: decimal and binary units")
    func byteCounts() {
        #expect(parseByteCount("4GB") == 4_000_000_000)
        #expect(parseByteCount("4 GiB") == 4 << 30)
        #expect(parseByteCount("512M") == 512 << 20)
        #expect(parseByteCount("1000") == 1000)
        #expect(parseByteCount("lots") == nil && parseByteCount("4XB") == nil)
        #expect(Advisor.bytes(1.5 * 1_073_741_824) == "1.5 GiB")
    }
}
