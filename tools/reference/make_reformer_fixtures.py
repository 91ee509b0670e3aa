#!/usr/bin/env python3
"""Writes Reformer reference fixtures from transformers' LSHSelfAttention, LocalSelfAttention and
AxialPositionEmbeddings.

    .venv-reference/bin/python tools/reference/make_reformer_fixtures.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. Each case writes
NAME.safetensors and NAME.json as described in Tests/GlanceAttentionTests/Fixtures/README.md.
The layers run in eval mode (dropout off) in float64 on float32-representable inputs and
weights. LSH cases save the random rotations the layer drew in `_hash_vectors` (`rotations`,
[heads, head_size, num_hashes, directions], float32-representable) so that Glance hashes with
the same ones, and the buckets it found (`buckets`, [batch, heads, num_hashes, length]).
`key_padding_mask` (1 real, 0 padding) is the layer's attention_mask when the case has one.
Lengths that are not a multiple of the chunk length are run as Hugging Face's ReformerModel
runs them: padded at the end to a multiple, the padding masked; the fixture keeps the real
positions (`input`, `output`, gradients) only. The axial case has no input: its output is the
embedding of positions 0 ..< length (eval mode), its parameters `weights.0`, `weights.1`.
"""

from importlib import metadata

import torch
import transformers
from fixture_io import recording_randn, run_cases, write_fixture
from transformers import ReformerConfig
from transformers.models.reformer.modeling_reformer import AxialPositionEmbeddings, LocalSelfAttention, LSHSelfAttention


CASES = {
    "reformer_lsh_one_round": dict(kind="lsh", batch=2, heads=2, hidden=16, head_size=8, length=32, chunk=8,
                                   num_hashes=1, num_buckets=4, before=1, after=0, causal=False, padding=False),
    "reformer_lsh_rounds_causal": dict(kind="lsh", batch=2, heads=2, hidden=16, head_size=8, length=48, chunk=8,
                                       num_hashes=3, num_buckets=8, before=1, after=0, causal=True, padding=False),
    "reformer_lsh_factors_padding": dict(kind="lsh", batch=2, heads=2, hidden=12, head_size=6, length=40, chunk=8,
                                         num_hashes=2, num_buckets=[2, 4], before=1, after=1, causal=False, padding=True),
    "reformer_lsh_odd_length": dict(kind="lsh", batch=1, heads=2, hidden=16, head_size=8, length=37, chunk=8,
                                    num_hashes=2, num_buckets=4, before=1, after=0, causal=True, padding=False),
    "reformer_lsh_short": dict(kind="lsh", batch=2, heads=2, hidden=16, head_size=8, length=6, chunk=8,
                               num_hashes=2, num_buckets=4, before=1, after=0, causal=False, padding=True),
    "reformer_local": dict(kind="local", batch=2, heads=2, hidden=16, head_size=8, length=32, chunk=8,
                           before=1, after=0, causal=False, padding=False),
    "reformer_local_odd_causal_padding": dict(kind="local", batch=2, heads=2, hidden=12, head_size=6, length=37, chunk=8,
                                              before=1, after=1, causal=True, padding=True),
    "reformer_local_short": dict(kind="local", batch=1, heads=2, hidden=16, head_size=8, length=5, chunk=8,
                                 before=1, after=0, causal=True, padding=False),
    "reformer_axial_positions": dict(kind="axial", hidden=10, axial_pos_shape=[3, 4], axial_pos_embds_dim=[4, 6], length=10),
}


def make_config(c):
    return ReformerConfig(
        hidden_size=c["hidden"], num_attention_heads=c["heads"], attention_head_size=c["head_size"],
        lsh_attn_chunk_length=c["chunk"], local_attn_chunk_length=c["chunk"],
        num_hashes=c.get("num_hashes", 1), num_buckets=c.get("num_buckets"),
        lsh_num_chunks_before=c["before"], lsh_num_chunks_after=c["after"],
        local_num_chunks_before=c["before"], local_num_chunks_after=c["after"],
        is_decoder=c["causal"], hash_seed=None, lsh_attention_probs_dropout_prob=0.0,
        local_attention_probs_dropout_prob=0.0, max_position_embeddings=4096)


