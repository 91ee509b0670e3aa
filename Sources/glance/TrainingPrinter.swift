import Foundation
import GlanceTraining

/// Turns training events into lines: text for people, JSON for scripts. The run's summary is
/// one JSON line in both modes, the last one. On a terminal (``drawsBar``) progress is one bar
/// with the ETA, redrawn in place, below the validation and checkpoint lines.
final class TrainingPrinter {
    let json: Bool
    /// Whether progress redraws a bar in place instead of printing a line per report.
    let drawsBar: Bool
    /// The terminal's width: the bar is cut to it, so that it never wraps and redraws in place.
    let columns: Int
    /// Where the text goes (standard output, flushed).
    private let write: (String) -> Void
    /// The bar on screen, to redraw under a line printed above it; nil when none is drawn.
    private var bar: String?

    /// A printer to standard output that draws a bar when it is a terminal and not `json`.
    convenience init(json: Bool) {
        self.init(json: json, drawsBar: !json && isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb",
                  columns: terminalColumns()) { text in
            Swift.print(text, terminator: "")
            fflush(nil)
        }
    }

    /// A printer writing to `write`; the bar is cut to `columns` characters.
    init(json: Bool, drawsBar: Bool, columns: Int, write: @escaping (String) -> Void) {
        self.json = json
        self.drawsBar = drawsBar
        self.columns = columns
        self.write = write
    }

    func print(_ event: TrainingEvent) {
        switch event {
        case let .progress(p):
            if json {
                emit(Self.jsonLine([("step", "\(p.step)"), ("loss", Self.number(p.loss))] + p.metrics.map { ($0.name, Self.number($0.value)) }
                                   + [("tokens_per_s", "\(Int(p.tokensPerSecond))"), ("lr", Self.number(p.learningRate))]))
            } else if drawsBar {
                let line = String(Self.barLine(p, width: Self.barWidth).prefix(max(columns - 1, 1)))
                write("\r" + line + Self.clearToEnd)
                bar = line
            } else {
                emit(String(format: "step %6d/%d  loss %.4f", p.step, p.steps, p.loss) + (p.metrics.isEmpty ? "" : "  " + Self.text(p.metrics))
                     + String(format: "  %8.0f tok/s  lr %.2e  ETA %@", p.tokensPerSecond, p.learningRate, Self.duration(p.secondsLeft)))
            }
        case let .validation(step, metrics):
            emit(json ? Self.jsonLine([("step", "\(step)")] + metrics.map { ("val_\($0.name)", Self.number($0.value)) })
                 : String(format: "step %6d  validation ", step) + Self.text(metrics))
        case let .checkpoint(step, path):
            if !json { emit("step \(step)  checkpoint written to \(path)") }
        case let .finished(s):
            if bar != nil {
                write("\n")   // the last bar stays on screen above the summary
                bar = nil
            }
            let peak = peakResidentBytes()
            if !json {
                let test = s.test.isEmpty ? "" : "; test " + Self.text(s.test)
                emit("finished \(s.step) steps in \(Self.duration(s.seconds)): validation " + Self.text(s.validation) + test
                     + String(format: "; %.0f training tokens/s (%.2f %@/s); peak memory %.1f MiB", s.tokensPerSecond, s.examplesPerSecond,
                              s.exampleName, Double(peak) / 1_048_576))
            }
            emit(Self.jsonLine(s.validation.map { ("final_val_\($0.name)", Self.number($0.value)) } + s.test.map { ("test_\($0.name)", Self.number($0.value)) }
                               + [("train_tokens_per_s", "\(Int(s.tokensPerSecond))"), ("train_\(s.exampleName)_per_s", Self.number(s.examplesPerSecond)),
                                  ("steps", "\(s.step)"), ("seconds", "\(Int(s.seconds))"), ("train_peak_rss_bytes", "\(peak)")]
                               + (s.processes > 1 ? [("processes", "\(s.processes)"), ("allreduce_ms_per_step", Self.number(s.communicationSecondsPerStep * 1000))] : [])))
        }
    }

    /// Writes `line` and a newline; a bar on screen is cleared first and redrawn below the line.
    func emit(_ line: String) {
        guard let bar else { return write(line + "\n") }
        write("\r" + Self.clearToEnd + line + "\n" + bar)
    }

    /// ANSI: erase from the cursor to the end of the line.
    static let clearToEnd = "\u{1B}[K"

    /// Characters between the bar's brackets.
    static let barWidth = 20

    /// "step    120/600 [####----]  20%  ETA 0m52s  loss 1.2345  bpc 1.7810  45123 tok/s": the
    /// ETA first, so that a narrow terminal cuts the figures rather than it.
    static func barLine(_ p: TrainingProgress, width: Int) -> String {
        let fraction = p.steps > 0 ? min(max(Double(p.step) / Double(p.steps), 0), 1) : 1
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        return String(format: "step %6d/%d [%@] %3d%%  ETA %@  loss %.4f", p.step, p.steps, bar, Int((fraction * 100).rounded(.down)),
                      duration(p.secondsLeft), p.loss)
            + (p.metrics.isEmpty ? "" : "  " + text(p.metrics)) + String(format: "  %.0f tok/s", p.tokensPerSecond)
    }

    /// "loss 1.2345  bpc 1.7810".
    static func text(_ metrics: [Metric]) -> String {
        metrics.map { String(format: "%@ %.4f", $0.name, $0.value) }.joined(separator: "  ")
    }

    /// One JSON object with the fields in this order (the values are JSON numbers already).
    static func jsonLine(_ fields: [(key: String, value: String)]) -> String {
        "{" + fields.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
    }

    /// A JSON number (null when not finite).
    static func number<Value: BinaryFloatingPoint & LosslessStringConvertible>(_ value: Value) -> String {
        value.isFinite ? value.description : "null"
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds)
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" : "\(s / 60)m\(String(format: "%02d", s % 60))s"
    }
}

/// The width of the terminal on standard output (80 when it cannot be read).
func terminalColumns() -> Int {
    var size = winsize()
    guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
    return Int(size.ws_col)
}
