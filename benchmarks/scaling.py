#!/usr/bin/env python3
"""How one Glance attention layer's time and peak memory grow with the sequence length.

    benchmarks/scaling.py --mechanism longformer --lengths 2048,4096,8192,16384,32768 \\
        [--backward] [--repeat 3] [--threads 2] [--glance .build/release/glance] [--json-out FILE] \\
        [-- any other `glance bench` options, e.g. --option window=512 --global-tokens 8]

Each length runs in its own `glance bench --json` process, so that `peak_rss_bytes` is that
length's peak. Fits, by least squares over all lengths:

- time: the exponent a of t ≈ c·n^a (slope of log t against log n), for the forward pass and,
  with --backward, for forward + backward;
- peak memory: the exponent of the same power law, and the straight line
  peak ≈ intercept + slope·n with its R², since a layer whose memory is linear in n shows a
  large constant (the process and its libraries) plus a slope in bytes per token.

Standard library only; Glance must be built (`swift build -c release`).
"""

import argparse
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def power_law_exponent(xs, ys):
    """Least-squares slope of log y against log x."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def line_fit(xs, ys):
    """Least-squares y ≈ intercept + slope·x; returns (slope, intercept, R²)."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    intercept = my - slope * mx
    total = sum((y - my) ** 2 for y in ys)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    return slope, intercept, 1 - residual / total if total > 0 else 1.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mechanism", required=True)
    parser.add_argument("--lengths", default="2048,4096,8192,16384,32768")
    parser.add_argument("--backward", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--glance", default=os.path.join(REPO, ".build", "release", "glance"))
    parser.add_argument("--json-out")
    args, extra = parser.parse_known_args()
    if extra and extra[0] == "--":
        extra = extra[1:]
    lengths = [int(x) for x in args.lengths.split(",")]
    if len(lengths) < 2:
        sys.exit("error: --lengths needs at least two lengths to fit")
    if not (os.path.isfile(args.glance) and os.access(args.glance, os.X_OK)):
        sys.exit(f"error: Glance binary not found: {args.glance} (swift build -c release, or --glance PATH)")

    results = []
    for n in lengths:
        command = [args.glance, "bench", "--mechanism", args.mechanism, "--length", str(n), "--repeat", str(args.repeat),
                   "--threads", str(args.threads), "--json"] + (["--backward"] if args.backward else []) + extra
        print(f"$ {' '.join(command)}", file=sys.stderr, flush=True)
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"error: glance bench failed at n = {n}:\n{run.stdout}{run.stderr}")
        line = [l for l in run.stdout.splitlines() if l.startswith("{")][-1]
        results.append(json.loads(line))

    ns = [r["length"] for r in results]
    fits = {"forward_time_exponent": power_law_exponent(ns, [r["forward_ms"] for r in results])}
    if args.backward:
        fits["backward_time_exponent"] = power_law_exponent(ns, [r["backward_ms"] for r in results])
    peaks = [r["peak_rss_bytes"] for r in results]
    fits["peak_memory_exponent"] = power_law_exponent(ns, peaks)
    slope, intercept, r2 = line_fit(ns, peaks)
    fits.update({"peak_memory_bytes_per_token": slope, "peak_memory_intercept_bytes": intercept, "peak_memory_linear_r2": r2})

    print(f"`{args.mechanism}` {' '.join(extra)}: {args.threads} threads, median of {args.repeat}\n")
    print("| length | fwd ms | fwd+bwd ms | peak MiB |")
    print("|---:|---:|---:|---:|")
    for r in results:
        backward = "–" if r.get("backward_ms") is None else f"{r['backward_ms']:.1f}"
        print(f"| {r['length']} | {r['forward_ms']:.1f} | {backward} | {r['peak_rss_bytes'] / 2**20:.0f} |")
    print()
    print(f"time exponent (t ≈ c·n^a): forward {fits['forward_time_exponent']:.3f}"
          + (f", forward+backward {fits['backward_time_exponent']:.3f}" if args.backward else ""))
    print(f"peak memory: exponent {fits['peak_memory_exponent']:.3f}; linear fit {intercept / 2**20:.0f} MiB + "
          f"{slope / 1024:.1f} KiB/token, R² = {r2:.4f}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"mechanism": args.mechanism, "options": extra, "threads": args.threads, "repeat": args.repeat,
                       "runs": results, "fits": fits}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
