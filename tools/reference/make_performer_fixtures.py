#!/usr/bin/env python3
"""Writes Performer reference fixtures from performer-pytorch (FastAttention, SelfAttention).

    .venv-reference/bin/python tools/reference/make_performer_fixtures.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Each case
writes NAME.safetensors and NAME.json as described in Tests/GlanceAttentionTests/Fixtures/README.md.
The projection matrix is saved (`projection_matrix` for FastAttention cases,
`fast_attention.projection_matrix` for SelfAttention cases) so that Glance uses the same
random features. FastAttention cases take the per-head inputs `q`, `k`, `v` [B, H, n, d]
(gradients `grad.q`, `grad.k`, `grad.v`); SelfAttention cases take `input` [B, n, dim].
Causal cases run performer-pytorch's non-CUDA path (causal_linear_attention_noncuda), the
one it uses on the CPU. Computed in float64 and stored as float32.
"""

from importlib import metadata

import torch
from fixture_io import run_cases, write_fixture
from performer_pytorch import FastAttention, SelfAttention


CASES = {
    "performer_fast_bidirectional": dict(kind="fast", batch=2, heads=2, length=40, dim_head=16, nb_features=32, causal=False, kernel="softmax"),
    "performer_fast_causal": dict(kind="fast", batch=2, heads=2, length=150, dim_head=16, nb_features=24, causal=True, kernel="softmax"),
    "performer_fast_relu": dict(kind="fast", batch=2, heads=2, length=40, dim_head=16, nb_features=32, causal=False, kernel="relu"),
    "performer_fast_relu_causal": dict(kind="fast", batch=1, heads=2, length=70, dim_head=8, nb_features=20, causal=True, kernel="relu"),
    "performer_self_attention": dict(kind="self", batch=2, heads=2, length=32, dim_head=16, nb_features=32, causal=False, kernel="softmax"),
    "performer_self_attention_causal": dict(kind="self", batch=2, heads=2, length=80, dim_head=16, nb_features=32, causal=True, kernel="softmax"),
}


def make_case(name, c, seed, out):
    torch.manual_seed(seed)
    relu = c["kernel"] == "relu"
    tensors = {}
    if c["kind"] == "fast":
        layer = FastAttention(c["dim_head"], nb_features=c["nb_features"], causal=c["causal"],
                              generalized_attention=relu).double()
        shape = (c["batch"], c["heads"], c["length"], c["dim_head"])
        # Queries and keys from N(0, 0.25), values from N(0, 1).
        q = (0.5 * torch.randn(shape, dtype=torch.float64)).requires_grad_()
        k = (0.5 * torch.randn(shape, dtype=torch.float64)).requires_grad_()
        v = torch.randn(shape, dtype=torch.float64, requires_grad=True)
        output = layer(q, k, v)
        inputs = {"q": q, "k": k, "v": v}
    else:
        dim = c["heads"] * c["dim_head"]
        layer = SelfAttention(dim, causal=c["causal"], heads=c["heads"], dim_head=c["dim_head"],
                              nb_features=c["nb_features"], generalized_attention=relu).double()
        x = torch.randn(c["batch"], c["length"], dim, dtype=torch.float64, requires_grad=True)
        output = layer(x)
        inputs = {"input": x}
    layer.eval()
    output_gradient = torch.randn_like(output)
    (output * output_gradient).sum().backward()
    for key, value in inputs.items():
        tensors[key] = value.detach()
        tensors["grad." + key] = value.grad.detach()
    tensors["output"] = output.detach()
    tensors["output_gradient"] = output_gradient
    for key, buffer in layer.named_buffers():
        tensors[key] = buffer.detach()
    for key, parameter in layer.named_parameters():
        tensors[key] = parameter.detach()
        tensors["grad." + key] = parameter.grad.detach()
    reference = "performer_pytorch.FastAttention" if c["kind"] == "fast" else "performer_pytorch.SelfAttention"
    config = dict(c, seed=seed, reference=reference, loss="sum(output * output_gradient)",
                  dtype="computed in float64, stored as float32",
                  torch_version=torch.__version__, performer_pytorch_version=metadata.version("performer-pytorch"),
                  inputs=sorted(inputs), parameters=sorted(k for k, _ in layer.named_parameters()),
                  buffers=sorted(k for k, _ in layer.named_buffers()))
    write_fixture(out, name, tensors, config)


if __name__ == "__main__":
    run_cases(__doc__, CASES, make_case)
