import Foundation
import GlanceModels

/// The data section of a run's configuration; it also knows what the data needs of the model.
public protocol RunDataConfiguration: StrictConfigurationSection, Equatable {
    /// The run folder when the configuration names none.
    static var defaultOutput: String { get }
    /// Checks this section and the model that reads the data.
    func validate(model: LanguageModelConfiguration) throws
}

/// Everything a training command needs: the model, the optimization, the data and where to
/// write. JSON keys are snake_case; unknown keys are rejected.
public struct RunConfiguration<DataSection: RunDataConfiguration>: StrictConfigurationSection, Equatable, Sendable {
    public var model: LanguageModelConfiguration
    public var training: OptimizationConfiguration
    public var data: DataSection
    /// Run folder for checkpoints, logs and the trained model.
    public var output: String

    public static var fields: [String: (any StrictConfigurationSection.Type)?] {
        ["model": LanguageModelConfiguration.self, "training": OptimizationConfiguration.self, "data": DataSection.self, "output": nil]
    }

    enum CodingKeys: String, CodingKey { case model, training, data, output }

    public init(model: LanguageModelConfiguration = .init(), training: OptimizationConfiguration = .init(),
                data: DataSection, output: String = DataSection.defaultOutput) {
        self.model = model
        self.training = training
        self.data = data
        self.output = output
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.value(.model, default: LanguageModelConfiguration())
        training = try c.value(.training, default: OptimizationConfiguration())
        data = try c.decode(DataSection.self, forKey: .data)
        output = try c.value(.output, default: DataSection.defaultOutput)
        try validate()
    }

    /// Checks every section, then the memory of one training step against `memory` (this
    /// machine's by default).
    public func validate(memory: Int = MemoryEstimate.physicalMemory) throws {
        try data.validate(model: model)
        try training.validate()
        try model.trainingMemory(microBatch: training.batchSize / training.accumulationSteps, field: "training.batch_size").require(fitting: memory)
    }
}

/// `glance train`: the character-level language model on a byte corpus.
public typealias TrainingConfiguration = RunConfiguration<DataConfiguration>

/// `glance classify`: a byte-level text classifier on a labelled corpus; the model section is
/// the encoder's shape, `context` the document length in bytes (longer documents are cut,
/// shorter ones padded).
public typealias ClassifierConfiguration = RunConfiguration<ClassificationDataConfiguration>