def make_axial_case(name, c, seed, out):
    torch.manual_seed(seed)
    config = ReformerConfig(hidden_size=c["hidden"], axial_pos_shape=c["axial_pos_shape"],
                            axial_pos_embds_dim=c["axial_pos_embds_dim"], hidden_dropout_prob=0.0)
    layer = AxialPositionEmbeddings(config).double().eval()
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.copy_(torch.randn(parameter.shape).double())
    output = layer(torch.arange(c["length"]).unsqueeze(0))
    output_gradient = torch.randn(output.shape).double()
    (output * output_gradient).sum().backward()
    tensors = {"output": output.detach(), "output_gradient": output_gradient}
    for key, parameter in layer.named_parameters():
        tensors[key] = parameter.detach()
        tensors["grad." + key] = parameter.grad.detach()
    config = dict(c, seed=seed, reference="transformers.AxialPositionEmbeddings", loss="sum(output * output_gradient)",
                  dtype="computed in float64 from float32-representable values, stored as float32",
                  torch_version=torch.__version__, transformers_version=metadata.version("transformers"),
                  inputs=[], parameters=sorted(k for k, _ in layer.named_parameters()))
    write_fixture(out, name, tensors, config)


def make_case(name, c, seed, out):
    if c["kind"] == "axial":
        return make_axial_case(name, c, seed, out)
    torch.manual_seed(seed)
    layer_class = LSHSelfAttention if c["kind"] == "lsh" else LocalSelfAttention
    layer = layer_class(make_config(c)).double().eval()
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.copy_((0.3 * torch.randn(parameter.shape)).double())
    batch, length, chunk = c["batch"], c["length"], c["chunk"]
    padded = length if length <= chunk or length % chunk == 0 else (length + chunk - 1) // chunk * chunk
    x = torch.randn(batch, length, c["hidden"]).double().requires_grad_()
    tokens = torch.ones(batch, padded, dtype=torch.long)
    tokens[:, length:] = 0
    if c["padding"]:
        for b in range(batch):
            hidden = torch.randperm(length - 1)[: length // 4] + 1  # keeps position 0 real
            tokens[b, hidden] = 0
    attention_mask = tokens if (c["padding"] or padded > length) else None
    hidden_states = torch.cat([x, torch.zeros(batch, padded - length, c["hidden"], dtype=torch.float64)], dim=1)

    # Rotations: float32-representable draws, recorded.
    with recording_randn() as drawn:
        result = layer(hidden_states, attention_mask=attention_mask)
    output = result.hidden_states[:, :length]
    output_gradient = torch.randn(output.shape).double()
    (output * output_gradient).sum().backward()

    tensors = {"input": x.detach(), "grad.input": x.grad.detach(), "output": output.detach(), "output_gradient": output_gradient}
    if c["padding"]:
        tensors["key_padding_mask"] = tokens[:, :length].double()
    for key, parameter in layer.named_parameters():
        tensors[key] = parameter.detach()
        tensors["grad." + key] = parameter.grad.detach()
    if c["kind"] == "lsh" and drawn:
        assert len(drawn) == 1, "expected one draw of rotations"
        tensors["rotations"] = drawn[0]
        tensors["buckets"] = result.buckets[:, :, :, :length].double()
    reference = f"transformers.{layer_class.__name__}"
    config = dict(c, seed=seed, padded_length=padded, reference=reference, loss="sum(output * output_gradient)",
                  dtype="computed in float64 from float32-representable values, stored as float32",
                  torch_version=torch.__version__, transformers_version=metadata.version("transformers"),
                  inputs=["input"], parameters=sorted(k for k, _ in layer.named_parameters()))
    write_fixture(out, name, tensors, config)


if __name__ == "__main__":
    run_cases(__doc__, CASES, make_case)
