#!/usr/bin/env bash
# Create .venv with Python 3.11 and install the project (editable) with its dev tools.
# Idempotent: re-installs only when pyproject.toml changed since the last successful install.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
STAMP=$VENV/.installed-pyproject.sha256

python_311() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$candidate"; return
    fi
  done
  echo "venv: Python 3.11 is required (found: $(python3 --version 2>&1))" >&2
  exit 1
}

wanted=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "venv: creating $VENV"
  "$(python_311)" -m venv "$VENV"
fi
echo "venv: installing the project and its dev tools (pyproject.toml changed or first run)"
# pip's build backend is chatty even with --quiet: keep its output in a log, show it on failure.
log=$VENV/pip-install.log
if ! { "$VENV/bin/python" -m pip install --upgrade pip &&
       "$VENV/bin/python" -m pip install -e "$ROOT[dev]"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "venv: installation failed (full log: $log)" >&2
  exit 1
fi
echo "$wanted" >"$STAMP"
echo "venv: ready ($("$VENV/bin/python" --version))"
