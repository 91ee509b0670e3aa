import Foundation
import GlanceData

/// The benchmark report: an HTML page (no scripts) with inline SVG charts of one suite's
/// results (time and peak memory against length per workload, crossover lengths with exact
/// attention, fidelity against features or rank) and of training runs' validation curves;
/// every chart is also a standalone `.svg` file beside the page.
public struct ReportPage {
    public let results: SuiteResults
    /// The results file's name, shown on the page.
    public let source: String
    public let curves: [TrainingCurve]

    public init(results: SuiteResults, source: String, curves: [TrainingCurve] = []) {
        (self.results, self.source, self.curves) = (results, source, curves)
    }

    /// The name of the main chart's file (the README shows it).
    public static let mainChart = "time-bidirectional-forward.svg"

    /// A colour per mechanism, stable across charts.
    func colour(_ mechanism: String) -> String {
        let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]
        return palette[(results.mechanisms.firstIndex(of: mechanism) ?? 0) % palette.count]
    }

    static func slug(_ workload: Workload) -> String {
        (workload.causal ? "causal" : "bidirectional") + (workload.backward ? "-forward-backward" : "-forward")
    }

    /// Crossover of `mechanism` with exact attention for `workload` (Glance's measurements).
    public func crossover(_ mechanism: String, _ workload: Workload) -> LogLogCurve.Crossover {
        let curve = { (name: String) in LogLogCurve(results.series(.glance, name, workload).map { (x: Double($0.length), y: $0.milliseconds!) }) }
        return curve(mechanism).crossover(below: curve(Advisor.exactMechanism))
    }

    /// Time (or memory) against length for one workload: Glance solid, the reference dashed.
    public func lengthChart(_ workload: Workload, memory: Bool) -> LineChart {
        var series: [LineChart.Series] = [], marks: [LineChart.Mark] = []
        for mechanism in results.mechanisms {
            for implementation in Implementation.allCases {
                let measured = results.series(implementation, mechanism, workload)
                let points = measured.compactMap { m -> (x: Double, y: Double)? in
                    guard let value = memory ? m.peakResidentBytes.map({ Double($0) / 1_048_576 }) : m.milliseconds else { return nil }
                    return (Double(m.length), value)
                }
                guard !points.isEmpty else { continue }
                series.append(.init(label: implementation == .glance ? mechanism : "\(mechanism) (PyTorch)", colour: colour(mechanism),
                                    dashed: implementation == .reference, points: points))
            }
            if !memory, mechanism != Advisor.exactMechanism, case let .at(x) = crossover(mechanism, workload) {
                marks.append(.init(x: x, label: mechanism, colour: colour(mechanism)))
            }
        }
        let what = memory ? "Peak memory" : "Time"
        return LineChart(title: "\(what), \(workload)", xLabel: "sequence length (tokens)", yLabel: memory ? "peak RSS (MiB)" : "ms",
                         xScale: .logarithmic(base: 2), yScale: .logarithmic(base: 10), series: series, marks: marks)
    }

    /// Approximation error against the approximation's size (features, k, hash rounds).
    public var fidelityChart: LineChart {
        var series: [LineChart.Series] = []
        for mechanism in Set(results.fidelity.map(\.mechanism)).sorted() {
            for causal in [false, true] {
                let entries = results.fidelity.filter { $0.mechanism == mechanism && $0.causal == causal }.sorted { $0.value < $1.value }
                guard let first = entries.first else { continue }
                series.append(.init(label: "\(mechanism) (\(first.setting)\(causal ? ", causal" : ""))", colour: colour(mechanism), dashed: causal,
                                    points: entries.map { (x: Double($0.value), y: $0.relativeError) }))
            }
        }
        let length = results.fidelity.first.map { ", n = \(groupedInteger(Double($0.length)))" } ?? ""
        return LineChart(title: "Approximation error vs exact attention\(length)", xLabel: "features / projected length k / hash rounds",
                         yLabel: "‖approx − exact‖ / ‖exact‖", xScale: .logarithmic(base: 2), yScale: .logarithmic(base: 10), series: series)
    }

    /// Validation metric against steps or wall seconds, one line per run.
    public func trainingChart(againstTime: Bool) -> LineChart {
        let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
        let series = curves.enumerated().map { index, curve in
            LineChart.Series(label: curve.run, colour: palette[index % palette.count],
                             points: curve.points.map { (x: againstTime ? $0.seconds : $0.step, y: $0.value) })
        }
        let metric = curves.first?.metric ?? "val_bpc"
        return LineChart(title: "Validation \(metric) vs \(againstTime ? "wall time" : "step")", xLabel: againstTime ? "wall seconds" : "step",
                         yLabel: metric, xScale: .linear, yScale: .linear, series: series)
    }

    /// Every chart with its file name.
    public var charts: [(file: String, chart: LineChart)] {
        var charts: [(file: String, chart: LineChart)] = []
        for workload in Workload.all where results.measurements.contains(where: { $0.workload == workload }) {
            charts.append(("time-\(Self.slug(workload)).svg", lengthChart(workload, memory: false)))
            charts.append(("memory-\(Self.slug(workload)).svg", lengthChart(workload, memory: true)))
        }
        if !results.fidelity.isEmpty { charts.append(("fidelity.svg", fidelityChart)) }
        if !curves.isEmpty {
            charts.append(("training-steps.svg", trainingChart(againstTime: false)))
            charts.append(("training-time.svg", trainingChart(againstTime: true)))
        }
        return charts
    }

    /// What a reader needs to know to read a chart, by file.
    static let captions = [
        "fidelity.svg": """
            Relative error of one layer's output against exact attention on random inputs (q, k ~ N(0, 0.25), v ~ N(0, 1)). \
            Above 1 the output is farther from exact attention than a zero output would be: Linformer (a projection of the \
            keys and values along the sequence) and Reformer (shared query-key attention within hash buckets) compute other \
            functions, which training adapts to, rather than noisy copies of exact attention; Performer's features estimate \
            the softmax kernel and its error falls as they grow.
            """,
    ]

    /// Writes `index.html` and the charts' `.svg` files into `folder`; returns the files written.
    @discardableResult
    public func write(to folder: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var written: [URL] = []
        var sections: [String] = []
        for (file, chart) in charts {
            let svg = chart.svg()
            let url = folder.appendingPathComponent(file)
            try svg.write(to: url, atomically: true, encoding: .utf8)
            written.append(url)
            let inline = svg.split(separator: "\n").dropFirst().joined(separator: "\n")
            let caption = Self.captions[file].map { SVGDocument.escaped($0) + " " } ?? ""
            sections.append("<figure id=\"\(file.replacingOccurrences(of: ".svg", with: ""))\">\n\(inline)\n<figcaption>\(caption)<a href=\"\(file)\">\(file)</a></figcaption></figure>")
        }
        let page = folder.appendingPathComponent("index.html")
        try html(figures: sections).write(to: page, atomically: true, encoding: .utf8)
        return [page] + written
    }

    func html(figures: [String]) -> String {
        let m = results.machine, s = results.settings
        let escape = SVGDocument.escaped
        var rows = [
            ("results", source), ("started", results.started), ("finished", results.finished ?? "no (interrupted or still running)"),
            ("CPU", "\(m.cpu), \(m.cores) cores, \(Advisor.bytes(Double(m.memoryBytes)))"),
            ("BLAS", "\(m.blasKernels) kernels; \(m.blasConfiguration); GEMM \(String(format: "%.1f", m.gemmGflops)) GFLOP/s at \(m.gemmSize)²"),
            ("threads", "\(m.threads)"), ("Glance", "\(m.glanceVersion), commit \(m.gitCommit ?? "unknown")"),
            ("layer", "batch \(s.batch), \(s.heads) heads × \(s.headDimensions); median of \(s.repeats) after one warm-up"),
            ("limits", String(format: "%.0f s per measurement, ", s.timeLimitSeconds) + Advisor.bytes(Double(s.memoryLimitBytes))),
        ]
        rows.append(("reference", s.reference.map { "PyTorch scripts of benchmarks/pytorch with \($0), alternating with Glance" } ?? "not run"))
        let machine = rows.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined(separator: "\n")
        let workloads = Workload.all.filter { w in results.measurements.contains { $0.workload == w } }
        let header = "<tr><th>mechanism</th>" + workloads.map { "<th>\(escape($0.description))</th>" }.joined() + "</tr>"
        let crossovers = results.mechanisms.filter { $0 != Advisor.exactMechanism }.map { mechanism in
            "<tr><td>\(escape(mechanism))</td>" + workloads.map { "<td>\(escape(crossover(mechanism, $0).text))</td>" }.joined() + "</tr>"
        }.joined(separator: "\n")
        let stops = results.stops.map {
            "<tr><td>\($0.implementation.rawValue)</td><td>\(escape($0.mechanism))</td><td>\(escape($0.workload.description))</td>"
                + "<td>\(groupedInteger(Double($0.length)))</td><td>\($0.kind.rawValue)</td><td>\(escape($0.reason))</td></tr>"
        }.joined(separator: "\n")
        let failures = results.measurements.filter { $0.failure != nil }.map {
            "<tr><td>\($0.implementation.rawValue)</td><td>\(escape($0.mechanism))</td><td>\(escape($0.workload.description))</td>"
                + "<td>\(groupedInteger(Double($0.length)))</td><td>\(escape($0.failure!))</td></tr>"
        }.joined(separator: "\n")
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Glance benchmark report</title>
        <style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}
        th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}figure{margin:1.5em 0}figcaption{font-size:12px}</style></head>
        <body>
        <h1>Glance benchmark report</h1>
        <p>One attention layer (projections, attention, output projection) per measurement, each in its own process; peak memory is
        that process's peak resident set. Solid lines: Glance; dashed: the PyTorch reference in the same colour. Dotted verticals:
        where a mechanism becomes faster than exact attention (interpolated on log-log).</p>
        <table>\(machine)</table>
        <h2>Crossover length with exact attention (Glance)</h2>
        <p>The length from which the mechanism is faster than <code>full</code>: ≈ interpolated between measured lengths, ≤ already
        faster at the smallest, &gt; still slower at the largest both measured.</p>
        <table>\(header)
        \(crossovers)</table>
        \(figures.joined(separator: "\n"))
        <h2>Where series stopped</h2>
        <table><tr><th>who</th><th>mechanism</th><th>workload</th><th>length</th><th>why</th><th>detail</th></tr>
        \(stops)</table>
        <h2>Failed measurements</h2>
        <table><tr><th>who</th><th>mechanism</th><th>workload</th><th>length</th><th>failure</th></tr>
        \(failures)</table>
        </body></html>

        """
    }
}
