import ArgumentParser

/// `glance train`: trains the run a config file describes; its data section picks the kind (``RunKinds``).
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train \(RunKinds.summaries) from a JSON config.",
        discussion: "Every config field is documented in configs/README.md; unknown fields are rejected."
    )

    @OptionGroup var options: TrainingOptions

    func run() throws {
        try RunKinds.kind(ofConfig: options.config).train(options)
    }
}
