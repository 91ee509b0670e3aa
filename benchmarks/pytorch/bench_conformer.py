#!/usr/bin/env python3
"""Times one Conformer block in PyTorch (CPU, float32): transformers' ParakeetEncoderBlock.

The counterpart of `glance bench --model conformer`:

    bench_conformer.py --length 1000[,2000] [--batch 1] [--heads 4] [--head-dim 64]
        [--kernel-size 31] [--backward] [--threads 2] [--repeat 5] [--warmup 1]

Block (transformers 5.24.0 `ParakeetEncoderBlock`, eager attention, dropouts 0): ½ feed-forward
(d -> 4d -> d, SiLU), relative-position self-attention over the 2T-1 sinusoidal positions,
convolution module (pointwise d -> 2d, GLU, depthwise kernel K, BatchNorm, SiLU, pointwise),
½ feed-forward, LayerNorm; d = heads * head-dim. The positions are computed once, outside the
timing, as an encoder does for all its layers.

forward_ms: median of R forward passes in eval mode under torch.inference_mode() (without
--backward), or in train mode with autograd recording (with --backward). backward_ms: median
of R runs of forward + loss = (out * g).sum() + backward (x requires grad). The JSON fields are
those of bench_attention.py, with mechanism "conformer" and kernel_size.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fail, int_list, median_ms, peak_rss_bytes, positive_int, print_per_length  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int_list, default=[1000])
    parser.add_argument("--batch", type=positive_int, default=1)
    parser.add_argument("--heads", type=positive_int, default=4)
    parser.add_argument("--head-dim", type=positive_int, default=64)
    parser.add_argument("--kernel-size", type=positive_int, default=31)
    parser.add_argument("--backward", action="store_true")
    parser.add_argument("--threads", type=positive_int, default=os.cpu_count())
    parser.add_argument("--repeat", type=positive_int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def bench_one(torch, args, length, import_rss):
    from transformers import ParakeetEncoderConfig
    from transformers.models.parakeet.modeling_parakeet import ParakeetEncoderBlock, ParakeetEncoderRelPositionalEncoding

    torch.manual_seed(args.seed)
    d_model = args.heads * args.head_dim
    config = ParakeetEncoderConfig(hidden_size=d_model, num_attention_heads=args.heads, intermediate_size=4 * d_model,
                                   conv_kernel_size=args.kernel_size, num_hidden_layers=1, dropout=0.0, activation_dropout=0.0,
                                   attention_dropout=0.0, layerdrop=0.0)
    config._attn_implementation = "eager"
    block = ParakeetEncoderBlock(config, layer_idx=0)
    x = torch.randn(args.batch, length, d_model)
    positions = ParakeetEncoderRelPositionalEncoding(config)(x)
    result = {"implementation": "pytorch", "mechanism": "conformer", "length": length, "batch": args.batch, "heads": args.heads,
              "head_dim": args.head_dim, "kernel_size": args.kernel_size, "causal": False}
    if args.backward:
        block.train()
        x.requires_grad_(True)
        g = torch.randn(args.batch, length, d_model)

        def forward():
            block(x, position_embeddings=positions)

        def forward_backward():
            x.grad = None
            for p in block.parameters():
                p.grad = None
            (block(x, position_embeddings=positions) * g).sum().backward()

        forward_ms = median_ms(forward, args.repeat, args.warmup)
        backward_ms = median_ms(forward_backward, args.repeat, args.warmup)
    else:
        block.eval()

        def forward():
            with torch.inference_mode():
                block(x, position_embeddings=positions)

        forward_ms = median_ms(forward, args.repeat, args.warmup)
        backward_ms = None
    result.update({"forward_ms": round(forward_ms, 4), "backward_ms": None if backward_ms is None else round(backward_ms, 4),
                   "peak_rss_bytes": peak_rss_bytes(), "import_rss_bytes": import_rss, "threads": torch.get_num_threads(),
                   "repeat": args.repeat, "warmup": args.warmup, "torch_version": torch.__version__})
    return result


def main(argv=None):
    args = parse_args(argv)
    if args.warmup < 0:
        fail("--warmup must be >= 0")
    print_per_length(args, bench_one)


if __name__ == "__main__":
    main()
