import GlanceCore
import GlanceNN

/// Lite Transformer's long-short range attention (Wu et al. 2020; lite-transformer's
/// `MultiBranch`): the input's channels are split, the first `attention.modelDimensions` go
/// through an attention mechanism (long range), the rest through a ``ConvolutionBranch``
/// (short range: GLU input projection, lightweight or dynamic convolution, output
/// projection), and the two outputs are concatenated back to the full width.
///
/// The convolution is centred ("same" padding) under a bidirectional mask and looks back
/// only (causal padding) under a causal mask or a cache; key padding zeroes padded frames
/// before it and masks padded keys in the attention branch. Incremental decoding keeps the
/// attention branch's cache and the convolution's last K − 1 frames (``LongShortRangeCache``).
public final class LongShortRangeAttention: Module, AttentionMechanism {
    public static let mechanismName = "lsra"
    /// The attention branch, over the first `attention.modelDimensions` channels.
    public let attention: any AttentionMechanism
    /// The convolution branch, over the remaining channels.
    public let convolutionBranch: ConvolutionBranch

    public init(attention: any AttentionMechanism, convolutionBranch: ConvolutionBranch) {
        self.attention = attention
        self.convolutionBranch = convolutionBranch
        super.init()
    }

    public var modelDimensions: Int { attention.modelDimensions + convolutionBranch.channels }
    /// The attention branch's heads.
    public var heads: Int { attention.heads }
    /// What the attention branch can do of self-attention: either mask, and incremental decoding.
    public var capabilities: AttentionCapabilities { attention.capabilities.intersection([.causal, .bidirectional, .incremental]) }

    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        requireSupport(of: context)
        precondition(input.rank == 3 && input.shape[2] == modelDimensions, "lsra attention expects [batch, length, \(modelDimensions)], got \(input.shape)")
        let split = attention.modelDimensions
        let long = input.sliced(alongAxis: 2, 0..<split), short = input.sliced(alongAxis: 2, split..<modelDimensions)
        var attentionContext = context
        let convolved: Tensor
        if let cache = context.incrementalCache(as: LongShortRangeCache.self, mechanism: Self.mechanismName) {
            attentionContext.cache = cache.attention
            convolved = convolutionBranch.step(short, cache: cache.convolution)
        } else {
            convolved = convolutionBranch(short, padding: context.mask.causal ? .causal : .same, keyPadding: context.mask.keyPadding)
        }
        let attended = attention.attend(long, context: attentionContext)
        return AttentionOutput(concatenate([attended.output, convolved], alongAxis: 2), auxiliaryLoss: attended.auxiliaryLoss)
    }

    public func makeCache(batch: Int) throws -> any AttentionCache {
        LongShortRangeCache(attention: try attention.makeCache(batch: batch), convolution: convolutionBranch.makeCache(batch: batch))
    }
}

/// The state of one ``LongShortRangeAttention`` layer while it decodes: its attention
/// branch's cache and its convolution's last frames.
public final class LongShortRangeCache: ReorderableAttentionCache {
    public let attention: any AttentionCache
    public let convolution: ConvolutionCache

    public init(attention: any AttentionCache, convolution: ConvolutionCache) {
        self.attention = attention
        self.convolution = convolution
    }

    public var length: Int { convolution.length }

    /// Whether the attention branch's cache can be reordered too.
    public var canReorder: Bool { attention.supportsReordering }

    /// Keeps the sequences `rows` of both branches' caches: the attention branch's keys and
    /// values and the convolution's last K − 1 frames.
    public func reorder(_ rows: [Int]) {
        guard let attention = attention as? any ReorderableAttentionCache, attention.canReorder else {
            preconditionFailure("the lsra attention branch's \(type(of: self.attention)) cannot be reordered")
        }
        attention.reorder(rows)
        convolution.reorder(rows)
    }
}

/// The options of ``LongShortRangeAttention``: `{"type": "lsra", "attention": "full",
/// "convolution": "dynamic", "kernel_size": [3, 7, 15, 31, 31, 31], …}`.
public struct LongShortRangeOptions: AttentionOptions {
    public static let mechanism = LongShortRangeAttention.mechanismName
    /// Kernel sizes of the paper's layers (fairseq's `encoder_kernel_size_list`); later layers take the last.
    public static let publishedKernelSizes = [3, 7, 15, 31, 31, 31, 31]
    public static let documentation = [
        AttentionOptionDocumentation("attention", "mechanism", default: "full", "The attention branch's mechanism and its options (any but lsra)."),
        AttentionOptionDocumentation("attention_dimensions", "integer", default: "d_model / 2",
                                     "Channels of the attention branch; the convolution branch takes the rest."),
        AttentionOptionDocumentation("attention_heads", "integer", default: "heads", "Heads of the attention branch."),
        AttentionOptionDocumentation("convolution", "string", default: "lightweight", "lightweight (a kernel per head) or dynamic (a kernel per head and step)."),
        AttentionOptionDocumentation("kernel_size", "integer or list of integers", default: "3, 7, 15, 31, 31, 31, 31 by layer",
                                     "Taps of the convolution, for every layer or one per layer."),
        AttentionOptionDocumentation("convolution_heads", "integer", default: "heads", "Heads of the convolution; each shares a kernel over its channels."),
        AttentionOptionDocumentation("glu", "boolean", default: "true", "Gated linear unit on the branch's input projection (C → 2C)."),
        AttentionOptionDocumentation("weight_softmax", "boolean", default: "true", "Softmax-normalize each kernel over its taps."),
        AttentionOptionDocumentation("weight_dropout", "number", default: "0", "DropConnect probability on the kernels in training."),
        AttentionOptionDocumentation("convolution_bias", "boolean", default: "false", "A bias after the convolution."),
    ]

