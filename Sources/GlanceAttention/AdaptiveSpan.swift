import Foundation
import GlanceCore
import GlanceNN

/// Adaptive Attention Span (Sukhbaatar et al. 2019): causal multi-head attention in which
/// each head learns how far back it looks.
///
/// Head h has a span ratio zₕ ∈ [0, 1] (the span is zₕ·S for the maximum span S). After the
/// softmax, the probability of a key at distance d (query position − key position, 0 for the
/// query's own position) is weighed by the soft mask m(d) = clamp((R + zₕ·S − d)/R, 0, 1)
/// with ramp R, and each row is renormalised, p·m / (Σ p·m + 1e-8), as the authors do. Scores
/// get a learned key position term q·pe[:, S − 1 − d]/√d_head (the authors' `key_pe`, column
/// c for the distance S − 1 − c), shared by every layer of a model unless the options say
/// otherwise. A query sees at most the W nearest positions (itself included), where the
/// window W = S − trim follows the largest span: trim = max(0, min(S − 1, S − ⌈max z·S⌉ − R))
/// rounded down to a multiple of 64, the authors' `get_trim_len`.
///
/// Cost follows the span: of `context.memory` (earlier hidden states) only the last W − 1
/// positions are projected and attended to. The span penalty, loss coefficient × S ×
/// mean(z), is the ``AttentionOutput/auxiliaryLoss`` in training mode; ``afterStep(_:)``
/// clamps z to [0, 1] after each optimizer step.
///
/// Glance's causal attention includes the query's own position, so distance d here is the
/// authors' x + 1: their query attends to the L positions before it, this one to itself
/// and the W − 1 before it.
///
/// With a fixed span (``fixedSpan``), every z is 1 and not trained: the layer is the same
/// model attending over all S positions, with no soft mask, no penalty and no trimming.
public final class AdaptiveSpanAttention: Module, AttentionMechanism, TrainingStepHooks {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    /// z per head, [heads].
    public let spanRatios: Parameter
    /// [headDimensions, maximumSpan]: column c holds the distance maximumSpan − 1 − c. Under
    /// sharing, the same parameter as every other layer's (see ``Module`` on sharing).
    public let keyPositions: Parameter
    public let heads: Int
    /// S, the longest span a head can learn.
    public let maximumSpan: Int
    /// R, the width of the soft mask's ramp.
    public let ramp: Int
    /// Weight of the span penalty.
    public let lossCoefficient: Float
    /// Whether every span is S, untrained (z = 1 is then a frozen parameter).
    public let fixedSpan: Bool

    /// Windows are trimmed by multiples of this many positions (the authors' 64).
    public static let trimStep = 64

    /// - Parameters:
    ///   - initialRatio: the starting z of every head (the authors' `adapt_span_init`).
    ///   - fixedSpan: every span S, not trained; `initialRatio` and `lossCoefficient` then do not apply.
    ///   - sharedKeyPositions: a [modelDimensions / heads, maximumSpan] parameter of another
    ///     layer to use as this layer's key positions; nil: a new one from N(0, 1).
    public init(modelDimensions: Int, heads: Int, maximumSpan: Int, ramp: Int = 32, initialRatio: Float = 0,
                lossCoefficient: Float = 2e-6, fixedSpan: Bool = false, sharedKeyPositions: Parameter? = nil, standardDeviation: Float? = nil,
                outputStandardDeviation: Float? = nil, generator: inout RandomGenerator) throws {
        (query, key, value, output) = try multiHeadProjections(
            modelDimensions: modelDimensions, heads: heads, standardDeviation: standardDeviation,
            outputStandardDeviation: outputStandardDeviation, generator: &generator)
        try requireOption(maximumSpan, atLeast: 1, "span")
        try requireOption(ramp, atLeast: 1, "ramp")
        let positionsShape = [modelDimensions / heads, maximumSpan]
        if let sharedKeyPositions, sharedKeyPositions.shape != positionsShape {
            throw AttentionConfigurationError(field: "shared_key_positions",
                                              reason: "the shared key positions are \(sharedKeyPositions.shape), this layer needs \(positionsShape)")
        }
        self.heads = heads
        self.maximumSpan = maximumSpan
        self.ramp = ramp
        self.lossCoefficient = fixedSpan ? 0 : lossCoefficient
        self.fixedSpan = fixedSpan
        spanRatios = Parameter(Tensor(shape: [heads], repeating: fixedSpan ? 1 : initialRatio), trainable: !fixedSpan)
        keyPositions = sharedKeyPositions ?? Parameter(.randomNormal(shape: positionsShape, standardDeviation: 1, generator: &generator))
        super.init()
    }

