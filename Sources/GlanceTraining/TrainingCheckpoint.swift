import Foundation
import GlanceCore
import GlanceNN

/// What a checkpoint's metadata holds besides the tensors (format glance-checkpoint-2).
struct TrainingState<Sampler: Codable>: Codable {
    var task: String
    var step: Int
    var optimizerStep: Int
    var sampler: Sampler
    var dropoutGenerator: RandomGenerator
    /// The model configuration, as JSON.
    var configuration: String
}

/// The task a training state belongs to, read before the rest (whose sampler type depends on it).
struct TaskName: Codable {
    var task: String
}

/// The metadata of a language model's checkpoint of format glance-checkpoint-1, whose
/// sampler state was the data generator.
struct FormatOneState: Codable {
    var step: Int
    var dataGenerator: RandomGenerator
    var dropoutGenerator: RandomGenerator
    var optimizerStep: Int
    var configuration: String
}

extension Trainer {
    static var format: String { "glance-checkpoint-2" }

    /// Writes the checkpoint atomically (a temporary file renamed over the old one): the
    /// parameters (`model.`), the optimizer moments (`optimizer.`), the carried tensors
    /// (`carried.<micro-batch>.`) and, in the metadata, the task, the step, the sampler and
    /// dropout random states and the model configuration. A resumed run continues exactly
    /// as if it had never stopped.
    public func saveCheckpoint() throws {
        var tensors: [String: Tensor] = [:]
        for (key, value) in model.parameterValues() {
            guard value.isAllFinite else { throw NonFiniteParameterError(key: key, step: step) }
            tensors["model.\(key)"] = value
        }
        for (key, value) in optimizer.stateTensors() { tensors["optimizer.\(key)"] = value }
        for (part, state) in carried.enumerated() { for (key, value) in state { tensors["carried.\(part).\(key)"] = value } }
        let state = TrainingState(task: Task.name, step: step, optimizerStep: optimizer.step, sampler: task.samplerState,
                                  dropoutGenerator: task.randomSource.generator,
                                  configuration: String(decoding: try JSONEncoder().encode(task.modelConfiguration), as: UTF8.self))
        let metadata = ["glance.training_state": String(decoding: try JSONEncoder().encode(state), as: UTF8.self), "format": Self.format]
        try SafeTensors.write(tensors, metadata: metadata, to: checkpointURL)
    }

    /// Restores the run from `url` (by default this run's checkpoint). Checks that the
    /// checkpoint belongs to this task and model before changing anything. A language model's
    /// checkpoint of the previous format (glance-checkpoint-1) resumes too. In a group, rank 0
    /// reads the file and sends it to the others; the checkpoint resumes for any number of processes.
    public func resume(from url: URL? = nil) throws {
        let url = url ?? checkpointURL
        let (tensors, metadata) = try readCheckpoint(url)
        let state = try Self.trainingState(metadata, path: url.path)
        guard (0...settings.steps).contains(state.step) else {
            throw CheckpointError.incompatible(path: url.path, reason: "its step \(state.step) is outside 0...\(settings.steps) (training.steps)")
        }
        guard state.optimizerStep >= 0 else {
            throw CheckpointError.incompatible(path: url.path, reason: "its optimizer step \(state.optimizerStep) is negative")
        }
        if let (key, _) = tensors.first(where: { !$0.value.isAllFinite }) {
            throw CheckpointError.incompatible(path: url.path, reason: "entry '\(key)' holds a value that is not finite")
        }
        if let mismatch = task.samplerMismatch(state.sampler) {
            throw CheckpointError.incompatible(path: url.path, reason: "its data sampler \(mismatch)")
        }
        let savedModel = try? JSONDecoder().decode(Task.ModelConfiguration.self, from: Data(state.configuration.utf8))
        guard savedModel == task.modelConfiguration else {
            throw CheckpointError.incompatible(path: url.path, reason: "it was trained with another model configuration (\(state.configuration))")
        }
        var parameters: [String: Tensor] = [:], optimizerState: [String: Tensor] = [:]
        var restoredCarried = Array(repeating: [String: Tensor](), count: settings.accumulationSteps)
        for (key, value) in tensors {
            if key.hasPrefix("model.") { parameters[String(key.dropFirst(6))] = value }
            else if key.hasPrefix("optimizer.") { optimizerState[String(key.dropFirst(10))] = value }
            else if let (part, name) = Self.carriedEntry(key) {
                if part >= restoredCarried.count { restoredCarried += Array(repeating: [:], count: part + 1 - restoredCarried.count) }
                restoredCarried[part][name] = value
            }
            else { throw CheckpointError.incompatible(path: url.path, reason: "unexpected entry '\(key)'") }
        }
        // Optimizer moments ("m.<parameter key>") must fit the parameters: a wrong shape would
        // be written out of bounds by the next update.
        let shapes = Dictionary(uniqueKeysWithValues: model.trainableParameters().map { ($0.key, $0.parameter.shape) })
        for (key, value) in optimizerState {
            guard let dot = key.firstIndex(of: "."), shapes[String(key[key.index(after: dot)...])] == value.shape else {
                throw CheckpointError.incompatible(path: url.path, reason: "optimizer entry '\(key)' of shape \(value.shape) fits no parameter of this model")
            }
        }
        let previous = model.parameterValues()
        do {
            try model.update(parameters: parameters)
            try optimizer.restore(state: optimizerState, step: state.optimizerStep)
        } catch {
            try? model.update(parameters: previous)
            throw CheckpointError.incompatible(path: url.path, reason: "\(error)")
        }
        step = state.step
        task.samplerState = state.sampler
        task.randomSource.generator = state.dropoutGenerator
        carried = restoredCarried
    }

