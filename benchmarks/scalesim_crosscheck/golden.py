"""SCALE-Sim results: run the oracle in its own venv, and keep a committed golden cache.

The cache lets the comparison (and the tests) run on machines without SCALE-Sim. Entries are keyed
by everything that determines SCALE-Sim's answer — layer dims in SCALE-Sim form, array, dataflow,
SRAM sizes, bandwidth mode and SCALE-Sim version — never by the layer's name, so renaming a case
does not orphan its numbers and changing a dimension cannot silently reuse stale ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

HERE = Path(__file__).parent
GOLDEN_PATH = HERE / "golden" / "scalesim_v3_golden.json"
ORACLE = HERE / "oracle.py"

#: Where setup_venv.sh puts SCALE-Sim's venv unless SCALESIM_VENV says otherwise.
DEFAULT_VENV = Path.home() / ".cache" / "archsim" / "scalesim-venv"

#: Seconds one layer may run in SCALE-Sim before it is abandoned (each case takes well under 1 s).
DEFAULT_TIMEOUT_S = 120.0


class OracleError(RuntimeError):
    """SCALE-Sim could not be run or did not answer for a layer."""


def cache_key(spec: dict[str, Any]) -> str:
    """Canonical JSON of the spec without its name: the identity of a SCALE-Sim run."""
    return json.dumps({k: v for k, v in spec.items() if k != "name"}, sort_keys=True, separators=(",", ":"))


def venv_python(venv: Path | str | None = None) -> Path:
    """The SCALE-Sim venv's interpreter (``$SCALESIM_VENV`` or the default location)."""
    root = Path(venv) if venv else Path(os.environ.get("SCALESIM_VENV", DEFAULT_VENV))
    return root / "bin" / "python"


def venv_available(venv: Path | str | None = None) -> bool:
    return venv_python(venv).exists()


def load_golden(path: Path = GOLDEN_PATH) -> dict[str, dict[str, Any]]:
    """key -> SCALE-Sim record (see oracle.py for the record's fields)."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {entry["key"]: entry for entry in data["entries"]}


def save_golden(entries: dict[str, dict[str, Any]], path: Path = GOLDEN_PATH) -> None:
    """Write the cache sorted by key so diffs of a refresh show only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = [entries[k] for k in sorted(entries)]
    payload = {"about": "SCALE-Sim v3 results for benchmarks/scalesim_crosscheck; regenerate with "
                        "`python -m benchmarks.scalesim_crosscheck --refresh` (needs setup_venv.sh)",
               "entries": ordered}
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")


def run_oracle(specs: Iterable[dict[str, Any]], venv: Path | str | None = None,
               timeout_s: float = DEFAULT_TIMEOUT_S, workers: int = 2) -> dict[str, dict[str, Any]]:
    """Run SCALE-Sim on each spec, one subprocess per layer (so one hung layer is killed alone).

    Returns key -> record; the record keeps the spec it came from. Raises `OracleError` naming the
    layer if SCALE-Sim fails or times out.
    """
    python = venv_python(venv)
    if not python.exists():
        raise OracleError(f"SCALE-Sim venv not found at {python.parent.parent}; create it with "
                          f"`bash benchmarks/scalesim_crosscheck/setup_venv.sh` or set SCALESIM_VENV")
    specs = list(specs)

    def one(spec: dict[str, Any]) -> dict[str, Any]:
        key = cache_key(spec)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump([{**spec, "key": key}], fh)
        try:
            proc = subprocess.run([str(python), str(ORACLE), fh.name], capture_output=True, text=True,
                                  timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise OracleError(f"SCALE-Sim timed out after {timeout_s:.0f} s on layer {spec['name']!r}") from None
        finally:
            os.unlink(fh.name)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            raise OracleError(f"SCALE-Sim gave no result for {spec['name']!r} (rc {proc.returncode}): "
                              f"{proc.stderr[-1500:]}")
        record = json.loads(lines[-1])
        if not record.get("ok"):
            raise OracleError(f"SCALE-Sim failed on {spec['name']!r}: {record.get('error')}\n"
                              f"{record.get('log_tail', '')[-1500:]}")
        record["spec"] = spec
        return record

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        records = list(pool.map(one, specs))
    return {r["key"]: r for r in records}


#: Fields of a record that must be reproduced exactly by a re-run (wall time and names may differ).
REPRODUCIBLE_FIELDS = ("compute", "detail")


def drift(golden: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """Human-readable differences between a cached and a fresh SCALE-Sim record of the same key."""
    out = []
    for section in REPRODUCIBLE_FIELDS:
        for item, value in golden[section].items():
            if live[section].get(item) != value:
                out.append(f"{section}.{item}: golden {value} vs live {live[section].get(item)}")
    return out
