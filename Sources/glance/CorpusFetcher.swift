import Foundation

/// A corpus that `glance data fetch --corpus NAME` gets. Every corpus is listed once, in
/// ``CorpusFetchers/all``; the command's help, its check of `--corpus` and the "already there"
/// test come from these entries.
protocol CorpusFetcher: Sendable {
    /// The `--corpus` name.
    static var name: String { get }
    /// What the corpus is, for the command's abstract ("GCIDE dictionary text").
    static var summary: String { get }
    /// What it writes and what it needs, for the command's discussion.
    static var details: String { get }
    /// The files (relative to the output folder) whose presence means the corpus is there.
    static var files: [String] { get }
    /// Writes the corpus into `folder` (`output` as the user named it), using the scratch
    /// folder `work`; `command` holds the parsed options.
    static func fetch(into folder: URL, output: String, work: URL, command: DataCommand.Fetch) throws
}

/// Every corpus `glance data fetch` knows, the default first.
enum CorpusFetchers {
    static let all: [any CorpusFetcher.Type] = [GCIDEFetcher.self, NewsgroupsFetcher.self, BibleFetcher.self, ElectricityFetcher.self, SpeechFetcher.self]

    static var names: String { all.map { $0.name }.joined(separator: ", ") }

    static func named(_ name: String) -> (any CorpusFetcher.Type)? { all.first { $0.name == name } }
}
