#!/usr/bin/env bash
# The PyTorch that the benchmarks compare with: a current 2.x from PyPI (not Debian's old
# python3-torch) with numpy, in a virtual environment made on first use. Prints the
# environment's python. PYTORCH_VENV names the folder (default: .venv-torch in the checkout,
# ignored by git); PYTORCH_PYTHON, if set, is used as it is instead.
#   py=$(bench/torch_venv.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${PYTORCH_PYTHON:-}" ]; then
  echo "$PYTORCH_PYTHON"
  exit 0
fi
venv=${PYTORCH_VENV:-$root/.venv-torch}
if ! "$venv/bin/python" -c "import torch, numpy" 2>/dev/null; then
  echo "bench/torch_venv.sh: installing torch and numpy from PyPI into $venv (a few minutes, once)" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet torch numpy >&2
fi
echo "$venv/bin/python"
