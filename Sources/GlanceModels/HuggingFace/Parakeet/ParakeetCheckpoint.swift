import Foundation
import GlanceCore
import GlanceNN

/// Loading a Hugging Face `ParakeetForCTC` folder (config.json + model.safetensors, transformers
/// 5.24.0 names) into a ``ConformerCTC``: FastConformer encoder, CTC head.
///
/// Every checkpoint key maps to one Glance parameter (``glanceKey(for:)``); its inverse
/// (``huggingFaceKey(for:)``) names the checkpoint key of each Glance parameter in errors. A
/// key that maps to nothing, a parameter the checkpoint lacks and a shape that does not fit are
/// ``PretrainedCheckpointError``s naming the Hugging Face key. The kernel-1 convolutions
/// (`pointwise_conv1`, `pointwise_conv2`, `ctc_head`) are stored [out, in, 1] and load into
/// ``Linear`` weights [out, in]; BatchNorm's `num_batches_tracked` is dropped.
public enum ParakeetCheckpoint {
    /// The model in `folder`, in evaluation mode.
    public static func load(folder: URL) throws -> ConformerCTC {
        let configuration = try PretrainedCheckpoint.configuration(ParakeetCTCConfiguration.self, in: folder)
        let model = try makeModel(configuration)
        let (url, tensors) = try PretrainedCheckpoint.weights(in: folder, skipping: isBatchCounter)
        try model.update(parameters: try glanceParameters(tensors, of: model, path: url.path))
        model.eval()
        return model
    }

    /// A randomly initialized model of `configuration`'s sizes.
    public static func makeModel(_ configuration: ParakeetCTCConfiguration, seed: UInt64 = 0) throws -> ConformerCTC {
        let encoder = try ConformerEncoder(configuration: configuration.encoder.encoder, seed: seed)
        return ConformerCTC(encoder: encoder, vocabulary: configuration.vocabularySize, blank: configuration.blank, seed: seed)
    }

