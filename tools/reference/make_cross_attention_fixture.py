#!/usr/bin/env python3
"""Writes the cross-attention reference fixture from PyTorch's nn.MultiheadAttention.

    .venv-reference/bin/python tools/reference/make_cross_attention_fixture.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. The queries come
from `input` [B, n, dim], keys and values from `source` [B, S, dim] with a key padding mask
(batch_first=True, dropout 0). NAME.safetensors holds the inputs, `key_padding_mask` [B, S]
(0/1 floats in PyTorch's meaning: 1 = padding, ignored), the weights under the module's names
(`in_proj_weight` [3·dim, dim] and `in_proj_bias` [3·dim], query/key/value rows in that order;
`out_proj.weight`, `out_proj.bias`), `output`, `output_gradient` and the gradients `grad.input`,
`grad.source`, `grad.<weight>` of sum(output * output_gradient). Computed in float64 and
stored as float32.
"""

import torch
from fixture_io import run_cases, write_fixture


CASES = {
    # Entry 0 ends in padding, entry 1 has a padded gap; queries and sources differ in length.
    "cross_attention_padded": dict(batch=2, length=5, source_length=7, heads=3, dim=12,
                                   padding=[[5, 6], [2, 3]]),
}


def make_case(name, c, seed, out):
    torch.manual_seed(seed)
    layer = torch.nn.MultiheadAttention(c["dim"], c["heads"], dropout=0.0, batch_first=True).double()
    with torch.no_grad():
        # Non-zero biases, so that each of them matters.
        layer.in_proj_bias.normal_(0.0, 0.5)
        layer.out_proj.bias.normal_(0.0, 0.5)
    x = torch.randn(c["batch"], c["length"], c["dim"], dtype=torch.float64, requires_grad=True)
    source = torch.randn(c["batch"], c["source_length"], c["dim"], dtype=torch.float64, requires_grad=True)
    padding = torch.zeros(c["batch"], c["source_length"], dtype=torch.bool)
    for b, positions in enumerate(c["padding"]):
        padding[b, positions] = True
    output, _ = layer(x, source, source, key_padding_mask=padding, need_weights=False)
    output_gradient = torch.randn_like(output)
    (output * output_gradient).sum().backward()
    tensors = {"input": x.detach(), "source": source.detach(), "key_padding_mask": padding.double(),
               "output": output.detach(), "output_gradient": output_gradient,
               "grad.input": x.grad.detach(), "grad.source": source.grad.detach()}
    for key, parameter in layer.named_parameters():
        tensors[key] = parameter.detach()
        tensors["grad." + key] = parameter.grad.detach()
    config = dict(c, seed=seed, reference="torch.nn.MultiheadAttention(batch_first=True)",
                  loss="sum(output * output_gradient)", dtype="computed in float64, stored as float32",
                  torch_version=torch.__version__, parameters=sorted(k for k, _ in layer.named_parameters()))
    write_fixture(out, name, tensors, config)


if __name__ == "__main__":
    run_cases(__doc__, CASES, make_case)
