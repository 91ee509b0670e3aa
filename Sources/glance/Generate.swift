import ArgumentParser
import Foundation
import GlanceCore
import GlanceData
import GlanceModels

/// `glance generate`: samples text from a trained run.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sample text from a trained character-level model.")

    @Option(help: "The run's training configuration (JSON).") var config: String
    @Option(help: "Text to continue.") var prompt = ""
    @Option(help: "Bytes to generate.") var length = 200
    @Option(help: "Sampling temperature (0: always the most likely byte).") var temperature: Float = 0.8
    @Option(name: .customLong("top-k"), help: "Sample among the k most likely bytes only.") var topK: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "The run folder, when training overrode the config's output.") var output: String?
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard length >= 1 else { throw ValidationError("--length must be at least 1, got \(length)") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be non-negative, got \(temperature)") }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1, got \(topK)") }
    }

    func run() throws {
        compute.apply()
        let configuration = try loadConfiguration(TrainingConfiguration.self, from: URL(fileURLWithPath: config))
        let model = try CharacterLanguageModel(configuration: configuration.model, seed: configuration.training.seed)
        let checkpoint = URL(fileURLWithPath: output ?? configuration.output).appendingPathComponent(LanguageModelTrainer.checkpointName)
        let (tensors, _) = try SafeTensors.read(from: checkpoint)
        var parameters: [String: Tensor] = [:]
        for (key, value) in tensors where key.hasPrefix("model.") { parameters[String(key.dropFirst(6))] = value }
        do { try model.update(parameters: parameters) } catch {
            throw CommandFailure("checkpoint \(checkpoint.path) does not fit the model in \(config): \(error)")
        }
        model.eval()
        var generator = RandomGenerator(seed: seed)
        let tokens = model.generate(prompt: Array(prompt.utf8).map(Int.init), count: length, temperature: temperature, topK: topK, generator: &generator)
        print(prompt + String(decoding: tokens.map { UInt8(clamping: $0) }, as: UTF8.self))
    }
}
