import GlanceCore
import GlanceNN

/// Longformer self-attention (Beltagy et al. 2020): each token attends to a sliding window of
/// its neighbours (optionally dilated per head, optionally looking back only), and chosen
/// global tokens attend to, and are attended by, every token. Time and memory grow as
/// n·(w + g) for a one-sided window w and g global tokens; nothing n×n is formed.
///
/// Layout follows Hugging Face transformers 5.24 `LongformerAttention` without its residual
/// LayerNorm, so that weights map one to one: `self.query`/`key`/`value` →
/// `query`/`key`/`value`, `self.query_global`/`key_global`/`value_global` →
/// `queryGlobal`/`keyGlobal`/`valueGlobal`, `output.dense` → `output` (all with biases).
///
/// - Window: `attentionWindow` is Hugging Face's `attention_window`, the full width 2w (even,
///   positive); a token sees w tokens on each side (w·δ positions away, in steps of δ, for a
///   head with dilation δ), 2w + 1 keys in all. Under a causal mask it sees itself and the
///   w tokens before it (the future half of the same window is masked, as in the allenai
///   autoregressive kernel).
/// - Any length: there is no padding to a multiple of the window; the band simply stops at
///   the sequence edges, which gives what Hugging Face's padded computation gives on the
///   real tokens.
/// - Global tokens (``AttentionContext/globalTokens``): a local token attends, with
///   the local projections, to its band and to every global token (a global token inside
///   the band counts once); a global token's output is replaced by attention of its
///   `queryGlobal` projection to the `keyGlobal`/`valueGlobal` projections of every
///   non-padded token. Not available under a causal mask, nor in a layer built without
///   global projections.
/// - Key padding: padded keys are hidden everywhere; padded queries give zero attention
///   output (before the output projection), as in Hugging Face.
public final class Longformer: Module, AttentionMechanism, ApproximateAttention {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    /// Projections of global attention; nil in a layer built without them (causal use).
    public let queryGlobal: Linear?
    public let keyGlobal: Linear?
    public let valueGlobal: Linear?
    public let output: Linear
    public let heads: Int
    /// Hugging Face's `attention_window`: 2w, even.
    public let attentionWindow: Int
    /// Dilation of each head (δ ≥ 1; 1 everywhere is Hugging Face's pattern).
    public let dilation: [Int]

    /// Checks a window and a dilation as a configuration would give them; errors name the field.
    public static func validate(attentionWindow: Int, dilation: [Int], heads: Int) throws {
        guard attentionWindow > 0, attentionWindow % 2 == 0 else {
            throw AttentionConfigurationError(field: "attention_window",
                                              reason: "must be a positive even number (2w: w tokens on each side), got \(attentionWindow)")
        }
        guard dilation.count == 1 || dilation.count == heads else {
            throw AttentionConfigurationError(field: "attention_dilation",
                                              reason: "needs one value or one per head (\(heads)), got \(dilation.count)")
        }
        if let bad = dilation.first(where: { $0 < 1 }) {
            throw AttentionConfigurationError(field: "attention_dilation", reason: "must be at least 1, got \(bad)")
        }
    }

    /// - Parameters:
    ///   - attentionWindow: 2w, even (Hugging Face's `attention_window` for this layer).
    ///   - dilation: one δ for all heads or one per head (default 1).
    ///   - globalProjections: whether the layer has the separate global Q/K/V projections
    ///     (default true, as Hugging Face; a causal language model does not need them).
    public init(modelDimensions: Int, heads: Int, attentionWindow: Int, dilation: [Int] = [1], globalProjections: Bool = true,
                standardDeviation: Float? = nil, outputStandardDeviation: Float? = nil, generator: inout RandomGenerator) throws {
        try Self.validate(attentionWindow: attentionWindow, dilation: dilation, heads: heads)
        (query, key, value, output) = try multiHeadProjections(
            modelDimensions: modelDimensions, heads: heads, standardDeviation: standardDeviation,
            outputStandardDeviation: outputStandardDeviation, generator: &generator)
        if globalProjections {
            queryGlobal = Linear(modelDimensions, modelDimensions, standardDeviation: standardDeviation, generator: &generator)
            keyGlobal = Linear(modelDimensions, modelDimensions, standardDeviation: standardDeviation, generator: &generator)
            valueGlobal = Linear(modelDimensions, modelDimensions, standardDeviation: standardDeviation, generator: &generator)
        } else {
            (queryGlobal, keyGlobal, valueGlobal) = (nil, nil, nil)
        }
        self.heads = heads
        self.attentionWindow = attentionWindow
        self.dilation = dilation.count == 1 ? Array(repeating: dilation[0], count: heads) : dilation
        super.init()
    }

