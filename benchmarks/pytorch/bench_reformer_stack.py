#!/usr/bin/env python3
"""Times a whole stack of Hugging Face Reformer layers (transformers 5.24.0, CPU, float32):
the PyTorch counterpart of `glance bench --mechanism reformer --model-depth L [--reversible]`.

    bench_reformer_stack.py --length 8192 --depth 12 [--reversible] [--batch 1] [--heads 8]
        [--head-dim 64] [--hashes 2] [--chunk 64] [--feed-forward-chunk 256] [--causal]
        [--threads 2] [--repeat 1] [--warmup 1]

Stack: L `ReformerLayer`s with LSH attention (attn_layers ["lsh"] * L, d_model = heads ×
head_dim, feed-forward 4·d_model with GELU, chunk_size_feed_forward, no dropout, buckets as
transformers picks them for the length) on the residual pair x = [x1, x2] of shape
[batch, n, 2·d_model], as `ReformerEncoder` runs it after duplicating its input:
y1 = x1 + Attention(x2), y2 = x2 + FeedForward(y1).

--reversible runs transformers' own `_ReversibleFunction` (the backward pass rebuilds each
layer's inputs); without it the same layers run under ordinary autograd, which stores every
activation. forward_ms: median forward time (recording, as in training); backward_ms: median
of forward + backward of (out * g).sum() with g fixed random, input gradient included.
Prints one JSON object; peak_rss_bytes is the process's peak, import_rss_bytes the peak
right after importing torch and transformers.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import import_torch, median_ms, peak_rss_bytes, positive_int  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=positive_int, required=True)
    parser.add_argument("--depth", type=positive_int, required=True)
    parser.add_argument("--reversible", action="store_true")
    parser.add_argument("--batch", type=positive_int, default=1)
    parser.add_argument("--heads", type=positive_int, default=8)
    parser.add_argument("--head-dim", type=positive_int, default=64)
    parser.add_argument("--hashes", type=positive_int, default=2)
    parser.add_argument("--chunk", type=positive_int, default=64)
    parser.add_argument("--feed-forward-chunk", type=int, default=0, help="chunk_size_feed_forward (0: all positions at once)")
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--repeat", type=positive_int, default=1)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch = import_torch(args.threads)
    from transformers import ReformerConfig
    from transformers.models.reformer.modeling_reformer import ReformerEncoder, _ReversibleFunction
    from transformers.utils import logging

    logging.set_verbosity_error()
    import_rss = peak_rss_bytes()
    torch.manual_seed(args.seed)
    d_model = args.heads * args.head_dim
    config = ReformerConfig(hidden_size=d_model, num_attention_heads=args.heads, attention_head_size=args.head_dim,
                            feed_forward_size=4 * d_model, hidden_act="gelu", attn_layers=["lsh"] * args.depth,
                            num_hashes=args.hashes, lsh_attn_chunk_length=args.chunk, lsh_num_chunks_before=1,
                            lsh_num_chunks_after=0, is_decoder=args.causal, chunk_size_feed_forward=args.feed_forward_chunk,
                            hash_seed=args.seed, max_position_embeddings=args.length, hidden_dropout_prob=0.0,
                            lsh_attention_probs_dropout_prob=0.0, local_attention_probs_dropout_prob=0.0)
    layers = ReformerEncoder(config).layers.train()
    n = args.length

    def reversible(x):
        return _ReversibleFunction.apply(x, layers, None, None, [], [], None, False, n, False, False)

    def storing(x):
        x1, x2 = torch.chunk(x, 2, dim=-1)
        for layer in layers:
            x1 = x1 + layer.attention(hidden_states=x2, orig_sequence_length=n).hidden_states
            x2 = x2 + layer.feed_forward(x1)
        return torch.cat([x1, x2], dim=-1)

    stack = reversible if args.reversible else storing
    x = torch.randn(args.batch, n, 2 * d_model, requires_grad=True)
    g = torch.randn(args.batch, n, 2 * d_model)

    def forward():
        stack(x)

    def forward_backward():
        x.grad = None
        layers.zero_grad(set_to_none=True)
        (stack(x) * g).sum().backward()

    forward_ms = median_ms(forward, args.repeat, args.warmup)
    backward_ms = median_ms(forward_backward, args.repeat, args.warmup)
    weights = sum(p.numel() for p in layers.parameters())
    print(json.dumps({
        "implementation": "pytorch", "mechanism": "reformer", "length": n, "batch": args.batch, "heads": args.heads,
        "head_dim": args.head_dim, "causal": args.causal, "depth": args.depth, "reversible": args.reversible,
        "forward_ms": round(forward_ms, 2), "backward_ms": round(backward_ms, 2), "peak_rss_bytes": peak_rss_bytes(),
        "import_rss_bytes": import_rss, "weight_and_gradient_bytes": 2 * 4 * weights, "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
