#!/usr/bin/env python3
"""Writes Adaptive Span reference fixtures from adaptive_span_reference.AdaptiveSpanAttention
(dense scores over [memory; input], key position term, window, soft mask with renormalisation,
span penalty).

    .venv-reference/bin/python tools/reference/make_adaptive_span_fixtures.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Each case writes
NAME.safetensors (input, memory when given, weights under Glance's names: query.weight, …,
spanRatios, keyPositions; output, penalty, output_gradient, grad.input, grad.memory,
grad.<weight>) and NAME.json (configuration, the window, versions); see
Tests/GlanceAttentionTests/Fixtures/README.md. The loss is sum(output * output_gradient) +
penalty. Computed in float64 and stored as float32.
"""

import torch
from adaptive_span_reference import AdaptiveSpanAttention, window
from fixture_io import run_cases, write_fixture

# span_ratios: the heads' z (one at 0, the authors' init, and one at 1: the mask's kinks at integer
# z·S, where torch.clamp's gradient is 0; other spans away from the kinks, where float32 and float64 disagree).
CASES = {
    "adaptive_span_causal": dict(batch=2, length=12, memory=0, d_model=16, heads=4, span=16, ramp=4,
                                 span_ratios=[0.0, 0.3, 0.65, 1.0], loss_coefficient=0.01),
    "adaptive_span_memory": dict(batch=2, length=8, memory=10, d_model=12, heads=3, span=24, ramp=5,
                                 span_ratios=[0.2, 0.55, 0.9], loss_coefficient=0.01),
    "adaptive_span_trim": dict(batch=2, length=10, memory=70, d_model=16, heads=2, span=100, ramp=6,
                               span_ratios=[0.053, 0.207], loss_coefficient=0.01),
}

# Glance's parameter names for the reference module's.
GLANCE_NAMES = {"span_ratios": "spanRatios", "key_positions": "keyPositions"}


def make_case(name, c, seed, out):
    torch.manual_seed(seed)
    layer = AdaptiveSpanAttention(c["d_model"], c["heads"], c["span"], c["ramp"], c["loss_coefficient"]).double()
    # Non-zero biases, so that their gradients are checked too; the heads' spans as given.
    with torch.no_grad():
        for module in (layer.query, layer.key, layer.value, layer.output):
            module.bias.normal_(0, 0.5)
        layer.span_ratios.copy_(torch.tensor(c["span_ratios"], dtype=torch.float32).double())
    x = torch.randn(c["batch"], c["length"], c["d_model"], dtype=torch.float64, requires_grad=True)
    memory = None
    if c["memory"] > 0:
        memory = torch.randn(c["batch"], c["memory"], c["d_model"], dtype=torch.float64, requires_grad=True)
    output, penalty = layer(x, memory)
    output_gradient = torch.randn_like(output)
    ((output * output_gradient).sum() + penalty).backward()
    tensors = {"input": x.detach(), "output": output.detach(), "penalty": penalty.detach().reshape(1),
               "output_gradient": output_gradient, "grad.input": x.grad.detach()}
    if memory is not None:
        tensors["memory"] = memory.detach()
        tensors["grad.memory"] = memory.grad.detach()
    names = []
    for key, parameter in layer.named_parameters():
        glance = GLANCE_NAMES.get(key, key)
        names.append(glance)
        tensors[glance] = parameter.detach()
        tensors["grad." + glance] = parameter.grad.detach()
    config = dict(c, seed=seed, window=window(layer.span_ratios.detach(), c["span"], c["ramp"]),
                  reference="tools/reference/adaptive_span_reference.py AdaptiveSpanAttention (dense)",
                  loss="sum(output * output_gradient) + penalty", dtype="computed in float64, stored as float32",
                  torch_version=torch.__version__, parameters=sorted(names))
    write_fixture(out, name, tensors, config)


if __name__ == "__main__":
    run_cases(__doc__, CASES, make_case)