    /// A layer over given projections (a checkpoint's), nothing drawn: `global` holds
    /// queryGlobal, keyGlobal and valueGlobal, or nil for a layer without them.
    public init(query: Linear, key: Linear, value: Linear, output: Linear, global: (query: Linear, key: Linear, value: Linear)?,
                heads: Int, attentionWindow: Int, dilation: [Int] = [1]) throws {
        try Self.validate(attentionWindow: attentionWindow, dilation: dilation, heads: heads)
        try checkHeadSplit(modelDimensions: query.inputCount, heads: heads)
        (self.query, self.key, self.value, self.output) = (query, key, value, output)
        (queryGlobal, keyGlobal, valueGlobal) = (global?.query, global?.key, global?.value)
        self.heads = heads
        self.attentionWindow = attentionWindow
        self.dilation = dilation.count == 1 ? Array(repeating: dilation[0], count: heads) : dilation
        super.init()
    }

    public var modelDimensions: Int { query.inputCount }
    /// w: tokens seen on each side.
    public var oneSidedWindow: Int { attentionWindow / 2 }
    public var hasGlobalProjections: Bool { queryGlobal != nil }

    public static let mechanismName = "longformer"
    /// Global tokens need the global projections and bidirectional attention; the check of a
    /// context that asks for both global tokens and causality is in ``attend(_:context:)``.
    public var capabilities: AttentionCapabilities {
        hasGlobalProjections ? [.causal, .bidirectional, .incremental, .globalTokens] : [.causal, .bidirectional, .incremental]
    }

    /// `context.globalTokens[b][i]` marks token i of batch entry b as global (Hugging Face's
    /// `global_attention_mask`); padded tokens are never global.
    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        precondition(input.rank == 3 && input.shape[2] == modelDimensions,
                     "Longformer expects [batch, length, \(modelDimensions)], got \(input.shape)")
        requireSupport(of: context)
        if let cache = context.incrementalCache(as: KeyValueCache.self, mechanism: Self.mechanismName) {
            return attendIncrementally(input, cache: cache)
        }
        let mask = context.mask
        let (batch, length) = (input.shape[0], input.shape[1])
        let positions = context.globalTokens.flatMap { globalPositions($0, keyPadding: mask.keyPadding, batch: batch, length: length) }
        precondition(positions == nil || !mask.causal, "Longformer: global attention cannot be used with a causal mask")
        var attended = slidingWindowAttention(queries: query(input), keys: key(input), values: value(input), heads: heads,
                                              window: oneSidedWindow, dilation: dilation, causal: mask.causal,
                                              keyPadding: mask.keyPadding, globalPositions: positions)
        if let positions { attended = attended + globalRows(input, positions: positions, keyPadding: mask.keyPadding) }
        return AttentionOutput(output(attended))
    }

    /// The sliding window alone on per-head q, k, v [batch, heads, n, d] (no global tokens):
    /// what `glance bench --fidelity` compares with exact attention.
    public func approximateAttention(queries: Tensor, keys: Tensor, values: Tensor, mask: AttentionMask) -> Tensor {
        let heads = queries.shape[1]
        return slidingWindowAttention(queries: queries.mergingHeads(), keys: keys.mergingHeads(), values: values.mergingHeads(),
                                      heads: heads, window: oneSidedWindow, dilation: dilation.count == heads ? dilation : [dilation[0]],
                                      causal: mask.causal, keyPadding: mask.keyPadding).splittingHeads(heads)
    }

    /// Reports the window alongside the approximation error.
    public var approximationSettings: [String: Int] { ["window": attentionWindow] }

    /// Positions of the global tokens of each batch entry, padded ones dropped; nil when there are none.
    func globalPositions(_ global: [[Bool]], keyPadding: [[Bool]]?, batch: Int, length: Int) -> [[Int]]? {
        precondition(global.count == batch && global.allSatisfy { $0.count == length }, "global attention mask must be \(batch) × \(length)")
        let positions = (0..<batch).map { b in (0..<length).filter { global[b][$0] && (keyPadding?[b][$0] ?? true) } }
        return positions.allSatisfy(\.isEmpty) ? nil : positions
    }

    /// The global tokens' own attention: queryGlobal of each global token against
    /// keyGlobal/valueGlobal of every non-padded token, placed at the global positions of a
    /// [batch, n, d] tensor that is zero elsewhere.
    func globalRows(_ input: Tensor, positions: [[Int]], keyPadding: [[Bool]]?) -> Tensor {
        let (batch, length) = (input.shape[0], input.shape[1])
        let slots = positions.map(\.count).max()!
        // Batch entries with fewer global tokens fill their slots with position 0 and drop them.
        let indices = IndexTensor(positions.flatMap { $0 + Array(repeating: 0, count: slots - $0.count) }, shape: [batch, slots])
        let globalQueries = queryGlobal!(input.gathered(alongAxis: 1, indices: indices)).splittingHeads(heads)
        let attended = scaledDotProductAttention(queries: globalQueries, keys: keyGlobal!(input).splittingHeads(heads),
                                                 values: valueGlobal!(input).splittingHeads(heads), keyPadding: keyPadding)
        var rows = attended.mergingHeads()
        if positions.contains(where: { $0.count < slots }) {
            let used = positions.flatMap { p in (0..<slots).map { Float($0 < p.count ? 1 : 0) } }
            rows = rows * Tensor(used, shape: [batch, slots, 1])
        }
        return rows.scatterAdding(alongAxis: 1, indices: indices, extent: length)
    }
}

