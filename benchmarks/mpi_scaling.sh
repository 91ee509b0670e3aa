#!/usr/bin/env bash
# Data-parallel scaling on one machine: training tokens/s of 1 process × 2 threads against
# 2 ranks × 1 thread (mpirun), and the time the ranks spend summing gradients per step.
# Run it on a quiet machine, with glance built with the MPI trait (docs/data-parallel.md):
#
#   benchmarks/mpi_scaling.sh [CONFIG] [STEPS]      (default configs/demo.json, 200 steps)
#
# Prints one JSON line per layout (the run's summary plus "layout" and "parameters"); the
# runs go to a temporary folder that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-configs/demo.json}
STEPS=${2:-200}
GLANCE=${GLANCE:-.build/release/glance}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT

# The summary (last line) of a JSON run, with the layout and the parameter count added.
summary() {
    local layout=$1 log=$2
    local parameters
    parameters=$(grep -o 'model: [0-9]* parameters' "$log.err" | head -1 | grep -o '[0-9]*' || echo 0)
    tail -1 "$log" | sed "s/^{/{\"layout\": \"$layout\", \"parameters\": $parameters, /"
}

"$GLANCE" train --config "$CONFIG" --steps "$STEPS" --threads 2 --json --output "$runs/one" >"$runs/one.log" 2>"$runs/one.log.err"
summary "1 process x 2 threads" "$runs/one.log"
mpirun -np 2 --oversubscribe "$GLANCE" train --config "$CONFIG" --steps "$STEPS" --threads 1 --json \
    --output "$runs/two" >"$runs/two.log" 2>"$runs/two.log.err"
summary "2 ranks x 1 thread" "$runs/two.log"
