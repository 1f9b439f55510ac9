#!/usr/bin/env bash
# Install LiteLLM's proxy into its own venv, once, so the benchmark can compare against it.
# Kept apart from .venv: LiteLLM pins its own versions of libraries the origin also uses.
# Usage: bash bench/setup_litellm.sh [VENV_DIR]   (default .prism/bench/litellm-venv)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${1:-$ROOT/.prism/bench/litellm-venv}"
# Pinned so every run compares against the same LiteLLM; bump deliberately.
SPEC="${PRISM_BENCH_LITELLM_SPEC:-litellm[proxy]==1.108.0}"
STAMP="$VENV/.prism-installed"
# The interpreter the origin's .venv was made from: both proxies then run on the same build of
# Python (scripts/bootstrap.sh picks the fastest one installed), so the comparison is of code.
PYTHON="$("$ROOT/.venv/bin/python" -c 'import sys; print(sys._base_executable)' 2>/dev/null \
    || command -v python3.11 || command -v python3)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$SPEC $PYTHON" ]]; then
    exit 0
fi

rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$SPEC"
echo "$SPEC $PYTHON" > "$STAMP"
