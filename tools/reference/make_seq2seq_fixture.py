#!/usr/bin/env python3
"""Writes the encoder-decoder reference fixtures from PyTorch's nn.Transformer.

    .venv-reference/bin/python tools/reference/make_seq2seq_fixture.py [--seed 0] [--out DIR]

DIR defaults to $GLANCE_FIXTURES, else Tests/GlanceAttentionTests/Fixtures. The model is the
one GlanceModels' EncoderDecoderModel computes: token embeddings scaled by sqrt(d_model) plus
Glance's sinusoids (sin on even, cos on odd features), nn.Transformer (batch_first, ReLU,
dropout 0, post-LN or pre-LN, with its final encoder and decoder LayerNorms), the output
projection without bias (the target embedding when tied). Ids: 0 padding, 1 beginning, 2 end.
Sources get the end marker and padding; the decoder reads [1] + target and predicts target +
[2]; the loss is fairseq's label-smoothed cross-entropy (epsilon 0.1, padding ignored), the
mean over real target tokens.

NAME.safetensors holds `sources` and `targets` [batch, longest] (token ids as floats, -1 after
a row's end), every parameter under Glance's key ("param.<key>", torch names in NAME.json),
`output` (the logits) [batch, target length + 1, vocab], `loss` [1] and the gradient of the loss for each
parameter ("grad.<key>"). Computed in float64 and stored as float32.
"""

import math

import torch
from fixture_io import randomize_weights, run_cases, write_fixture

CASES = {
    "seq2seq_post_ln": dict(norm_first=False, tie="all"),
    "seq2seq_pre_ln": dict(norm_first=True, tie="all"),
    "seq2seq_post_ln_untied": dict(norm_first=False, tie="none"),
}
SHAPE = dict(vocab=260, d_model=8, heads=2, ffn_dim=12, encoder_layers=2, decoder_layers=2, max_length=12,
             sources=[[5, 9, 200, 17, 33, 8], [77, 4, 250]], targets=[[11, 12, 13, 140, 90], [6, 259]], label_smoothing=0.1)
PAD, BOS, EOS = 0, 1, 2


def sinusoids(count, dim):
    table = torch.zeros(count, dim, dtype=torch.float64)
    for position in range(count):
        for i in range(0, dim, 2):
            angle = position / math.pow(10000, i / dim)
            table[position, i] = math.sin(angle)
            if i + 1 < dim:
                table[position, i + 1] = math.cos(angle)
    return table


def padded(rows, length, value):
    return torch.tensor([row + [value] * (length - len(row)) for row in rows])


class Reference(torch.nn.Module):
    def __init__(self, c, tie):
        super().__init__()
        self.source_embedding = torch.nn.Embedding(c["vocab"], c["d_model"])
        self.target_embedding = self.source_embedding if tie == "all" else torch.nn.Embedding(c["vocab"], c["d_model"])
        self.transformer = torch.nn.Transformer(c["d_model"], c["heads"], c["encoder_layers"], c["decoder_layers"], c["ffn_dim"],
                                                dropout=0.0, activation="relu", batch_first=True, norm_first=c["norm_first"])
        self.output_projection = None if tie != "none" else torch.nn.Linear(c["d_model"], c["vocab"], bias=False)
        self.register_buffer("positions", sinusoids(c["max_length"], c["d_model"]))
        self.scale = math.sqrt(c["d_model"])

    def forward(self, sources, targets):
        source_ids = padded([row + [EOS] for row in sources], max(len(r) for r in sources) + 1, PAD)
        target_ids = padded([[BOS] + row for row in targets], max(len(r) for r in targets) + 1, PAD)
        source_padding = source_ids == PAD
        s = self.source_embedding(source_ids) * self.scale + self.positions[: source_ids.shape[1]]
        t = self.target_embedding(target_ids) * self.scale + self.positions[: target_ids.shape[1]]
        causal = torch.nn.Transformer.generate_square_subsequent_mask(target_ids.shape[1], dtype=torch.float64)
        hidden = self.transformer(s, t, tgt_mask=causal, src_key_padding_mask=source_padding,
                                  memory_key_padding_mask=source_padding, tgt_is_causal=True)
        weight = self.target_embedding.weight if self.output_projection is None else self.output_projection.weight
        return hidden @ weight.T


