import Foundation
import GlanceTraining

/// Turns training events into lines: text for people, JSON for scripts. The run's summary is
/// one JSON line in both modes, the last one.
struct TrainingPrinter {
    let json: Bool

    func print(_ event: TrainingEvent) {
        switch event {
        case let .progress(p):
            if json {
                emit(Self.jsonLine([("step", "\(p.step)"), ("loss", Self.number(p.loss))] + p.metrics.map { ($0.name, Self.number($0.value)) }
                                   + [("tokens_per_s", "\(Int(p.tokensPerSecond))"), ("lr", Self.number(p.learningRate))]))
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

    func emit(_ line: String) {
        Swift.print(line)
        fflush(nil)
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
