#!/usr/bin/env bash
# Create the SCALE-Sim v3 virtual environment used as an independent cycle/access oracle.
#
# Why a separate venv: SCALE-Sim pins its own numpy/pandas/numba stack and must never be
# imported by archsim (peers.md §3.7). It lives OUTSIDE the repository by default so it is
# never committed or carried around with the working tree.
#
#   SCALESIM_VENV   where to create it  (default: $HOME/.cache/archsim/scalesim-venv)
#   PYTHON          interpreter to build it from (default: python3)
#
# Idempotent: if the venv already has scalesim==3.0.0 and numpy<2.4, nothing is done.
# Workaround pinned here (peers.md §3.1, failure 1): numpy 2.4 crashes SCALE-Sim 3.0.0 at the end
# of every layer (scalesim-project/SCALE-Sim #160), so numpy is held below 2.4.
set -euo pipefail

SCALESIM_VERSION="3.0.0"
VENV="${SCALESIM_VENV:-$HOME/.cache/archsim/scalesim-venv}"
PY="${PYTHON:-python3}"

check() {
    "$VENV/bin/python" - "$SCALESIM_VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
want = sys.argv[1]
ok = version("scalesim") == want
major, minor = (int(x) for x in version("numpy").split(".")[:2])
ok = ok and (major, minor) < (2, 4)
import scalesim.scale_sim  # noqa: F401  (the import itself must work)
sys.exit(0 if ok else 1)
PYEOF
}

if [ -x "$VENV/bin/python" ] && check; then
    echo "scalesim venv OK: $VENV (scalesim $SCALESIM_VERSION)"
    exit 0
fi

echo "creating scalesim venv at $VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "scalesim==$SCALESIM_VERSION" "numpy<2.4"
check || { echo "scalesim venv at $VENV failed its check (scalesim==$SCALESIM_VERSION, numpy<2.4)" >&2; exit 1; }
"$VENV/bin/python" -m pip freeze > "$VENV/archsim-freeze.txt"
echo "scalesim venv ready: $VENV"