def label_smoothed_loss(logits, targets, epsilon):
    """fairseq's label_smoothed_nll_loss, summed, divided by the real target tokens."""
    length = logits.shape[1]
    labels = padded([row + [EOS] for row in targets], length, PAD).reshape(-1)
    lprobs = torch.log_softmax(logits.reshape(-1, logits.shape[-1]), dim=-1)
    nll = -lprobs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    smooth = -lprobs.sum(-1)
    real = labels != PAD
    eps_i = epsilon / (lprobs.shape[-1] - 1)
    loss = ((1.0 - epsilon - eps_i) * nll + eps_i * smooth)[real].sum()
    return loss / real.sum()


def glance_key(torch_key, tie):
    """Glance's parameter key for a torch key (in_proj rows become query/key/value)."""
    names = {"source_embedding.weight": "sourceEmbedding.weight", "target_embedding.weight": "targetEmbedding.weight",
             "output_projection.weight": "outputProjection.weight",
             "transformer.encoder.norm.weight": "encoderNorm.weight", "transformer.encoder.norm.bias": "encoderNorm.bias",
             "transformer.decoder.norm.weight": "decoderNorm.weight", "transformer.decoder.norm.bias": "decoderNorm.bias"}
    if torch_key in names:
        return names[torch_key]
    parts = torch_key.split(".")
    stack, layer, rest = parts[1], parts[3], ".".join(parts[4:])
    if stack == "encoder":
        prefix = f"encoder.layers.{layer}."
        modules = {"self_attn": "attention", "linear1": "feedForward.input", "linear2": "feedForward.output",
                   "norm1": "attentionNorm", "norm2": "feedForwardNorm"}
    else:
        prefix = f"decoder.{layer}."
        modules = {"self_attn": "selfAttention", "multihead_attn": "crossAttention", "linear1": "feedForward.input",
                   "linear2": "feedForward.output", "norm1": "selfAttentionNorm", "norm2": "crossAttentionNorm",
                   "norm3": "feedForwardNorm"}
    module, _, leaf = rest.rpartition(".")
    if module.endswith("out_proj"):
        return prefix + modules[module.split(".")[0]] + ".output." + leaf
    return prefix + modules[module] + "." + leaf


def glance_tensors(key, tensor):
    """(glance key, tensor) pairs: in_proj_weight/bias split into query, key and value."""
    if key.endswith("in_proj_weight") or key.endswith("in_proj_bias"):
        base = key.rsplit(".", 1)[0]
        leaf = "weight" if key.endswith("weight") else "bias"
        return [(f"{base}.{name}.{leaf}", part) for name, part in zip(["query", "key", "value"], tensor.chunk(3, dim=0))]
    return [(key, tensor)]


def make_case(name, case, seed, out):
    torch.manual_seed(seed)
    c = dict(SHAPE, **case)
    model = Reference(c, case["tie"]).double()
    randomize_weights(model, "norm", "embedding")
    model.train()  # dropout is 0; training mode keeps PyTorch off its inference fast path
    logits = model(c["sources"], c["targets"])
    loss = label_smoothed_loss(logits, c["targets"], c["label_smoothing"])
    loss.backward()
    longest = max(len(r) for r in c["sources"] + c["targets"])
    tensors = {"sources": padded(c["sources"], longest, -1).double(), "targets": padded(c["targets"], longest, -1).double(),
               "output": logits.detach(), "loss": loss.detach().reshape(1)}
    torch_names = {}
    for key, parameter in model.named_parameters():
        mapped = glance_key(key, case["tie"])
        for glance, value in glance_tensors(mapped, parameter.detach()):
            tensors["param." + glance] = value
        for glance, value in glance_tensors(mapped, parameter.grad.detach()):
            tensors["grad." + glance] = value
        torch_names[mapped] = key
    config = dict(c, seed=seed, block="pre-ln" if case["norm_first"] else "post-ln",
                  reference="torch.nn.Transformer(batch_first=True, activation='relu', dropout=0) + scaled embeddings, "
                            "Glance sinusoids, output projection without bias",
                  loss="fairseq label_smoothed_nll_loss / real target tokens", dtype="computed in float64, stored as float32",
                  torch_version=torch.__version__, torch_names=torch_names)
    write_fixture(out, name, tensors, config)


if __name__ == "__main__":
    run_cases(__doc__, CASES, make_case)
