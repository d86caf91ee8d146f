"""Helpers for engine tests: a private WS mapper (toymapper.py) and small designs.

A module of its own (not conftest.py): several test folders have a conftest.py, and
`from conftest import ...` would pick whichever was imported first."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from toymapper import toy_ws_schedule  # noqa: E402

from archsim.design import Design  # noqa: E402


def toy_mapper(layer, design, trace=None):
    return toy_ws_schedule(layer, design)


def make_design(rows: int = 16, cols: int = 16, *, w_cap: int = 1 << 20, i_cap: int = 1 << 22, o_cap: int = 1 << 22,
                double: bool = True, out_double: bool | None = None, bw_gbps: float | None = None,
                latency_ns: float | None = None, unlimited: bool = False, port_bits: int = 128,
                banks: int = 4) -> Design:
    out_double = double if out_double is None else out_double
    dram: dict = {"unlimited": unlimited}
    if bw_gbps is not None:
        dram["bandwidth_gbps"] = bw_gbps
    if latency_ns is not None:
        dram["latency_ns"] = latency_ns
    buf = lambda cap, db: {"capacity_bytes": cap, "double_buffered": db, "port_bits": port_bits, "banks": banks}
    return Design(name="test", array={"rows": rows, "cols": cols},
                  buffers={"weight": buf(w_cap, double), "input": buf(i_cap, double), "output": buf(o_cap, out_double)},
                  dram=dram)


