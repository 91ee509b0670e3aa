#!/usr/bin/env python3
"""Writes the Lite Transformer (LSRA) fixtures from tools/reference/lsra_reference.py: the
lightweight and dynamic convolutions alone, the LSRA encoder layer (attention branch
nn.MultiheadAttention, convolution branch, flattened feed-forward, post-LN) and decoder layer
(the same, causal, with cross-attention to a padded memory), with random weights, "same" and
causal padding, and padded frames.

    .venv-reference/bin/python tools/reference/make_lsra_fixtures.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Each case
writes NAME.safetensors (input, weights under the reference's names, output,
output_gradient, grad.input, grad.<weight>, and `real`, 1 for a real frame, when padded;
the decoder layer also `memory`, `memory_real` and grad.memory) and NAME.json. Computed in float64 and stored as float32.
"""

import torch
from fixture_io import randomize_weights, run_cases, write_fixture
from lsra_reference import DynamicConv, LightweightConv, LSRADecoderLayer, LSRAEncoderLayer, causal_padding, same_padding

CASES = {
    "lsra_lightweight_conv_same": dict(kind="lightweight", batch=2, length=7, channels=6, heads=3, kernel_size=4, causal=False,
                                       bias=True),
    "lsra_dynamic_conv_causal": dict(kind="dynamic", batch=2, length=7, channels=6, heads=3, kernel_size=5, causal=True, bias=True),
    "lsra_layer_lightweight_padded": dict(kind="layer", conv="lightweight", glu=False, conv_bias=False, batch=2, length=7, d=16,
                                          attention_dims=8, attention_heads=2, conv_heads=2, kernel_size=5, causal=False,
                                          lengths=[7, 4]),
    "lsra_layer_dynamic_padded": dict(kind="layer", conv="dynamic", glu=True, conv_bias=True, batch=2, length=7, d=16,
                                      attention_dims=8, attention_heads=2, conv_heads=4, kernel_size=3, causal=False,
                                      lengths=[5, 7]),
    "lsra_layer_dynamic_causal": dict(kind="layer", conv="dynamic", glu=True, conv_bias=False, batch=2, length=6, d=16,
                                      attention_dims=8, attention_heads=2, conv_heads=2, kernel_size=4, causal=True,
                                      lengths=None),
    "lsra_decoder_layer": dict(kind="decoder", conv="dynamic", glu=True, conv_bias=False, batch=2, length=6, d=16,
                               attention_dims=8, attention_heads=2, conv_heads=2, kernel_size=4, cross_heads=2, causal=True,
                               memory_length=5, memory_lengths=[5, 3]),
}


def make_case(name, c, seed, out):
    torch.manual_seed(seed)
    if c["kind"] == "decoder":
        module = LSRADecoderLayer(c["d"], c["attention_dims"], c["attention_heads"], c["conv_heads"], c["kernel_size"],
                                  c["cross_heads"], conv=c["conv"], glu=c["glu"], conv_bias=c["conv_bias"]).double()
        width = c["d"]
    elif c["kind"] == "layer":
        module = LSRAEncoderLayer(c["d"], c["attention_dims"], c["attention_heads"], c["conv_heads"], c["kernel_size"],
                                  conv=c["conv"], glu=c["glu"], conv_bias=c["conv_bias"]).double()
        width = c["d"]
    else:
        kind = LightweightConv if c["kind"] == "lightweight" else DynamicConv
        module = kind(c["channels"], c["heads"], c["kernel_size"], bias=c["bias"]).double()
        width = c["channels"]
    randomize_weights(module, "norm.weight")
    module.eval()
    x = torch.randn(c["batch"], c["length"], width, dtype=torch.float64, requires_grad=True)
    tensors = {}
    if c["kind"] == "decoder":
        memory = torch.randn(c["batch"], c["memory_length"], width, dtype=torch.float64, requires_grad=True)
        memory_real = torch.arange(c["memory_length"]).unsqueeze(0) < torch.tensor(c["memory_lengths"]).unsqueeze(1)
        tensors["memory_real"] = memory_real.double()
        output = module(x, memory, memory_real)
    elif c["kind"] == "layer":
        real = None
        if c["lengths"] is not None:
            real = torch.arange(c["length"]).unsqueeze(0) < torch.tensor(c["lengths"]).unsqueeze(1)
            tensors["real"] = real.double()
        output = module(x, real, causal=c["causal"])
    else:
        padding_l = causal_padding(c["kernel_size"]) if c["causal"] else same_padding(c["kernel_size"])
        output = module(x, padding_l)
    output_gradient = torch.randn_like(output)
    (output * output_gradient).sum().backward()
    tensors.update({"input": x.detach(), "output": output.detach(), "output_gradient": output_gradient, "grad.input": x.grad.detach()})
    if c["kind"] == "decoder":
        tensors.update({"memory": memory.detach(), "grad.memory": memory.grad.detach()})
    for key, parameter in module.named_parameters():
        tensors[key] = parameter.detach()
        tensors["grad." + key] = parameter.grad.detach()
    config = dict(c, seed=seed, reference="tools/reference/lsra_reference.py", loss="sum(output * output_gradient)",
                  dtype="computed in float64, stored as float32", torch_version=torch.__version__,
                  parameters=sorted(k for k, _ in module.named_parameters()))
    write_fixture(out, name, tensors, config)


if __name__ == "__main__":
    run_cases(__doc__, CASES, make_case)
