"""Run SCALE-Sim v3 on layer specs and print its per-layer reports as JSON lines.

This script runs INSIDE the SCALE-Sim virtual environment (see ``setup_venv.sh``); it imports
nothing from archsim (SCALE-Sim's stack and ours must never share an interpreter, peers.md §3.7),
only the standard library and ``scalesim``.

Input: a JSON file (or ``-`` for stdin) holding a list of layer specs, each a mapping with

* ``key``           an opaque id echoed back (the caller's cache key);
* ``name``          layer name (letters, digits, ``_``; must not contain ``DP``, which SCALE-Sim
                    treats as "expand as depth-wise");
* ``form``          ``"conv"`` or ``"gemm"``;
* conv form:        ``ifmap_h``, ``ifmap_w`` (already padded: SCALE-Sim never pads),
                    ``filter_h``, ``filter_w``, ``channels``, ``num_filters``, ``stride``;
* gemm form:        ``m``, ``n``, ``k`` (SCALE-Sim maps it to IFMAP m x k, filter 1 x k, n filters);
* ``array_rows``, ``array_cols``; ``ifmap_sram_kb``, ``filter_sram_kb``, ``ofmap_sram_kb``;
* ``dataflow``      ``"ws"``, ``"os"`` or ``"is"``;
* ``bandwidth_mode`` ``"CALC"`` (SCALE-Sim sizes the bandwidth for a stall-free run) or ``"USER"``;
* ``bandwidth``     words/cycle, used in USER mode for all three operands.

Output: one JSON line per spec on stdout (flushed after each, so a caller's timeout keeps what
finished): ``{"key", "name", "ok": true, "compute": {...}, "detail": {...}, "wall_s", "versions"}``
or ``{"key", "name", "ok": false, "error", "log_tail"}``. SCALE-Sim's own chatter is captured and
only its tail is reported on failure.

Workarounds applied (peers.md §3.1): the run goes through the Python API with
``save_disk_space=True`` (the CLI ignores ``-s`` and writes ~44 MB of traces per layer), a
header-only layout CSV is passed (the layout file is required even with custom layouts off), and
per-layer numbers are read from ``single_layer_sim_object_list[0]`` (``get_total_cycles`` raises).
numpy < 2.4 is pinned by ``setup_venv.sh``.

Usage::

    $SCALESIM_VENV/bin/python oracle.py specs.json > results.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import tempfile
import time
import traceback
from importlib.metadata import version
from pathlib import Path
from typing import Any

#: Names of `get_compute_report_items()` in SCALE-Sim 3.0.0 order (single_layer_sim.py).
COMPUTE_ITEMS = ("total_cycles_incl_prefetch", "compute_cycles", "stall_cycles", "overall_util_pct",
                 "mapping_eff_pct", "compute_util_pct")

#: Names of `get_detail_report_items()` in SCALE-Sim 3.0.0 order (single_layer_sim.py); counts in words.
DETAIL_ITEMS = tuple(
    f"{mem}_{operand}_{what}"
    for mem, operands in (("sram", (("ifmap", "reads"), ("filter", "reads"), ("ofmap", "writes"))),
                          ("dram", (("ifmap", "reads"), ("filter", "reads"), ("ofmap", "writes"))))
    for operand, count in operands
    for what in ("start_cycle", "stop_cycle", count)
)

#: Header of SCALE-Sim's layout CSV (21 columns); only the header is written, custom layouts are off.
LAYOUT_HEADER = ("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, "
                 "Filter Height Intraline Factor, Filter Width Intraline Factor, Channel Intraline Factor, "
                 "Num Filter Intraline Factor, IFMAP Height Intraline Order, IFMAP Width Intraline Order, "
                 "Filter Height Intraline Order, Filter Width Intraline Order, Channel Intraline Order, "
                 "Num Filter Intraline Order, IFMAP Height Interline Order, IFMAP Width Interline Order, "
                 "Filter Height Interline Order, Filter Width Interline Order, Channel Interline Order, "
                 "Num Filter Interline Order, Filter Height Interline Order, Filter Width Interline Order,\n")

#: Address-space bases of the three operands (SCALE-Sim's own example config values).
OFFSETS = {"IfmapOffset": 0, "FilterOffset": 10000000, "OfmapOffset": 20000000}

#: Request-buffer depths (SCALE-Sim's example config values; they only matter in USER mode).
REQUEST_BUFFERS = {"ReadRequestBuffer": 32, "WriteRequestBuffer": 32}

_NAME_OK = re.compile(r"^[A-Za-z0-9_]+$")


def _check_spec(spec: dict[str, Any]) -> None:
    """Fail early, with the field named, instead of letting SCALE-Sim print-and-exit."""
    name = spec.get("name", "")
    if not _NAME_OK.match(name) or "DP" in name:
        raise ValueError(f"spec name {name!r}: use letters, digits and '_' only, and no 'DP'")
    form = spec.get("form")
    dims = {"conv": ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filters", "stride"),
            "gemm": ("m", "n", "k")}.get(form)
    if dims is None:
        raise ValueError(f"spec {name!r}: form must be 'conv' or 'gemm', got {form!r}")
    for field in dims + ("array_rows", "array_cols", "ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb"):
        value = spec.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"spec {name!r}: {field} must be a positive integer, got {value!r}")
    if spec.get("dataflow") not in ("ws", "os", "is"):
        raise ValueError(f"spec {name!r}: dataflow must be ws, os or is, got {spec.get('dataflow')!r}")
    if spec.get("bandwidth_mode") not in ("CALC", "USER"):
        raise ValueError(f"spec {name!r}: bandwidth_mode must be CALC or USER, got {spec.get('bandwidth_mode')!r}")
    if spec["bandwidth_mode"] == "USER":
        bw = spec.get("bandwidth")
        if not isinstance(bw, int) or bw < 1:
            raise ValueError(f"spec {name!r}: USER mode needs an integer bandwidth >= 1 (words/cycle), got {bw!r}")


def write_inputs(spec: dict[str, Any], folder: Path) -> tuple[Path, Path, Path]:
    """The .cfg (all five sections), one-row topology CSV and header-only layout CSV for one spec."""
    bw = int(spec.get("bandwidth") or 10)
    cfg = "\n".join([
        "[general]",
        f"run_name = {spec['name']}",
        "",
        "[architecture_presets]",
        f"ArrayHeight: {spec['array_rows']}",
        f"ArrayWidth: {spec['array_cols']}",
        f"IfmapSramSzkB: {spec['ifmap_sram_kb']}",
        f"FilterSramSzkB: {spec['filter_sram_kb']}",
        f"OfmapSramSzkB: {spec['ofmap_sram_kb']}",
        *(f"{k}: {v}" for k, v in OFFSETS.items()),
        f"Bandwidth : {bw}",
        f"Dataflow : {spec['dataflow']}",
        "MemoryBanks: 1",
        *(f"{k}: {v}" for k, v in REQUEST_BUFFERS.items()),
        "",
        "[layout]",
        "IfmapCustomLayout: False",
        # In USER mode SCALE-Sim takes the ifmap/filter DRAM bandwidth from these two keys
        # (peers.md §3.2 gotcha), so the same words/cycle is written here and in Bandwidth.
        f"IfmapSRAMBankBandwidth: {bw}",
        "IfmapSRAMBankNum: 1",
        "IfmapSRAMBankPort: 2",
        "FilterCustomLayout: False",
        f"FilterSRAMBankBandwidth: {bw}",
        "FilterSRAMBankNum: 1",
        "FilterSRAMBankPort: 2",
        "",
        "[sparsity]",
        "SparsitySupport : false",
        "",
        "[run_presets]",
        f"InterfaceBandwidth: {spec['bandwidth_mode']}",
        "UseRamulatorTrace: False",
        "",
    ])
    cfg_path = folder / f"{spec['name']}.cfg"
    cfg_path.write_text(cfg)

    topo_path = folder / f"{spec['name']}_topo.csv"
    if spec["form"] == "conv":
        header = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
        row = ", ".join(str(spec[k]) for k in ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels",
                                                 "num_filters", "stride"))
    else:
        header = "Layer, M, N, K,\n"
        row = ", ".join(str(spec[k]) for k in ("m", "n", "k"))
    # Each row must end with a comma: SCALE-Sim's parser drops the last field (peers.md §3.3).
    topo_path.write_text(f"{header}{spec['name']}, {row},\n")

    layout_path = folder / "layout_header_only.csv"
    layout_path.write_text(LAYOUT_HEADER)
    return cfg_path, topo_path, layout_path


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Run SCALE-Sim on one spec; never raises (errors become an ``ok: false`` record)."""
    record: dict[str, Any] = {"key": spec.get("key"), "name": spec.get("name")}
    log = io.StringIO()
    start = time.perf_counter()
    try:
        _check_spec(spec)
        from scalesim.scale_sim import scalesim  # imported late: a bad spec should not pay for it

        with tempfile.TemporaryDirectory(prefix="scalesim_oracle_") as tmp:
            folder = Path(tmp)
            cfg_path, topo_path, layout_path = write_inputs(spec, folder)
            with contextlib.redirect_stdout(log):
                sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg_path), topology=str(topo_path),
                               layout=str(layout_path), input_type_gemm=spec["form"] == "gemm")
                sim.run_scale(top_path=str(folder / "out"))
            layer = sim.runner.single_layer_sim_object_list[0]
            compute = layer.get_compute_report_items()
            detail = layer.get_detail_report_items()
        if len(compute) != len(COMPUTE_ITEMS) or len(detail) != len(DETAIL_ITEMS):
            raise RuntimeError(f"SCALE-Sim report shapes changed: {len(compute)} compute items, {len(detail)} "
                               f"detail items (expected {len(COMPUTE_ITEMS)} and {len(DETAIL_ITEMS)})")
        record.update(
            ok=True,
            compute={k: _plain(v) for k, v in zip(COMPUTE_ITEMS, compute)},
            detail={k: _plain(v) for k, v in zip(DETAIL_ITEMS, detail)},
        )
    except SystemExit as err:  # SCALE-Sim reports bad inputs with print() + exit()
        record.update(ok=False, error=f"SCALE-Sim exited ({err.code})", log_tail=log.getvalue()[-2000:])
    except Exception as err:  # noqa: BLE001 - one bad layer must not lose the others' results
        record.update(ok=False, error=f"{type(err).__name__}: {err}",
                      log_tail=(log.getvalue()[-1000:] + traceback.format_exc()[-2000:]))
    record["wall_s"] = round(time.perf_counter() - start, 3)
    record["versions"] = versions()
    return record


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("scalesim", "numpy", "pandas"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001
            out[pkg] = "missing"
    return out


def _plain(value: Any) -> int | float:
    """numpy scalars -> int/float so the record is JSON; integral floats become ints."""
    number = float(value)
    return int(number) if number.is_integer() else number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("specs", help="JSON file with a list of layer specs, or '-' for stdin")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.specs == "-" else Path(args.specs).read_text()
    specs = json.loads(text)
    if isinstance(specs, dict):
        specs = [specs]
    failed = 0
    for spec in specs:
        record = run_one(spec)
        failed += not record["ok"]
        sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
