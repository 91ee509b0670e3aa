import Foundation
import GlanceCore
import GlanceData
import GlanceModels
import GlanceTestSupport
import GlanceTraining
import Testing

/// A tiny model section (context 16, 1 layer, d 16, 2 heads) with extra JSON fields such as
/// `"attention": {"type": "linformer", "k": 4}`.
func tinyModel(dropout: Float = 0, _ extra: String = "") throws -> LanguageModelConfiguration {
    let json = #"{"context": 16, "layers": 1, "d_model": 16, "heads": 2, "ffn_multiplier": 2, "dropout": \#(dropout)\#(extra.isEmpty ? "" : ", " + extra)}"#
    return try JSONDecoder().decode(LanguageModelConfiguration.self, from: Data(json.utf8))
}

/// Tiny optimization settings: batch 8, 3 warm-up steps, a progress event every step, no
/// validation or checkpoint before the end.
func tinyOptimization(steps: Int, learningRate: Float = 3e-3) -> OptimizationConfiguration {
    var t = OptimizationConfiguration()
    (t.batchSize, t.steps, t.learningRate, t.warmupSteps) = (8, steps, learningRate, 3)
    (t.logEvery, t.evalEvery, t.evalWindows, t.checkpointEvery, t.seed) = (1, 1000, 8, 1000, 77)
    return t
}

/// A tiny language model run on `corpus` writing into `output`.
func tinyTraining(corpus: URL, output: URL, steps: Int, dropout: Float = 0, learningRate: Float = 3e-3) throws -> TrainingConfiguration {
    TrainingConfiguration(model: try tinyModel(dropout: dropout), training: tinyOptimization(steps: steps, learningRate: learningRate),
                          data: DataConfiguration(corpus: corpus.path), output: output.path)
}

/// Writes a small English corpus (train/valid/test 90/5/5) into `folder` and loads it.
func englishCorpus(in folder: URL, bytes: Int = 12_000) throws -> ByteCorpus {
    try ByteCorpus.write(splitting: try englishText(bytes: bytes), into: folder)
    return try ByteCorpus(folder: folder)
}

/// Bit patterns of every tensor, for exact comparisons.
func bits(_ values: [String: Tensor]) -> [String: [UInt32]] { values.mapValues { $0.scalars.map(\.bitPattern) } }

/// The events of a run: losses by step (log_every 1 reports every step), validations,
/// checkpoints with the file's bytes at that moment, and the summary.
final class Recorder {
    var losses: [Int: Float] = [:]
    var validations: [Int: [Metric]] = [:]
    var checkpoints: [(step: Int, bytes: Data)] = []
    var finished: TrainingSummary? = nil

    func report(_ event: TrainingEvent) {
        switch event {
        case let .progress(progress): losses[progress.step] = progress.loss
        case let .validation(step, metrics): validations[step] = metrics
        case let .checkpoint(step, path): checkpoints.append((step, (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()))
        case let .finished(summary): finished = summary
        }
    }
}

/// Runs `make("a")` to the end, `make("b")` to `half`, resumes a new `make("b")` from its
/// checkpoint and expects the resumed losses and parameters to equal run A's bit for bit.
/// Returns run A's losses, run A and the resumed run.
func expectExactResume<Task: TrainingTask>(half: Int, _ make: (String) throws -> Trainer<Task>) throws
    -> (losses: [Int: Float], a: Trainer<Task>, resumed: Trainer<Task>) {
    let a = try make("a"), recordA = Recorder()
    try a.run(report: recordA.report)
    try make("b").run(stopAfter: half) { _ in }
    let resumed = try make("b"), recordResumed = Recorder()
    try resumed.resume()
    try resumed.run(report: recordResumed.report)
    #expect(recordResumed.losses.keys.sorted() == Array((half + 1)...a.step))
    for step in (half + 1)...a.step {
        #expect(recordResumed.losses[step]?.bitPattern == recordA.losses[step]?.bitPattern, "step \(step)")
    }
    #expect(bits(resumed.model.parameterValues()) == bits(a.model.parameterValues()))
    return (recordA.losses, a, resumed)
}
