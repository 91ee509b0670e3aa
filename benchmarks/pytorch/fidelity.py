#!/usr/bin/env python3
"""Relative error of a reference approximation against exact softmax attention.

The PyTorch side of `glance bench --fidelity`, with the same protocol:

    fidelity.py --mechanism performer --length 1024 [--heads 1] [--head-dim 64]
        [--features M] [--kernel softmax|relu] [--causal] [--k K] [--seeds 3] [--threads 2]

For each seed s in 0..seeds-1: torch.manual_seed(s); the mechanism is built (its random
features or projections drawn), then q, k ~ N(0, 0.25) and v ~ N(0, 1) of shape
(batch, heads, length, head_dim). The error is ||approx - exact|| / ||exact|| (Frobenius
norms) with exact = softmax(q k^T / sqrt(d)) v (causal-masked with --causal).

performer: performer-pytorch 1.1.4 FastAttention (nb_features = --features, default its own
floor(d ln d); orthogonal features; --kernel relu is its generalized attention).
linformer: lucidrains linformer 0.2.3's sequence projection at its initialization,
keys and values projected along the sequence by its proj_k (the headwise E of
LinformerSelfAttention, shared by the heads), then exact attention over the k projected keys.

Prints one JSON object: the mean and the per-seed errors.
"""

import argparse
import json
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fail, import_torch, positive_int  # noqa: E402


def performer_attention(torch, args):
    import contextlib, io
    from performer_pytorch import FastAttention

    kernel = args.kernel or "softmax"
    if kernel not in ("softmax", "relu"):
        fail(f"--kernel {kernel}: must be softmax or relu")
    with contextlib.redirect_stdout(io.StringIO()):  # its note about the missing CUDA kernel
        attention = FastAttention(args.head_dim, nb_features=args.features, causal=args.causal,
                                  generalized_attention=(kernel == "relu"), kernel_fn=torch.nn.ReLU())
    return attention, {"features": attention.nb_features}


def linformer_attention(torch, args):
    from linformer import LinformerSelfAttention

    if args.causal:
        fail("linformer is not causal; drop --causal")
    k = args.k or min(256, args.length)
    if k > args.length:
        fail(f"--k {k} exceeds --length {args.length}")
    layer = LinformerSelfAttention(args.heads * args.head_dim, args.length, k=k, heads=args.heads, dim_head=args.head_dim)

    def attend(q, key, v):
        projection = layer.proj_k  # (n, k)
        projected_keys = torch.einsum("bhnd,nk->bhkd", key, projection)
        projected_values = torch.einsum("bhnd,nk->bhkd", v, layer.proj_v)
        scores = q @ projected_keys.transpose(-1, -2) / math.sqrt(q.shape[-1])
        return scores.softmax(-1) @ projected_values

    return attend, {"k": k}


MECHANISMS = {"performer": performer_attention, "linformer": linformer_attention}


def exact_attention(torch, q, k, v, causal):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    return scores.softmax(-1) @ v


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mechanism", default="performer", choices=sorted(MECHANISMS))
    parser.add_argument("--length", type=positive_int, default=1024)
    parser.add_argument("--batch", type=positive_int, default=1)
    parser.add_argument("--heads", type=positive_int, default=1)
    parser.add_argument("--head-dim", type=positive_int, default=64)
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--features", type=positive_int, default=None, help="performer: random features m")
    parser.add_argument("--kernel", default=None, help="performer: softmax (default) or relu")
    parser.add_argument("--k", type=positive_int, default=None, help="linformer: projected length")
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument("--threads", type=positive_int, default=2)
    args = parser.parse_args(argv)
    torch = import_torch(args.threads)

    errors, settings = [], {}
    shape = (args.batch, args.heads, args.length, args.head_dim)
    with torch.no_grad():
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            attend, settings = MECHANISMS[args.mechanism](torch, args)
            q, k, v = torch.randn(shape) * 0.5, torch.randn(shape) * 0.5, torch.randn(shape)
            exact = exact_attention(torch, q, k, v, args.causal)
            errors.append(((attend(q, k, v) - exact).norm() / exact.norm()).item())
    print(json.dumps({"implementation": "pytorch", "mechanism": args.mechanism, "length": args.length,
                      "batch": args.batch, "heads": args.heads, "head_dim": args.head_dim, "causal": args.causal,
                      **settings, "fidelity_relative_error": statistics.mean(errors),
                      "standard_error": statistics.stdev(errors) / math.sqrt(len(errors)) if len(errors) > 1 else None,
                      "errors": errors, "seeds": args.seeds, "torch_version": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
