#!/usr/bin/env python3
"""Writes LogSparse reference fixtures from logsparse_reference.LogSparseSelfAttention (causal
convolutional queries and keys, the log-sparse pattern as a dense mask, as the authors' code
applies it).

    .venv-reference/bin/python tools/reference/make_logsparse_fixtures.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Each case writes
NAME.safetensors (input, key_padding_mask as 0/1 floats when padded, weights under the module's
names, which are Glance's: query.weight [d, d, K], …, output, output_gradient, grad.input,
grad.<weight>) and NAME.json (configuration, the pattern's key count, versions); see
Tests/GlanceAttentionTests/Fixtures/README.md. Computed in float64 and stored as float32.
"""

import torch
from fixture_io import run_cases, write_fixture
from logsparse_reference import LogSparseSelfAttention, logsparse_mask

# padding: None, "trailing" (the last 6 positions of the second sequence, and one inside it),
# or "random" (each key real with probability 0.7; some queries then see no key at all).
CASES = {
    "logsparse_pure": dict(batch=2, length=37, d_model=16, heads=2, qk_kernel=3, local_window=0, subsequence=None, padding=None),
    "logsparse_window_restart": dict(batch=2, length=45, d_model=16, heads=4, qk_kernel=2, local_window=2, subsequence=8,
                                     padding="trailing"),
    "logsparse_kernel1_random_padding": dict(batch=2, length=64, d_model=12, heads=3, qk_kernel=1, local_window=1,
                                             subsequence=None, padding="random"),
}


def make_case(name, c, seed, out):
    torch.manual_seed(seed)
    layer = LogSparseSelfAttention(c["d_model"], c["heads"], qk_kernel=c["qk_kernel"], local_window=c["local_window"],
                                   subsequence=c["subsequence"]).double()
    # Non-zero biases, so that their gradients are checked too.
    with torch.no_grad():
        for module in (layer.query, layer.key, layer.value, layer.output):
            module.bias.normal_(0, 0.5)
    x = torch.randn(c["batch"], c["length"], c["d_model"], dtype=torch.float64, requires_grad=True)
    padding = None
    if c["padding"] == "trailing":
        padding = torch.ones(c["batch"], c["length"], dtype=torch.bool)
        padding[1, -6:] = False
        padding[1, c["length"] // 3] = False
    elif c["padding"] == "random":
        padding = torch.rand(c["batch"], c["length"]) < 0.7
    output = layer(x, key_padding=padding)
    output_gradient = torch.randn_like(output)
    (output * output_gradient).sum().backward()
    tensors = {"input": x.detach(), "output": output.detach(), "output_gradient": output_gradient,
               "grad.input": x.grad.detach()}
    if padding is not None:
        tensors["key_padding_mask"] = padding.double()
    for key, parameter in layer.named_parameters():
        tensors[key] = parameter.detach()
        tensors["grad." + key] = parameter.grad.detach()
    pattern_entries = int(logsparse_mask(c["length"], c["local_window"], c["subsequence"]).sum())
    config = dict(c, seed=seed, pattern_entries=pattern_entries,
                  reference="tools/reference/logsparse_reference.py LogSparseSelfAttention (dense-masked)",
                  loss="sum(output * output_gradient)", dtype="computed in float64, stored as float32",
                  torch_version=torch.__version__, parameters=sorted(k for k, _ in layer.named_parameters()))
    write_fixture(out, name, tensors, config)


if __name__ == "__main__":
    run_cases(__doc__, CASES, make_case)
