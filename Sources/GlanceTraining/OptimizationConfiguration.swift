import GlanceModels

/// Optimizer, schedule and bookkeeping of a training run.
public struct OptimizationConfiguration: StrictConfigurationSection, Equatable, Sendable {
    public var batchSize = 32
    /// Micro-batches per step: the batch is split into this many parts whose gradients are
    /// averaged (weighted by their sizes), for batches that do not fit in memory at once.
    public var accumulationSteps = 1
    public var steps = 2000
    public var learningRate: Float = 1e-3
    public var warmupSteps = 100
    /// Cosine decay ends at learningRate × minimumLearningRateRatio on the last step.
    public var minimumLearningRateRatio: Float = 0.1
    /// AdamW decoupled weight decay, applied to parameters of rank ≥ 2 only.
    public var weightDecay: Float = 0.1
    public var beta1: Float = 0.9
    public var beta2: Float = 0.99
    public var epsilon: Float = 1e-8
    /// Global-norm gradient clipping threshold (0 disables).
    public var gradientClip: Float = 1
    public var seed: UInt64 = 1234
    public var logEvery = 10
    public var evalEvery = 250
    /// Validation windows (non-overlapping, from the start of valid.txt).
    public var evalWindows = 64
    public var checkpointEvery = 500

    /// The largest batch size on any machine (the memory of a step is checked with the model).
    public static let batchSizeLimit = 1 << 24

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })

    enum CodingKeys: String, CodingKey, CaseIterable {
        case batchSize = "batch_size", accumulationSteps = "accumulation_steps", steps, learningRate = "learning_rate", warmupSteps = "warmup_steps"
        case minimumLearningRateRatio = "min_lr_ratio", weightDecay = "weight_decay", beta1, beta2, epsilon
        case gradientClip = "grad_clip", seed, logEvery = "log_every", evalEvery = "eval_every"
        case evalWindows = "eval_windows", checkpointEvery = "checkpoint_every"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = OptimizationConfiguration()
        batchSize = try c.value(.batchSize, default: d.batchSize)
        accumulationSteps = try c.value(.accumulationSteps, default: d.accumulationSteps)
        steps = try c.value(.steps, default: d.steps)
        learningRate = try c.value(.learningRate, default: d.learningRate)
        warmupSteps = try c.value(.warmupSteps, default: d.warmupSteps)
        minimumLearningRateRatio = try c.value(.minimumLearningRateRatio, default: d.minimumLearningRateRatio)
        weightDecay = try c.value(.weightDecay, default: d.weightDecay)
        beta1 = try c.value(.beta1, default: d.beta1)
        beta2 = try c.value(.beta2, default: d.beta2)
        epsilon = try c.value(.epsilon, default: d.epsilon)
        gradientClip = try c.value(.gradientClip, default: d.gradientClip)
        seed = try c.value(.seed, default: d.seed)
        logEvery = try c.value(.logEvery, default: d.logEvery)
        evalEvery = try c.value(.evalEvery, default: d.evalEvery)
        evalWindows = try c.value(.evalWindows, default: d.evalWindows)
        checkpointEvery = try c.value(.checkpointEvery, default: d.checkpointEvery)
    }

    public func validate() throws {
        func atLeast(_ value: Int, _ minimum: Int, _ field: String) throws {
            if value < minimum { throw ConfigurationValueError(field: "training.\(field)", reason: "must be at least \(minimum), got \(value)") }
        }
        try atLeast(batchSize, 1, "batch_size")
        if batchSize > Self.batchSizeLimit {
            throw ConfigurationValueError(field: "training.batch_size", reason: "must be at most \(Self.batchSizeLimit), got \(batchSize)")
        }
        try atLeast(accumulationSteps, 1, "accumulation_steps")
        if batchSize % accumulationSteps != 0 {
            throw ConfigurationValueError(field: "training.accumulation_steps",
                                          reason: "must divide batch_size (\(batchSize)) into equal micro-batches, got \(accumulationSteps)")
        }
        try atLeast(steps, 1, "steps")
        try atLeast(warmupSteps, 0, "warmup_steps")
        try atLeast(logEvery, 1, "log_every")
        try atLeast(evalEvery, 1, "eval_every")
        try atLeast(evalWindows, 1, "eval_windows")
        try atLeast(checkpointEvery, 1, "checkpoint_every")
        if !(learningRate > 0 && learningRate.isFinite) { throw ConfigurationValueError(field: "training.learning_rate", reason: "must be positive, got \(learningRate)") }
        if !(minimumLearningRateRatio >= 0 && minimumLearningRateRatio <= 1) { throw ConfigurationValueError(field: "training.min_lr_ratio", reason: "must be in [0, 1], got \(minimumLearningRateRatio)") }
        if !(weightDecay >= 0) { throw ConfigurationValueError(field: "training.weight_decay", reason: "must be non-negative, got \(weightDecay)") }
        if !(beta1 >= 0 && beta1 < 1) { throw ConfigurationValueError(field: "training.beta1", reason: "must be in [0, 1), got \(beta1)") }
        if !(beta2 >= 0 && beta2 < 1) { throw ConfigurationValueError(field: "training.beta2", reason: "must be in [0, 1), got \(beta2)") }
        if !(epsilon > 0) { throw ConfigurationValueError(field: "training.epsilon", reason: "must be positive, got \(epsilon)") }
        if !(gradientClip >= 0) { throw ConfigurationValueError(field: "training.grad_clip", reason: "must be non-negative, got \(gradientClip)") }
    }
}
