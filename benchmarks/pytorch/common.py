"""Helpers shared by the PyTorch benchmark scripts.

This module must not import torch at module level: `set_thread_env` has to run
before torch is imported so that OpenMP/MKL pick up the thread count.
"""

import json
import os
import resource
import statistics
import sys
import time


def set_thread_env(threads):
    """Sets the OpenMP/MKL thread environment; call before `import torch`."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


def import_torch(threads):
    """Imports torch with `threads` intra-op threads and returns the module."""
    set_thread_env(threads)
    import torch

    torch.set_num_threads(threads)
    return torch


def peak_rss_bytes():
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def median_ms(fn, repeat, warmup):
    """Runs fn() `warmup` times untimed, then `repeat` times; median wall time in ms."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise ValueError(f"expected a positive integer, got {text}")
    return value


def int_list(text):
    """Parses '1024,2048,4096' into [1024, 2048, 4096]."""
    try:
        values = [positive_int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise ValueError(f"expected a comma-separated list of positive integers: {error}")
    if not values:
        raise ValueError("empty list")
    return values


class JsonLines:
    """Writes one JSON object per line to stdout and optionally to a file."""

    def __init__(self, path=None):
        self.file = open(path, "w") if path else None

    def emit(self, obj):
        line = json.dumps(obj)
        print(line, flush=True)
        if self.file:
            self.file.write(line + "\n")
            self.file.flush()

    def close(self):
        if self.file:
            self.file.close()


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def print_per_length(args, bench_one):
    """Imports torch with `args.threads` threads, then prints bench_one(torch, args, length,
    import_rss) as one JSON line per length of `args.length` (import_rss: the peak resident
    set right after importing torch, the library's own footprint)."""
    torch = import_torch(args.threads)
    import_rss = peak_rss_bytes()
    for length in args.length:
        print(json.dumps(bench_one(torch, args, length, import_rss)), flush=True)
