#!/usr/bin/env python3
"""Writes Linformer reference fixtures from lucidrains `linformer` (LinformerSelfAttention).

    .venv-reference/bin/python tools/reference/make_linformer_fixtures.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Each case
writes NAME.safetensors (inputs, weights under the package's own names, output,
output_gradient, grad.input, grad.<weight>) and NAME.json (configuration and versions);
see Tests/GlanceAttentionTests/Fixtures/README.md. Computed in float64 and stored as
float32, so the fixtures carry no float32 rounding of the reference.
"""

from importlib import metadata

import torch
from fixture_io import run_cases, write_fixture
from linformer import LinformerSelfAttention


# name -> (batch, seq_len (maximum n), input length, heads, dim_head, k, share_kv, one_kv_head)
CASES = {
    "linformer_headwise": dict(batch=2, seq_len=64, length=64, heads=2, dim_head=8, k=16, share_kv=False, one_kv_head=False),
    "linformer_shorter": dict(batch=2, seq_len=64, length=50, heads=2, dim_head=8, k=16, share_kv=False, one_kv_head=False),
    "linformer_share_kv": dict(batch=2, seq_len=64, length=64, heads=2, dim_head=8, k=16, share_kv=True, one_kv_head=False),
    "linformer_one_kv_head": dict(batch=1, seq_len=32, length=32, heads=4, dim_head=4, k=8, share_kv=False, one_kv_head=True),
}


def make_case(name, c, seed, out):
    torch.manual_seed(seed)
    dim = c["heads"] * c["dim_head"]
    layer = LinformerSelfAttention(dim, c["seq_len"], k=c["k"], heads=c["heads"], dim_head=c["dim_head"],
                                   one_kv_head=c["one_kv_head"], share_kv=c["share_kv"], dropout=0.0).double()
    layer.eval()
    x = torch.randn(c["batch"], c["length"], dim, dtype=torch.float64, requires_grad=True)
    output = layer(x)
    output_gradient = torch.randn_like(output)
    (output * output_gradient).sum().backward()
    tensors = {"input": x.detach(), "output": output.detach(), "output_gradient": output_gradient,
               "grad.input": x.grad.detach()}
    for key, parameter in layer.named_parameters():
        tensors[key] = parameter.detach()
        tensors["grad." + key] = parameter.grad.detach()
    config = dict(c, dim=dim, seed=seed, reference="linformer.LinformerSelfAttention",
                  loss="sum(output * output_gradient)", dtype="computed in float64, stored as float32",
                  torch_version=torch.__version__, linformer_version=metadata.version("linformer"),
                  parameters=sorted(k for k, _ in layer.named_parameters()))
    write_fixture(out, name, tensors, config)


if __name__ == "__main__":
    run_cases(__doc__, CASES, make_case)
