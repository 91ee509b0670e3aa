import Foundation
import Testing

@Suite struct ClassifyTests {
    /// A temporary folder with a two-class byte corpus (class by letter case) and a tiny config.
    static func workspace(attention: String, steps: Int) throws -> Workspace {
        let workspace = try Workspace()
        let corpus = workspace.corpus
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        try Data("lower\nupper\n".utf8).write(to: corpus.appendingPathComponent("classes.txt"))
        for (split, count) in [("train", 48), ("valid", 8), ("test", 8)] {
            let lines = (0..<count).map { i in i % 2 == 0 ? "lower\tsome lower case words \(i)\n" : "upper\tSOME UPPER CASE WORDS \(i)\n" }
            try Data(lines.joined().utf8).write(to: corpus.appendingPathComponent("\(split).tsv"))
        }
        let mechanism = attention == "linformer" ? #"{"type": "linformer", "k": 8}"# : "\"\(attention)\""
        let config = """
            {
              "model": {"context": 32, "layers": 1, "d_model": 16, "heads": 2, "ffn_multiplier": 2, "attention": \(mechanism)},
              "training": {"batch_size": 8, "steps": \(steps), "learning_rate": 0.003, "warmup_steps": 2, "log_every": 2, "eval_every": 4},
              "data": {"corpus": "\(corpus.path)"},
              "output": "\(workspace.run.path)"
            }
            """
        try Data(config.utf8).write(to: workspace.config)
        return workspace
    }

    @Test("classify trains on a tiny labelled corpus and ends with a JSON summary", arguments: ["full", "linformer"])
    func endToEnd(_ attention: String) throws {
        let workspace = try Self.workspace(attention: attention, steps: 6)
        defer { workspace.remove() }
        let text = try glance(["classify", "--config", workspace.config.path, "--threads", "1"], in: workspace.folder)
        #expect(text.status == 0, "\(text)")
        #expect(text.standardOutput.contains("attention \(attention)") && text.standardOutput.contains("2 classes, 48/8/8"), "\(text)")
        #expect(text.standardOutput.contains("step      6/6") && text.standardOutput.contains("validation loss"), "\(text)")
        let last = try #require(text.standardOutput.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "\(text)")
        for key in ["final_val_accuracy", "test_accuracy", "train_tokens_per_s", "steps", "seconds"] { #expect(summary[key] != nil, "\(key) in \(last)") }
        #expect(summary["steps"] as? Int == 6)
        let accuracy = try #require(summary["test_accuracy"] as? Double)
        #expect(accuracy >= 0 && accuracy <= 1)
        #expect(FileManager.default.fileExists(atPath: workspace.run.appendingPathComponent("model.safetensors").path))

        let json = try glance(["classify", "--config", workspace.config.path, "--steps", "2", "--json", "--threads", "1"], in: workspace.folder)
        #expect(json.status == 0, "\(json)")
        for line in json.standardOutput.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not JSON: \(line)")
        }
        #expect(json.standardOutput.contains(#""steps": 2"#), "\(json)")
    }

    @Test("a bad config or corpus fails with a message naming the field or the file and line")
    func errors() throws {
        let workspace = try Self.workspace(attention: "linformer", steps: 2)
        defer { workspace.remove() }
        let config = try String(contentsOf: workspace.config, encoding: .utf8)
        try Data(config.replacingOccurrences(of: #""k": 8"#, with: #""k": 64"#).utf8).write(to: workspace.config)
        let badK = try glance(["classify", "--config", workspace.config.path], in: workspace.folder)
        #expect(badK.status != 0 && badK.standardError.contains("model.attention.k"), "\(badK)")

        try Data(config.utf8).write(to: workspace.config)
        let train = workspace.corpus.appendingPathComponent("train.tsv")
        try Data("lower\tfine\nnonsense line\n".utf8).write(to: train)
        let badCorpus = try glance(["classify", "--config", workspace.config.path], in: workspace.folder)
        #expect(badCorpus.status != 0 && badCorpus.standardError.contains("\(train.path), line 2"), "\(badCorpus)")
    }

    @Test("data fetch names the corpora it knows")
    func unknownCorpus() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = try glance(["data", "fetch", "--corpus", "imdb"], in: workspace.folder)
        #expect(result.status != 0 && result.standardError.contains("gcide, 20newsgroups"), "\(result)")
    }
}
