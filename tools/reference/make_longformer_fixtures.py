#!/usr/bin/env python3
"""Writes Longformer reference fixtures from Hugging Face transformers (LongformerSelfAttention).

    .venv-reference/bin/python tools/reference/make_longformer_fixtures.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Each case
writes NAME.safetensors and NAME.json as described in Tests/GlanceAttentionTests/Fixtures/README.md.

The layer is transformers' `LongformerAttention` minus its LayerNorm and residual:
`output = output.dense(self(input))`, i.e. `LongformerSelfAttention` (local query/key/value,
global query_global/key_global/value_global) followed by the output dense layer, which is
what Glance's `Longformer` mechanism computes. Weights are stored under the module's own
names (`self.query.weight`, ..., `output.dense.bias`); `self_output` is the output of
`LongformerSelfAttention` before the dense layer.

Inputs: `input` [B, n, dim]; `attention_mask` [B, n] with transformers' user-facing values
(1 token, 0 padding); `global_attention_mask` [B, n] (1 global, 0 local). The script merges
them as `LongformerModel` does (0 no attention, 1 local, 2 global -> additive mask with
finfo.min for padding and finfo.max for global), and pads the sequence to a multiple of the
layer's `attention_window` with masked rows (random values, to show that they do not matter),
as `LongformerModel._pad_to_window_size` does; outputs and gradients are cut back to n.
Weights are drawn from N(0, 0.25^2) (biases N(0, 0.1^2)) so that attention is far from
uniform. Computed in float64 and stored as float32.

One adjustment for float64: transformers calls `softmax(scores, dtype=torch.float32)`, which in
a float64 run turns the float64 finfo.min of its masks into float32 -inf, so that rows whose
entries are all masked (padded queries, unused global slots) become NaN in the forward pass
(they are then zeroed or dropped) and NaN flows into the gradients (0 * NaN). The script runs
that softmax in float64 instead (`softmax_in_input_dtype`); in float32, the model's own dtype,
the two are the same thing.
"""

import math
from importlib import metadata

import torch
import transformers
from fixture_io import run_cases, write_fixture
from transformers import LongformerConfig
from transformers.models.longformer.modeling_longformer import LongformerAttention


def softmax_in_input_dtype():
    """Makes torch.nn.functional.softmax ignore a float32 `dtype` for float64 inputs (see above)."""
    original = torch.nn.functional.softmax

    def softmax(input, dim=None, _stacklevel=3, dtype=None):
        if input.dtype == torch.float64 and dtype == torch.float32:
            dtype = None
        return original(input, dim=dim, _stacklevel=_stacklevel, dtype=dtype)

    torch.nn.functional.softmax = softmax


# name -> sizes; `windows` is config.attention_window (per layer), `layer` the layer used;
# `padding[b]` the padded positions of entry b, `global[b]` its global positions.
CASES = {
    "longformer_local": dict(batch=2, length=32, heads=2, head_dim=8, windows=[8], layer=0, padding=[[], []], globals=[[], []]),
    "longformer_global": dict(batch=2, length=32, heads=2, head_dim=8, windows=[8], layer=0, padding=[[], []],
                              globals=[[0, 7, 20], [31]]),
    "longformer_padding": dict(batch=2, length=32, heads=2, head_dim=8, windows=[8], layer=0,
                               padding=[[], [10] + list(range(23, 32))], globals=[[2], [0, 5]]),
    "longformer_odd_length": dict(batch=2, length=27, heads=2, head_dim=8, windows=[8], layer=0,
                                  padding=[[], [25, 26]], globals=[[26], []]),
    "longformer_layer_windows": dict(batch=1, length=30, heads=4, head_dim=4, windows=[4, 12], layer=1,
                                     padding=[[]], globals=[[3, 4]]),
    "longformer_wide_window": dict(batch=1, length=20, heads=2, head_dim=8, windows=[48], layer=0,
                                   padding=[[]], globals=[[]]),
}


def make_case(name, c, seed, out):
    torch.manual_seed(seed)
    dim = c["heads"] * c["head_dim"]
    config = LongformerConfig(hidden_size=dim, num_attention_heads=c["heads"], num_hidden_layers=len(c["windows"]),
                              intermediate_size=4 * dim, attention_window=c["windows"],
                              attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0)
    layer = LongformerAttention(config, layer_id=c["layer"]).double()
    layer.eval()
    with torch.no_grad():
        for key, parameter in layer.named_parameters():
            if "LayerNorm" in key:
                continue
            parameter.normal_(0.0, 0.25 if key.endswith("weight") else 0.1)

    batch, n = c["batch"], c["length"]
    x = torch.randn(batch, n, dim, dtype=torch.float64, requires_grad=True)
    attention_mask = torch.ones(batch, n, dtype=torch.float64)
    global_attention_mask = torch.zeros(batch, n, dtype=torch.float64)
    for b in range(batch):
        for i in c["padding"][b]:
            attention_mask[b, i] = 0
        for i in c["globals"][b]:
            global_attention_mask[b, i] = 1

    # LongformerModel: merge, pad to a multiple of the window, build the additive mask.
    window = c["windows"][c["layer"]]
    padded = (n + window - 1) // window * window
    merged = attention_mask * (global_attention_mask + 1)
    merged = torch.nn.functional.pad(merged, (0, padded - n), value=0)
    filler = torch.randn(batch, padded - n, dim, dtype=torch.float64)
    hidden = torch.cat([x, filler], dim=1)
    finfo = torch.finfo(torch.float64)
    additive = torch.zeros(batch, padded, dtype=torch.float64)
    additive[merged == 0] = finfo.min
    additive[merged == 2] = finfo.max
    is_index_masked = additive < 0
    is_index_global_attn = additive > 0
    is_global_attn = bool(is_index_global_attn.flatten().any().item())

    self_output = layer.self(hidden, attention_mask=additive, is_index_masked=is_index_masked,
                             is_index_global_attn=is_index_global_attn, is_global_attn=is_global_attn)[0][:, :n]
    output = layer.output.dense(self_output)
    output_gradient = torch.randn_like(output)
    (output * output_gradient).sum().backward()

    tensors = {"input": x.detach(), "attention_mask": attention_mask, "global_attention_mask": global_attention_mask,
               "self_output": self_output.detach(), "output": output.detach(), "output_gradient": output_gradient,
               "grad.input": x.grad.detach()}
    used = []
    for key, parameter in layer.named_parameters():
        if "LayerNorm" in key:
            continue
        used.append(key)
        tensors[key] = parameter.detach()
        grad = parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)
        tensors["grad." + key] = grad.detach()
    settings = dict(c, dim=dim, attention_window=window, one_sided_window=window // 2, padded_length=padded,
                    seed=seed, reference="transformers LongformerAttention: output.dense(self(input)), no LayerNorm",
                    loss="sum(output * output_gradient)", dtype="computed in float64, stored as float32",
                    scale=1 / math.sqrt(c["head_dim"]), torch_version=torch.__version__,
                    transformers_version=metadata.version("transformers"), parameters=sorted(used))
    write_fixture(out, name, tensors, settings)


if __name__ == "__main__":
    assert transformers.__version__ == "5.24.0", f"fixtures are pinned to transformers 5.24.0, found {transformers.__version__}"
    softmax_in_input_dtype()
    run_cases(__doc__, CASES, make_case)