    /// The training state of a checkpoint's metadata, of either format.
    static func trainingState(_ metadata: [String: String], path: String) throws -> TrainingState<Task.SamplerState> {
        guard let text = metadata["glance.training_state"] else {
            throw CheckpointError.incompatible(path: path, reason: "it has no Glance training state")
        }
        let data = Data(text.utf8)
        switch metadata["format"] {
        case format:
            if let header = try? JSONDecoder().decode(TaskName.self, from: data), header.task != Task.name {
                throw CheckpointError.incompatible(path: path, reason: "it is a checkpoint of a \(header.task) run, not of a \(Task.name) run")
            }
            do { return try JSONDecoder().decode(TrainingState<Task.SamplerState>.self, from: data) } catch let DecodingError.dataCorrupted(context) {
                let field = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
                throw CheckpointError.incompatible(path: path, reason: "its training state's \(field) is not valid: \(context.debugDescription)")
            } catch {}
        case "glance-checkpoint-1":
            if let old = try? JSONDecoder().decode(FormatOneState.self, from: data) {
                guard let sampler = try? JSONDecoder().decode(Task.SamplerState.self, from: JSONEncoder().encode(old.dataGenerator)) else {
                    throw CheckpointError.incompatible(path: path, reason: "format glance-checkpoint-1 holds a language model run, not a \(Task.name) run")
                }
                return TrainingState(task: Task.name, step: old.step, optimizerStep: old.optimizerStep, sampler: sampler,
                                     dropoutGenerator: old.dropoutGenerator, configuration: old.configuration)
            }
        default:
            throw CheckpointError.incompatible(path: path, reason: "unknown format '\(metadata["format"] ?? "none")' (this version reads \(format))")
        }
        throw CheckpointError.incompatible(path: path, reason: "its training state cannot be read")
    }

    /// The micro-batch index and tensor name of a `carried.<part>.<name>` entry.
    static func carriedEntry(_ key: String) -> (part: Int, name: String)? {
        let pieces = key.split(separator: ".", maxSplits: 2)
        guard pieces.count == 3, pieces[0] == "carried", let part = Int(pieces[1]), part >= 0 else { return nil }
        return (part, String(pieces[2]))
    }
}

extension Tensor {
    /// Whether no element is infinite or NaN.
    var isAllFinite: Bool { withUnsafeBufferPointer { $0.allSatisfy(\.isFinite) } }
}
