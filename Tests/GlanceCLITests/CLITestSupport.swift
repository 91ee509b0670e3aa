import Foundation
import Testing

/// The result of one run of the `glance` binary.
struct CommandResult: CustomStringConvertible {
    let arguments: [String]
    let status: Int32
    let standardOutput: String
    let standardError: String

    /// Both streams, for messages that may go to either.
    var output: String { standardOutput + standardError }

    var description: String {
        "glance \(arguments.joined(separator: " ")) → exit \(status)\n--- stdout:\n\(standardOutput)\n--- stderr:\n\(standardError)"
    }
}

enum GlanceBinary {
    /// The `glance` executable of the build that produced this test binary: the products
    /// folder holding the running test bundle (e.g. `.build/release/GlancePackageTests.xctest`)
    /// also holds `glance`. `GLANCE_BINARY` overrides.
    static let location: Result<URL, BinaryMissing> = {
        let fileManager = FileManager.default
        func isExecutable(_ url: URL) -> Bool {
            var isDirectory: ObjCBool = false
            return fileManager.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && fileManager.isExecutableFile(atPath: url.path)
        }
        if let override = ProcessInfo.processInfo.environment["GLANCE_BINARY"] {
            let url = URL(fileURLWithPath: override)
            return isExecutable(url) ? .success(url) : .failure(BinaryMissing(searched: [url.path]))
        }
        var starts: [URL] = []
        if let first = CommandLine.arguments.first { starts.append(URL(fileURLWithPath: first).resolvingSymlinksInPath()) }
        if let executable = Bundle.main.executableURL { starts.append(executable.resolvingSymlinksInPath()) }
        starts.append(Bundle.main.bundleURL)
        var searched: [String] = []
        for start in starts {
            // Walk up from the test binary (inside an .xctest bundle on macOS) to the products folder.
            var folder = start.deletingLastPathComponent()
            for _ in 0..<5 {
                let candidate = folder.appendingPathComponent("glance")
                searched.append(candidate.path)
                if isExecutable(candidate) { return .success(candidate) }
                folder = folder.deletingLastPathComponent()
            }
        }
        // Last resort: the release build of the package this file belongs to.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fallback = root.appendingPathComponent(".build/release/glance")
        searched.append(fallback.path)
        return isExecutable(fallback) ? .success(fallback) : .failure(BinaryMissing(searched: searched))
    }()

    struct BinaryMissing: Error, CustomStringConvertible {
        let searched: [String]
        var description: String {
            "the glance executable was not found; build it first (swift build -c release --product glance, with the same "
                + "--scratch-path as the tests) or set GLANCE_BINARY. Looked at:\n" + searched.joined(separator: "\n")
        }
    }

    static func url() throws -> URL {
        switch location {
        case let .success(url): return url
        case let .failure(error): throw error
        }
    }
}

/// Runs `glance` with `arguments` in `folder`, capturing both streams; kills it after `timeout` seconds.
/// Standard input is the file `input`, or empty.
func glance(_ arguments: [String], in folder: URL, timeout: TimeInterval = 60, input: URL? = nil) throws -> CommandResult {
    try runCapturing(try GlanceBinary.url(), arguments, in: folder, timeout: timeout, input: input)
}

/// Runs `executable` with `arguments` in `folder` (with GLANCE_THREADS=1 and `environment`
/// added, standard input the file `input` or empty), capturing both streams; kills it after
/// `timeout` seconds.
func runCapturing(_ executable: URL, _ arguments: [String], in folder: URL, timeout: TimeInterval = 60,
                  environment added: [String: String] = [:], input: URL? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = folder
    var environment = ProcessInfo.processInfo.environment
    environment["GLANCE_THREADS"] = "1"
    environment.merge(added) { $1 }
    process.environment = environment
    let outURL = folder.appendingPathComponent(".stdout-\(UUID().uuidString)")
    let errURL = folder.appendingPathComponent(".stderr-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    process.standardInput = try input.map { try FileHandle(forReadingFrom: $0) } ?? FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(2_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        Issue.record("\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
    }
    process.waitUntilExit()
    try out.close()
    try err.close()
    return CommandResult(arguments: arguments, status: process.terminationStatus,
                         standardOutput: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                         standardError: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// A temporary working folder with a small English corpus and a tiny config.
struct Workspace {
    let folder: URL
    var corpus: URL { folder.appendingPathComponent("corpus") }
    var config: URL { folder.appendingPathComponent("config.json") }
    var run: URL { folder.appendingPathComponent("run") }
    var checkpoint: URL { run.appendingPathComponent("checkpoint.safetensors") }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("glance-cli-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }

    /// Splits `bytes` of English text into corpus/{train,valid,test}.txt (90/5/5).
    func writeCorpus(bytes: Int = 12_000) throws {
        let text = try englishText(bytes: bytes)
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        let first = text.count * 90 / 100, second = text.count * 95 / 100
        try Data(text[..<first]).write(to: corpus.appendingPathComponent("train.txt"))
        try Data(text[first..<second]).write(to: corpus.appendingPathComponent("valid.txt"))
        try Data(text[second...]).write(to: corpus.appendingPathComponent("test.txt"))
    }

    /// A tiny model (context 16, 1 layer, d 16) and a constant learning rate, so that runs of
    /// different lengths share their first steps.
    static func tinyConfig(corpus: String, output: String, steps: Int = 4, dropout: Double = 0.1, extraModel: String = "") -> String {
        """
        {
          "model": {"context": 16, "layers": 1, "d_model": 16, "heads": 2, "ffn_multiplier": 2, "dropout": \(dropout)\(extraModel)},
          "training": {"batch_size": 4, "steps": \(steps), "learning_rate": 0.003, "warmup_steps": 0, "min_lr_ratio": 1,
                       "grad_clip": 0.5, "log_every": 1, "eval_every": 1000, "eval_windows": 4, "checkpoint_every": 1000, "seed": 5},
          "data": {"corpus": "\(corpus)"},
          "output": "\(output)"
        }
        """
    }

    func writeConfig(_ text: String? = nil, steps: Int = 4) throws {
        try Data((text ?? Self.tinyConfig(corpus: corpus.path, output: run.path, steps: steps)).utf8).write(to: config)
    }

    /// A workspace with corpus and config written.
    static func ready(steps: Int = 4) throws -> Workspace {
        let workspace = try Workspace()
        try workspace.writeCorpus()
        try workspace.writeConfig(steps: steps)
        return workspace
    }
}

/// `count` bytes of real English text (a license shipped with Debian).
func englishText(bytes count: Int) throws -> [UInt8] {
    for path in ["/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0", "/usr/share/common-licenses/GPL-2"] {
        if let data = FileManager.default.contents(atPath: path), data.count >= count { return Array([UInt8](data).prefix(count)) }
    }
    struct NoText: Error, CustomStringConvertible { var description: String { "no license text in /usr/share/common-licenses" } }
    throw NoText()
}
