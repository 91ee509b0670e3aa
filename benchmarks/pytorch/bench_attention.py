#!/usr/bin/env python3
"""Times one multi-head attention layer in PyTorch (CPU, float32).

Follows the contract shared with `glance bench`:

    bench_attention.py --mechanism full --length 1024,2048 [--batch 1] [--heads 8]
        [--head-dim 64] [--causal] [--backward] [--threads 2] [--repeat 5] [--warmup 1]
        [--k K] [--sharing headwise|key-value]   (linformer: lucidrains LinformerSelfAttention)
        [--features M] [--kernel softmax|relu]   (performer: performer-pytorch SelfAttention)
        [--window W] [--global G]                (longformer: transformers LongformerSelfAttention)
        [--qk-kernel K] [--logsparse-window W] [--logsparse-subsequence L]   (logsparse, dense-masked)
        [--hashes H] [--chunk C] [--buckets B]    (reformer: transformers LSHSelfAttention)

Layer: x (B, N, H*D) -> separate Q/K/V nn.Linear(d, d, bias) -> (B, H, N, D)
-> attention -> merge heads -> output nn.Linear(d, d, bias).

forward_ms: median of R forward passes; under torch.inference_mode() without
--backward, with autograd recording when --backward is given.
backward_ms: median of R runs of forward + loss = (out * g).sum() + backward
(g fixed random; x requires grad, so the input gradient is computed too, as in a
stacked model). null without --backward.

One JSON object per length is printed on stdout. peak_rss_bytes is the process
peak so far, so with several lengths it is cumulative; run one length per
process (as benchmarks/compare.py does) for per-length peaks. import_rss_bytes
is the peak right after importing torch (the library's own footprint).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fail, import_torch, int_list, median_ms, peak_rss_bytes, positive_int  # noqa: E402


def build_full(torch, args):
    """Standard softmax attention through scaled_dot_product_attention."""
    nn = torch.nn
    F = torch.nn.functional
    heads, head_dim, causal = args.heads, args.head_dim, args.causal
    d_model = heads * head_dim

    class FullAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(d_model, d_model, bias=True)
            self.k = nn.Linear(d_model, d_model, bias=True)
            self.v = nn.Linear(d_model, d_model, bias=True)
            self.out = nn.Linear(d_model, d_model, bias=True)

        def split(self, t):
            b, n, _ = t.shape
            return t.view(b, n, heads, head_dim).transpose(1, 2)

        def forward(self, x):
            b, n, _ = x.shape
            q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            y = y.transpose(1, 2).reshape(b, n, d_model)
            return self.out(y)

    return FullAttention()


def build_linformer(torch, args):
    """lucidrains `linformer` LinformerSelfAttention (the reference of Glance's parity tests),
    n = the benchmarked length, k = --k (default min(256, n)). --sharing headwise (default) is
    its plain mode, key-value its share_kv=True (which also shares to_k/to_v, one projection
    fewer than Glance's key-value mode); none and layerwise have no counterpart there."""
    from linformer import LinformerSelfAttention

    if args.causal:
        fail("linformer is not causal; drop --causal")
    sharing = args.sharing or "headwise"
    if sharing not in ("headwise", "key-value"):
        fail(f"--sharing {sharing}: the linformer package has only headwise and key-value (share_kv)")
    length = args.current_length
    k = args.k or min(256, length)
    if k > length:
        fail(f"--k {k} exceeds --length {length}")
    return LinformerSelfAttention(args.heads * args.head_dim, length, k=k, heads=args.heads, dim_head=args.head_dim,
                                  share_kv=(sharing == "key-value"))


def build_performer(torch, args):
    """performer-pytorch 1.1.4 SelfAttention (the reference of Glance's parity tests):
    m = --features (default its own ⌊d·ln d⌋), --kernel softmax (FAVOR+) or relu
    (generalized_attention); --causal uses its CPU path, causal_linear_attention_noncuda."""
    import contextlib, io
    from torch import nn
    from performer_pytorch import SelfAttention

    kernel = args.kernel or "softmax"
    if kernel not in ("softmax", "relu"):
        fail(f"--kernel {kernel}: must be softmax or relu")
    with contextlib.redirect_stdout(io.StringIO()):  # its note about the missing CUDA kernel
        return SelfAttention(args.heads * args.head_dim, causal=args.causal, heads=args.heads, dim_head=args.head_dim,
                             nb_features=args.features, generalized_attention=(kernel == "relu"), kernel_fn=nn.ReLU())


def build_logsparse(torch, args):
    """LogSparse with convolutional self-attention as the authors' code computes it: full
    attention scores under a dense [n, n] mask of the pattern (O(n²) memory), from
    tools/reference/logsparse_reference.py (the reference of Glance's parity tests).
    --qk-kernel K (default 1), --logsparse-window w (default 0), --logsparse-subsequence L
    (default: no restarts). Always causal."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "reference"))
    from logsparse_reference import LogSparseSelfAttention

    return LogSparseSelfAttention(args.heads * args.head_dim, args.heads, qk_kernel=args.qk_kernel or 1,
                                  local_window=args.logsparse_window or 0, subsequence=args.logsparse_subsequence)
def build_reformer(torch, args):
    """transformers 5.24.0 LSHSelfAttention (the reference of Glance's parity tests) followed by
    an output projection without bias (ReformerSelfOutput's dense): --hashes rounds (default 1),
    --chunk length (default 64), --buckets an even count or even factors "a,b" (default: its own
    choice for the length, with max_position_embeddings = the length, as Glance's registry);
    no dropout; hash_seed fixed. --causal sets is_decoder."""
    from torch import nn
    from transformers import ReformerConfig
    from transformers.models.reformer.modeling_reformer import LSHSelfAttention
    from transformers.utils import logging

    logging.set_verbosity_error()  # its warning about setting num_buckets on the fly
    buckets = None
    if args.buckets:
        factors = [int(b) for b in args.buckets.split(",")]
        buckets = factors[0] if len(factors) == 1 else factors
    d_model = args.heads * args.head_dim
    config = ReformerConfig(hidden_size=d_model, num_attention_heads=args.heads, attention_head_size=args.head_dim,
                            num_hashes=args.hashes or 1, lsh_attn_chunk_length=args.chunk or 64, num_buckets=buckets,
                            lsh_num_chunks_before=1, lsh_num_chunks_after=0, is_decoder=args.causal,
                            hash_seed=args.seed, lsh_attention_probs_dropout_prob=0.0,
                            max_position_embeddings=args.current_length)

    class ReformerAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = LSHSelfAttention(config)
            self.output = nn.Linear(d_model, d_model, bias=False)

        def forward(self, x):
            return self.output(self.attention(x).hidden_states)

    return ReformerAttention()


def build_longformer(torch, args):
    """Hugging Face transformers 5.24.0 LongformerSelfAttention (the reference of Glance's parity
    tests) followed by the output nn.Linear(d, d) (LongformerSelfOutput.dense, without its
    residual LayerNorm): attention_window = --window (default 512), global attention on the first
    --global positions. Lengths that are not a multiple of the window are padded with masked
    rows, as LongformerModel._pad_to_window_size does, and cut back. No causal mode and no
    dilation: transformers has neither."""
    from torch import nn
    from transformers import LongformerConfig
    from transformers.models.longformer.modeling_longformer import LongformerSelfAttention

    if args.causal:
        fail("--causal: transformers' Longformer has no causal (autoregressive) mode")
    if args.dilation not in (None, "1"):
        fail("--dilation: transformers' Longformer has no dilation")
    window = args.window or 512
    if window < 2 or window % 2:
        fail(f"--window {window}: must be a positive even number")
    d_model = args.heads * args.head_dim
    config = LongformerConfig(hidden_size=d_model, num_attention_heads=args.heads, attention_window=[window],
                              num_hidden_layers=1, attention_probs_dropout_prob=0.0)
    global_count = args.global_tokens or 0
    if global_count > args.current_length:
        fail(f"--global {global_count} exceeds --length {args.current_length}")

    class Longformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = LongformerSelfAttention(config, layer_id=0)
            self.out = nn.Linear(d_model, d_model)

        def forward(self, x):
            b, n, _ = x.shape
            padded = (n + window - 1) // window * window
            if padded > n:
                x = torch.cat([x, x.new_zeros(b, padded - n, d_model)], dim=1)
            mask = x.new_zeros(b, padded)
            mask[:, n:] = torch.finfo(x.dtype).min
            mask[:, :global_count] = torch.finfo(x.dtype).max
            y = self.attention(x, attention_mask=mask, is_index_masked=mask < 0, is_index_global_attn=mask > 0,
                               is_global_attn=global_count > 0)[0]
            return self.out(y[:, :n])

    return Longformer()


# Peak RSS right after `import torch` (several hundred MiB with the CUDA wheel),
# reported so that peak_rss_bytes - import_rss_bytes isolates the layer's memory.
IMPORT_RSS = [None]

# Mechanism name -> builder(torch, args) returning an nn.Module mapping
# (B, N, d_model) -> (B, N, d_model).
MECHANISMS = {
    "full": build_full,
    "linformer": build_linformer,
    "performer": build_performer,
    "logsparse": build_logsparse,
    "reformer": build_reformer,
    "longformer": build_longformer,
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mechanism", default="full", choices=sorted(MECHANISMS))
    parser.add_argument("--length", type=int_list, required=True, help="sequence length(s), comma-separated")
    parser.add_argument("--batch", type=positive_int, default=1)
    parser.add_argument("--heads", type=positive_int, default=8)
    parser.add_argument("--head-dim", type=positive_int, default=64)
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--backward", action="store_true", help="also time forward+backward")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--repeat", type=positive_int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=positive_int, default=None, help="linformer: projected length k (default min(256, n))")
    parser.add_argument("--sharing", default=None, help="linformer: headwise (default) or key-value")
    parser.add_argument("--features", type=positive_int, default=None, help="performer: random features m")
    parser.add_argument("--kernel", default=None, help="performer: softmax (default) or relu")
    parser.add_argument("--qk-kernel", type=positive_int, default=None, help="logsparse: query/key convolution kernel size")
    parser.add_argument("--logsparse-window", type=int, default=None, help="logsparse: local window w >= 0")
    parser.add_argument("--logsparse-subsequence", type=positive_int, default=None, help="logsparse: restart length L")
    parser.add_argument("--hashes", type=positive_int, default=None, help="reformer: LSH hash rounds (default 1)")
    parser.add_argument("--chunk", type=positive_int, default=None, help="reformer: chunk length (default 64)")
    parser.add_argument("--buckets", default=None, help="reformer: even bucket count or factors 'a,b' (default: HF's choice)")
    parser.add_argument("--window", type=positive_int, default=None, help="longformer: attention_window 2w (default 512)")
    parser.add_argument("--global", dest="global_tokens", type=int, default=None, help="longformer: global tokens (the first G positions)")
    parser.add_argument("--dilation", default=None, help="longformer: only 1 (transformers has no dilation)")
    return parser.parse_args(argv)


def bench_one(torch, args, length):
    torch.manual_seed(args.seed)
    d_model = args.heads * args.head_dim
    args.current_length = length  # builders whose shapes depend on n (linformer) read it
    layer = MECHANISMS[args.mechanism](torch, args)
    x = torch.randn(args.batch, length, d_model)
    result = {
        "implementation": "pytorch",
        "mechanism": args.mechanism,
        "length": length,
        "batch": args.batch,
        "heads": args.heads,
        "head_dim": args.head_dim,
        "causal": args.causal,
    }

    if args.backward:
        layer.train()
        x.requires_grad_(True)
        g = torch.randn(args.batch, length, d_model)

        def forward():
            layer(x)

        def forward_backward():
            x.grad = None
            for p in layer.parameters():
                p.grad = None
            loss = (layer(x) * g).sum()
            loss.backward()

        forward_ms = median_ms(forward, args.repeat, args.warmup)
        backward_ms = median_ms(forward_backward, args.repeat, args.warmup)
    else:
        layer.eval()

        def forward():
            with torch.inference_mode():
                layer(x)

        forward_ms = median_ms(forward, args.repeat, args.warmup)
        backward_ms = None

    result.update({
        "forward_ms": round(forward_ms, 4),
        "backward_ms": None if backward_ms is None else round(backward_ms, 4),
        "peak_rss_bytes": peak_rss_bytes(),
        "import_rss_bytes": IMPORT_RSS[0],
        "threads": torch.get_num_threads(),
        "repeat": args.repeat,
        "warmup": args.warmup,
        "torch_version": torch.__version__,
    })
    return result


def main(argv=None):
    import json

    args = parse_args(argv)
    if args.warmup < 0:
        fail("--warmup must be >= 0")
    torch = import_torch(args.threads)
    IMPORT_RSS[0] = peak_rss_bytes()
    for length in args.length:
        print(json.dumps(bench_one(torch, args, length)), flush=True)


if __name__ == "__main__":
    main()