    /// The checkpoint's tensors under Glance keys, reshaped to Glance layouts, after checking that
    /// they cover `model`'s parameters exactly with the right shapes (errors name `path` and the
    /// Hugging Face keys).
    public static func glanceParameters(_ tensors: [String: Tensor], of model: ConformerCTC, path: String) throws -> [String: Tensor] {
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.key, $0.parameter.shape) })
        var result: [String: Tensor] = [:], unexpected: [String] = []
        for (key, tensor) in tensors where !isBatchCounter(key) {
            guard let glance = glanceKey(for: key), let expected = parameters[glance] else { unexpected.append(key); continue }
            let kernelOne = isKernelOne(glance)
            let found = tensor.shape
            guard found == (kernelOne ? expected + [1] : expected) else {
                throw PretrainedCheckpointError.mismatchedWeight(path: path, key: key, expected: kernelOne ? expected + [1] : expected, found: found)
            }
            result[glance] = kernelOne ? tensor.reshaped(to: expected) : tensor
        }
        guard unexpected.isEmpty else { throw PretrainedCheckpointError.unexpectedWeights(path: path, keys: unexpected.sorted()) }
        let missing = parameters.keys.filter { result[$0] == nil }.map(huggingFaceKey(for:)).sorted()
        guard missing.isEmpty else { throw PretrainedCheckpointError.missingWeights(path: path, keys: missing) }
        return result
    }

    /// Whether `key` is BatchNorm's `num_batches_tracked` (an I64 counter Glance does not use).
    public static func isBatchCounter(_ key: String) -> Bool { key.hasSuffix(".num_batches_tracked") }

    /// Fragments of block keys: Hugging Face's (after `encoder.layers.N.`) and Glance's (after `encoder.blocks.N.`).
    static let blockNames: [(huggingFace: String, glance: String)] = [
        ("feed_forward1.linear1.", "feedForward1.input."), ("feed_forward1.linear2.", "feedForward1.output."),
        ("feed_forward2.linear1.", "feedForward2.input."), ("feed_forward2.linear2.", "feedForward2.output."),
        ("norm_feed_forward1.", "feedForwardNorm1."), ("norm_feed_forward2.", "feedForwardNorm2."), ("norm_self_att.", "attentionNorm."),
        ("norm_conv.", "convolutionNorm."), ("norm_out.", "outputNorm."),
        ("self_attn.q_proj.", "attention.query."), ("self_attn.k_proj.", "attention.key."), ("self_attn.v_proj.", "attention.value."),
        ("self_attn.o_proj.", "attention.output."), ("self_attn.relative_k_proj.", "attention.position."),
        ("self_attn.bias_u", "attention.contentBias"), ("self_attn.bias_v", "attention.positionBias"),
        ("conv.pointwise_conv1.", "convolution.expansion."), ("conv.depthwise_conv.", "convolution.depthwise."),
        ("conv.pointwise_conv2.", "convolution.projection."), ("conv.norm.running_mean", "convolution.norm.runningMean"),
        ("conv.norm.running_var", "convolution.norm.runningVariance"), ("conv.norm.", "convolution.norm."),
    ]

    /// Fixed keys and prefixes outside the blocks.
    static let otherNames: [(huggingFace: String, glance: String)] = [
        ("ctc_head.", "head.projection."), ("encoder.subsampling.linear.", "encoder.subsampling.linear."),
    ]

    /// The Glance key of a Hugging Face key, or nil when it names nothing Glance has.
    public static func glanceKey(for key: String) -> String? {
        if let (from, to) = otherNames.first(where: { key.hasPrefix($0.huggingFace) }) { return to + key.dropFirst(from.count) }
        if let (index, tail) = indexed(key, under: "encoder.subsampling.layers.") {
            guard index == 0 || (index >= 2 && (index - 2) % 3 != 2) else { return nil }
            let convolution = index == 0 ? 0 : 1 + 2 * ((index - 2) / 3) + (index - 2) % 3
            return "encoder.subsampling.convolutions.\(convolution).\(tail)"
        }
        if let (index, tail) = indexed(key, under: "encoder.layers.") {
            guard let (from, to) = blockNames.first(where: { tail.hasPrefix($0.huggingFace) }) else { return nil }
            return "encoder.blocks.\(index).\(to)\(tail.dropFirst(from.count))"
        }
        return nil
    }

    /// The Hugging Face key of a Glance parameter key (the inverse of ``glanceKey(for:)``).
    public static func huggingFaceKey(for key: String) -> String {
        if let names = otherNames.first(where: { key.hasPrefix($0.glance) }) { return names.huggingFace + key.dropFirst(names.glance.count) }
        if let (index, tail) = indexed(key, under: "encoder.subsampling.convolutions.") {
            let layer = index == 0 ? 0 : 2 + 3 * ((index - 1) / 2) + (index - 1) % 2
            return "encoder.subsampling.layers.\(layer).\(tail)"
        }
        if let (index, tail) = indexed(key, under: "encoder.blocks."), let names = blockNames.first(where: { tail.hasPrefix($0.glance) }) {
            return "encoder.layers.\(index).\(names.huggingFace)\(tail.dropFirst(names.glance.count))"
        }
        return key
    }

    /// Whether the Glance parameter is the weight of a Hugging Face kernel-1 convolution.
    static func isKernelOne(_ glanceKey: String) -> Bool {
        glanceKey == "head.projection.weight" || glanceKey.hasSuffix("convolution.expansion.weight")
            || glanceKey.hasSuffix("convolution.projection.weight")
    }

    /// (N, rest) for a key `prefix` + "N." + rest.
    private static func indexed(_ key: String, under prefix: String) -> (Int, String)? {
        guard key.hasPrefix(prefix) else { return nil }
        let rest = key.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]) else { return nil }
        return (index, String(rest[rest.index(after: dot)...]))
    }
}
