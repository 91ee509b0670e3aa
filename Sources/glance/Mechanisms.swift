import ArgumentParser
import GlanceAttention

/// `glance mechanisms`: every attention mechanism, its capabilities and its options.
struct Mechanisms: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the attention mechanisms, their capabilities and their options (Markdown).")

    func run() throws {
        print(AttentionRegistry.documentation(), terminator: "")
    }
}
