import ArgumentParser
import Foundation

/// A kind of run that `glance train` and `glance eval` serve. A configuration is of the kind
/// whose ``dataKey`` its data section holds; the character language model (no key) takes the
/// rest. Every kind is listed once, in ``RunKinds/all``.
protocol RunKind: Sendable {
    /// What runs of this kind train, for the commands' help ("a translation model").
    static var summary: String { get }
    /// The data-section key that marks this kind's configurations; nil for the fallback kind.
    static var dataKey: String? { get }
    /// Trains the run of `options.config`.
    static func train(_ options: TrainingOptions) throws
    /// Evaluates a trained run as `glance eval` asked.
    static func evaluate(_ request: EvaluationRequest) throws
}

/// What `glance eval` was asked: the configuration and the options as given (nil: not given).
struct EvaluationRequest {
    let config: String
    let split: String?
    let windows: Int?
    let output: String?
    let beam: Int?

    /// Throws when an option this kind of run does not take was given; `kind` names the run.
    func refuse(_ options: [(flag: String, given: Bool)], for kind: String) throws {
        if let flag = options.first(where: \.given)?.flag { throw ValidationError("\(flag) does not apply to \(kind) (\(config))") }
    }
}

/// Every kind of run, in the order they are recognised.
enum RunKinds {
    static let all: [any RunKind.Type] = [TranslationRun.self, ForecastingRun.self, SpeechRun.self, LanguageModelRun.self]

    /// The kind of the configuration file at `path`. A file that cannot be read as JSON goes to
    /// the fallback kind, whose loading reports what is wrong with it.
    static func kind(ofConfig path: String) -> any RunKind.Type {
        let section = FileManager.default.contents(atPath: path)
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            .flatMap { $0["data"] as? [String: Any] } ?? [:]
        return all.first { kind in kind.dataKey.map { section[$0] != nil } ?? true }!
    }

    /// The kinds for a command's help: "a … (data.KEY), … or …".
    static var summaries: String {
        let named = all.map { kind in kind.summary + (kind.dataKey.map { " (a config whose data names \($0))" } ?? "") }
        return named.dropLast().joined(separator: ", ") + " or " + named.last!
    }
}
