#!/usr/bin/env python3
"""Runs Glance and the PyTorch reference side by side and prints markdown tables.

    benchmarks/compare.py attention --lengths 1024,2048,4096 [--causal] [--backward] [--threads 2] [--repeat 5]
    benchmarks/compare.py gemm [--size 1024]
    benchmarks/compare.py charlm --config FILE [--steps N]
    benchmarks/compare.py fidelity --mechanism performer --features 64,256,1024,4096 [--length 1024] [--seeds 30]

Every measurement runs in its own process. For attention the order of the two
implementations alternates from one length to the next, so neither always runs
on a freshly idle (or freshly heated) machine. Ratios are Glance / PyTorch:
for times, below 1 means Glance is faster; for throughputs, above 1 means
Glance is faster.

This script uses only the standard library; the PyTorch side runs with the
reference venv's interpreter (.venv-reference/bin/python, see --python).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PYTORCH_DIR = os.path.join(HERE, "pytorch")
DEFAULT_PYTHON = os.path.join(REPO, ".venv-reference", "bin", "python")


class RunError(Exception):
    pass


def run_json(command, label, stream=False):
    """Runs `command` (argv list); returns the JSON objects it printed, one per stdout line.

    With stream=True, stdout lines are echoed to stderr as they arrive (for long runs).
    """
    print(f"[{label}] $ {shlex.join(command)}", file=sys.stderr, flush=True)
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise RunError(f"{label}: executable not found: {command[0]}")
    except PermissionError:
        raise RunError(f"{label}: not executable: {command[0]}")
    objects, lines = [], []
    for line in process.stdout:
        lines.append(line)
        if stream:
            print(f"[{label}] {line.rstrip()}", file=sys.stderr, flush=True)
        line = line.strip()
        if line.startswith("{"):
            try:
                objects.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    if process.wait() != 0:
        tail = "".join(lines[-5:]).strip()
        raise RunError(f"{label}: exited with status {process.returncode}" + (f"; last output:\n{tail}" if tail else ""))
    if not objects:
        raise RunError(f"{label}: printed no JSON line")
    return objects


def check_glance(path):
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit(f"error: Glance binary not found or not executable: {path}\n"
                 f"Build it with `swift build -c release` or pass --glance PATH (or --no-glance).")


def check_python(path):
    if os.path.sep in path and not os.path.exists(path):
        sys.exit(f"error: Python interpreter not found: {path}\n"
                 f"Create the reference venv with tools/reference/setup-venv.sh or pass --python.")


def ms(value):
    return "–" if value is None else f"{value:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path, payload):
    if path:
        with open(path, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        print(f"wrote {path}", file=sys.stderr)


# The reference scripts' flag for each Glance option name (`glance mechanisms` lists them).
REFERENCE_FLAGS = {
    "linformer": {"k": "--k", "sharing": "--sharing"},
    "performer": {"features": "--features", "kernel": "--kernel"},
    "logsparse": {"qk_kernel": "--qk-kernel", "window": "--logsparse-window", "subsequence": "--logsparse-subsequence"},
    "reformer": {"hashes": "--hashes", "chunk_length": "--chunk", "buckets": "--buckets"},
    "longformer": {"window": "--window", "dilation": "--dilation"},
}


def reference_flags(mechanism, options):
    """The reference script's flags for Glance options NAME=VALUE (lists [a,b] become a,b)."""
    flags = []
    for option in options:
        name, _, value = option.partition("=")
        flag = REFERENCE_FLAGS.get(mechanism, {}).get(name)
        if flag is None:
            sys.exit(f"error: the PyTorch reference of {mechanism} has no counterpart of option '{name}'")
        flags += [flag, value.strip("[]").replace(" ", "")]
    return flags


