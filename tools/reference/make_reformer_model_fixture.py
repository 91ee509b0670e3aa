#!/usr/bin/env python3
"""Writes a small random Hugging Face ReformerModelWithLMHead checkpoint and its outputs.

    .venv-reference/bin/python tools/reference/make_reformer_model_fixture.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Writes

- `reformer_model/`: the checkpoint as `save_pretrained` writes it (config.json and
  model.safetensors, float32; no pytorch_model.bin), a transformers 5.24.0
  `ReformerModelWithLMHead` (is_decoder) with 4 layers ["local", "lsh", "local", "lsh"],
  hidden size 16, 2 heads of 8, feed-forward 32 (gelu, chunk_size_feed_forward 4), LSH with
  2 hash rounds, num_buckets as the factors [2, 4], chunk lengths 8 (LSH) and 4 (local),
  axial positions of shape [4, 8] and widths [6, 10], layer_norm_eps 1e-3 (far from the
  1e-5 of a forgotten setting), and a vocabulary of 258 (the 256 bytes after 2 special ids,
  as google/reformer-enwik8);
- `reformer_model_cases.safetensors` and `.json`: for each case NAME, the inputs
  `NAME.input_ids` and `NAME.attention_mask` ([batch, n], as floats), the references
  `NAME.last_hidden_state` [batch, n, 32] (`model.reformer`'s output, after the final
  LayerNorm) and `NAME.logits` [batch, n, 258], and the random rotations each LSH layer drew in
  that forward, `NAME.rotations.layers.<i>` [heads, head size, hashes, directions] for layer
  index i in `attn_layers`. An LSH layer whose (padded) input is no longer than its chunk
  length draws none (Hugging Face uses full attention then), so a case may have fewer.

Cases: `aligned` (n = 24, a multiple of both chunk lengths), `odd` (n = 21; transformers pads
it to 24 with pad_token_id and a masked tail, then cuts the outputs back to 21), `padded_batch`
(two sequences of 19 with an attention_mask of 0 at the end of the second) and `short`
(n = 6: padded to 8, which one LSH chunk covers, so LSH layers attend fully).

The reference runs the float32 weights in float64 with rotations drawn as float32 values, so it
carries no float32 rounding of its own. The JSON records, per case, the smallest gap between
the largest and second largest rotated projection that decided a bucket (`bucket_margin`):
the smaller it is, the closer the float32 hashing of Glance is to choosing another bucket.

Weights: transformers' initialisation, then every tensor redrawn so that attention is far
from uniform and a wrong mask, chunk or position shows: weights N(0, 0.3), embeddings and
axial position weights N(0, 1), LayerNorm weights 1 + N(0, 0.1), biases N(0, 0.1).
"""

import os

import torch
import transformers
from fixture_io import fixture_arguments, randomize_weights, recording_randn, write_model_cases
from transformers import ReformerConfig, ReformerModelWithLMHead

ATTN_LAYERS = ["local", "lsh", "local", "lsh"]

# name -> (rows of token ids, rows of attention masks (None: no mask given))
CASES = {
    "aligned": ([[(i * 37 + 11) % 256 + 2 for i in range(24)]], None),
    "odd": ([[(i * 53 + 5) % 256 + 2 for i in range(21)]], None),
    "padded_batch": ([[(i * 29 + 3) % 256 + 2 for i in range(19)],
                      [(i * 71 + 40) % 256 + 2 for i in range(13)] + [0] * 6],
                     [[1] * 19, [1] * 13 + [0] * 6]),
    "short": ([[72, 101, 108, 108, 111, 33]], None),
}


def make_config():
    return ReformerConfig(
        vocab_size=258, hidden_size=16, num_attention_heads=2, attention_head_size=8, feed_forward_size=32,
        hidden_act="gelu", attn_layers=ATTN_LAYERS, is_decoder=True, layer_norm_eps=1e-3,
        axial_pos_embds=True, axial_pos_shape=[4, 8], axial_pos_embds_dim=[6, 10], max_position_embeddings=32,
        num_hashes=2, num_buckets=[2, 4], lsh_attn_chunk_length=8, local_attn_chunk_length=4,
        lsh_num_chunks_before=1, lsh_num_chunks_after=0, local_num_chunks_before=1, local_num_chunks_after=0,
        chunk_size_feed_forward=4, hash_seed=None, pad_token_id=0, eos_token_id=1, tie_word_embeddings=False,
        hidden_dropout_prob=0.0, local_attention_probs_dropout_prob=0.0, lsh_attention_probs_dropout_prob=0.0)



