import Foundation

/// The validation curve of one training run, read from its `metrics.jsonl`
/// (``GlanceTraining/TrainingMetricsLog``'s lines).
public struct TrainingCurve: Sendable {
    /// The run's name (its folder's).
    public let run: String
    /// The validation metric plotted (`val_bpc` when the run has it).
    public let metric: String
    /// (step, wall seconds, value) per validation line.
    public let points: [(step: Double, seconds: Double, value: Double)]

    /// Reads the validation lines of `file`; nil when it has none. A line that is not JSON is
    /// an error naming the file and the line.
    public static func load(_ file: URL) throws -> TrainingCurve? {
        let text = try String(contentsOf: file, encoding: .utf8)
        var objects: [[String: Any]] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw SuiteResultsError(file: file.path, reason: "line \(index + 1) is not a JSON object")
            }
            objects.append(object)
        }
        let validations = objects.filter { $0["event"] as? String == "validation" }
        let names = Set(validations.flatMap { $0.keys.filter { $0.hasPrefix("val_") } })
        guard let metric = names.contains("val_bpc") ? "val_bpc" : names.sorted().first else { return nil }
        let points = validations.compactMap { object -> (step: Double, seconds: Double, value: Double)? in
            guard let step = object["step"] as? Double, let seconds = object["wall_s"] as? Double, let value = object[metric] as? Double else { return nil }
            return (step, seconds, value)
        }
        return TrainingCurve(run: file.deletingLastPathComponent().lastPathComponent, metric: metric, points: points)
    }

    /// Every `metrics.jsonl` under `folder` (any depth), by path.
    public static func files(under folder: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return [] }
        return walker.compactMap { $0 as? URL }.filter { $0.lastPathComponent == "metrics.jsonl" }.sorted { $0.path < $1.path }
    }
}