def cmd_attention(args):
    if not args.no_glance:
        check_glance(args.glance)
    check_python(args.python)
    common = ["--mechanism", args.mechanism, "--batch", str(args.batch), "--heads", str(args.heads),
              "--head-dim", str(args.head_dim), "--threads", str(args.threads), "--repeat", str(args.repeat)]
    if args.causal:
        common.append("--causal")
    if args.backward:
        common.append("--backward")
    # The baseline: Glance's own exact attention at the same sizes, without mechanism options.
    baseline = None
    if args.baseline and not args.no_glance:
        baseline = ["--mechanism", args.baseline] + common[2:]
    # Mechanism options: Glance takes them as --option NAME=VALUE, the reference under its own flags.
    glance_options, pytorch_options = [], reference_flags(args.mechanism, args.option)
    for option in args.option:
        glance_options += ["--option", option]
    if args.global_tokens:
        glance_options += ["--global-tokens", str(args.global_tokens)]
        pytorch_options += ["--global", str(args.global_tokens)]

    rows, records = [], []
    for index, length in enumerate(args.lengths):
        runs = {
            "glance": [args.glance, "bench"] + common + glance_options + ["--length", str(length), "--json"],
            "pytorch": [args.python, os.path.join(PYTORCH_DIR, "bench_attention.py")] + common + pytorch_options
                       + ["--length", str(length)],
        }
        order = ["glance", "pytorch"] if index % 2 == 0 else ["pytorch", "glance"]
        if baseline:
            runs["baseline"] = [args.glance, "bench"] + baseline + ["--length", str(length), "--json"]
            order.append("baseline")
        results = {}
        for name in order:
            if name == "glance" and args.no_glance:
                continue
            try:
                results[name] = run_json(runs[name], f"{name} L={length}")[-1]
            except RunError as error:
                print(f"error: {error}", file=sys.stderr)
                results[name] = {"error": str(error)}
        g, p = results.get("glance", {}), results.get("pytorch", {})
        record = {"length": length, "order": order, "glance": g or None, "pytorch": p}
        row = [
            length,
            ms(g.get("forward_ms")), ms(p.get("forward_ms")), ratio(g.get("forward_ms"), p.get("forward_ms")),
            ms(g.get("backward_ms")), ms(p.get("backward_ms")), ratio(g.get("backward_ms"), p.get("backward_ms")),
            mib(g.get("peak_rss_bytes")), mib(p.get("peak_rss_bytes")),
        ]
        if baseline:
            f = results.get("baseline", {})
            record["baseline"] = f
            row += [ms(f.get("forward_ms")), ratio(g.get("forward_ms"), f.get("forward_ms")),
                    ms(f.get("backward_ms")), ratio(g.get("backward_ms"), f.get("backward_ms"))]
        records.append(record)
        rows.append(row)

    print(f"Attention `{args.mechanism}`: batch {args.batch}, {args.heads} heads x {args.head_dim}, "
          f"{'causal' if args.causal else 'bidirectional'}, {args.threads} threads, median of {args.repeat}; "
          f"ratio = Glance / PyTorch time (< 1: Glance faster)\n")
    header = ["length", "glance fwd ms", "pytorch fwd ms", "ratio", "glance fwd+bwd ms", "pytorch fwd+bwd ms",
              "ratio", "glance peak MiB", "pytorch peak MiB"]
    if baseline:
        print(f"Baseline: Glance `{args.baseline}` in the same run; 'vs {args.baseline}' = Glance {args.mechanism} / "
              f"Glance {args.baseline} time\n")
        header += [f"glance {args.baseline} fwd ms", f"vs {args.baseline}", f"glance {args.baseline} fwd+bwd ms", f"vs {args.baseline}"]
    print(table(header, rows))
    write_json(args.json_out, {"benchmark": "attention", "settings": vars_for_json(args), "rows": records})
    return 1 if any("error" in (r["glance"] or {}) or "error" in r["pytorch"] or "error" in r.get("baseline", {})
                    for r in records) else 0


def mib(value):
    return "–" if value is None else f"{value / 2**20:.0f}"


def cmd_gemm(args):
    if not args.no_glance:
        check_glance(args.glance)
    check_python(args.python)
    failed = False
    g, p = {}, {}
    if not args.no_glance:
        command = shlex.split(args.glance_cmd.format(glance=shlex.quote(args.glance), size=args.size,
                                                     threads=args.threads))
        try:
            g = run_json(command, "glance")[-1]
        except RunError as error:
            print(f"error: {error}", file=sys.stderr)
            g, failed = {"error": str(error)}, True
    try:
        p = run_json([args.python, os.path.join(PYTORCH_DIR, "bench_gemm.py"), "--size", str(args.size),
                      "--threads", str(args.threads), "--repeat", str(args.repeat)], "pytorch")[-1]
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        p, failed = {"error": str(error)}, True

    def rate(value):
        return "–" if value is None else f"{value:.1f}"

    print(f"float32 GEMM {args.size}x{args.size}; GFLOP/s (higher is better)\n")
    print(table(["size", "glance GFLOP/s", "BLAS GFLOP/s", "pytorch GFLOP/s", "glance/pytorch", "glance/BLAS",
                 "threads (glance/pytorch)"],
                [[args.size, rate(g.get("glance_gflops")), rate(g.get("blas_gflops")), rate(p.get("gflops")),
                  ratio(g.get("glance_gflops"), p.get("gflops")), ratio(g.get("glance_gflops"), g.get("blas_gflops")),
                  f"{g.get('threads', '–')}/{p.get('threads', '–')}"]]))
    write_json(args.json_out, {"benchmark": "gemm", "settings": vars_for_json(args), "glance": g or None,
                               "pytorch": p})
    return 1 if failed else 0


