#!/usr/bin/env bash
# One command for the SCALE-Sim cross-check: make sure SCALE-Sim's venv exists (idempotent, ~30 s the
# first time, needs the package registry), then compare against archsim live.
# Extra arguments go to the comparison (e.g. --refresh, --golden-only, --timeout 60).
#   PYTHON   archsim's interpreter (default: python)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bash "$here/setup_venv.sh"
cd "$repo"
exec "${PYTHON:-python}" -m benchmarks.scalesim_crosscheck "$@"
