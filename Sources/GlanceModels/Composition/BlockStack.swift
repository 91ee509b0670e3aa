import GlanceAttention
import GlanceCore
import GlanceNN

/// The blocks of a model, run one after another under an attention context; their auxiliary
/// losses (a mechanism's penalty) add up. Per-layer contexts carry per-layer state (the
/// caches of incremental decoding, later Transformer-XL's memories).
///
/// A reversible stack (Reformer) duplicates its input to a pair (x1, x2) and maps it through
/// y1 = x1 + Attention(LN(x2)), y2 = x2 + FFN(LN(y1)), returning [y1, y2] (twice the width).
/// Under a plain mask it runs ``reversibleTransformerStack(_:blocks:mask:randomSource:storingActivations:)``,
/// which recomputes activations in the backward pass and carries no auxiliary loss.
public final class BlockStack: Module, RandomAccessCollection {
    public let layers: [TransformerBlock]
    /// Whether the blocks form a reversible residual stack.
    public let reversible: Bool
    /// The stream of the blocks' dropout layers, replayed by the reversible backward pass.
    private let randomSource: RandomSource

    public init(_ layers: [TransformerBlock], reversible: Bool = false, randomSource: RandomSource) {
        precondition(!reversible || layers.allSatisfy { $0.normalization == .preLN }, "a reversible stack needs pre-LN blocks")
        (self.layers, self.reversible, self.randomSource) = (layers, reversible, randomSource)
        super.init()
    }

    /// The `c.layers` blocks of ``TransformerBlock/stack(_:required:source:generator:)``, reversible when `c` says so.
    convenience init(_ c: LanguageModelConfiguration, required: AttentionCapabilities, source: RandomSource,
                     generator: inout RandomGenerator) throws {
        self.init(try TransformerBlock.stack(c, required: required, source: source, generator: &generator), reversible: c.reversible,
                  randomSource: source)
    }

    public var startIndex: Int { layers.startIndex }
    public var endIndex: Int { layers.endIndex }
    public subscript(index: Int) -> TransformerBlock { layers[index] }

    /// The width of the output for inputs of width `modelDimensions`.
    public func outputDimensions(modelDimensions: Int) -> Int { reversible ? 2 * modelDimensions : modelDimensions }

    /// Every block under the same `context`.
    public func forward(_ x: Tensor, context: AttentionContext) -> AttentionOutput {
        forward(x, layerContexts: Array(repeating: context, count: layers.count))
    }

    /// Block i under `layerContexts[i]`; the output carries the sum of the auxiliary losses.
    public func forward(_ x: Tensor, layerContexts: [AttentionContext]) -> AttentionOutput {
        precondition(layerContexts.count == layers.count, "\(layerContexts.count) contexts for \(layers.count) blocks")
        guard reversible else {
            var result = AttentionOutput(x)
            for (block, context) in zip(layers, layerContexts) {
                let step = block.forward(result.output, context: context)
                result = AttentionOutput(step.output, auxiliaryLoss: summing(result.auxiliaryLoss, step.auxiliaryLoss))
            }
            return result
        }
        if let context = layerContexts.first, layerContexts.allSatisfy({ $0.cache == nil }) {
            precondition(context.requiredCapabilities.isSubset(of: [.causal, .bidirectional]),
                         "a reversible stack takes an attention mask or caches, nothing else")
            return AttentionOutput(reversibleTransformerStack(concatenate([x, x], alongAxis: 2), blocks: layers, mask: context.mask,
                                                              randomSource: randomSource))
        }
        var (x1, x2) = (x, x)
        var auxiliaryLoss: Tensor? = nil
        for (block, context) in zip(layers, layerContexts) {
            let branch = block.attentionSublayer(x2, context: context)
            x1 = x1 + branch.output
            x2 = x2 + block.feedForwardSublayer(x1)
            auxiliaryLoss = summing(auxiliaryLoss, branch.auxiliaryLoss)
        }
        return AttentionOutput(concatenate([x1, x2], alongAxis: 2), auxiliaryLoss: auxiliaryLoss)
    }

    /// Whether every block's attention decodes incrementally (``AttentionCapabilities/incremental``).
    public var supportsIncrementalDecoding: Bool {
        layers.allSatisfy { $0.attention.capabilities.contains(.incremental) }
    }

    /// One empty cache per block for `batch` sequences; throws an ``AttentionCapabilityError``
    /// naming the first mechanism that cannot decode incrementally.
    public func makeCaches(batch: Int) throws -> [any AttentionCache] {
        try layers.map { try $0.attention.makeCache(batch: batch) }
    }

    /// Block i under a causal context with `caches[i]`: the next positions after those the caches hold.
    public func forward(_ x: Tensor, caches: [any AttentionCache]) -> AttentionOutput {
        forward(x, layerContexts: caches.map { AttentionContext(mask: .causal, cache: $0) })
    }
}

extension AttentionOutput {
    /// `loss` plus the auxiliary loss, or `loss` when there is none.
    func addingAuxiliaryLoss(to loss: Tensor) -> Tensor {
        auxiliaryLoss.map { loss + $0 } ?? loss
    }
}

/// The sum of two optional losses (nil when both are).
func summing(_ a: Tensor?, _ b: Tensor?) -> Tensor? {
    guard let a, let b else { return a ?? b }
    return a + b
}
