#!/usr/bin/env bash
# Installs whatever the project needs and is missing; a second run is a no-op in seconds.
# Everything lands in .venv/ and node_modules/ of this checkout, except OS server packages.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { echo "bootstrap: Python 3.11+ is required" >&2; exit 1; }

# wrangler 4 refuses Node < 20.3 and the edge runtime needs its JSPI; Debian 12's own nodejs
# package is 18, so an older Node is named here, before minutes of installing, not mid-test.
check_node() {
  local version
  version=$(node -p 'process.versions.node')
  if ! printf '20.3.0\n%s\n' "$version" | sort -C -V; then
    echo "bootstrap: Node.js 20.3 or newer is required, found $version at $(command -v node)" >&2
    exit 1
  fi
}
if command -v node >/dev/null 2>&1; then check_node; fi

# Several builds of one Python version are often installed side by side (the distribution's,
# pyenv's, a hand-built one), and they differ by up to a fifth in speed: profile-guided and
# link-time optimisation. A gateway worker's CPU is mostly the interpreter's, so a new .venv
# gets the fastest build of $PY's version that can make one (scripts/interpreter_probe.py).
# PYTHON=... skips the choice; an existing .venv is kept whatever it was made with.
fastest_build() {
  local minor cand real best="$1" best_ms="" ms count=0
  minor=$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  local -A seen=()
  for cand in "$1" $(type -a -P "python$minor" 2>/dev/null) "/usr/bin/python$minor" \
      "/usr/local/bin/python$minor"; do
    [ -x "$cand" ] || continue
    # Only a build that has every standard module the gateway uses (a hand-built one may lack
    # OpenSSL's or SQLite's) and can make a venv.
    real=$("$cand" -c 'import os, sys, venv, ensurepip, ssl, sqlite3, ctypes, zlib
if "%d.%d" % sys.version_info[:2] == sys.argv[1]: print(os.path.realpath(sys.executable))' \
      "$minor" 2>/dev/null) || continue
    [ -n "$real" ] && [ -z "${seen[$real]:-}" ] || continue
    seen[$real]=1
    count=$((count + 1))
    ms=$("$real" scripts/interpreter_probe.py) || continue
    if [ -z "$best_ms" ] || awk -v a="$ms" -v b="$best_ms" 'BEGIN { exit !(a < b) }'; then
      best=$real best_ms=$ms
    fi
  done
  if [ "$count" -gt 1 ]; then
    echo "bootstrap: .venv uses $best, the fastest of $count builds of Python $minor here" \
      "(${best_ms} ms on scripts/interpreter_probe.py)" >&2
  fi
  echo "$best"
}

stamp=.venv/.installed-$(cat requirements.txt requirements-nodeps.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  if [ ! -x .venv/bin/python ]; then
    [ -n "${PYTHON:-}" ] || PY=$(fastest_build "$PY")
    "$PY" -m venv .venv
  fi
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt 2> >(grep -v "is ignored" >&2)
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt 2> >(grep -v "is ignored" >&2)
  rm -f .venv/.installed-*; touch "$stamp"
fi
# The project itself, editable, so `prism` is on the venv's PATH (dependencies are above).
project=.venv/.project-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$project" ] || [ ! -x .venv/bin/prism ]; then
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e . \
    2> >(grep -v "is ignored" >&2)
  rm -f .venv/.project-*; touch "$project"
fi

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: please install the OS package(s): $*" >&2; exit 1
  fi
  if [ ! -f /tmp/.prism-apt-updated ]; then apt-get update -qq && touch /tmp/.prism-apt-updated; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v redis-server >/dev/null 2>&1 || apt_install redis-server
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 || apt_install postgresql
# The dashboard's browser tests drive the OS's Chromium through Playwright; no browser download.
[ -x /usr/bin/chromium ] || apt_install chromium

if [ -f package.json ]; then
  command -v node >/dev/null 2>&1 || { apt_install nodejs npm; check_node; }
  lock=node_modules/.installed-$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
  if [ ! -f "$lock" ]; then
    npm install --no-audit --no-fund --loglevel=error >/dev/null
    rm -f node_modules/.installed-*; touch "$lock"
  fi
fi

# The edge runtime's Pyodide has no package index offline, so it unpacks local wheels: the real
# `workers` SDK (serve.mjs) and pytest with its dependencies (pytest.mjs). Pure-Python builds
# for Pyodide's Python 3.13, whatever Python runs this script.
edge_wheels="workers-runtime-sdk==1.9.5 pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 pygments==2.21.0 packaging==26.4"
wheel_stamp=.prism/wheels/.installed-$(echo "$edge_wheels" | sha256sum | cut -c1-16)
if [ ! -f "$wheel_stamp" ]; then
  mkdir -p .prism/wheels
  # shellcheck disable=SC2086  # the list is word-split on purpose
  .venv/bin/pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.13 --implementation py --abi none --platform any \
    -d .prism/wheels $edge_wheels 2> >(grep -v "is ignored" >&2)
  rm -f .prism/wheels/.installed-*; touch "$wheel_stamp"
fi