    /// Queries per chunk (at least the window): each chunk attends only to the keys its
    /// window reaches. Tests set it to `Int.max` to compare with one unchunked call.
    public var queryChunk = 256

    public static let mechanismName = "adaptive_span"
    public var modelDimensions: Int { query.inputCount }
    public var capabilities: AttentionCapabilities { [.causal, .memory] }

    /// Each head's current span zₕ·S, in positions.
    public var spans: [Float] { spanRatios.value.scalars.map { $0 * Float(maximumSpan) } }

    /// W: the positions a query sees now, itself included (see the type's description).
    public var window: Int {
        let largest = Int((Double(spanRatios.value.max()) * Double(maximumSpan)).rounded(.up)) + ramp
        let trim = Swift.max(0, Swift.min(maximumSpan - 1, maximumSpan - largest)) / Self.trimStep * Self.trimStep
        return maximumSpan - trim
    }

    /// Causal attention over the last W − 1 positions of `context.memory` (when given) and the
    /// input, with the key position term and the span mask; the span penalty in training.
    public func attend(_ input: Tensor, context: AttentionContext) -> AttentionOutput {
        precondition(input.rank == 3 && input.shape[2] == modelDimensions,
                     "AdaptiveSpanAttention expects [batch, length, \(modelDimensions)], got \(input.shape)")
        requireSupport(of: context)
        precondition(context.mask.causal, "the adaptive_span attention mechanism is causal: call it with a causal mask")
        let window = self.window
        var states = input, memoryLength = 0
        if let memory = context.memory {
            precondition(memory.rank == 3 && memory.shape[0] == input.shape[0] && memory.shape[2] == modelDimensions,
                         "AdaptiveSpanAttention memory must be [\(input.shape[0]), length, \(modelDimensions)], got \(memory.shape)")
            memoryLength = Swift.min(memory.shape[1], window - 1)
            if memoryLength > 0 {
                states = concatenate([memory.sliced(alongAxis: 1, (memory.shape[1] - memoryLength)..<memory.shape[1]), input], alongAxis: 1)
            }
        }
        let padding = context.mask.keyPadding.map { rows in rows.map { [Bool](repeating: true, count: memoryLength) + $0 } }
        let (q, k, v) = (query(input).splittingHeads(heads), key(states).splittingHeads(heads), value(states).splittingHeads(heads))
        // Queries in chunks, each against the keys its window reaches: time and memory grow as
        // n·(chunk + W), not n², and follow the learned span.
        let length = input.shape[1], chunk = Swift.max(window, queryChunk)
        var chunks: [Tensor] = []
        for start in stride(from: 0, to: length, by: chunk) {
            let end = Swift.min(length, start + chunk)
            let firstKey = Swift.max(0, memoryLength + start - (window - 1)), lastKey = memoryLength + end
            let queries = chunk >= length ? q : q.sliced(alongAxis: 2, start..<end)
            let keys = firstKey == 0 && lastKey == states.shape[1] ? k : k.sliced(alongAxis: 2, firstKey..<lastKey)
            let values = firstKey == 0 && lastKey == states.shape[1] ? v : v.sliced(alongAxis: 2, firstKey..<lastKey)
            let largestDistance = lastKey - firstKey - 1
            chunks.append(scaledDotProductAttention(
                queries: queries, keys: keys, values: values, causal: true,
                keyPadding: padding.map { rows in rows.map { Array($0[firstKey..<lastKey]) } },
                relativeScores: keyPositionTerm(queries, window: window, largestDistance: largestDistance),
                postSoftmaxMask: fixedSpan ? nil : PostSoftmaxMask(weights: spanMaskWeights(largestDistance: largestDistance), largestDistance: largestDistance)))
        }
        let attended = chunks.count == 1 ? chunks[0] : concatenate(chunks, alongAxis: 2)
        let penalty = isTraining && !fixedSpan ? spanRatios.value.mean() * (lossCoefficient * Float(maximumSpan)) : nil
        return AttentionOutput(output(attended.mergingHeads()), auxiliaryLoss: penalty)
    }

