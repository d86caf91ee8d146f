"""One command: SCALE-Sim v3 vs archsim on a handful of small layers, with every difference explained.

::

    python -m benchmarks.scalesim_crosscheck            # live SCALE-Sim if its venv exists, else golden cache
    python -m benchmarks.scalesim_crosscheck --refresh  # re-run SCALE-Sim and rewrite the golden cache
    python -m benchmarks.scalesim_crosscheck --golden-only

Steps: build the cases (`cases.py`), get SCALE-Sim's numbers (live in its own venv through
`oracle.py`, checked against the committed golden cache, or from the cache alone), run archsim
with unlimited DRAM bandwidth, compare (`compare.py`), and write ``results/scalesim_crosscheck/``
(comparison.csv, sram_sweep.csv, README.md, manifest.json). Exit status 1 when compute cycles
differ, a count is unexplained, or a live SCALE-Sim run disagrees with the golden cache.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.scalesim_crosscheck import golden
from benchmarks.scalesim_crosscheck.cases import SCALESIM_VERSION, Case, default_cases, to_spec
from benchmarks.scalesim_crosscheck.compare import compare_case, run_archsim, sram_sweep_cases
from benchmarks.scalesim_crosscheck.report import write_report

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "results" / "scalesim_crosscheck"
COMMAND = "python -m benchmarks.scalesim_crosscheck"


def all_cases() -> tuple[tuple[Case, ...], tuple[Case, ...]]:
    """(main cases, SRAM-size sweep of the small-SRAM case)."""
    main = default_cases()
    sweep_base = next(c for c in main if c.name == "conv3x3_small_sram")
    return main, tuple(sram_sweep_cases(sweep_base))


def scalesim_records(cases: list[Case], mode: str, venv: str | None, timeout_s: float,
                     log=print) -> tuple[dict[str, dict[str, Any]], str, float]:
    """SCALE-Sim records keyed by cache key; returns (records, source, oracle wall seconds).

    mode: ``auto`` (live when the venv exists, else golden), ``golden`` or ``refresh``.
    """
    specs = {golden.cache_key(s): s for s in (to_spec(c) for c in cases)}
    cached = golden.load_golden()
    live_possible = golden.venv_available(venv)
    if mode == "refresh" and not live_possible:
        raise golden.OracleError(f"--refresh needs SCALE-Sim's venv ({golden.venv_python(venv)} not found); "
                                 f"run `bash benchmarks/scalesim_crosscheck/setup_venv.sh` first")
    if mode == "golden" or not live_possible:
        missing = [s["name"] for k, s in specs.items() if k not in cached]
        if missing:
            raise golden.OracleError(f"golden cache {golden.GOLDEN_PATH} has no SCALE-Sim result for {missing}; "
                                     f"create SCALE-Sim's venv (setup_venv.sh) and run `{COMMAND} --refresh`")
        why = "requested" if mode == "golden" else f"no SCALE-Sim venv at {golden.venv_python(venv).parent.parent}"
        log(f"SCALE-Sim: golden cache ({why})")
        return {k: cached[k] for k in specs}, "golden cache", 0.0

    log(f"SCALE-Sim: running {len(specs)} layers live ({golden.venv_python(venv)})")
    start = time.perf_counter()
    live = golden.run_oracle(specs.values(), venv=venv, timeout_s=timeout_s)
    wall = time.perf_counter() - start
    if mode == "refresh":
        golden.save_golden(live)
        log(f"golden cache rewritten: {golden.GOLDEN_PATH}")
        return live, "live (golden refreshed)", wall
    problems = []
    for key, record in live.items():
        if key in cached:
            problems += [f"{record['spec']['name']}: {d}" for d in golden.drift(cached[key], record)]
    if problems:
        raise golden.OracleError("live SCALE-Sim disagrees with the golden cache (different SCALE-Sim/numpy?):\n  "
                                 + "\n  ".join(problems) + f"\nre-run with --refresh if the new numbers are right")
    new = {k: v for k, v in live.items() if k not in cached}
    if new:
        golden.save_golden({**cached, **new})
        log(f"golden cache: added {len(new)} new entries")
    return live, "live (matches golden cache)", wall


def run(mode: str = "auto", venv: str | None = None, timeout_s: float = golden.DEFAULT_TIMEOUT_S,
        out: Path = DEFAULT_OUT, log=print) -> int:
    main_cases, sweep = all_cases()
    records, source, oracle_wall = scalesim_records(list(main_cases) + list(sweep), mode, venv, timeout_s, log)

    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for case in main_cases:
        record = records[golden.cache_key(to_spec(case))]
        rows += compare_case(case, record, run_archsim(case))
    sweep_rows = []
    for case in sweep:
        record = records[golden.cache_key(to_spec(case))]
        arch = run_archsim(case)
        sweep_rows.append({"layer": case.name, "ifmap_sram_kb": case.ifmap_sram_kb,
                           "scalesim_dram_ifmap_reads": record["detail"]["dram_ifmap_reads"],
                           "archsim_dram_ifmap_bytes": arch["dram_ifmap_reads"],
                           "scalesim_sram_ifmap_reads": record["detail"]["sram_ifmap_reads"],
                           "scalesim_compute_cycles": record["compute"]["compute_cycles"],
                           "archsim_compute_cycles": arch["compute_cycles"]})
    archsim_wall = time.perf_counter() - start

    comparison = pd.DataFrame(rows)
    sweep_frame = pd.DataFrame(sweep_rows)
    scalesim_versions = next(iter(records.values())).get("versions", {})
    meta = {
        "command": COMMAND + {"auto": "", "golden": " --golden-only", "refresh": " --refresh"}[mode],
        "scalesim_source": source,
        "scalesim_versions": scalesim_versions,
        "scalesim_version_expected": SCALESIM_VERSION,
        "scalesim_layer_wall_s": {f"{r['spec']['name']} (ifmap SRAM {r['spec']['ifmap_sram_kb']} kB)": r.get("wall_s")
                                  for r in records.values()},
        "oracle_wall_s": round(oracle_wall, 2),
        "archsim_wall_s": round(archsim_wall, 2),
        "archsim_versions": {"python": platform.python_version(), "simpy": version("simpy"),
                             "numpy": version("numpy"), "pandas": version("pandas")},
        "machine": f"{platform.machine()}, {platform.system()}",
    }
    write_report(out, comparison, sweep_frame, main_cases, meta)

    bad_cycles = comparison[(comparison.metric == "compute_cycles") & (comparison.scalesim != comparison.archsim)]
    unexplained = comparison[comparison.status == "UNEXPLAINED"]
    sweep_cycles = sweep_frame[sweep_frame.scalesim_compute_cycles != sweep_frame.archsim_compute_cycles]
    log(f"{len(main_cases)} layers + {len(sweep)}-point SRAM sweep; compute cycles identical: "
        f"{bad_cycles.empty and sweep_cycles.empty}; unexplained differences: {len(unexplained)}; "
        f"report: {out / 'README.md'}")
    for _, row in pd.concat([bad_cycles, unexplained]).drop_duplicates().iterrows():
        log(f"  FAIL {row.layer} {row.metric}: SCALE-Sim {row.scalesim} vs archsim {row.archsim} — {row.explanation}")
    return 0 if bad_cycles.empty and sweep_cycles.empty and unexplained.empty else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scalesim_crosscheck",
                                     description="Cross-check archsim against SCALE-Sim v3 on small layers.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--refresh", action="store_true",
                       help="re-run SCALE-Sim (needs its venv) and rewrite the golden cache")
    group.add_argument("--golden-only", action="store_true",
                       help="use the committed golden cache even when SCALE-Sim's venv exists")
    parser.add_argument("--venv", default=None, help="SCALE-Sim venv (default $SCALESIM_VENV or "
                                                     "~/.cache/archsim/scalesim-venv)")
    parser.add_argument("--timeout", type=float, default=golden.DEFAULT_TIMEOUT_S,
                        help="seconds per SCALE-Sim layer before it is abandoned (default %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder (default %(default)s)")
    args = parser.parse_args(argv)
    mode = "refresh" if args.refresh else "golden" if args.golden_only else "auto"
    try:
        return run(mode, args.venv, args.timeout, args.out)
    except golden.OracleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
