import Foundation
@testable import glance
@testable import GlanceTraining
import Testing

/// `glance train`'s output: on a terminal a progress bar redrawn in place, with the ETA, under
/// the validation and checkpoint lines; piped, one plain line per report.
@Suite("Training printer")
struct TrainingPrinterTests {
    static func progress(step: Int) -> TrainingProgress {
        TrainingProgress(step: step, steps: 200, loss: 1.5, metrics: [Metric("bpc", 2.164)], tokensPerSecond: 45_000,
                         learningRate: 0.002, secondsLeft: Double(200 - step) / 4)
    }

    static let finished = TrainingEvent.finished(TrainingSummary(step: 200, validation: [Metric("bpc", 2.1)], test: [], tokensPerSecond: 45_000,
                                                                 examplesPerSecond: 350, exampleName: "windows", seconds: 50,
                                                                 processes: 1, communicationSecondsPerStep: 0))

    /// What a printer writes for `events`.
    static func output(drawsBar: Bool, columns: Int = 120, _ events: [TrainingEvent]) -> String {
        var text = ""
        let printer = TrainingPrinter(json: false, drawsBar: drawsBar, columns: columns) { text += $0 }
        events.forEach(printer.print)
        return text
    }

    @Test("the bar shows the step, the fraction done, the ETA, the loss, the metrics and the throughput")
    func barLine() {
        let line = TrainingPrinter.barLine(TrainingProgress(step: 50, steps: 200, loss: 1.5, metrics: [Metric("bpc", 2.164)], tokensPerSecond: 45_000,
                                                            learningRate: 0.002, secondsLeft: 75), width: 8)
        #expect(line == "step     50/200 [##------]  25%  ETA 1m15s  loss 1.5000  bpc 2.1640  45000 tok/s")
    }

    @Test("on a terminal the bar is redrawn in place, stays under a validation line and ends before the summary")
    func terminal() {
        let text = Self.output(drawsBar: true, [.progress(Self.progress(step: 100)), .validation(step: 100, metrics: [Metric("bpc", 2.2)]),
                                                .progress(Self.progress(step: 200)), Self.finished])
        let bar100 = TrainingPrinter.barLine(Self.progress(step: 100), width: TrainingPrinter.barWidth)
        let bar200 = TrainingPrinter.barLine(Self.progress(step: 200), width: TrainingPrinter.barWidth)
        let clear = TrainingPrinter.clearToEnd
        #expect(text.hasPrefix("\r" + bar100 + clear + "\r" + clear + "step    100  validation bpc 2.2000\n" + bar100 + "\r" + bar200 + clear + "\n"))
        #expect(text.contains("\"steps\": 200, \"seconds\": 50, \"train_peak_rss_bytes\": ") && text.hasSuffix("}\n"))
        #expect(text.components(separatedBy: "\n").filter { $0.hasPrefix("finished 200 steps") }.count == 1)
    }

    @Test("the bar is cut to the terminal's width so that it never wraps")
    func narrowTerminal() {
        let text = Self.output(drawsBar: true, columns: 40, [.progress(Self.progress(step: 10))])
        #expect(text == "\r" + String(TrainingPrinter.barLine(Self.progress(step: 10), width: TrainingPrinter.barWidth).prefix(39))
                + TrainingPrinter.clearToEnd)
    }

    @Test("piped, progress is one plain line per report, without control characters")
    func piped() {
        let text = Self.output(drawsBar: false, [.progress(Self.progress(step: 100)), .progress(Self.progress(step: 200)), Self.finished])
        let lines = text.split(separator: "\n")
        #expect(lines.count == 4 && lines[0].hasPrefix("step    100/200  loss 1.5000  bpc 2.1640") && lines[0].hasSuffix("ETA 0m25s"))
        #expect(!text.contains("\r") && !text.contains("\u{1B}"))
    }
}