    /// q·pe/√d_head for the distances 0 … W − 1 and −∞ beyond the window, as a term over the
    /// distances `largestDistance` … 0.
    private func keyPositionTerm(_ q: Tensor, window: Int, largestDistance: Int) -> RelativeScoreTerm {
        let columns = Swift.min(window, largestDistance + 1)
        let positions = keyPositions.value.sliced(alongAxis: 1, (maximumSpan - columns)..<maximumSpan)
        let scores = q.matmul(positions) * (1 / Float(q.shape[3]).squareRoot())
        let beyond = largestDistance + 1 - columns
        return RelativeScoreTerm(scores: scores.padded([(0, 0), (0, 0), (0, 0), (beyond, 0)], value: -.infinity),
                                 largestDistance: largestDistance)
    }

    /// The soft mask m(d) = clamp((R + z·S − d)/R, 0, 1) per head for d = `largestDistance` … 0,
    /// [heads, largestDistance + 1]. The gradient reaches z where 0 < (R + z·S − d)/R < 1 (the
    /// bounds excluded, as torch.clamp's).
    func spanMaskWeights(largestDistance: Int) -> Tensor {
        let ratios = spanRatios.value
        let (columns, span, ramp) = (largestDistance + 1, Float(maximumSpan), Float(self.ramp))
        let z = ratios.scalars
        func ramped(_ head: Int, _ column: Int) -> Float { 1 + (z[head] * span - Float(largestDistance - column)) / ramp }
        let weights = Tensor(shape: [heads, columns]) { out in
            for h in 0..<heads {
                for c in 0..<columns { out[h * columns + c] = Swift.min(1, Swift.max(0, ramped(h, c))) }
            }
        }
        return weights.recorded(from: [ratios]) { g in
            let gradient = g.scalars
            let dz = (0..<self.heads).map { h in
                (0..<columns).reduce(Float(0)) { sum, c in
                    let x = ramped(h, c)
                    return x > 0 && x < 1 ? sum + gradient[h * columns + c] : sum
                } * span / ramp
            }
            return [Tensor(dz)]
        }
    }

    /// Clamps z to [0, 1] after the optimizer's update, as the authors' `clamp_param`.
    public func afterStep(_ step: Int) {
        guard !fixedSpan else { return }
        spanRatios.value = spanRatios.value.detached().mappedScalars { Swift.min(1, Swift.max(0, $0)) }
    }
}

/// Adaptive Span's options: `{"type": "adaptive_span", "span": 8192, "ramp": 32}`.
public struct AdaptiveSpanOptions: AttentionOptions {
    public static let mechanism = AdaptiveSpanAttention.mechanismName
    public static let documentation = [
        AttentionOptionDocumentation("span", "integer", default: "maximum length", "Maximum span S: a head sees at most S positions (itself included)."),
        AttentionOptionDocumentation("ramp", "integer", default: "32", "Width R of the soft mask's ramp, at least 1."),
        AttentionOptionDocumentation("init", "number", default: "0", "Initial span ratio z of every head, in [0, 1] (span = z·S)."),
        AttentionOptionDocumentation("loss_coefficient", "number", default: "2e-6", "Weight of the span penalty coefficient × S × mean(z) added to the training loss."),
        AttentionOptionDocumentation("shared_key_positions", "boolean", default: "true", "One learned key position table for all layers (as in the paper) instead of one per layer."),
        AttentionOptionDocumentation("cache", "boolean", default: "false",
                                     "Carry each layer's last W − 1 hidden states (W: the window its current spans reach, at most S) from segment to segment, training on contiguous streams as the authors do; the cache shrinks with the spans."),
        AttentionOptionDocumentation("fixed_span", "boolean", default: "false",
                                     "Every head's span is S and is not trained (the same model with a fixed span, to compare with the learned one): no soft mask, no penalty, no trimming; init and loss_coefficient cannot be given."),
    ]

