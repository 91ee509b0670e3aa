#!/usr/bin/env python3
"""Writes a small random Hugging Face ParakeetForCTC checkpoint, its outputs on a padded batch,
and the gradients of one Conformer block.

    .venv-reference/bin/python tools/reference/make_parakeet_fixtures.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Writes

- `parakeet_ctc/`: the checkpoint as `save_pretrained` writes it (config.json and
  model.safetensors, float32): a transformers 5.24.0 `ParakeetForCTC` with 2 layers, hidden
  size 32, 4 heads, feed-forward 64, convolution kernel 9, 16 mel bins, 8x dw_striding
  subsampling with 8 channels, 11 output units (blank = pad_token_id = 10), dropouts and
  layerdrop 0;
- `parakeet_ctc_cases.safetensors` and `.json`:
  - `input_features` [2, 64, 16] (the second entry's frames from 45 on are zero) and
    `attention_mask` [2, 64] (as floats);
  - `last_hidden_state` [2, 8, 32] and `logits` [2, 8, 11] of the model in eval mode (the
    subsampled lengths are 8 and 6; frames beyond them are padding, not compared), and
    `output_lengths` [2];
  - one block (`encoder.layers.0`) on its own: `block.input` [2, 8, 32], its position
    embeddings and mask as the encoder builds them, `block.output`, the projection
    `block.projection` [2, 8, 32] (zero on padded frames) and, for the loss
    sum(output * projection), `block.grad.input` and `block.grad.NAME` for each of the block's
    parameters NAME (Hugging Face's names within the block).

Weights: every parameter redrawn (LayerNorm and BatchNorm weights 1 + N(0, 0.1), biases
N(0, 0.1), the rest N(0, 0.3)); BatchNorm running means N(0, 0.2) and variances U(0.5, 1.5), so
that evaluation-mode normalization is not the identity. The reference runs the float32 weights
in float64 with eager attention (its softmax kept in float64, see make_longformer_fixtures.py).
"""

import os

import torch
import transformers
from fixture_io import fixture_arguments, randomize_weights, write_model_cases
from make_longformer_fixtures import softmax_in_input_dtype
from transformers import ParakeetCTCConfig, ParakeetEncoderConfig, ParakeetForCTC

LENGTHS = [64, 45]


def main():
    args = fixture_arguments(__doc__)
    assert transformers.__version__ == "5.24.0", f"fixtures are pinned to transformers 5.24.0, found {transformers.__version__}"
    # Eager attention's softmax casts to float32, which turns the float64 finfo.min of padded
    # rows into -inf (a fully padded query row then gives NaN); keep it in float64.
    softmax_in_input_dtype()
    torch.manual_seed(args.seed)
    encoder_config = ParakeetEncoderConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, conv_kernel_size=9,
        subsampling_factor=8, subsampling_conv_channels=8, num_mel_bins=16, dropout=0.0, dropout_positions=0.0,
        layerdrop=0.0, activation_dropout=0.0, attention_dropout=0.0)
    config = ParakeetCTCConfig(encoder_config=encoder_config.to_dict(), vocab_size=11, pad_token_id=10)
    config._attn_implementation = "eager"
    model = ParakeetForCTC(config).eval()
    randomize_weights(model, "norm")
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0.0, 0.2)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 1.5)
    folder = os.path.join(args.out, "parakeet_ctc")
    model.save_pretrained(folder, safe_serialization=True)
    generation = os.path.join(folder, "generation_config.json")
    if os.path.exists(generation):  # GenerationMixin's defaults; Glance reads config.json only
        os.remove(generation)
    reference = model.double()

    frames, bins = max(LENGTHS), encoder_config.num_mel_bins
    features = torch.randn(len(LENGTHS), frames, bins, dtype=torch.float64)
    mask = torch.zeros(len(LENGTHS), frames, dtype=torch.long)
    for row, length in enumerate(LENGTHS):
        mask[row, :length] = 1
        features[row, length:] = 0
    features = features.float().double()
    with torch.no_grad():
        out = reference(input_features=features, attention_mask=mask)
        encoded = reference.encoder(input_features=features, attention_mask=mask)
    output_lengths = encoded.attention_mask.sum(-1)
    tensors = {
        "input_features": features, "attention_mask": mask.double(), "last_hidden_state": encoded.last_hidden_state,
        "logits": out.logits, "output_lengths": output_lengths.double(),
    }
    tensors.update(block_case(reference, features, mask))
    tensors = {k: v.detach().float().contiguous() for k, v in tensors.items()}
    write_model_cases(args.out, "parakeet_ctc_cases", tensors,
                      {"lengths": LENGTHS, "output_lengths": output_lengths.tolist(), "seed": args.seed, "checkpoint": "parakeet_ctc",
                       "reference": "transformers ParakeetForCTC (eval, eager attention): encoder last_hidden_state, logits; "
                                    "encoder.layers.0 on its own with the gradients of sum(output * projection)",
                       "dtype": "float32 weights, computed in float64, stored as float32"})
    print(f"wrote {folder} and parakeet_ctc_cases: hidden {tuple(encoded.last_hidden_state.shape)}, lengths {output_lengths.tolist()}")


def block_case(model, features, mask):
    """The first block on the subsampled, scaled frames, with its input and weight gradients."""
    encoder = model.encoder
    with torch.no_grad():
        hidden = encoder.subsampling(features, mask) * encoder.input_scale
    positions = encoder.encode_positions(hidden)
    valid = model._get_output_attention_mask(mask, target_length=hidden.shape[1])
    attention_mask = valid.unsqueeze(1).expand(-1, hidden.shape[1], -1)
    attention_mask = (attention_mask & attention_mask.transpose(1, 2)).unsqueeze(1)
    block = encoder.layers[0]
    hidden = hidden.float().double().requires_grad_(True)
    output = block(hidden, attention_mask=attention_mask, position_embeddings=positions)
    projection = torch.randn(output.shape, dtype=torch.float64).float().double() * valid[:, :, None]
    (output * projection).sum().backward()
    tensors = {"block.input": hidden, "block.output": output, "block.projection": projection, "block.grad.input": hidden.grad}
    for name, parameter in block.named_parameters():
        tensors[f"block.grad.{name}"] = parameter.grad
    return tensors


if __name__ == "__main__":
    main()
