#!/usr/bin/env python3
"""Writes Transformer-XL reference fixtures from Hugging Face transformers 4.57.6
(`RelPartialLearnableMultiHeadAttn`, per-layer biases as with untie_r, post-LayerNorm).

    /work/venv-txl/bin/python tools/reference/make_transformer_xl_fixtures.py [--seed 0] [--out DIR]

transformers 4.57.6 is the last release with Transformer-XL and needs its own environment:
python3 -m venv VENV && VENV/bin/pip install -r tools/reference/requirements-transformer-xl.txt.
DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Each case writes
NAME.safetensors and NAME.json (see Tests/GlanceAttentionTests/Fixtures/README.md): `input`
[B, N, d] and `memory` [B, M, d] (Glance's batch-first layout; the layer itself runs
length-first), `positions` (the sinusoidal encodings the layer got, [N + M, d], clamped as
TransfoXLModel clamps pos_seq), the weights under Hugging Face's names, `output` (the layer's
LN(input + attention)), `attention_output` (o_net's output, before the residual),
`output_gradient` and the gradients. The attention mask is the one TransfoXLModel builds
(causal over [memory; input], plus same_length's band). Computed in float32: in float64 the
layer's masked_fill (scores cast to float32, filled with float64's minimum) overflows.
"""

import torch
import transformers
from fixture_io import randomize_weights, run_cases, write_fixture
from transformers.models.deprecated.transfo_xl.modeling_transfo_xl import (PositionalEmbedding,
                                                                           RelPartialLearnableMultiHeadAttn)

# name -> sizes and options; clamp_len and mem_len follow TransfoXLConfig (clamp_len 0: none;
# mem_len only matters with same_length).
CASES = {
    "transformer_xl_no_memory": dict(batch=2, length=7, memory=0, d_model=16, n_head=2, d_head=8,
                                     clamp_len=0, same_length=False, mem_len=0),
    "transformer_xl_memory": dict(batch=2, length=5, memory=6, d_model=12, n_head=3, d_head=5,
                                  clamp_len=0, same_length=False, mem_len=6),
    "transformer_xl_clamp": dict(batch=2, length=5, memory=6, d_model=16, n_head=2, d_head=8,
                                 clamp_len=3, same_length=False, mem_len=6),
    "transformer_xl_same_length": dict(batch=2, length=5, memory=6, d_model=16, n_head=2, d_head=8,
                                       clamp_len=0, same_length=True, mem_len=4),
}


def attention_mask(qlen, mlen, c):
    """TransfoXLModel's dec_attn_mask: [qlen, klen, 1], True where a key is hidden."""
    klen = qlen + mlen
    ones = torch.ones(qlen, klen, dtype=torch.bool)
    mask = torch.triu(ones, 1 + mlen)
    if c["same_length"]:
        mask_len = klen - c["mem_len"]
        mask_shift_len = qlen - mask_len if mask_len > 0 else qlen
        mask = mask + torch.tril(ones, -mask_shift_len)
    return mask[:, :, None]


def make_case(name, c, seed, out):
    torch.manual_seed(seed)
    layer = RelPartialLearnableMultiHeadAttn(c["n_head"], c["d_model"], c["d_head"], dropout=0.0, dropatt=0.0)
    layer.eval()
    randomize_weights(layer, "layer_norm.weight")
    x = torch.randn(c["batch"], c["length"], c["d_model"], requires_grad=True)
    memory = torch.randn(c["batch"], c["memory"], c["d_model"], requires_grad=True)
    klen = c["length"] + c["memory"]
    pos_seq = torch.arange(klen - 1, -1, -1.0)
    if c["clamp_len"] > 0:
        pos_seq.clamp_(max=c["clamp_len"])
    positions = PositionalEmbedding(c["d_model"])(pos_seq)
    captured = {}
    layer.o_net.register_forward_hook(lambda module, args, result: captured.update(attention=result))
    mems = memory.transpose(0, 1) if c["memory"] > 0 else None
    output = layer(x.transpose(0, 1), positions, attn_mask=attention_mask(c["length"], c["memory"], c), mems=mems)[0]
    output = output.transpose(0, 1)
    output_gradient = torch.randn_like(output)
    (output * output_gradient).sum().backward()
    tensors = {"input": x.detach(), "positions": positions[:, 0, :].detach(), "output": output.detach(),
               "attention_output": captured["attention"].transpose(0, 1).detach(),
               "output_gradient": output_gradient, "grad.input": x.grad.detach()}
    if c["memory"] > 0:
        tensors["memory"] = memory.detach()
        tensors["grad.memory"] = memory.grad.detach()
    for key, parameter in layer.named_parameters():
        tensors[key] = parameter.detach()
        tensors["grad." + key] = parameter.grad.detach()
    config = dict(c, seed=seed, reference="transformers.models.deprecated.transfo_xl.RelPartialLearnableMultiHeadAttn",
                  loss="sum(output * output_gradient)", dtype="float32",
                  torch_version=torch.__version__, transformers_version=transformers.__version__,
                  parameters=sorted(k for k, _ in layer.named_parameters()))
    write_fixture(out, name, tensors, config)


if __name__ == "__main__":
    run_cases(__doc__, CASES, make_case)
