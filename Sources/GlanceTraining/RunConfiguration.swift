import Foundation
import GlanceModels

/// The model section of a run's configuration: a strict section with defaults (a run that
/// names no model gets `init()`) that can say what one training step needs in memory.
public protocol RunModelConfiguration: StrictConfigurationSection, Equatable, Sendable {
    /// The default model.
    init()
    /// An estimate of one training step's memory; `field` names the batch size in errors.
    func trainingMemory(microBatch: Int, field: String) -> MemoryEstimate
}

extension LanguageModelConfiguration: RunModelConfiguration {}

/// The data section of a run's configuration; it names the model section that reads the
/// data and knows what the data needs of it.
public protocol RunDataConfiguration: StrictConfigurationSection, Equatable {
    /// The model section of runs on this data.
    associatedtype Model: RunModelConfiguration = LanguageModelConfiguration
    /// The run folder when the configuration names none.
    static var defaultOutput: String { get }
    /// Checks this section and the model that reads the data.
    func validate(model: Model) throws
}

/// Everything a training command needs: the model, the optimization, the data and where to
/// write. The data section decides the model section's type. JSON keys are snake_case;
/// unknown keys are rejected.
public struct RunConfiguration<DataSection: RunDataConfiguration>: StrictConfigurationSection, Equatable, Sendable {
    public var model: DataSection.Model
    public var training: OptimizationConfiguration
    public var data: DataSection
    /// Run folder for checkpoints, logs and the trained model.
    public var output: String

    public static var fields: [String: (any StrictConfigurationSection.Type)?] {
        ["model": DataSection.Model.self, "training": OptimizationConfiguration.self, "data": DataSection.self, "output": nil]
    }

    enum CodingKeys: String, CodingKey { case model, training, data, output }

    public init(model: DataSection.Model = .init(), training: OptimizationConfiguration = .init(),
                data: DataSection, output: String = DataSection.defaultOutput) {
        self.model = model
        self.training = training
        self.data = data
        self.output = output
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.value(.model, default: DataSection.Model())
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
