#!/usr/bin/env python3
"""Times torch.matmul of two float32 (size x size) matrices on CPU.

Prints one JSON line: {"implementation", "size", "gflops", "threads", ...}.
gflops = 2 * size^3 / time, the median over --repeat timed products (after
--warmup untimed ones).
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import import_torch, positive_int  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=positive_int, default=1024)
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--repeat", type=positive_int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)

    torch = import_torch(args.threads)
    torch.manual_seed(0)
    n = args.size
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    c = torch.empty(n, n)
    flops = 2.0 * n * n * n
    with torch.inference_mode():
        for _ in range(max(args.warmup, 0)):
            torch.matmul(a, b, out=c)
        rates = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            torch.matmul(a, b, out=c)
            rates.append(flops / (time.perf_counter() - start) / 1e9)
    print(json.dumps({
        "implementation": "pytorch",
        "size": n,
        "gflops": round(statistics.median(rates), 3),
        "threads": torch.get_num_threads(),
        "repeat": args.repeat,
        "torch_version": torch.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
