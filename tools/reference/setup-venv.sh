#!/usr/bin/env bash
# Creates (or updates) the PyTorch reference virtual environment at
# <repo root>/.venv-reference and installs tools/reference/requirements.txt.
# Idempotent: re-running only installs what is missing or differs.
# Usage: tools/reference/setup-venv.sh   (env PYTHON=python3.11 to choose the interpreter)
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"
venv="$repo_root/.venv-reference"
requirements="$script_dir/requirements.txt"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "Creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
fi

# Skip the (slow) resolver run when the installed set already matches.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && "$venv/bin/python" -c "import torch, transformers, linformer, performer_pytorch" 2>/dev/null; then
    echo "$venv is up to date."
    exit 0
fi

"$venv/bin/python" -m pip install --upgrade --quiet pip
"$venv/bin/python" -m pip install -r "$requirements"
"$venv/bin/python" - <<'PY'
import torch, transformers, safetensors, numpy, linformer, performer_pytorch
print(f"torch {torch.__version__}, transformers {transformers.__version__}, numpy {numpy.__version__}, "
      f"threads {torch.get_num_threads()}")
PY
echo "$want" > "$stamp"
echo "Reference venv ready: $venv"
