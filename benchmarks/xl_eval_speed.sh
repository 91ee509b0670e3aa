#!/usr/bin/env bash
# Dai et al.'s evaluation-speed claim (Transformer-XL 1,800x faster than a vanilla Transformer
# at attention length 3,800): the same char-LM size (2 layers, d_model 128, 4 heads) evaluated
# on the test split
#   (a) as Transformer-XL streaming segments with memory L (glance eval --attention-length L),
#       one segment's forward per segment;
#   (b) as a vanilla Transformer sliding a window of L bytes one byte per prediction, one full
#       forward per predicted byte (glance eval --slide), on evenly spaced positions.
# Run it on a quiet machine (glance built in release):
#
#   benchmarks/xl_eval_speed.sh
#
# Environment: XL_CONFIG (configs/charlm-xl-256.json), VANILLA_CONFIG (configs/charlm-vanilla-512.json,
# sinusoidal positions so that its window extends past the trained 512), LENGTHS ("512 1024 3800"),
# POSITIONS (vanilla predictions per length, 100), BYTES (test bytes the XL model streams, all when
# empty), THREADS (2), GLANCE (.build/release/glance). A run without a checkpoint is trained first.
# Prints one JSON line per evaluation, then a table of tokens/s and the ratio per length.
set -euo pipefail
cd "$(dirname "$0")/.."
GLANCE=${GLANCE:-.build/release/glance}
XL_CONFIG=${XL_CONFIG:-configs/charlm-xl-256.json}
VANILLA_CONFIG=${VANILLA_CONFIG:-configs/charlm-vanilla-512.json}
LENGTHS=${LENGTHS:-"512 1024 3800"}
POSITIONS=${POSITIONS:-100}
BYTES=${BYTES:-}
THREADS=${THREADS:-2}

# The value of a numeric field of a one-line JSON object.
field() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" <<<"$2"; }

for config in "$XL_CONFIG" "$VANILLA_CONFIG"; do
    output=$(sed -n 's/.*"output": *"\([^"]*\)".*/\1/p' "$config")
    if [ ! -f "$output/checkpoint.safetensors" ]; then
        echo "training $config (no checkpoint in $output)" >&2
        "$GLANCE" train --config "$config" --threads "$THREADS" --json | tail -1 >&2
    fi
done

rows=()
for length in $LENGTHS; do
    xl=$("$GLANCE" eval --config "$XL_CONFIG" --split test --attention-length "$length" ${BYTES:+--bytes "$BYTES"} --json --threads "$THREADS")
    echo "$xl"
    vanilla=$("$GLANCE" eval --config "$VANILLA_CONFIG" --split test --slide --attention-length "$length" --positions "$POSITIONS" --json --threads "$THREADS")
    echo "$vanilla"
    xl_speed=$(field tokens_per_s "$xl")
    vanilla_speed=$(field tokens_per_s "$vanilla")
    rows+=("$(awk -v l="$length" -v x="$xl_speed" -v xb="$(field bpc "$xl")" -v v="$vanilla_speed" -v vb="$(field bpc "$vanilla")" \
        'BEGIN { printf "%18d %14.1f %8.4f %14.2f %8.4f %9.0fx", l, x, xb, v, vb, x / v }')")
done
printf '%18s %14s %8s %14s %8s %10s\n' "attention length" "XL tokens/s" "XL bpc" "vanilla tok/s" "van bpc" "XL/vanilla"
printf '%s\n' "${rows[@]}"
