import ArgumentParser
import Foundation
import GlanceCore
import GlanceModels
import GlanceNN
import GlanceTraining

/// The options of every command that trains (`train`, `classify`) and the run they share:
/// load the configuration, resume or refuse to overwrite a run, train and print the events.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Run configuration (JSON).") var config: String
    @Flag(help: "Continue from the run folder's checkpoint, exactly where it stopped.") var resume = false
    @Option(parsing: .unconditional, help: "Override training.steps.") var steps: Int?
    @Option(help: "Override the run folder (output).") var output: String?
    @Flag(help: "Print JSON lines instead of text.") var json = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
    }

    /// The configuration file with the command line's overrides.
    func configuration<DataSection>(_ type: RunConfiguration<DataSection>.Type) throws -> RunConfiguration<DataSection> {
        compute.apply()
        var configuration = try loadConfiguration(type, from: URL(fileURLWithPath: config))
        if let steps { configuration.training.steps = steps }
        if let output { configuration.output = output }
        return configuration
    }

    /// Resumes `trainer` (with --resume) or checks that it overwrites no run, then trains,
    /// printing `description` (the model and data) first. Under `mpirun` every process trains
    /// its share of each batch and only rank 0 prints.
    func train<Task>(_ trainer: Trainer<Task>, description: String) throws {
        try TrainingProcesses.run { group in
            try trainer.join(group)
            let lead = group.rank == 0
            if resume {
                try trainer.resume()
                guard trainer.step < trainer.settings.steps else {
                    if lead {
                        log("\(trainer.checkpointURL.path) is a finished run (step \(trainer.step) of training.steps \(trainer.settings.steps)): "
                            + "nothing to train; pass --steps N with N > \(trainer.step) to train further")
                    }
                    return
                }
                if lead { log("resumed from \(trainer.checkpointURL.path) at step \(trainer.step)") }
            } else if lead, FileManager.default.fileExists(atPath: trainer.checkpointURL.path) {
                throw CommandFailure("\(trainer.checkpointURL.path) already exists: pass --resume to continue that run, or choose another --output")
            }
            if lead { log(description + "; \(Threading.count) threads" + (group.size > 1 ? " in each of \(group.size) processes" : "")) }
            try trainer.run(report: TrainingPrinter(json: json).print)
        }
    }

    /// Notes for people: on standard output, or standard error when standard output is JSON.
    func log(_ message: String) {
        if json { printError(message) } else { print(message) }
    }
}

/// A model's size and attention, for the first line of a run.
func describe(_ model: Module, _ c: LanguageModelConfiguration) -> String {
    "model: \(model.parameterCount()) parameters, \(c.layers) layers, d_model \(c.modelDimensions), attention \(c.attention)"
}
