import Foundation
import GlanceAttention
import GlanceNN

/// Everything `glance train` needs: the model, the optimization, the data and where to write.
/// JSON keys are snake_case; unknown keys are rejected.
public struct TrainingConfiguration: StrictConfigurationSection, Equatable, Sendable {
    public var model: LanguageModelConfiguration
    public var training: OptimizationConfiguration
    public var data: DataConfiguration
    /// Run folder for checkpoints and logs.
    public var output: String

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = [
        "model": LanguageModelConfiguration.self, "training": OptimizationConfiguration.self,
        "data": DataConfiguration.self, "output": nil,
    ]

    enum CodingKeys: String, CodingKey { case model, training, data, output }

    public init(model: LanguageModelConfiguration = .init(), training: OptimizationConfiguration = .init(),
                data: DataConfiguration, output: String = "runs/charlm") {
        self.model = model
        self.training = training
        self.data = data
        self.output = output
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.value(.model, default: LanguageModelConfiguration())
        training = try c.value(.training, default: OptimizationConfiguration())
        data = try c.decode(DataConfiguration.self, forKey: .data)
        output = try c.value(.output, default: "runs/charlm")
        try validate()
    }

    public func validate() throws {
        try model.validate()
        try training.validate()
    }
}

/// The character-level language model: a pre-LN decoder-only Transformer over bytes. Also the
/// shape of ``TextClassifier``'s encoder (`context` = bytes per document).
public struct LanguageModelConfiguration: StrictConfigurationSection, Equatable, Sendable {
    /// Vocabulary size (256 for bytes).
    public var vocabularySize = 256
    /// Tokens per training window, and the longest context the model reads.
    public var context = 256
    public var layers = 4
    public var modelDimensions = 256
    public var heads = 4
    /// Feed-forward width as a multiple of `modelDimensions`.
    public var feedForwardMultiplier = 4
    public var activation: Activation = .gelu
    /// Residual dropout on embeddings, attention output and feed-forward output.
    public var dropout: Float = 0
    /// The attention mechanism and its options (JSON `{"type": …, options…}`, or a bare name).
    public var attention = AttentionConfiguration.full
    /// "learned" or "sinusoidal" absolute positions.
    public var positions = "learned"
    /// Reversible residual layers (Kitaev et al. 2020): the embeddings are duplicated to a pair (x1, x2)
    /// of width 2·d_model, each block maps it to (x1 + Attention(LN(x2)), x2 + FFN(LN(y1))), and
    /// the backward pass recomputes activations instead of storing them; the final LayerNorm and
    /// the head read the pair (2·d_model). The recomputation replays dropout masks and LSH sort
    /// orders, so gradients equal those of the stored computation.
    public var reversible = false
    /// Feed-forward positions processed at a time (Hugging Face's `chunk_size_feed_forward`;
    /// nil: all at once).
    public var feedForwardChunk: Int? = nil

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })

    /// A former model-level attention option: where it moved, shown with its value.
    public static func movedField(_ key: String, value: Any) -> String? {
        guard let (mechanism, option) = AttentionRegistry.formerOption(named: key) else { return nil }
        let json = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])).map { String(decoding: $0, as: UTF8.self) } ?? "…"
        return "moved into \"attention\": {\"type\": \"\(mechanism)\", \"\(option)\": \(json)}"
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabularySize = "vocab_size", context, layers, modelDimensions = "d_model", heads
        case feedForwardMultiplier = "ffn_multiplier", activation, dropout, attention, positions
        case reversible, feedForwardChunk = "chunk_size_feed_forward"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = LanguageModelConfiguration()
        vocabularySize = try c.value(.vocabularySize, default: d.vocabularySize)
        context = try c.value(.context, default: d.context)
        layers = try c.value(.layers, default: d.layers)
        modelDimensions = try c.value(.modelDimensions, default: d.modelDimensions)
        heads = try c.value(.heads, default: d.heads)
        feedForwardMultiplier = try c.value(.feedForwardMultiplier, default: d.feedForwardMultiplier)
        if c.contains(.activation) {
            let name = try c.decode(String.self, forKey: .activation)
            guard let value = Activation(rawValue: name) else {
                throw ConfigurationValueError(field: "model.activation", reason: "must be one of \(Activation.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
            }
            activation = value
        }
        dropout = try c.value(.dropout, default: d.dropout)
        do {
            attention = try c.decodeIfPresent(AttentionConfiguration.self, forKey: .attention) ?? d.attention
        } catch let error as AttentionConfigurationError {
            throw ConfigurationValueError(field: "model.attention.\(error.field)", reason: error.reason)
        }
        positions = try c.value(.positions, default: d.positions)
        reversible = try c.value(.reversible, default: d.reversible)
        feedForwardChunk = try c.decodeIfPresent(Int.self, forKey: .feedForwardChunk)
    }

    /// What every attention layer shares; layer `layer` of `layers`, GPT-2's init.
    public func attentionShape(layer: Int = 0) -> AttentionShape {
        let std = TransformerBlock.initialStandardDeviation
        return AttentionShape(modelDimensions: modelDimensions, heads: heads, maximumLength: context, layers: layers, layer: layer,
                              standardDeviation: std, outputStandardDeviation: std / Float(2 * layers).squareRoot())
    }

    /// Checks every field, the attention's options included. Whether the mechanism can serve
    /// the model (a causal language model, a bidirectional classifier) is checked when the
    /// model builds its layers.
    public func validate() throws {
        func positive(_ value: Int, _ field: String) throws {
            if value < 1 { throw ConfigurationValueError(field: "model.\(field)", reason: "must be at least 1, got \(value)") }
        }
        try positive(vocabularySize, "vocab_size")
        try positive(context, "context")
        try positive(layers, "layers")
        try positive(heads, "heads")
        try positive(feedForwardMultiplier, "ffn_multiplier")
        if modelDimensions < 1 || modelDimensions % heads != 0 {
            throw ConfigurationValueError(field: "model.d_model", reason: "must be a positive multiple of heads (\(heads)), got \(modelDimensions)")
        }
        if !(dropout >= 0 && dropout < 1) { throw ConfigurationValueError(field: "model.dropout", reason: "must be in [0, 1), got \(dropout)") }
        do {
            try attention.validate(for: attentionShape())
        } catch let error as AttentionConfigurationError {
            throw ConfigurationValueError(field: "model.attention.\(error.field)", reason: error.reason)
        }
        if let feedForwardChunk { try positive(feedForwardChunk, "chunk_size_feed_forward") }
        if positions != "learned" && positions != "sinusoidal" {
            throw ConfigurationValueError(field: "model.positions", reason: "must be 'learned' or 'sinusoidal', got '\(positions)'")
        }
    }
}

/// Optimizer, schedule and bookkeeping of a training run.
public struct OptimizationConfiguration: StrictConfigurationSection, Equatable, Sendable {
    public var batchSize = 32
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

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = Dictionary(
        uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, nil) })

    enum CodingKeys: String, CodingKey, CaseIterable {
        case batchSize = "batch_size", steps, learningRate = "learning_rate", warmupSteps = "warmup_steps"
        case minimumLearningRateRatio = "min_lr_ratio", weightDecay = "weight_decay", beta1, beta2, epsilon
        case gradientClip = "grad_clip", seed, logEvery = "log_every", evalEvery = "eval_every"
        case evalWindows = "eval_windows", checkpointEvery = "checkpoint_every"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = OptimizationConfiguration()
        batchSize = try c.value(.batchSize, default: d.batchSize)
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

/// Where the corpus is: a folder with train.txt, valid.txt and test.txt.
public struct DataConfiguration: StrictConfigurationSection, Equatable, Sendable {
    public var corpus: String

    public static let fields: [String: (any StrictConfigurationSection.Type)?] = ["corpus": nil]

    public init(corpus: String) { self.corpus = corpus }
}