def bucket_margin(rotations, query_key, factors):
    """Smallest gap, over positions, heads and rounds, between the best and second best of
    [xR ; -xR] within each bucket factor (the decision `argmax` made)."""
    rotated = torch.einsum("bmtd,mdhr->bmhtr", query_key, rotations)
    margin, start = float("inf"), 0
    for factor in factors:
        part = rotated[..., start:start + factor // 2]
        both = torch.cat([part, -part], dim=-1).sort(dim=-1, descending=True).values
        margin = min(margin, (both[..., 0] - both[..., 1]).min().item())
        start += factor // 2
    return margin


def run_case(model, ids, mask):
    """Runs the model, returning last_hidden_state, logits, the rotations per LSH layer index
    and the bucket margin."""
    lsh_layers = [i for i, kind in enumerate(ATTN_LAYERS) if kind == "lsh"]
    captured, margins = {}, []

    def keep_output(module, inputs, output):
        captured["last_hidden_state"] = output[0] if isinstance(output, tuple) else output.last_hidden_state

    def keep_margin(module, args, kwargs, output):
        if output.buckets is not None:
            hidden = kwargs["hidden_states"]
            heads, size = module.num_attention_heads, module.attention_head_size
            query_key = module.query_key(hidden).view(hidden.shape[0], hidden.shape[1], heads, size).transpose(1, 2)
            margins.append(bucket_margin(drawn[-1], query_key, module.num_buckets))

    hooks = [model.reformer.register_forward_hook(keep_output)]
    hooks += [model.reformer.encoder.layers[i].attention.self_attention.register_forward_hook(keep_margin, with_kwargs=True)
              for i in lsh_layers]
    try:
        with recording_randn() as drawn, torch.no_grad():
            out = model(input_ids=torch.tensor(ids), attention_mask=None if mask is None else torch.tensor(mask))
    finally:
        for hook in hooks:
            hook.remove()
    assert len(drawn) in (0, len(lsh_layers)), f"expected one draw per LSH layer, got {len(drawn)}"
    rotations = dict(zip(lsh_layers, drawn))
    return captured["last_hidden_state"], out.logits, rotations, min(margins, default=None)


def main():
    args = fixture_arguments(__doc__)
    assert transformers.__version__ == "5.24.0", f"fixtures are pinned to transformers 5.24.0, found {transformers.__version__}"
    torch.manual_seed(args.seed)
    model = ReformerModelWithLMHead(make_config()).eval()
    randomize_weights(model, "layer_norm.weight", embedding_marker="embeddings")
    folder = os.path.join(args.out, "reformer_model")
    model.save_pretrained(folder, safe_serialization=True)
    reference = model.double()

    tensors, cases = {}, {}
    for name, (ids, mask) in CASES.items():
        hidden, logits, rotations, margin = run_case(reference, ids, mask)
        tensors[f"{name}.input_ids"] = torch.tensor(ids).float()
        tensors[f"{name}.attention_mask"] = (torch.tensor(mask) if mask is not None else torch.ones(len(ids), len(ids[0]))).float()
        tensors[f"{name}.last_hidden_state"] = hidden.float().contiguous()
        tensors[f"{name}.logits"] = logits.float().contiguous()
        for layer, rotation in rotations.items():
            tensors[f"{name}.rotations.layers.{layer}"] = rotation.float().contiguous()
        cases[name] = {"input_ids": ids, "attention_mask": mask, "rotation_layers": sorted(rotations),
                       "bucket_margin": margin}
        print(f"case {name}: last_hidden_state {tuple(hidden.shape)}, logits {tuple(logits.shape)}, "
              f"rotations for layers {sorted(rotations)}, bucket margin {margin}")
    write_model_cases(args.out, "reformer_model_cases", tensors,
                      {"cases": cases, "seed": args.seed, "checkpoint": "reformer_model", "attn_layers": ATTN_LAYERS,
                       "reference": "transformers ReformerModelWithLMHead (eval): logits, and model.reformer's last_hidden_state",
                       "dtype": "float32 weights and rotations, computed in float64, stored as float32"})
    print(f"wrote {folder} and reformer_model_cases")


if __name__ == "__main__":
    main()
