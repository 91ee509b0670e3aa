#!/usr/bin/env python3
"""Times Transformer-XL's relative attention layer in PyTorch (CPU, float32): transformers
4.57.6's RelPartialLearnableMultiHeadAttn (the last release that has it; its own
environment, tools/reference/requirements-transformer-xl.txt).

Follows the contract shared with `glance bench`:

    VENV/bin/python bench_transformer_xl.py --length 512 [--memory 512] [--batch 1]
        [--heads 8] [--head-dim 64] [--backward] [--threads 2] [--repeat 5] [--warmup 1]
        [--clamp-len C] [--same-length --mem-len M]

Layer: the segment x (B, N, H*D) and the memory (B, M, H*D) → qkv_net (no bias) over
[memory; x], r_net over the sinusoidal encodings of the N + M distances, scores
(q + u)·k + shift((q + v)·r) / √D, causal over [memory; x] (TransfoXLModel's mask) →
o_net → LayerNorm(x + ·). Dropout 0. The memory is detached, as Transformer-XL keeps it.
Glance's counterpart: `glance bench --mechanism transformer_xl --memory M --causal`.

forward_ms: median of R forward passes under torch.inference_mode() without --backward,
with autograd recording when --backward is given. backward_ms: median of R runs of forward +
loss = (out * g).sum() + backward (x requires grad). One JSON object per length on stdout.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fail, int_list, median_ms, peak_rss_bytes, positive_int, print_per_length  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int_list, required=True, help="segment length(s), comma-separated")
    parser.add_argument("--memory", type=int, default=0, help="memory length M (hidden states of earlier segments)")
    parser.add_argument("--batch", type=positive_int, default=1)
    parser.add_argument("--heads", type=positive_int, default=8)
    parser.add_argument("--head-dim", type=positive_int, default=64)
    parser.add_argument("--clamp-len", type=int, default=0, help="clamp distances at C (0: none)")
    parser.add_argument("--same-length", action="store_true", help="every query sees the same number of keys")
    parser.add_argument("--mem-len", type=int, default=None, help="mem_len for --same-length (default: --memory)")
    parser.add_argument("--backward", action="store_true", help="also time forward+backward")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--repeat", type=positive_int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def attention_mask(torch, qlen, mlen, same_length, mem_len):
    """TransfoXLModel's dec_attn_mask: [qlen, klen, 1], True where a key is hidden."""
    ones = torch.ones(qlen, qlen + mlen, dtype=torch.bool)
    mask = torch.triu(ones, 1 + mlen)
    if same_length:
        mask_len = qlen + mlen - mem_len
        mask = mask + torch.tril(ones, -(qlen - mask_len if mask_len > 0 else qlen))
    return mask[:, :, None]


def bench_one(torch, args, length, import_rss):
    from transformers.models.deprecated.transfo_xl.modeling_transfo_xl import (PositionalEmbedding,
                                                                               RelPartialLearnableMultiHeadAttn)
    torch.manual_seed(args.seed)
    d_model = args.heads * args.head_dim
    layer = RelPartialLearnableMultiHeadAttn(args.heads, d_model, args.head_dim, dropout=0.0, dropatt=0.0)
    for parameter in (layer.r_r_bias, layer.r_w_bias):
        torch.nn.init.normal_(parameter, std=0.02)
    x = torch.randn(length, args.batch, d_model)
    mems = torch.randn(args.memory, args.batch, d_model) if args.memory > 0 else None
    pos_seq = torch.arange(length + args.memory - 1, -1, -1.0)
    if args.clamp_len > 0:
        pos_seq.clamp_(max=args.clamp_len)
    positions = PositionalEmbedding(d_model)(pos_seq)
    mask = attention_mask(torch, length, args.memory, args.same_length,
                          args.memory if args.mem_len is None else args.mem_len)

    def run():
        return layer(x, positions, attn_mask=mask, mems=mems)[0]

    if args.backward:
        layer.train()
        x.requires_grad_(True)
        g = torch.randn(length, args.batch, d_model)

        def forward_backward():
            x.grad = None
            for p in layer.parameters():
                p.grad = None
            (run() * g).sum().backward()

        forward_ms = median_ms(run, args.repeat, args.warmup)
        backward_ms = median_ms(forward_backward, args.repeat, args.warmup)
    else:
        layer.eval()

        def forward():
            with torch.inference_mode():
                run()

        forward_ms = median_ms(forward, args.repeat, args.warmup)
        backward_ms = None
    import transformers
    return {"implementation": "pytorch", "mechanism": "transformer_xl", "length": length, "memory": args.memory,
            "batch": args.batch, "heads": args.heads, "head_dim": args.head_dim, "causal": True,
            "clamp_len": args.clamp_len, "same_length": args.same_length,
            "forward_ms": round(forward_ms, 4), "backward_ms": None if backward_ms is None else round(backward_ms, 4),
            "peak_rss_bytes": peak_rss_bytes(), "import_rss_bytes": import_rss, "threads": torch.get_num_threads(),
            "repeat": args.repeat, "warmup": args.warmup, "torch_version": torch.__version__,
            "transformers_version": transformers.__version__}


def main(argv=None):
    args = parse_args(argv)
    if args.warmup < 0 or args.memory < 0 or args.clamp_len < 0:
        fail("--warmup, --memory and --clamp-len must be >= 0")
    print_per_length(args, bench_one)


if __name__ == "__main__":
    main()
