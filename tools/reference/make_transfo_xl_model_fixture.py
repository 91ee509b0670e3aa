#!/usr/bin/env python3
"""Writes small random Hugging Face TransfoXLLMHeadModel checkpoints and their outputs over
two consecutive segments with memory.

    /work/venv-txl/bin/python tools/reference/make_transfo_xl_model_fixture.py [--seed 0] [--out DIR]

transformers 4.57.6 is the last release with Transformer-XL and needs its own environment
(tools/reference/requirements-transformer-xl.txt). Its `TransfoXLModel.forward` calls
`type_as(dtype=…)`, which fails; this script patches `Tensor.type_as` to accept it (4.35.2's
line is `.type_as(dtype=word_emb.dtype)` read as `.to(word_emb.dtype)`).

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. For each variant
VARIANT it writes

- `VARIANT/`: the checkpoint as `save_pretrained` writes it (config.json, model.safetensors),
  2 layers, d_model 16, n_head 2, d_head 8, d_inner 32, vocabulary 40 with cutoffs [10, 20],
  tied weights and projections (tie_projs [false, true, true]);
- `VARIANT_cases.safetensors` and `.json`: `segment1.input_ids` and `segment2.input_ids`
  ([batch, length] as floats) and, for each start START — `zeros` (mems=None: Hugging Face
  starts from zero-filled memories of mem_len) and `empty` (the authors' start: empty memories,
  given to Hugging Face as [0, batch, d_model] tensors) — `START.segmentK.log_probs` [batch,
  length, vocab] (prediction_scores) and `START.segmentK.mems.<layer>` [batch, M, d_model] (the
  new memories, batch first) after segment K; and `grad.<Hugging Face key>`: the gradients of
  the mean NLL of segment 2 (labels = its ids, shifted inside the model) after the zero start's
  segment 1 memories, for a few weights (`loss` is that NLL).

Variants: `transfo_xl_model` (div_val 2, untie_r, post-LN, mem_len 6, no clamping),
`transfo_xl_same_length` (same_length, mem_len 4), `transfo_xl_clamp` (clamp_len 3),
`transfo_xl_shared` (untie_r false: one r_w_bias/r_r_bias pair; pre_lnorm) and
`transfo_xl_div1` (div_val 1, d_embed 12 ≠ d_model: one embedding table and one projection
shared by every cluster of the softmax). Weights: transformers' initialisation, then redrawn
(weights N(0, 0.3), embeddings N(0, 1), LayerNorm weights 1 + N(0, 0.1), biases N(0, 0.1)) so
that a wrong mask or position shows. Computed in float32, in eval mode (no dropout).
"""

import contextlib
import os

import torch
from fixture_io import fixture_arguments, randomize_weights, write_model_cases
from transformers.models.deprecated.transfo_xl import TransfoXLConfig, TransfoXLLMHeadModel

BATCH, LENGTH = 2, 5

BASE = dict(vocab_size=40, cutoffs=[10, 20], d_model=16, d_embed=16, n_head=2, d_head=8, d_inner=32, div_val=2,
            pre_lnorm=False, n_layer=2, mem_len=6, clamp_len=0, same_length=False, proj_share_all_but_first=True,
            attn_type=0, sample_softmax=-1, adaptive=True, dropout=0.0, dropatt=0.0, untie_r=True,
            layer_norm_epsilon=1e-3, eos_token_id=0)

VARIANTS = {
    "transfo_xl_model": {},
    "transfo_xl_same_length": dict(same_length=True, mem_len=4),
    "transfo_xl_clamp": dict(clamp_len=3),
    "transfo_xl_shared": dict(untie_r=False, pre_lnorm=True),
    "transfo_xl_div1": dict(div_val=1, d_embed=12),
}

# Weights whose gradients are stored (Hugging Face keys; tied ones under the embedding's key).
GRADIENT_KEYS = ["transformer.word_emb.emb_layers.0.weight", "transformer.word_emb.emb_projs.0",
                 "transformer.layers.0.dec_attn.qkv_net.weight", "transformer.layers.1.dec_attn.r_net.weight",
                 "transformer.layers.1.pos_ff.CoreNet.0.weight", "crit.cluster_weight", "crit.out_layers.1.bias",
                 "crit.out_projs.0"]


@contextlib.contextmanager
def type_as_accepting_dtype():
    """transformers 4.57.6 calls `tensor.type_as(dtype=…)`; within the block that means `.to(dtype)`."""
    original = torch.Tensor.type_as

    def type_as(self, other=None, dtype=None):
        return self.to(dtype) if other is None else original(self, other)

    torch.Tensor.type_as = type_as
    try:
        yield
    finally:
        torch.Tensor.type_as = original