    public var attention = AttentionConfiguration.full
    /// nil: half the model's width.
    public var attentionDimensions: Int?
    /// nil: the model's heads.
    public var attentionHeads: Int?
    public var convolution = ConvolutionKind.lightweight
    /// nil: ``publishedKernelSizes`` by layer.
    public var kernelSize: PerLayerValue?
    /// nil: the model's heads.
    public var convolutionHeads: Int?
    public var glu = true
    public var weightSoftmax = true
    public var weightDropout: Float = 0
    public var convolutionBias = false

    public init() {}

    enum CodingKeys: String, CodingKey {
        case attention, attentionDimensions = "attention_dimensions", attentionHeads = "attention_heads", convolution
        case kernelSize = "kernel_size", convolutionHeads = "convolution_heads", glu, weightSoftmax = "weight_softmax"
        case weightDropout = "weight_dropout", convolutionBias = "convolution_bias"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        do {
            attention = try c.option(.attention, default: .full)
        } catch let error as AttentionConfigurationError {
            throw AttentionConfigurationError(field: "attention.\(error.field)", reason: error.reason)
        }
        attentionDimensions = try c.decodeIfPresent(Int.self, forKey: .attentionDimensions)
        attentionHeads = try c.decodeIfPresent(Int.self, forKey: .attentionHeads)
        convolution = try c.choice(.convolution, default: .lightweight)
        kernelSize = try c.decodeIfPresent(PerLayerValue.self, forKey: .kernelSize)
        convolutionHeads = try c.decodeIfPresent(Int.self, forKey: .convolutionHeads)
        glu = try c.option(.glu, default: true)
        weightSoftmax = try c.option(.weightSoftmax, default: true)
        weightDropout = try c.option(.weightDropout, default: 0)
        convolutionBias = try c.option(.convolutionBias, default: false)
    }

    /// The attention branch's width for a model of `shape`.
    public func attentionWidth(_ shape: AttentionShape) -> Int { attentionDimensions ?? shape.modelDimensions / 2 }

    /// Taps of layer `layer`'s convolution.
    public func kernelSize(layer: Int) -> Int {
        kernelSize?.value(layer: layer) ?? Self.publishedKernelSizes[Swift.min(layer, Self.publishedKernelSizes.count - 1)]
    }

    /// The attention branch's shape: its width and heads, the model's length and layers.
    public func attentionShape(_ shape: AttentionShape) -> AttentionShape {
        var branch = shape
        branch.modelDimensions = attentionWidth(shape)
        branch.heads = attentionHeads ?? shape.heads
        return branch
    }

    public func validate(for shape: AttentionShape) throws {
        guard attention.type != Self.mechanism else { throw AttentionConfigurationError(field: "attention", reason: "cannot itself be lsra") }
        let width = attentionWidth(shape), convolutionWidth = shape.modelDimensions - attentionWidth(shape)
        guard width >= 1 && convolutionWidth >= 1 else {
            throw AttentionConfigurationError(field: "attention_dimensions",
                                              reason: "must leave both branches at least one channel of d_model \(shape.modelDimensions), got \(width)")
        }
        try requireOption(attentionHeads, atLeast: 1, "attention_heads")
        do {
            try attention.validate(for: attentionShape(shape))
        } catch let error as AttentionConfigurationError {
            throw AttentionConfigurationError(field: "attention.\(error.field)", reason: error.reason)
        }
        if case let .perLayer(sizes) = kernelSize, sizes.count != shape.layers {
            throw AttentionConfigurationError(field: "kernel_size", reason: "needs one value per layer (\(shape.layers)), got \(sizes.count)")
        }
        for size in kernelSize?.values ?? [] { try requireOption(size, atLeast: 1, "kernel_size") }
        let heads = convolutionHeads ?? shape.heads
        guard heads >= 1 && convolutionWidth % heads == 0 else {
            throw AttentionConfigurationError(field: "convolution_heads",
                                              reason: "\(heads) heads must split the convolution branch's \(convolutionWidth) channels evenly")
        }
        guard weightDropout >= 0 && weightDropout < 1 else {
            throw AttentionConfigurationError(field: "weight_dropout", reason: "must be in [0, 1), got \(weightDropout)")
        }
    }

    /// DropConnect draws from `build.randomSource` (the model's dropout stream) when the model gives one.
    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        let branch = try attention.make(shape: attentionShape(shape), build: build, generator: &generator)
        let width = shape.modelDimensions - attentionWidth(shape)
        let source = build.randomSource ?? RandomSource(seed: generator.next())
        let convolutionBranch = ConvolutionBranch(channels: width, heads: convolutionHeads ?? shape.heads, kernelSize: kernelSize(layer: shape.layer),
                                                  kind: convolution, gated: glu, weightSoftmax: weightSoftmax, weightDropout: weightDropout,
                                                  bias: convolutionBias, source: source, generator: &generator)
        return LongShortRangeAttention(attention: branch, convolutionBranch: convolutionBranch)
    }
}
