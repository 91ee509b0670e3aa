#!/usr/bin/env bash
# Adaptive Attention Span at maximum span 8,192 (Sukhbaatar et al.'s setting, a smaller model):
# the learned-span char-LM against the same model with every span fixed at 8,192, same steps and
# tokens, both with the cache of earlier hidden states. Trains both, evaluates both on the start
# of the test split streamed with the cache, and prints training tokens/s, peak memory (max RSS
# of the training process) and test bpc side by side with the ratios, and the learned spans.
# Run it on a quiet machine (glance built in release):
#
#   benchmarks/adaptive_span_8192.sh
#
# Environment: LEARNED_CONFIG (configs/charlm-adaptive-span-8192.json), FIXED_CONFIG
# (configs/charlm-adaptive-span-fixed-8192.json), STEPS (the configs' steps when empty),
# EVAL_BYTES (test bytes streamed, 200000), THREADS (2), GLANCE (.build/release/glance),
# RUNS (folder of the two runs, runs/adaptive-span-8192). A run already finished in RUNS is
# evaluated again, not retrained.
set -euo pipefail
cd "$(dirname "$0")/.."
GLANCE=${GLANCE:-.build/release/glance}
LEARNED_CONFIG=${LEARNED_CONFIG:-configs/charlm-adaptive-span-8192.json}
FIXED_CONFIG=${FIXED_CONFIG:-configs/charlm-adaptive-span-fixed-8192.json}
STEPS=${STEPS:-}
EVAL_BYTES=${EVAL_BYTES:-200000}
THREADS=${THREADS:-2}
RUNS=${RUNS:-runs/adaptive-span-8192}
mkdir -p "$RUNS"

# The value of a numeric field of a one-line JSON object.
field() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" <<<"$2"; }

# Trains a run (unless its summary is there) and prints its summary line.
train() {
    local name=$1 config=$2
    if [ ! -s "$RUNS/$name.summary" ]; then
        "$GLANCE" train --config "$config" --output "$RUNS/$name" ${STEPS:+--steps "$STEPS"} --json --threads "$THREADS" | tee "$RUNS/$name.log" >&2
        tail -1 "$RUNS/$name.log" >"$RUNS/$name.summary"
    fi
    cat "$RUNS/$name.summary"
}

learned=$(train learned "$LEARNED_CONFIG")
fixed=$(train fixed "$FIXED_CONFIG")
learned_test=$("$GLANCE" eval --config "$LEARNED_CONFIG" --output "$RUNS/learned" --bytes "$EVAL_BYTES" --json --threads "$THREADS")
fixed_test=$("$GLANCE" eval --config "$FIXED_CONFIG" --output "$RUNS/fixed" --bytes "$EVAL_BYTES" --json --threads "$THREADS")
printf '%s\n' "$learned" "$fixed" "$learned_test" "$fixed_test"
echo "learned spans at the end (positions, per head):"
"$GLANCE" eval --config "$LEARNED_CONFIG" --output "$RUNS/learned" --bytes 1000 --threads "$THREADS" | grep "learned spans" || true

awk -v lt="$(field train_tokens_per_s "$learned")" -v ft="$(field train_tokens_per_s "$fixed")" \
    -v lm="$(field train_peak_rss_bytes "$learned")" -v fm="$(field train_peak_rss_bytes "$fixed")" \
    -v lb="$(field bpc "$learned_test")" -v fb="$(field bpc "$fixed_test")" \
    -v ls="$(field steps "$learned")" -v fs="$(field steps "$fixed")" 'BEGIN {
    printf "%-22s %12s %12s %14s\n", "", "learned span", "fixed span", "learned/fixed"
    printf "%-22s %12d %12d\n", "steps", ls, fs
    printf "%-22s %12.0f %12.0f %13.2fx\n", "training tokens/s", lt, ft, lt / ft
    printf "%-22s %12.0f %12.0f %13.2fx\n", "peak memory (MiB)", lm / 1048576, fm / 1048576, lm / fm
    printf "%-22s %12.4f %12.4f %+13.4f\n", "test bpc", lb, fb, lb - fb
}'