/// Longformer's options: `{"type": "longformer", "window": 512, "dilation": 1}`, with the
/// window given once or per layer, the dilation once, per head or per layer and head.
public struct LongformerOptions: AttentionOptions {
    public static let mechanism = Longformer.mechanismName
    public static let documentation = [
        AttentionOptionDocumentation("window", "integer or list (one per layer)", default: "512",
                                     "Hugging Face's attention_window 2w, even: w tokens on each side (w back when causal)."),
        AttentionOptionDocumentation("dilation", "integer, list (one per head) or list of lists (per layer and head)", default: "1",
                                     "Dilation δ of the window of each head."),
    ]
    public static let formerNames = ["attention_window": "window", "attention_dilation": "dilation"]

    public var window: PerLayerValue
    public var dilation: DilationSetting

    public init() { self.init(window: .all(512)) }

    public init(window: PerLayerValue = .all(512), dilation: DilationSetting = .all(1)) {
        self.window = window
        self.dilation = dilation
    }

    enum CodingKeys: String, CodingKey { case window, dilation }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(window: try c.option(.window, default: .all(512)), dilation: try c.option(.dilation, default: .all(1)))
    }

    public func validate(for shape: AttentionShape) throws {
        if case let .perLayer(values) = window, values.count != shape.layers {
            throw AttentionConfigurationError(field: "window", reason: "needs one value or one per layer (\(shape.layers)), got \(values.count)")
        }
        if let bad = window.values.first(where: { $0 < 2 || $0 % 2 != 0 }) {
            throw AttentionConfigurationError(field: "window",
                                              reason: "must be a positive even number (2w: w tokens on each side, or w back when causal), got \(bad)")
        }
        if let bad = dilation.values.first(where: { $0 < 1 }) {
            throw AttentionConfigurationError(field: "dilation", reason: "must be at least 1, got \(bad)")
        }
        switch dilation {
        case .all: break
        case let .perHead(values) where values.count != shape.heads:
            throw AttentionConfigurationError(field: "dilation", reason: "as a list must give one value per head (\(shape.heads)), got \(values.count)")
        case let .perLayer(rows) where rows.count != shape.layers || rows.contains(where: { $0.count != shape.heads }):
            throw AttentionConfigurationError(field: "dilation",
                                              reason: "as a list of lists must give one list per layer (\(shape.layers)) of one value per head (\(shape.heads))")
        default: break
        }
    }

    /// A causal model has no global tokens, so its layers get no global projections.
    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        try Longformer(modelDimensions: shape.modelDimensions, heads: shape.heads, attentionWindow: window.value(layer: shape.layer),
                       dilation: dilation.heads(layer: shape.layer), globalProjections: !build.required.contains(.causal),
                       standardDeviation: shape.standardDeviation, outputStandardDeviation: shape.outputStandardDeviation,
                       generator: &generator)
    }
}
