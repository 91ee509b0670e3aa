import Foundation
import Testing

/// `glance eval --attention-length` (Transformer-XL streamed with memory), `--slide` (the
/// vanilla window recomputed per prediction), and `glance generate` after a memory.
@Suite struct EvaluationSpeedTests {
    static let xlModel = #", "positions": "none", "attention": {"type": "transformer_xl", "mem_len": 16}"#
    static let vanillaModel = #", "positions": "sinusoidal""#

    /// A workspace whose run of `extraModel` is trained for 2 steps.
    func trained(_ extraModel: String) throws -> Workspace {
        let workspace = try Workspace()
        try workspace.writeCorpus()
        try workspace.writeConfig(Workspace.tinyConfig(corpus: workspace.corpus.path, output: workspace.run.path, steps: 2, extraModel: extraModel))
        let train = try glance(["train", "--config", workspace.config.path, "--json", "--threads", "1"], in: workspace.folder)
        #expect(train.status == 0 && train.output.contains("\"train_peak_rss_bytes\": "), "\(train)")
        return workspace
    }

    /// The fields of the one JSON line a command printed.
    func object(_ result: CommandResult) throws -> [String: Any] {
        let line = try #require(result.standardOutput.split(separator: "\n").last, "\(result)")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(result)")
    }

    @Test("eval --attention-length streams a Transformer-XL run with that memory; --slide recomputes a window per prediction")
    func transformerXL() throws {
        let workspace = try trained(Self.xlModel)
        defer { workspace.remove() }
        let streamed = try glance(["eval", "--config", workspace.config.path, "--attention-length", "40", "--segment", "8", "--bytes", "300",
                                   "--json", "--threads", "1"], in: workspace.folder)
        #expect(streamed.status == 0, "\(streamed)")
        let memory = try object(streamed)
        #expect(memory["mode"] as? String == "memory" && memory["attention_length"] as? Int == 40 && memory["predictions"] as? Int == 299)
        #expect((memory["tokens_per_s"] as? Double ?? 0) > 0 && (memory["bpc"] as? Double ?? 0) > 0)
        let slid = try glance(["eval", "--config", workspace.config.path, "--slide", "--attention-length", "24", "--positions", "5",
                               "--json", "--threads", "1"], in: workspace.folder)
        #expect(slid.status == 0, "\(slid)")
        let slide = try object(slid)
        #expect(slide["mode"] as? String == "slide" && slide["attention_length"] as? Int == 24 && slide["predictions"] as? Int == 5)
        let text = try glance(["eval", "--config", workspace.config.path, "--slide", "--positions", "3", "--threads", "1"], in: workspace.folder)
        #expect(text.status == 0 && text.standardOutput.contains("over 3 predictions (a 16-byte window recomputed per prediction)"), "\(text)")
        let generated = try glance(["generate", "--config", workspace.config.path, "--prompt", "The ", "--length", "40", "--temperature", "0",
                                    "--threads", "1"], in: workspace.folder)
        #expect(generated.status == 0 && generated.standardOutput.utf8.count >= 44, "\(generated)")
        // The Transformer-XL checkpoint read with a vanilla config of the same size: another model.
        let vanillaConfig = workspace.folder.appendingPathComponent("vanilla.json")
        try Data(Workspace.tinyConfig(corpus: workspace.corpus.path, output: workspace.run.path, extraModel: Self.vanillaModel).utf8).write(to: vanillaConfig)
        let other = try glance(["eval", "--config", vanillaConfig.path, "--slide", "--positions", "2", "--threads", "1"], in: workspace.folder)
        #expect(other.status == 1 && other.output.contains("does not fit the model in \(vanillaConfig.path)"), "\(other)")
    }

    @Test("a vanilla run slides a window past its trained context with sinusoidal positions, not with learned ones")
    func vanilla() throws {
        let workspace = try trained(Self.vanillaModel)
        defer { workspace.remove() }
        let slid = try glance(["eval", "--config", workspace.config.path, "--slide", "--attention-length", "40", "--positions", "4",
                               "--json", "--threads", "1"], in: workspace.folder)
        #expect(slid.status == 0, "\(slid)")
        #expect(try object(slid)["predictions"] as? Int == 4)
        let streamed = try glance(["eval", "--config", workspace.config.path, "--attention-length", "40", "--threads", "1"], in: workspace.folder)
        #expect(streamed.status == 1 && streamed.output.contains("no memory") && streamed.output.contains("--slide"), "\(streamed)")
        let learned = try trained("")
        defer { learned.remove() }
        let beyond = try glance(["eval", "--config", learned.config.path, "--slide", "--attention-length", "40", "--threads", "1"], in: learned.folder)
        #expect(beyond.status == 1 && beyond.output.contains("--attention-length 40 exceeds the context 16")
                && beyond.output.contains("learned positions"), "\(beyond)")
    }
}

extension CLIErrorTests {
    @Test("bad evaluation-speed flags name the flag", arguments: [
        (["--slide", "--positions", "0"], "--positions must be at least 1"),
        (["--attention-length", "0"], "--attention-length must be at least 1"),
        (["--slide", "--bytes", "100"], "--segment and --bytes apply to streaming"),
        (["--positions", "5"], "--positions applies to --slide only"),
        (["--json"], "--json applies to"),
        (["--bytes", "1"], "--bytes must be at least 2"),
    ])
    func invalidEvaluationSpeedFlags(_ flags: [String], _ needle: String) throws {
        let workspace = try Workspace.ready()
        defer { workspace.remove() }
        try expectFailure(["eval", "--config", workspace.config.path] + flags, in: workspace, mentioning: [needle])
    }
}
