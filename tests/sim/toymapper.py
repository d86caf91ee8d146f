"""A tiny private WS mapper that drives the engine in tests (independent of archsim.mapping).

Loop order: for each group, for each column fold (N), for each row fold (K): one tile that loads the
fold's weights and its share of the input, computes for SCALE-Sim's closed form
``2*rows + cols + T - 2`` cycles (minus one on the layer's very last tile), and, on the last row
fold, stores the fold's outputs. Inputs are re-fetched for every column fold (no reuse), so DRAM
input traffic grows with the number of column folds.
"""

from __future__ import annotations

import math

from archsim.design import Design
from archsim.schedule import LayerSchedule, Tile, Transfer
from workloads.layer import Layer


def toy_ws_schedule(layer: Layer, design: Design) -> LayerSchedule:
    rows, cols = design.array.rows, design.array.cols
    g = layer.gemm
    p = layer.precision
    kf, nf = math.ceil(g.k / rows), math.ceil(g.n / cols)
    tiles: list[Tile] = []
    in_per_group = layer.input_bytes / g.repeats
    for _ in range(g.repeats):
        for j in range(nf):
            nc = min(cols, g.n - j * cols)
            for i in range(kf):
                kc = min(rows, g.k - i * rows)
                last_k = i == kf - 1
                loads = (Transfer("weight", kc * nc * p.weight_bits / 8),
                         Transfer("input", in_per_group * kc / g.k))
                stores = (Transfer("output", g.m * nc * p.output_bits / 8),) if last_k else ()
                events = {("input_buffer", "read_bytes"): g.m * kc * p.input_bits / 8,
                          ("weight_buffer", "read_bytes"): kc * nc * p.weight_bits / 8,
                          ("output_buffer", "write_bytes"): g.m * nc * p.psum_bits / 8,
                          ("pe_array", "mac"): g.m * kc * nc}
                tiles.append(Tile(compute_cycles=2 * rows + cols + g.m - 2, macs=g.m * kc * nc,
                                  loads=loads, stores=stores, events=events))
    last = tiles[-1]
    tiles[-1] = Tile(compute_cycles=last.compute_cycles - 1, macs=last.macs, loads=last.loads, stores=last.stores,
                     events=last.events)
    ideal = sum(t.compute_cycles for t in tiles)
    return LayerSchedule(layer.name, tuple(tiles), ideal_cycles=ideal, pe_used=min(rows, g.k) * min(cols, g.n),
                         pe_total=rows * cols, notes="toy WS mapper (tests only)")


def scalesim_ws_cycles(layer: Layer, rows: int, cols: int) -> int:
    """SCALE-Sim v3 WS compute cycles, peers.md §3.6 (per group, groups run back to back)."""
    g = layer.gemm
    folds = math.ceil(g.k / rows) * math.ceil(g.n / cols) * g.repeats
    return folds * (2 * rows + cols + g.m - 2) - 1
