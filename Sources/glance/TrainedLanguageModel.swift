import Foundation
import GlanceCore
import GlanceModels
import GlanceTraining

/// The character-level model `configuration` describes, with the weights of the run's
/// checkpoint (in `output`, else the configuration's output folder), in inference mode. The
/// configuration may differ from the trained one where no parameter depends on it (a longer
/// context with sinusoidal positions, another memory length); a checkpoint that does not fit
/// (another model, another size) is an error naming both files.
func loadTrainedLanguageModel(_ configuration: TrainingConfiguration, config: String, output: String?) throws -> CharacterLanguageModel {
    let model = try CharacterLanguageModel(configuration: configuration.model, seed: configuration.training.seed)
    let checkpoint = URL(fileURLWithPath: output ?? configuration.output).appendingPathComponent(LanguageModelTrainer.checkpointName)
    guard FileManager.default.fileExists(atPath: checkpoint.path) else {
        throw CommandFailure("no checkpoint at \(checkpoint.path): train the run of \(config) first (or give its folder with --output)")
    }
    let (tensors, _) = try SafeTensors.read(from: checkpoint)
    var parameters: [String: Tensor] = [:]
    for (key, value) in tensors where key.hasPrefix("model.") { parameters[String(key.dropFirst(6))] = value }
    do { try model.update(parameters: parameters) } catch {
        throw CommandFailure("checkpoint \(checkpoint.path) does not fit the model in \(config): \(error)")
    }
    model.eval()
    return model
}
