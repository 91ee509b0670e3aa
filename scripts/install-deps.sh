#!/usr/bin/env bash
# Installs what Glance needs to build on Linux: pkg-config, OpenBLAS, kissfft (the FFT of the
# log-mel features) and libsamplerate (audio resampling). Each library is checked by its
# pkg-config name; only the missing ones are installed.
set -euo pipefail
if [ "$(uname)" = "Darwin" ]; then exit 0; fi   # Accelerate ships with macOS
# pkg-config name → Debian package.
LIBRARIES=("openblas libopenblas-dev" "kissfft-float libkissfft-dev" "samplerate libsamplerate0-dev")
MISSING=()
command -v pkg-config >/dev/null 2>&1 || MISSING+=(pkg-config)
for entry in "${LIBRARIES[@]}"; do
    read -r name package <<<"$entry"
    if ! pkg-config --exists "$name" 2>/dev/null; then MISSING+=("$package"); fi
done
if [ ${#MISSING[@]} -eq 0 ]; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${MISSING[*]} with apt-get…"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${MISSING[@]}" >/dev/null
else
    echo "Glance needs pkg-config and these libraries with their pkg-config files: OpenBLAS ('openblas'), kissfft ('kissfft-float') and libsamplerate ('samplerate')." >&2
    echo "Missing here: ${MISSING[*]} (Debian names). Install them with your package manager (e.g. openblas-devel, kissfft-devel, libsamplerate-devel), then retry." >&2
    exit 1
fi
