import Foundation
import Testing

/// Hostile flags and files given to the `glance` binary: precise messages, never a trap, never
/// a result that is wrong with exit 0.
extension CLIErrorTests {
    @Test("glance --version prints the package version")
    func version() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["--version"], in: workspace.folder)
        #expect(result.status == 0, "\(result)")
        #expect(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3, "\(result)")
    }

    @Test("number flags: negatives (both spellings), empty list items and unbounded lengths name the flag and the item")
    func numberFlags() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try expectFailure(["generate", "--config", "c.json", "--length", "-5"], in: workspace, mentioning: ["--length must be at least 1, got -5"])
        try expectFailure(["generate", "--config", "c.json", "--length=-5"], in: workspace, mentioning: ["--length must be at least 1, got -5"])
        try expectFailure(["generate", "--config", "c.json", "--length", "9223372036854775807"], in: workspace,
                          mentioning: ["--length must be at most 10000000"])
        try expectFailure(["bench", "--length", "1,,2"], in: workspace, mentioning: ["--length item 2 is empty", "'1,,2'"])
        try expectFailure(["bench", "--length", "8,-5"], in: workspace, mentioning: ["--length item 2 must be at least 1, got -5"])
        try expectFailure(["bench", "--length", "-5"], in: workspace, mentioning: ["--length must be at least 1, got -5"])
        try expectFailure(["bench", "--batch", "4611686018427387904"], in: workspace, mentioning: ["--batch must be at most"])
        try expectFailure(["bench", "--length", "16000000", "--batch", "16"], in: workspace, mentioning: ["--length", "too large", "activations"])
        try expectFailure(["train", "--config", "c.json", "--threads", "4611686018427387904"], in: workspace,
                          mentioning: ["--threads must be at most 1024"])
        try expectFailure(["run", "--model", "m", "--input-ids", "1,,2", "--output", "o.safetensors"], in: workspace,
                          mentioning: ["--input-ids item 2 is empty"])
    }

    @Test("run --output that is one of its inputs is refused")
    func runOutputIsInput() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let model = workspace.folder.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: model.appendingPathComponent("config.json"))
        try expectFailure(["run", "--model", model.path, "--input-ids", "1,2", "--output", model.appendingPathComponent("config.json").path],
                          in: workspace, mentioning: ["is the input file"])
        try expectFailure(["run", "--model", model.path + "/.", "--input-ids", "1,2", "--output", "model/model.safetensors"],
                          in: workspace, mentioning: ["is the input file"])
    }

    @Test("a corpus byte outside the vocabulary and an eval split shorter than the context name the file")
    func corpusChecks() throws {
        let workspace = try Workspace.ready(steps: 2)
        defer { workspace.remove() }
        try workspace.writeConfig(Workspace.tinyConfig(corpus: workspace.corpus.path, output: workspace.run.path, steps: 2,
                                                       extraModel: #", "vocab_size": 128"#))
        var train = try Data(contentsOf: workspace.corpus.appendingPathComponent("train.txt"))
        train[100] = 200
        try train.write(to: workspace.corpus.appendingPathComponent("train.txt"))
        try expectFailure(["train", "--config", workspace.config.path], in: workspace, mentioning: ["train.txt", "byte 200", "vocab_size"])
        try workspace.writeCorpus()
        try workspace.writeConfig(steps: 2)
        #expect(try glance(["train", "--config", workspace.config.path], in: workspace.folder).status == 0)
        try Data("short".utf8).write(to: workspace.corpus.appendingPathComponent("test.txt"))
        try expectFailure(["eval", "--config", workspace.config.path], in: workspace, mentioning: ["test.txt", "has 5 bytes"])
        let finished = try glance(["train", "--config", workspace.config.path, "--resume"], in: workspace.folder)
        #expect(finished.status == 0 && finished.output.contains("finished run") && !finished.output.contains("tokens/s"), "\(finished)")
    }
}
