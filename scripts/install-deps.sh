#!/usr/bin/env bash
# Installs what Glance needs to build: OpenBLAS (and pkg-config) on Linux.
set -euo pipefail
if [ "$(uname)" = "Darwin" ]; then exit 0; fi   # Accelerate ships with macOS
if pkg-config --exists openblas 2>/dev/null; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
    echo "Installing OpenBLAS (libopenblas-dev) and pkg-config with apt-get…"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenblas-dev pkg-config >/dev/null
else
    echo "Glance needs OpenBLAS with its pkg-config file ('openblas') and pkg-config." >&2
    echo "Install them with your package manager (e.g. libopenblas-dev / openblas-devel), then retry." >&2
    exit 1
fi
