import Foundation
import Testing

/// Translation end to end: a tiny bitext, `glance train` on a translation config, then
/// `glance translate` and `glance eval`, and the bad inputs each must refuse with a message.
@Suite struct TranslateTests {
    static let words = [("one", "uno"), ("two", "dos"), ("three", "tres"), ("red", "rojo"), ("house", "casa"), ("dog", "perro"),
                        ("big", "grande"), ("the", "el"), ("and", "y"), ("light", "luz")]

    /// A workspace with bitext/{train,valid,test}.{en,es} (word-by-word "translations") and a tiny config.
    static func workspace(steps: Int = 6) throws -> Workspace {
        let workspace = try Workspace()
        let bitext = workspace.folder.appendingPathComponent("bitext")
        try FileManager.default.createDirectory(at: bitext, withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        for (split, count) in [("train", 40), ("valid", 4), ("test", 4)] {
            var english: [String] = [], spanish: [String] = []
            for _ in 0..<count {
                let sentence = (0..<Int.random(in: 1...5, using: &generator)).map { _ in words.randomElement(using: &generator)! }
                english.append(sentence.map(\.0).joined(separator: " "))
                spanish.append(sentence.map(\.1).joined(separator: " ") + ".")
            }
            try Data(english.map { $0 + "\n" }.joined().utf8).write(to: bitext.appendingPathComponent("\(split).en"))
            try Data(spanish.map { $0 + "\n" }.joined().utf8).write(to: bitext.appendingPathComponent("\(split).es"))
        }
        let config = """
            {
              "model": {"vocab_size": 300, "max_length": 24, "encoder_layers": 1, "decoder_layers": 1, "d_model": 16, "heads": 2,
                        "ffn_dim": 32, "dropout": 0.1, "block": "pre-ln"},
              "training": {"batch_size": 4, "steps": \(steps), "learning_rate": 0.003, "warmup_steps": 1, "log_every": 2, "eval_every": 4},
              "data": {"bitext": "\(bitext.path)", "eval_sentences": 2, "beam": 2},
              "output": "\(workspace.run.path)"
            }
            """
        try Data(config.utf8).write(to: workspace.config)
        return workspace
    }

    func input(_ text: String, in workspace: Workspace) throws -> URL {
        let url = workspace.folder.appendingPathComponent("input-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test("train, translate (beam and greedy) and eval a tiny translation run")
    func endToEnd() throws {
        let workspace = try Self.workspace()
        defer { workspace.remove() }
        let train = try glance(["train", "--config", workspace.config.path, "--threads", "1"], in: workspace.folder)
        #expect(train.status == 0, "\(train)")
        #expect(train.standardOutput.contains("40 training pairs") && train.standardOutput.contains("bleu"), "\(train)")
        #expect(FileManager.default.fileExists(atPath: workspace.run.appendingPathComponent("bpe.json").path))
        let lines = try input("one two\nthe big red house\n¿dónde? 東京\n", in: workspace)
        for flags in [["--beam", "3"], ["--greedy"], []] {
            let translated = try glance(["translate", "--config", workspace.config.path] + flags, in: workspace.folder, input: lines)
            #expect(translated.status == 0, "\(translated)")
            #expect(translated.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).count == 4, "\(translated)")
        }
        let evaluation = try glance(["eval", "--config", workspace.config.path], in: workspace.folder)
        #expect(evaluation.status == 0 && evaluation.standardOutput.contains("test BLEU") && evaluation.standardOutput.contains("chrF"), "\(evaluation)")
        #expect(train.standardOutput.contains("multiply-adds per sentence (30 source + 30 target tokens"), "\(train)")
        let bench = try glance(["bench", "--model", "translate", "--config", workspace.config.path, "--sentences", "2", "--json", "--threads", "1"],
                               in: workspace.folder)
        #expect(bench.status == 0, "\(bench)")
        let reports = bench.standardOutput.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(reports.map { $0["beam"] as? Int } == [4, 4, 1, 1] && reports.map { $0["decoder_cache"] as? Bool } == [true, false, true, false], "\(bench)")
        #expect(reports.allSatisfy { ($0["sentences_per_s"] as? Double ?? 0) > 0 && $0["sentences"] as? Int == 2 }, "\(bench)")
        #expect(reports[0]["output_tokens"] as? Int == reports[1]["output_tokens"] as? Int, "the cache changes the speed, not the translations")
        let missing = try glance(["bench", "--model", "translate"], in: workspace.folder)
        #expect(missing.status != 0 && missing.standardError.contains("--model translate needs --config"), "\(missing)")
    }

    @Test("an empty line, a line too long, bad UTF-8, a missing run and mismatched bitext files are clear errors")
    func badInput() throws {
        let workspace = try Self.workspace(steps: 2)
        defer { workspace.remove() }
        let untrained = try glance(["translate", "--config", workspace.config.path], in: workspace.folder, input: try input("one\n", in: workspace))
        #expect(untrained.status != 0 && untrained.standardError.contains("train the run first"), "\(untrained)")
        #expect(try glance(["train", "--config", workspace.config.path], in: workspace.folder).status == 0)
        let empty = try glance(["translate", "--config", workspace.config.path], in: workspace.folder, input: try input("one\n\ntwo\n", in: workspace))
        #expect(empty.status != 0 && empty.standardError.contains("standard input, line 2: the line is empty"), "\(empty)")
        let long = String(repeating: "zq ", count: 40)
        let tooLong = try glance(["translate", "--config", workspace.config.path], in: workspace.folder, input: try input("one\n\(long)\n", in: workspace))
        #expect(tooLong.status != 0 && tooLong.standardError.contains("line 2: the line has") && tooLong.standardError.contains("at most 23"), "\(tooLong)")
        let bytes = workspace.folder.appendingPathComponent("bad.txt")
        try Data([0x6F, 0x6E, 0x65, 0x0A, 0xC3, 0x28, 0x0A]).write(to: bytes)
        let invalid = try glance(["translate", "--config", workspace.config.path], in: workspace.folder, input: bytes)
        #expect(invalid.status != 0 && invalid.standardError.contains("line 2: is not valid UTF-8"), "\(invalid)")
        let valid = workspace.folder.appendingPathComponent("bitext/valid.es")
        try Data("uno\n".utf8).write(to: valid)
        let mismatched = try glance(["train", "--config", workspace.config.path, "--output", workspace.folder.appendingPathComponent("run2").path],
                                    in: workspace.folder)
        #expect(mismatched.status != 0 && mismatched.standardError.contains("valid.es has 1 lines but"), "\(mismatched)")
    }
}
