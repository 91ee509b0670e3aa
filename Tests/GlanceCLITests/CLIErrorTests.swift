import Foundation
import Testing

/// Bad input to the `glance` binary: a non-zero exit and a message naming the problem.
@Suite struct CLIErrorTests {
    /// Runs glance and checks that it failed with a message containing every `needle`.
    @discardableResult
    func expectFailure(_ arguments: [String], in workspace: Workspace, mentioning needles: [String],
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let result = try glance(arguments, in: workspace.folder)
        #expect(result.status != 0, "\(result)", sourceLocation: sourceLocation)
        for needle in needles {
            #expect(result.output.contains(needle), "message lacks '\(needle)':\n\(result)", sourceLocation: sourceLocation)
        }
        // A thrown error, not a crash (a trap exits by signal and prints a stack dump).
        #expect(result.status == 1 || result.status == 64, "\(result)", sourceLocation: sourceLocation)
        #expect(!result.output.contains("Fatal error"), "\(result)", sourceLocation: sourceLocation)
        return result
    }

    @Test("the binary is found")
    func binaryIsFound() throws {
        let url = try GlanceBinary.url()
        #expect(FileManager.default.isExecutableFile(atPath: url.path))
    }

    @Test("train with a missing config file")
    func missingConfig() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try expectFailure(["train", "--config", "nope.json"], in: workspace, mentioning: ["nope.json", "does not exist"])
    }

    @Test("train with a malformed config")
    func malformedConfig() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeConfig(#"{"model": {"context": 16,"#)
        try expectFailure(["train", "--config", workspace.config.path], in: workspace, mentioning: [workspace.config.path, "not valid"])
    }

    @Test("train with an unknown config field names it", arguments: [("model", "model.foo"), ("training", "training.foo")])
    func unknownField(_ section: String, _ field: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeConfig(#"{"\#(section)": {"foo": 1}, "data": {"corpus": "c"}}"#)
        try expectFailure(["train", "--config", workspace.config.path], in: workspace, mentioning: [field, workspace.config.path])
    }

    @Test("train with an invalid config value names the field")
    func invalidValue() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeConfig(#"{"model": {"d_model": 30, "heads": 4}, "data": {"corpus": "c"}}"#)
        try expectFailure(["train", "--config", workspace.config.path], in: workspace, mentioning: ["model.d_model"])
    }

    @Test("train with a missing corpus names the file")
    func missingCorpus() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeConfig()
        try expectFailure(["train", "--config", workspace.config.path], in: workspace,
                          mentioning: [workspace.corpus.appendingPathComponent("train.txt").path, "does not exist"])
        #expect(!FileManager.default.fileExists(atPath: workspace.run.path))
    }

    @Test("train with an empty corpus split names the file")
    func emptyCorpus() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeCorpus()
        try Data().write(to: workspace.corpus.appendingPathComponent("valid.txt"))
        try workspace.writeConfig()
        try expectFailure(["train", "--config", workspace.config.path], in: workspace,
                          mentioning: [workspace.corpus.appendingPathComponent("valid.txt").path, "0 bytes"])
    }

    @Test("train with a corpus shorter than one window names the file")
    func tinyCorpus() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeCorpus()
        try Data("Short.".utf8).write(to: workspace.corpus.appendingPathComponent("train.txt"))
        try workspace.writeConfig()
        try expectFailure(["train", "--config", workspace.config.path], in: workspace,
                          mentioning: [workspace.corpus.appendingPathComponent("train.txt").path, "6 bytes"])
    }

    @Test("invalid flag values are rejected naming the flag",
          arguments: [
            (["train", "--config", "c.json", "--threads", "0"], "--threads"),
            (["train", "--config", "c.json", "--threads", "two"], "threads"),
            (["train", "--config", "c.json", "--steps", "0"], "--steps"),
            (["eval", "--config", "c.json", "--split", "dev"], "--split"),
            (["eval", "--config", "c.json", "--windows", "0"], "--windows"),
            (["generate", "--config", "c.json", "--length", "0"], "--length"),
            (["generate", "--config", "c.json", "--temperature", "-1"], "--temperature"),
            (["generate", "--config", "c.json", "--top-k", "0"], "--top-k"),
            (["generate", "--model", "folder", "--no-cache"], "--no-cache"),
            (["bench", "--length", "abc"], "--length"),
            (["bench", "--length", "64,0"], "--length"),
            (["bench", "--mechanism", "nope"], "nope"),
            (["bench", "--heads", "0"], "--heads"),
            (["bench", "--threads", "0"], "--threads"),
            (["bench", "--gemm", "--size", "0"], "--size"),
            (["train"], "--config"),
            (["train", "--config", "c.json", "--bogus"], "--bogus"),
            (["nonsense"], "nonsense"),
          ])
    func invalidFlags(_ arguments: [String], _ needle: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try expectFailure(arguments, in: workspace, mentioning: [needle])
    }

    @Test("eval and generate without a trained run say which checkpoint is missing", arguments: ["eval", "generate"])
    func noCheckpoint(_ command: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.writeCorpus()
        try workspace.writeConfig()
        try expectFailure([command, "--config", workspace.config.path, "--threads", "1"], in: workspace, mentioning: [workspace.checkpoint.path])
    }
}