    /// S (nil: the maximum length).
    public var span: Int?
    public var ramp: Int
    public var initialRatio: Float
    public var lossCoefficient: Float
    public var sharedKeyPositions: Bool
    /// Whether a language model carries each layer's last W − 1 hidden states from segment to segment.
    public var cache: Bool
    /// Whether every span is S, untrained.
    public var fixedSpan: Bool

    public init() { self.init(span: nil) }

    public init(span: Int? = nil, ramp: Int = 32, initialRatio: Float = 0, lossCoefficient: Float = 2e-6, sharedKeyPositions: Bool = true,
                cache: Bool = false, fixedSpan: Bool = false) {
        self.span = span
        self.ramp = ramp
        self.initialRatio = initialRatio
        self.lossCoefficient = lossCoefficient
        self.sharedKeyPositions = sharedKeyPositions
        self.cache = cache
        self.fixedSpan = fixedSpan
    }

    enum CodingKeys: String, CodingKey {
        case span, ramp, initialRatio = "init", lossCoefficient = "loss_coefficient", sharedKeyPositions = "shared_key_positions", cache
        case fixedSpan = "fixed_span"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(span: try c.decodeIfPresent(Int.self, forKey: .span), ramp: try c.option(.ramp, default: 32),
                  initialRatio: try c.option(.initialRatio, default: 0), lossCoefficient: try c.option(.lossCoefficient, default: 2e-6),
                  sharedKeyPositions: try c.option(.sharedKeyPositions, default: true), cache: try c.option(.cache, default: false),
                  fixedSpan: try c.option(.fixedSpan, default: false))
        if fixedSpan, let given = [CodingKeys.initialRatio, .lossCoefficient].first(where: c.contains) {
            throw AttentionConfigurationError(field: given.rawValue, reason: "does not apply with fixed_span: every span is the maximum span, untrained and unpenalised")
        }
    }

    /// The options as decoded; with a fixed span, `fixed_span` instead of the `init` and
    /// `loss_coefficient` that do not apply.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(span, forKey: .span)
        try c.encode(ramp, forKey: .ramp)
        if fixedSpan {
            try c.encode(fixedSpan, forKey: .fixedSpan)
        } else {
            try c.encode(initialRatio, forKey: .initialRatio)
            try c.encode(lossCoefficient, forKey: .lossCoefficient)
        }
        try c.encode(sharedKeyPositions, forKey: .sharedKeyPositions)
        try c.encode(cache, forKey: .cache)
    }

    public func validate(for shape: AttentionShape) throws {
        try requireOption(span, atLeast: 1, "span")
        try requireOption(ramp, atLeast: 1, "ramp")
        guard (0...1).contains(initialRatio) else {
            throw AttentionConfigurationError(field: "init", reason: "must be between 0 and 1, got \(initialRatio)")
        }
        guard lossCoefficient.isFinite, lossCoefficient >= 0 else {
            throw AttentionConfigurationError(field: "loss_coefficient", reason: "must be a finite number ≥ 0, got \(lossCoefficient)")
        }
    }

    /// With shared key positions, the first layer built leaves its table for the others.
    public func make(shape: AttentionShape, build: AttentionBuild, generator: inout RandomGenerator) throws -> any AttentionMechanism {
        let shared = sharedKeyPositions ? build.shared[Self.mechanism] as? Parameter : nil
        let layer = try AdaptiveSpanAttention(
            modelDimensions: shape.modelDimensions, heads: shape.heads, maximumSpan: span ?? shape.maximumLength, ramp: ramp,
            initialRatio: initialRatio, lossCoefficient: lossCoefficient, fixedSpan: fixedSpan, sharedKeyPositions: shared,
            standardDeviation: shape.standardDeviation, outputStandardDeviation: shape.outputStandardDeviation, generator: &generator)
        if sharedKeyPositions && shared == nil { build.shared[Self.mechanism] = layer.keyPositions }
        return layer
    }
}
