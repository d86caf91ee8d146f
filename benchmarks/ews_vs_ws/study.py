"""Run the EWS-vs-WS grid and write ``table.csv``, ``ratios.png`` and ``README.md``.

Nothing here is tuned to the paper. The two designs are the ``ws`` and ``ews`` presets resized to each
array (same SRAMs, DRAM, clock and 40 nm table: iso-array, iso-SRAM, *not* iso-area — EWS's register
files cost area, reported in the table). Each point is simulated twice: with the presets' LPDDR4 DRAM
(bandwidth and latency from the 40 nm table) and with unlimited DRAM (compute-only timing), because the
EWS abstract does not say which memory system its throughput figure assumes.

Side studies on ResNet-18 (all sizes, LPDDR4):

* ``loop_order``: both mappers forced to SCALE-Sim's NKM order (the loop order before issue 4's fix,
  which spilled partial sums to DRAM) versus the default least-DRAM ``auto`` order;
* ``wrf_depth``: EWS with a weight RF of 8 instead of the preset's 9 (a sensitivity check of a
  value chosen from the dataflow — one 3x3 kernel — not from these results).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd

from archsim.api import SimContext, simulate
from archsim.cost import CostModel
from archsim.design import load_design
from archsim.mapping.ews import EwsMapper
from archsim.mapping.ws import WsMapper
from archsim.tech import load_tech_table
from workloads.zoo import get_network

NETWORKS = ("resnet18", "vgg16", "mobilenet_v2")
SIZES = (16, 32, 64)
BANDWIDTHS = ("LPDDR4", "unlimited")
#: EWS abstract (reference/energy_tables.md §1 [P]): gains over WS for 16x16 ... 64x64 arrays.
PAPER = {"throughput": (1.22, 1.72), "energy_efficiency": (1.35, 2.48)}
MAPPERS = {"ws": WsMapper, "ews": EwsMapper}


def point(network: Any, dataflow: str, size: int, bandwidth: str, *, loop_order: str | None = None,
          overrides: dict[str, Any] | None = None, study: str = "main") -> dict[str, Any]:
    """Simulate one (network, design, array size, DRAM) point; one flat row of numbers."""
    changes: dict[str, Any] = {"array.rows": size, "array.cols": size, "dram.unlimited": bandwidth == "unlimited"}
    changes.update(overrides or {})
    design = load_design(dataflow).with_overrides(**changes)
    mapper = MAPPERS[dataflow](loop_order=loop_order).map_layer
    start = time.perf_counter()
    r = simulate(network, design, context=SimContext(design, mapper=mapper))
    wall = time.perf_counter() - start
    row: dict[str, Any] = {
        "study": study, "network": network.name, "size": size, "bandwidth": bandwidth, "design": dataflow,
        "loop_order": loop_order or "auto", "wrf_depth": design.register_files.weight_depth,
        "cycles": r.cycles, "busy_cycles": r.busy_cycles, "stall_cycles": r.stall_cycles,
        "utilisation": r.utilisation, "inferences_per_s": r.inferences_per_s, "energy_uj": r.energy_pj / 1e6,
        "tops_per_w": r.tops_per_w(), "area_mm2": r.area_um2 / 1e6, "macs": r.macs,
        "dram_mb": (sum(r.dram_read_bytes.values()) + sum(r.dram_write_bytes.values())) / 1e6,
        "wall_s": wall,
    }
    for operand, nbytes in r.dram_read_bytes.items():
        row[f"dram_read_{operand}_mb"] = nbytes / 1e6
    for operand, nbytes in r.dram_write_bytes.items():
        row[f"dram_write_{operand}_mb"] = nbytes / 1e6
    for comp, pj in r.energy_by_component.items():
        row[f"e_{comp}_uj"] = pj / 1e6
    # the same counters re-priced under the legacy register convention (read = write at one 64-B RF price;
    # archsim/tables/README.md): how much of EWS/WS is the access convention, not the dataflow
    legacy = CostModel(design.with_overrides(**{"accounting.register_convention": "legacy"}),
                       load_tech_table(design.tech))
    row["energy_legacy_convention_uj"] = sum(float(legacy.energy(lr.counters)["energy_pj"].sum())
                                             for lr in r.layers) / 1e6
    acc = r.accesses
    for buf in ("weight_buffer", "input_buffer", "output_buffer"):
        if buf in acc.index:
            row[f"{buf}_read_mb"] = float(acc.loc[buf, "read_bytes"]) / 1e6 if "read_bytes" in acc.columns else None
    return row


def run_grid(networks=NETWORKS, sizes=SIZES, bandwidths=BANDWIDTHS, log=print) -> pd.DataFrame:
    rows = []
    nets = {n: get_network(n) for n in networks}
    for name, net in nets.items():
        for size in sizes:
            for bw in bandwidths:
                for dataflow in ("ws", "ews"):
                    rows.append(point(net, dataflow, size, bw))
                    log(f"  {name:13s} {size:3d}x{size:<3d} {bw:9s} {dataflow:3s} "
                        f"{rows[-1]['cycles']:>12,} cycles {rows[-1]['tops_per_w']:.3f} TOPS/W "
                        f"({rows[-1]['wall_s']:.1f} s)")
    if "resnet18" in nets:
        net = nets["resnet18"]
        for size in sizes:
            for dataflow in ("ws", "ews"):
                rows.append(point(net, dataflow, size, "LPDDR4", loop_order="NKM", study="loop_order"))
            rows.append(point(net, "ews", size, "LPDDR4", overrides={"register_files.weight_depth": 8},
                              study="wrf_depth"))
            log(f"  resnet18 {size}x{size}: side studies done")
    return pd.DataFrame(rows)


def ratios(table: pd.DataFrame, study: str = "main", **fixed: Any) -> pd.DataFrame:
    """EWS/WS ratios per (network, size, bandwidth): throughput = WS cycles / EWS cycles, energy efficiency
    = WS energy / EWS energy (same work, so the TOPS/W ratio)."""
    t = table[table["study"] == study]
    for k, v in fixed.items():
        t = t[t[k] == v]
    keys = ["network", "size", "bandwidth"]
    ws = t[t["design"] == "ws"].set_index(keys)
    ews = t[t["design"] == "ews"].set_index(keys)
    out = pd.DataFrame({
        "throughput_ratio": ws["cycles"] / ews["cycles"],
        "compute_bound_ratio": ws["busy_cycles"] / ews["busy_cycles"],
        "energy_efficiency_ratio": ws["energy_uj"] / ews["energy_uj"],
        "ws_tops_per_w": ws["tops_per_w"], "ews_tops_per_w": ews["tops_per_w"],
        "ws_util": ws["utilisation"], "ews_util": ews["utilisation"],
        "area_ratio": ews["area_mm2"] / ws["area_mm2"],
    }).dropna()
    return out.reset_index()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ews_vs_ws", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/ews_vs_ws", help="output folder (default results/ews_vs_ws)")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS))
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--bandwidths", nargs="+", default=list(BANDWIDTHS), choices=list(BANDWIDTHS))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    table = run_grid(args.networks, args.sizes, args.bandwidths)
    elapsed = time.perf_counter() - start
    table.to_csv(out / "table.csv", index=False)
    from benchmarks.ews_vs_ws.report import write_plot, write_readme

    write_plot(table, out / "ratios.png")
    write_readme(table, out / "README.md", argv_line=" ".join(["python -m benchmarks.ews_vs_ws", "--out", str(out)]
                                                              + _non_default(args)), elapsed_s=elapsed)
    print(f"wrote {out / 'table.csv'}, {out / 'ratios.png'}, {out / 'README.md'} ({elapsed:.0f} s)")
    return 0


def _non_default(args: argparse.Namespace) -> list[str]:
    extra = []
    if list(args.networks) != list(NETWORKS):
        extra += ["--networks", *args.networks]
    if list(args.sizes) != list(SIZES):
        extra += ["--sizes", *map(str, args.sizes)]
    if list(args.bandwidths) != list(BANDWIDTHS):
        extra += ["--bandwidths", *args.bandwidths]
    return extra
