import Foundation
import Testing

/// The README's Swift code, compiled and run as a package that depends on Glance would: each
/// ```swift block of README.md becomes the main.swift of a program that imports the Glance
/// modules of this build (the modules and objects beside the glance binary) and nothing else,
/// so the README cannot drift from the library.
@Suite("README examples")
struct ReadmeExampleTests {
    @Test("every Swift block of README.md compiles and runs against this build")
    func readmeBlocksRun() throws {
        let blocks = try swiftBlocks(of: String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8))
        #expect(!blocks.isEmpty, "README.md has no ```swift block")
        for (index, block) in blocks.enumerated() {
            let workspace = try Workspace()
            defer { workspace.remove() }
            let source = workspace.folder.appendingPathComponent("main.swift")
            try Data(block.utf8).write(to: source)
            let program = workspace.folder.appendingPathComponent("readme-example")
            let compile = try runCapturing(try Self.swiftc(), try Self.compilerArguments(source: source, output: program),
                                           in: workspace.folder, timeout: 240)
            try #require(compile.status == 0, "README block \(index + 1) does not compile:\n\(block)\n\(compile)")
            let run = try runCapturing(program, [], in: workspace.folder, timeout: 60)
            #expect(run.status == 0, "README block \(index + 1) fails when run:\n\(run)")
        }
    }

    @Test("the blocks are found with their text and only those marked swift")
    func extraction() {
        let markdown = "text\n```swift\nlet a = 1\nprint(a)\n```\n```sh\nmake\n```\n```swift\nprint(2)\n```\n"
        #expect(swiftBlocks(of: markdown) == ["let a = 1\nprint(a)\n", "print(2)\n"])
    }

    /// The package root (three folders above this file).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The libraries a user's package can depend on, as their modules are named.
    static let libraries = ["GlanceCore", "GlanceNN", "GlanceAttention", "GlanceData", "GlanceModels", "GlanceTraining"]

    /// swiftc from the PATH (the toolchain that runs the tests).
    static func swiftc() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for folder in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent("swiftc")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        struct NoCompiler: Error, CustomStringConvertible { var description: String { "swiftc is not on the PATH" } }
        throw NoCompiler()
    }

    /// Compiles `source` into `output` against this build's Glance modules: their interfaces
    /// (`Modules/`), the system libraries' module maps, and the libraries' object files, which the
    /// linker takes with the system libraries their modules name (OpenBLAS, kissfft, libsamplerate).
    static func compilerArguments(source: URL, output: URL) throws -> [String] {
        let products = try GlanceBinary.url().deletingLastPathComponent()
        let fileManager = FileManager.default
        var arguments = [source.path, "-o", output.path, "-I", products.appendingPathComponent("Modules").path]
        let sources = root.appendingPathComponent("Sources")
        for folder in try fileManager.contentsOfDirectory(atPath: sources.path).sorted() {
            let map = sources.appendingPathComponent(folder).appendingPathComponent("module.modulemap")
            if fileManager.fileExists(atPath: map.path) { arguments += ["-Xcc", "-fmodule-map-file=\(map.path)"] }
        }
        #if os(Linux)
        let flags = try runCapturing(URL(fileURLWithPath: "/usr/bin/env"), ["pkg-config", "--cflags", "--libs-only-L", "openblas", "samplerate"],
                                     in: fileManager.temporaryDirectory)
        for flag in flags.standardOutput.split(whereSeparator: \.isWhitespace).map(String.init) {
            arguments += flag.hasPrefix("-L") ? [flag] : ["-Xcc", flag]
        }
        #endif
        // The libraries' objects as the glance binary was linked from them (the folders may hold stale ones).
        let linked = try String(contentsOf: products.appendingPathComponent("glance.product/Objects.LinkFileList"), encoding: .utf8)
        arguments += linked.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }.filter { path in
            libraries.contains { path.contains("/\($0).build/") }
        }
        return arguments
    }
}

/// The contents of the ```swift blocks of `markdown`, in order.
func swiftBlocks(of markdown: String) -> [String] {
    var blocks: [String] = []
    var current: [Substring]?
    for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
        if current == nil {
            if line.trimmingCharacters(in: .whitespaces) == "```swift" { current = [] }
        } else if line.trimmingCharacters(in: .whitespaces) == "```" {
            blocks.append(current!.joined(separator: "\n") + "\n")
            current = nil
        } else {
            current!.append(line)
        }
    }
    return blocks
}
