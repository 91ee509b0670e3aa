#!/usr/bin/env python3
"""Writes a small random Hugging Face LongformerModel checkpoint and its outputs.

    .venv-reference/bin/python tools/reference/make_longformer_model_fixture.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Writes

- `longformer_model/`: the checkpoint as `save_pretrained` writes it (config.json and
  model.safetensors, float32; no pytorch_model.bin), a transformers 5.24.0 `LongformerModel`
  with 2 layers of per-layer windows [4, 8], hidden size 32, 4 heads, vocabulary 100;
- `longformer_model_cases.safetensors` and `.json`: for each case NAME, the inputs
  `NAME.input_ids`, `NAME.attention_mask`, `NAME.global_attention_mask` ([batch, n], as floats)
  and the reference `NAME.last_hidden_state` [batch, n, 32]. The reference runs the float32
  weights in float64 (with transformers' float32 softmax kept in float64, see
  make_longformer_fixtures.py), so it carries no float32 rounding of its own.

Weights: transformers' own initialisation (N(0, 0.02)) with every tensor then scaled up
(weights N(0, 0.3), LayerNorm weights 1 + N(0, 0.1), biases N(0, 0.1)) so that attention is
far from uniform and a wrong mask, window or position shows.
"""

import os

import torch
import transformers
from fixture_io import fixture_arguments, randomize_weights, write_model_cases
from make_longformer_fixtures import softmax_in_input_dtype
from transformers import LongformerConfig, LongformerModel

# name -> (rows of token ids, rows of attention masks (None: all ones), global positions per row)
CASES = {
    "local": ([[0, 31, 45, 7, 88, 12, 9, 64, 23, 51, 17, 3, 2]], None, [[]]),
    "global": ([[0, 5, 99, 42, 42, 42, 8, 13, 21, 34, 55, 89, 10, 11, 12, 2]], None, [[0, 9]]),
    "padded": ([[0, 31, 45, 7, 88, 12, 9, 64, 23, 51, 17, 2],
                [0, 72, 18, 4, 2, 1, 1, 1, 1, 1, 1, 1]],
               [[1] * 12, [1] * 5 + [0] * 7], [[0], [0, 3]]),
    "long": ([[0] + [(i * 37) % 97 + 3 for i in range(38)] + [2]], None, [[0, 20]]),
}


def main():
    args = fixture_arguments(__doc__)
    assert transformers.__version__ == "5.24.0", f"fixtures are pinned to transformers 5.24.0, found {transformers.__version__}"
    softmax_in_input_dtype()
    torch.manual_seed(args.seed)
    config = LongformerConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=64, attention_window=[4, 8], max_position_embeddings=44,
                              type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2, sep_token_id=2,
                              layer_norm_eps=1e-5, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = LongformerModel(config, add_pooling_layer=False).eval()
    randomize_weights(model, "LayerNorm.weight")
    folder = os.path.join(args.out, "longformer_model")
    model.save_pretrained(folder, safe_serialization=True)
    reference = model.double()

    tensors, cases = {}, {}
    for name, (ids, mask, globals_) in CASES.items():
        input_ids = torch.tensor(ids)
        attention_mask = torch.tensor(mask) if mask is not None else torch.ones_like(input_ids)
        global_mask = torch.zeros_like(input_ids)
        for row, positions in enumerate(globals_):
            global_mask[row, positions] = 1
        with torch.no_grad():
            out = reference(input_ids=input_ids, attention_mask=attention_mask, global_attention_mask=global_mask)
        tensors[f"{name}.input_ids"] = input_ids.float()
        tensors[f"{name}.attention_mask"] = attention_mask.float()
        tensors[f"{name}.global_attention_mask"] = global_mask.float()
        tensors[f"{name}.last_hidden_state"] = out.last_hidden_state.float().contiguous()
        cases[name] = {"input_ids": ids, "attention_mask": mask, "global_positions": globals_}
        print(f"case {name}: last_hidden_state {tuple(out.last_hidden_state.shape)}")
    write_model_cases(args.out, "longformer_model_cases", tensors,
                      {"cases": cases, "seed": args.seed, "checkpoint": "longformer_model",
                       "reference": "transformers LongformerModel(add_pooling_layer=False).last_hidden_state",
                       "dtype": "float32 weights, computed in float64, stored as float32"})
    print(f"wrote {folder} and longformer_model_cases")


if __name__ == "__main__":
    main()