def batch_first(mems):
    return [m.transpose(0, 1).contiguous() for m in mems]


def run_segments(model, segments, start):
    """Log-probs and new memories of each segment, from zero-filled (`zeros`) or empty memories."""
    config = model.config
    mems = None if start == "zeros" else [torch.zeros(0, BATCH, config.d_model) for _ in range(config.n_layer)]
    results = []
    with torch.no_grad():
        for ids in segments:
            out = model(input_ids=ids, mems=mems)
            mems = out.mems
            results.append((out.prediction_scores, batch_first(mems)))
    return results


def gradients(model, segments):
    """Mean NLL of segment 2 after segment 1 (zero start) and its gradients for GRADIENT_KEYS."""
    with torch.no_grad():
        mems = model(input_ids=segments[0]).mems
    model.zero_grad()
    loss = model(input_ids=segments[1], mems=mems, labels=segments[1]).loss
    loss.backward()
    parameters = dict(model.named_parameters())
    grads = {}
    for key in GRADIENT_KEYS:
        if key in parameters:
            grads[f"grad.{key}"] = parameters[key].grad.detach().clone()
    if not model.config.untie_r:
        grads["grad.transformer.r_w_bias"] = model.transformer.r_w_bias.grad.detach().clone()
    else:
        grads["grad.transformer.layers.0.dec_attn.r_w_bias"] = model.transformer.layers[0].dec_attn.r_w_bias.grad.detach().clone()
    return loss.detach(), grads


def save(model, folder):
    """save_pretrained (safetensors). With untie_r false every layer holds the model's shared
    r_w_bias and r_r_bias, which 4.57.6's save_pretrained refuses to write as shared tensors,
    and which its from_pretrained reads per layer (the layers' copies are not tied back): each
    is written under all its keys (`transformer.r_w_bias` and every layer's
    `dec_attn.r_w_bias`), as copies, as a pytorch_model.bin would hold them."""
    state = None
    if not model.config.untie_r:
        state = {k: v.clone() for k, v in model.state_dict().items()}
    model.save_pretrained(folder, safe_serialization=True, state_dict=state)


def make_variant(name, overrides, seed, out):
    torch.manual_seed(seed)
    config = TransfoXLConfig(**dict(BASE, **overrides))
    model = TransfoXLLMHeadModel(config).eval()
    randomize_weights(model, "layer_norm.weight", embedding_marker="emb_layers")
    model.tie_weights()
    folder = os.path.join(out, name)
    save(model, folder)
    segments = [torch.randint(0, config.vocab_size, (BATCH, LENGTH)) for _ in range(2)]
    tensors = {f"segment{k + 1}.input_ids": ids.float() for k, ids in enumerate(segments)}
    for start in ("zeros", "empty"):
        for k, (log_probs, mems) in enumerate(run_segments(model, segments, start)):
            tensors[f"{start}.segment{k + 1}.log_probs"] = log_probs
            for layer, memory in enumerate(mems):
                tensors[f"{start}.segment{k + 1}.mems.{layer}"] = memory
    reloaded = TransfoXLLMHeadModel.from_pretrained(folder).eval()
    for (expected, _), (actual, _) in zip(run_segments(model, segments, "zeros"), run_segments(reloaded, segments, "zeros")):
        assert torch.equal(expected, actual), f"{name}: the saved checkpoint does not reproduce the model"
    loss, grads = gradients(model, segments)
    tensors.update(grads)
    tensors["loss"] = loss.reshape(1)
    tensors = {k: v.detach().float().contiguous() for k, v in tensors.items()}
    write_model_cases(out, name + "_cases", tensors,
                      {"checkpoint": name, "seed": seed, "overrides": overrides, "batch": BATCH, "length": LENGTH,
                       "gradient_keys": sorted(k for k in tensors if k.startswith("grad.")),
                       "reference": "transformers.models.deprecated.transfo_xl TransfoXLLMHeadModel (eval, float32)",
                       "loss": "mean NLL of segment 2 (labels = input_ids) after segment 1's memories (zero start)"})
    print(f"wrote {name}: loss {loss.item():.5f}")


def main():
    args = fixture_arguments(__doc__)
    import transformers
    assert transformers.__version__ == "4.57.6", f"fixtures are pinned to transformers 4.57.6, found {transformers.__version__}"
    with type_as_accepting_dtype():
        for index, (name, overrides) in enumerate(VARIANTS.items()):
            make_variant(name, overrides, args.seed + index, args.out)


if __name__ == "__main__":
    main()