def config_steps(path):
    try:
        with open(path) as f:
            config = json.load(f)
        return int(config.get("training", {}).get("steps", 2000))
    except (OSError, ValueError, AttributeError) as error:
        sys.exit(f"error: cannot read config {path}: {error}")


def summary_of(objects, label):
    for obj in reversed(objects):
        if "final_val_bpc" in obj:
            return obj
    raise RunError(f"{label}: no summary line with final_val_bpc")


def cmd_charlm(args):
    if not args.no_glance:
        check_glance(args.glance)
    check_python(args.python)
    steps = args.steps if args.steps is not None else config_steps(args.config)
    fields = {"glance": shlex.quote(args.glance), "python": shlex.quote(args.python),
              "config": shlex.quote(args.config), "steps": steps, "threads": args.threads,
              "twin": shlex.quote(os.path.join(PYTORCH_DIR, "char_lm.py"))}
    commands = {"pytorch": args.pytorch_cmd}
    if not args.no_glance:
        commands = {"glance": args.glance_cmd, "pytorch": args.pytorch_cmd}
    results, failed = {}, False
    for name, template in commands.items():
        try:
            results[name] = summary_of(run_json(shlex.split(template.format(**fields)), name, stream=True), name)
        except RunError as error:
            print(f"error: {error}", file=sys.stderr)
            results[name], failed = {"error": str(error)}, True
    g, p = results.get("glance", {}), results.get("pytorch", {})

    def num(value, digits):
        return "–" if value is None else f"{value:.{digits}f}"

    rows = [[name, num(r.get("final_val_bpc"), 4), num(r.get("train_tokens_per_s"), 0), r.get("steps", "–"),
             num(r.get("seconds"), 1)] for name, r in (("glance", g), ("pytorch", p)) if name in results]
    print(f"Character-level LM, config {args.config}, {steps} steps\n")
    print(table(["implementation", "final val bpc", "train tokens/s", "steps", "seconds"], rows))
    if g.get("final_val_bpc") is not None and p.get("final_val_bpc") is not None:
        print(f"\nval bpc difference (glance - pytorch): {g['final_val_bpc'] - p['final_val_bpc']:+.4f}")
        print(f"tokens/s ratio (glance / pytorch, > 1: Glance faster): "
              f"{ratio(g.get('train_tokens_per_s'), p.get('train_tokens_per_s'))}")
    write_json(args.json_out, {"benchmark": "charlm", "settings": vars_for_json(args), "steps": steps,
                               "glance": g or None, "pytorch": p})
    return 1 if failed else 0


def cmd_fidelity(args):
    """Approximation error against exact attention, Glance and the reference, per m (or k)."""
    if not args.no_glance:
        check_glance(args.glance)
    check_python(args.python)
    option, values = ("features", args.features) if args.mechanism == "performer" else ("k", args.k)
    if not values:
        sys.exit(f"error: give --{option} (comma-separated) for {args.mechanism}")
    common = ["--mechanism", args.mechanism, "--length", str(args.length), "--heads", str(args.heads),
              "--head-dim", str(args.head_dim), "--seeds", str(args.seeds), "--threads", str(args.threads)]
    if args.causal:
        common.append("--causal")
    options = [f"{option}={value}" for value in values]
    kernel = [f"kernel={args.kernel}"] if args.kernel else []
    rows, records, failed = [], [], False
    for value, glance_option in zip(values, options):
        glance_flags = [flag for o in [glance_option] + kernel for flag in ("--option", o)]
        runs = {"glance": [args.glance, "bench", "--fidelity", "--json"] + common + glance_flags,
                "pytorch": [args.python, os.path.join(PYTORCH_DIR, "fidelity.py")] + common
                           + reference_flags(args.mechanism, [glance_option] + kernel)}
        results = {}
        for name, command in runs.items():
            if name == "glance" and args.no_glance:
                continue
            try:
                results[name] = run_json(command, f"{name} {option}={value}")[-1]
            except RunError as error:
                print(f"error: {error}", file=sys.stderr)
                results[name], failed = {"error": str(error)}, True
        g, p = results.get("glance", {}), results.get("pytorch", {})
        records.append({option: value, "glance": g or None, "pytorch": p})

        def error(r):
            mean, se = r.get("fidelity_relative_error"), r.get("standard_error")
            return "–" if mean is None else f"{mean:.4f}" + ("" if se is None else f" ± {se:.4f}")

        rows.append([value, error(g), error(p), ratio(g.get("fidelity_relative_error"), p.get("fidelity_relative_error"))])
    print(f"Fidelity of `{args.mechanism}`: n {args.length}, {args.heads} head(s) x {args.head_dim}, "
          f"{'causal' if args.causal else 'bidirectional'}, q, k ~ N(0, 0.25), v ~ N(0, 1), mean ± standard error "
          f"over {args.seeds} seeds of ||approx - exact|| / ||exact||\n")
    print(table([option, "glance error", "reference error", "glance / reference"], rows))
    write_json(args.json_out, {"benchmark": "fidelity", "settings": vars_for_json(args), "rows": records})
    return 1 if failed else 0


