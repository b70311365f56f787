#!/usr/bin/env bash
# Creates .venv and installs Paid with its development extras. Idempotent: reinstalls when pyproject changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
[ -n "$PY" ] || { echo "Paid needs Python 3.11 or newer" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv 2>/dev/null || { apt-get install -y -qq python3-venv >/dev/null; "$PY" -m venv .venv; }
fi
stamp=.venv/.paid-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ standins/pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  export LITELLM_LOCAL_MODEL_COST_MAP=True
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  # The product and, beside it, the offline stand-ins (forge, scripted model) that the demo and the tests use.
  # Pinned by requirements.lock, so that every machine installs the same versions.
  .venv/bin/python -m pip install -q -c requirements.lock -e '.[dev]' -e ./standins
  touch "$stamp"
fi
