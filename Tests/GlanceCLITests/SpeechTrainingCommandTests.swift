import Foundation
import GlanceTestSupport
import Testing

/// `glance train`, `eval` and `transcribe --config` on a tiny speech run over the tone corpus.
@Suite struct SpeechTrainingCommandTests {
    /// A workspace with the tone corpus and a tiny Conformer-CTC config (4 steps).
    static func workspace() throws -> Workspace {
        let workspace = try Workspace()
        try ToneSpeechCorpus.write(into: workspace.corpus)
        let config = """
        {"model": {"features": 16, "subsampling": "conv2d", "subsampling_channels": 4, "d_model": 16, "heads": 2, "layers": 1, "d_ff": 32,
                   "kernel_size": 3},
         "training": {"batch_size": 4, "steps": 4, "warmup_steps": 1, "log_every": 1, "eval_every": 2},
         "data": {"speech_corpus": "corpus"}, "output": "run"}
        """
        try Data(config.utf8).write(to: workspace.config)
        return workspace
    }

    @Test("train a tiny recogniser, evaluate it (greedy and beam, test and test-real) and transcribe with it, with the real-time factor")
    func trainEvaluateTranscribe() throws {
        let workspace = try Self.workspace()
        defer { workspace.remove() }
        let train = try glance(["train", "--config", workspace.config.path], in: workspace.folder)
        #expect(train.status == 0 && train.standardOutput.contains("convolution kernel 3")
                && train.standardOutput.contains("12 training utterances") && train.standardOutput.contains("wer"), "\(train)")
        let eval = try glance(["eval", "--config", workspace.config.path, "--split", "test-real", "--beam", "2"], in: workspace.folder)
        #expect(eval.status == 0 && eval.standardOutput.contains("test-real: 1 utterances") && eval.standardOutput.contains("beam 2")
                && eval.standardOutput.contains("WER") && eval.standardOutput.contains("(S ") && eval.standardOutput.contains("audio s per CPU s"), "\(eval)")
        let greedy = try glance(["eval", "--config", workspace.config.path], in: workspace.folder)
        #expect(greedy.status == 0 && greedy.standardOutput.contains("test: 2 utterances") && greedy.standardOutput.contains("greedy"), "\(greedy)")
        let wav = workspace.corpus.appendingPathComponent("audio/test/0.wav").path
        let transcribe = try glance(["transcribe", "--config", workspace.config.path, "--json", wav], in: workspace.folder)
        #expect(transcribe.status == 0 && transcribe.standardOutput.contains("\"audio_seconds_per_cpu_second\""), "\(transcribe)")
    }

    @Test("speech flags and splits that do not apply are named")
    func badFlags() throws {
        let workspace = try Self.workspace()
        defer { workspace.remove() }
        for (arguments, needle) in [(["eval", "--config", workspace.config.path, "--split", "dev"], "test-real"),
                                    (["eval", "--config", workspace.config.path, "--windows", "2"], "--windows"),
                                    (["transcribe", "--config", workspace.config.path, "--model", "m", "x.wav"], "either --model"),
                                    (["transcribe", "--config", workspace.config.path, "x.wav"], "checkpoint")] {
            let result = try glance(arguments, in: workspace.folder)
            #expect(result.status != 0 && result.standardError.contains(needle), "\(result)")
        }
    }

    @Test("bench --model parakeet-ctc reports the real-time factor of a (here shrunken) random Parakeet-CTC recogniser")
    func parakeetRealTime() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["bench", "--model", "parakeet-ctc", "--heads", "2", "--head-dim", "8", "--model-depth", "1", "--length", "1",
                                 "--repeat", "1", "--json"], in: workspace.folder)
        #expect(result.status == 0 && result.standardOutput.contains("\"audio_seconds_per_cpu_second\"")
                && result.standardOutput.contains("\"layers\":1"), "\(result)")
    }
}
