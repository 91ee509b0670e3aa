/// What a Hugging Face model's weights need in memory, from its config.json alone: checked
/// before anything is allocated, so that a config whose sizes cannot fit is refused with the
/// field that drives it. Three copies of 4 bytes per weight (the file's tensors, the model's
/// parameters, one transient copy) of the largest matrices; one for Longformer, whose model is
/// built around the file's tensors.
extension TransfoXLConfiguration {
    func parameterMemory() -> MemoryEstimate {
        let bytes = 3 * 4
        let dModel = ("d_model", modelDimensions), layers = ("n_layer", self.layers)
        var estimate = MemoryEstimate()
        estimate.add("adaptive embedding and softmax", [("vocab_size", vocabularySize), ("d_embed", embeddingDimensions)], bytesPerElement: 2 * bytes)
        estimate.add("adaptive projections", [("d_embed", embeddingDimensions), dModel, ("clusters", cutoffs.count + 1)], bytesPerElement: 2 * bytes)
        estimate.add("attention projections", [layers, dModel, ("n_head", heads), ("d_head", headDimensions)], bytesPerElement: 5 * bytes)
        estimate.add("feed-forward layers", [layers, dModel, ("d_inner", innerDimensions)], bytesPerElement: 2 * bytes)
        estimate.add("memories and relative encodings", [layers, ("mem_len", memoryLength + 1), dModel], bytesPerElement: 2 * bytes)
        estimate.add("relative encodings", [("clamp_len", clampLength + 1), dModel], bytesPerElement: bytes)
        return estimate
    }
}

extension ReformerModelConfiguration {
    func parameterMemory() -> MemoryEstimate {
        let bytes = 3 * 4
        let hidden = ("hidden_size", hiddenSize), layers = ("attn_layers", self.layers)
        var estimate = MemoryEstimate()
        estimate.add("embedding and output layer", [("vocab_size", vocabularySize), hidden], bytesPerElement: 2 * bytes)
        estimate.add("positions", [("max_position_embeddings", maximumPositions), hidden], bytesPerElement: bytes)
        estimate.add("axial positions", [("axial_pos_shape", axialShape.reduce(0, +)), ("axial_pos_embds_dim", axialDimensions.reduce(0, +))],
                     bytesPerElement: bytes)
        estimate.add("attention projections", [layers, hidden, ("num_attention_heads", heads), ("attention_head_size", attentionHeadSize)],
                     bytesPerElement: 4 * bytes)
        estimate.add("feed-forward layers", [layers, hidden, ("feed_forward_size", feedForwardSize)], bytesPerElement: 2 * bytes)
        // LSH: rotations for at most one bucket per position, and every hash round's sorted copy of the sequence.
        estimate.add("LSH rotations", [layers, ("num_attention_heads", heads), ("attention_head_size", attentionHeadSize), ("num_hashes", hashes),
                                       ("max_position_embeddings", maximumPositions)], bytesPerElement: bytes)
        estimate.add("LSH hash rounds", [("num_hashes", hashes), ("max_position_embeddings", maximumPositions), hidden], bytesPerElement: 4 * bytes)
        return estimate
    }
}

extension LongformerModelConfiguration {
    func parameterMemory() -> MemoryEstimate {
        let bytes = 4
        let hidden = ("hidden_size", hiddenSize), layers = ("num_hidden_layers", self.layers)
        var estimate = MemoryEstimate()
        estimate.add("token embeddings", [("vocab_size", vocabularySize), hidden], bytesPerElement: bytes)
        estimate.add("position embeddings", [("max_position_embeddings", maximumPositions), hidden], bytesPerElement: bytes)
        estimate.add("token type embeddings", [("type_vocab_size", typeVocabularySize), hidden], bytesPerElement: bytes)
        estimate.add("attention projections (local and global)", [layers, hidden, hidden], bytesPerElement: 7 * bytes)
        estimate.add("feed-forward layers", [layers, hidden, ("intermediate_size", intermediateSize)], bytesPerElement: 2 * bytes)
        return estimate
    }
}

extension ParakeetCTCConfiguration {
    func parameterMemory() -> MemoryEstimate {
        let bytes = 3 * 4, e = encoder
        let hidden = ("encoder_config.hidden_size", e.hiddenSize), layers = ("encoder_config.num_hidden_layers", e.layers)
        let channels = ("encoder_config.subsampling_conv_channels", e.subsamplingChannels)
        var estimate = MemoryEstimate()
        estimate.add("attention and convolution projections", [layers, hidden, hidden], bytesPerElement: 8 * bytes)
        estimate.add("feed-forward layers", [layers, hidden, ("encoder_config.intermediate_size", e.intermediateSize)], bytesPerElement: 4 * bytes)
        estimate.add("depthwise convolutions", [layers, hidden, ("encoder_config.conv_kernel_size", e.convolutionKernelSize)], bytesPerElement: bytes)
        estimate.add("subsampling convolutions", [channels, channels, ("encoder_config.subsampling_factor", e.subsamplingFactor)], bytesPerElement: 9 * bytes)
        estimate.add("subsampling projection", [("encoder_config.num_mel_bins", e.melBins), channels, hidden], bytesPerElement: bytes)
        estimate.add("CTC head", [("vocab_size", vocabularySize), hidden], bytesPerElement: bytes)
        return estimate
    }
}
