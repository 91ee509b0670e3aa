import Foundation

/// The metrics of a training run as JSON lines (`metrics.jsonl` in the run folder, beside the
/// checkpoint), one line per progress report and per validation, appended as they come:
///
///     {"event":"progress","step":100,"loss":1.52,"bpc":2.19,"tokens_per_s":5120,"lr":0.0003,"wall_s":41.2}
///     {"event":"validation","step":100,"val_loss":1.61,"val_bpc":2.32,"wall_s":44.0}
///
/// `wall_s` counts from the run's first step across resumptions. A run that resumes at step s
/// keeps the lines up to step s and drops the later ones (written after its last checkpoint),
/// so no step appears twice; a fresh run starts the file anew.
public final class TrainingMetricsLog {
    public static let fileName = "metrics.jsonl"

    public let url: URL
    private let handle: FileHandle
    private let started = Date()
    /// Wall seconds of the earlier invocations of the run.
    private let earlierSeconds: Double

    /// Opens the log of the run in `folder` that continues after `step` (0: a fresh run).
    public init(folder: URL, resumingAt step: Int) throws {
        url = folder.appendingPathComponent(Self.fileName)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let kept = step > 0 ? Self.lines(in: url).filter { ($0.object["step"] as? Int).map { $0 <= step } ?? false } : []
        earlierSeconds = kept.last.flatMap { $0.object["wall_s"] as? Double } ?? 0
        try Data(kept.map { $0.text + "\n" }.joined().utf8).write(to: url, options: .atomic)
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    /// Appends the line of a progress report or a validation (other events write nothing).
    public func record(_ event: TrainingEvent) {
        var fields: [String: Any]
        switch event {
        case let .progress(p):
            fields = ["event": "progress", "step": p.step, "loss": Double(p.loss), "tokens_per_s": p.tokensPerSecond, "lr": Double(p.learningRate)]
            for metric in p.metrics { fields[metric.name] = metric.value }
        case let .validation(step, metrics):
            fields = ["event": "validation", "step": step]
            for metric in metrics { fields["val_" + metric.name] = metric.value }
        case .checkpoint, .finished:
            return
        }
        fields["wall_s"] = ((earlierSeconds + Date().timeIntervalSince(started)) * 1000).rounded() / 1000
        let finite = fields.mapValues { value -> Any in (value as? Double).map { $0.isFinite ? $0 as Any : NSNull() } ?? value }
        guard let data = try? JSONSerialization.data(withJSONObject: finite, options: [.sortedKeys]) else { return }
        try? handle.write(contentsOf: data + Data("\n".utf8))
    }

    /// The complete lines of a metrics file with their JSON objects (a torn last line is skipped).
    public static func lines(in url: URL) -> [(text: String, object: [String: Any])] {
        guard let data = try? Data(contentsOf: url) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return (String(line), object)
        }
    }
}
