import Foundation
import GlanceNN

/// The fields of a Hugging Face `ParakeetEncoderConfig` (the `encoder_config` of a
/// `ParakeetCTCConfig`) that ``ConformerEncoder`` uses; defaults are transformers 5.24.0's.
/// Dropouts and `max_position_embeddings` are read but do not change inference (positions are
/// computed for any length). ``ParakeetCTCConfiguration/validate()`` refuses what Glance does
/// not build, naming the field.
public struct ParakeetEncoderConfiguration: Codable, Equatable, Sendable {
    public var hiddenSize = 1024
    public var layers = 24
    public var heads = 8
    public var keyValueHeads: Int? = nil
    public var intermediateSize = 4096
    public var hiddenActivation = "silu"
    public var attentionBias = true
    public var convolutionBias = true
    public var convolutionKernelSize = 9
    public var subsamplingFactor = 8
    public var subsamplingChannels = 256
    public var melBins = 80
    public var subsamplingKernelSize = 3
    public var subsamplingStride = 2
    public var dropout: Float = 0.1
    public var scaleInput = true

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", layers = "num_hidden_layers", heads = "num_attention_heads", keyValueHeads = "num_key_value_heads"
        case intermediateSize = "intermediate_size", hiddenActivation = "hidden_act", attentionBias = "attention_bias"
        case convolutionBias = "convolution_bias", convolutionKernelSize = "conv_kernel_size", subsamplingFactor = "subsampling_factor"
        case subsamplingChannels = "subsampling_conv_channels", melBins = "num_mel_bins", subsamplingKernelSize = "subsampling_conv_kernel_size"
        case subsamplingStride = "subsampling_conv_stride", dropout, scaleInput = "scale_input"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ParakeetEncoderConfiguration()
        hiddenSize = try c.value(.hiddenSize, default: d.hiddenSize)
        layers = try c.value(.layers, default: d.layers)
        heads = try c.value(.heads, default: d.heads)
        keyValueHeads = try c.decodeIfPresent(Int.self, forKey: .keyValueHeads)
        intermediateSize = try c.value(.intermediateSize, default: d.intermediateSize)
        hiddenActivation = try c.value(.hiddenActivation, default: d.hiddenActivation)
        attentionBias = try c.value(.attentionBias, default: d.attentionBias)
        convolutionBias = try c.value(.convolutionBias, default: d.convolutionBias)
        convolutionKernelSize = try c.value(.convolutionKernelSize, default: d.convolutionKernelSize)
        subsamplingFactor = try c.value(.subsamplingFactor, default: d.subsamplingFactor)
        subsamplingChannels = try c.value(.subsamplingChannels, default: d.subsamplingChannels)
        melBins = try c.value(.melBins, default: d.melBins)
        subsamplingKernelSize = try c.value(.subsamplingKernelSize, default: d.subsamplingKernelSize)
        subsamplingStride = try c.value(.subsamplingStride, default: d.subsamplingStride)
        dropout = try c.value(.dropout, default: d.dropout)
        scaleInput = try c.value(.scaleInput, default: d.scaleInput)
    }

    /// The Glance encoder of these sizes (8× is FastConformer's dw_striding subsampling).
    public var encoder: ConformerEncoderConfiguration {
        ConformerEncoderConfiguration(features: melBins, subsampling: .depthwiseStriding, subsamplingFactor: subsamplingFactor,
                                      subsamplingChannels: subsamplingChannels, modelDimensions: hiddenSize, layers: layers, heads: heads,
                                      feedForwardDimensions: intermediateSize, kernelSize: convolutionKernelSize, dropout: dropout,
                                      scaleInput: scaleInput)
    }

    /// Throws a ``ConfigurationValueError`` naming the `encoder_config` field Glance cannot build.
    func validate() throws {
        func refuse(_ field: String, _ reason: String) -> ConfigurationValueError {
            ConfigurationValueError(field: "encoder_config.\(field)", reason: reason)
        }
        guard hiddenActivation == "silu" || hiddenActivation == "swish" else {
            throw refuse("hidden_act", "'\(hiddenActivation)' is not supported (the Conformer uses silu)")
        }
        guard attentionBias else { throw refuse("attention_bias", "false is not supported (Glance's Parakeet layers have biases)") }
        guard convolutionBias else { throw refuse("convolution_bias", "false is not supported (Glance's Parakeet layers have biases)") }
        guard subsamplingKernelSize == 3 else { throw refuse("subsampling_conv_kernel_size", "must be 3, got \(subsamplingKernelSize)") }
        guard subsamplingStride == 2 else { throw refuse("subsampling_conv_stride", "must be 2, got \(subsamplingStride)") }
        do { try encoder.validate() } catch let error as ConfigurationValueError {
            let names = ["features": "num_mel_bins", "subsampling_factor": "subsampling_factor", "subsampling_channels": "subsampling_conv_channels",
                         "layers": "num_hidden_layers", "heads": "num_attention_heads", "d_model": "hidden_size", "d_ff": "intermediate_size", "kernel_size": "conv_kernel_size",
                         "dropout": "dropout"]
            throw refuse(names[error.field] ?? error.field, error.reason)
        }
        if let keyValueHeads, keyValueHeads != heads {
            throw refuse("num_key_value_heads", "must equal num_attention_heads (\(heads)), got \(keyValueHeads)")
        }
        guard melBins % subsamplingFactor == 0 else {
            throw refuse("num_mel_bins", "must be a multiple of subsampling_factor (\(subsamplingFactor)), as transformers' linear layer assumes, got \(melBins)")
        }
    }
}

/// A Hugging Face `ParakeetCTCConfig` (config.json of a `ParakeetForCTC` folder): the encoder's
/// configuration, the number of output units and the blank (`pad_token_id`).
public struct ParakeetCTCConfiguration: PretrainedConfiguration, Codable, Equatable, Sendable {
    public var modelType = ""
    public var vocabularySize = 1025
    /// `pad_token_id`: the CTC blank.
    public var blank = 1024
    public var encoder = ParakeetEncoderConfiguration()

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabularySize = "vocab_size", blank = "pad_token_id", encoder = "encoder_config"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ParakeetCTCConfiguration()
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? ""
        vocabularySize = try c.value(.vocabularySize, default: d.vocabularySize)
        blank = try c.value(.blank, default: d.blank)
        encoder = try c.value(.encoder, default: d.encoder)
    }

    public func validate() throws {
        guard modelType == "parakeet_ctc" else {
            throw ConfigurationValueError(field: "model_type", reason: "must be \"parakeet_ctc\" (a ParakeetForCTC folder), got \"\(modelType)\"")
        }
        guard vocabularySize >= 1 else { throw ConfigurationValueError(field: "vocab_size", reason: "must be at least 1, got \(vocabularySize)") }
        guard blank >= 0 && blank < vocabularySize else {
            throw ConfigurationValueError(field: "pad_token_id", reason: "the blank must be one of the \(vocabularySize) units, got \(blank)")
        }
        try encoder.validate()
    }
}
