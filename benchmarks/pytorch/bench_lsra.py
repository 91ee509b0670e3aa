#!/usr/bin/env python3
"""Times one Lite Transformer (LSRA) encoder layer in PyTorch (CPU, float32): the reference
layer of tools/reference/lsra_reference.py (attention branch nn.MultiheadAttention,
convolution branch, flattened feed-forward, post-LN), with the shapes of
`glance bench --model lsra`.

    bench_lsra.py --length 1024 [--batch 1] [--heads 8] [--head-dim 64] [--causal] [--backward]
        [--threads 2] [--repeat 5] [--warmup 1]
        [--convolution lightweight|dynamic] [--kernel-size 31] [--attention-dims D/2] [--no-glu]

d_model = heads * head-dim, split between the attention branch (--attention-dims, default
d/2, with --heads heads) and the convolution branch (the rest, --heads heads). Prints the
JSON fields of bench_attention.py (mechanism "lsra"), one object per length.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "reference"))
import bench_attention  # noqa: E402


def lsra_options(argv):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--convolution", default="lightweight", choices=["lightweight", "dynamic"])
    parser.add_argument("--kernel-size", type=bench_attention.positive_int, default=31)
    parser.add_argument("--attention-dims", type=bench_attention.positive_int, default=None)
    parser.add_argument("--no-glu", dest="glu", action="store_false")
    return parser.parse_known_args(argv)


def main(argv=None):
    options, rest = lsra_options(sys.argv[1:] if argv is None else argv)

    def build_lsra(torch, args):
        import lsra_reference
        from lsra_reference import LSRAEncoderLayer

        lsra_reference.CHECK_BAND_FORM = False  # time the unfolded form alone

        d = args.heads * args.head_dim
        attention_dims = options.attention_dims or d // 2
        if not 0 < attention_dims < d:
            bench_attention.fail(f"--attention-dims {attention_dims} must leave both branches channels of d_model {d}")
        layer = LSRAEncoderLayer(d, attention_dims, args.heads, args.heads, options.kernel_size, conv=options.convolution,
                                 glu=options.glu)

        class Layer(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = layer

            def forward(self, x):
                return self.layer(x, causal=args.causal)

        return Layer()

    bench_attention.MECHANISMS["lsra"] = build_lsra
    bench_attention.main(["--mechanism", "lsra"] + rest)


if __name__ == "__main__":
    main()