def vars_for_json(args):
    return {k: v for k, v in vars(args).items() if k != "func"}


def lengths(text):
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive lengths, got {text!r}")
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--glance", default=".build/release/glance", help="Glance CLI binary")
    shared.add_argument("--no-glance", action="store_true", help="run only the PyTorch side")
    shared.add_argument("--python", default=DEFAULT_PYTHON if os.path.exists(DEFAULT_PYTHON) else sys.executable,
                        help="interpreter for the PyTorch scripts (default: .venv-reference)")
    shared.add_argument("--threads", type=int, default=2)
    shared.add_argument("--json-out", help="write all results to this JSON file")
    sub = parser.add_subparsers(dest="command", required=True)

    a = sub.add_parser("attention", parents=[shared], help="one attention layer, forward and backward")
    a.add_argument("--lengths", type=lengths, default=[1024, 2048, 4096])
    a.add_argument("--mechanism", default="full")
    a.add_argument("--batch", type=int, default=1)
    a.add_argument("--heads", type=int, default=8)
    a.add_argument("--head-dim", type=int, default=64)
    a.add_argument("--causal", action="store_true")
    a.add_argument("--backward", action="store_true")
    a.add_argument("--repeat", type=int, default=5)
    a.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="a mechanism option as `glance bench --option` takes it (k=256, features=128, window=512, "
                        "buckets=[8,8]); passed to the reference under its own flag; repeatable")
    a.add_argument("--global-tokens", type=int, help="the first G positions are global (Longformer)")
    a.add_argument("--baseline", help="also time this Glance mechanism (e.g. full) at the same sizes and report the ratio")
    a.set_defaults(func=cmd_attention)

    g = sub.add_parser("gemm", parents=[shared], help="float32 matrix product throughput")
    g.add_argument("--size", type=int, default=1024)
    g.add_argument("--repeat", type=int, default=10, help="PyTorch repeats")
    g.add_argument("--glance-cmd", default="{glance} bench --gemm --size {size} --json",
                   help="template; fields {glance} {size} {threads}")
    g.set_defaults(func=cmd_gemm)

    c = sub.add_parser("charlm", parents=[shared], help="train the byte-level LM in both and compare")
    c.add_argument("--config", required=True)
    c.add_argument("--steps", type=int, help="override training.steps in both runs")
    c.add_argument("--glance-cmd", default="{glance} train --config {config} --steps {steps} --json",
                   help="template; fields {glance} {python} {config} {steps} {threads} {twin}")
    c.add_argument("--pytorch-cmd", default="{python} {twin} --config {config} --steps {steps} --threads {threads}",
                   help="template; same fields")
    c.set_defaults(func=cmd_charlm)

    f = sub.add_parser("fidelity", parents=[shared], help="approximation error against exact attention")
    f.add_argument("--mechanism", default="performer", choices=["performer", "linformer"])
    f.add_argument("--features", type=lengths, help="Performer: feature counts m, comma-separated")
    f.add_argument("--k", type=lengths, help="Linformer: projected lengths k, comma-separated")
    f.add_argument("--kernel", help="Performer: softmax or relu")
    f.add_argument("--length", type=int, default=1024)
    f.add_argument("--heads", type=int, default=1)
    f.add_argument("--head-dim", type=int, default=64)
    f.add_argument("--causal", action="store_true")
    f.add_argument("--seeds", type=int, default=30)
    f.set_defaults(func=cmd_fidelity)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
