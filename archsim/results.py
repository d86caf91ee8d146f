"""Per-layer and per-network results that add up.

A `LayerResult` is one layer simulated on one design: cycles, stall cycles by cause, MACs,
accesses per component, the energy frame (layer × component × action) and the design's area.
Results add: ``a + b`` (layers or networks) gives a `NetworkResult` whose cycles, stalls, MACs,
bytes and energy are the sums of its layers' — layers run back to back, so latency adds too. Area
is a property of the hardware, not of the work: it is *not* summed, and adding results of different
designs is refused.

Throughput and efficiency definitions
-------------------------------------
* ops = 2 per *dense-equivalent* MAC (the layer's MACs as if no weight were pruned) by default, so a
  sparse design that skips work gets credit for the work it avoided — the convention of the
  sparse-accelerator papers this project compares with. ``effective=True`` counts 2 per MAC actually
  executed instead.
* TOPS/W = ops / energy (J) / 1e12 = ops / energy_pJ.
* ops for every TOPS and TOPS/W number, in every table and plot: `OPS_NOTE`
  ("ops = 2 x dense-equivalent MACs") unless a column or key says ``effective``.

Core vs system energy (why both)
--------------------------------
DRAM is a third of a compressed design's energy (MVQ on ResNet-18: ~35 %) and its pJ/bit depends
on the memory part, not the accelerator, so papers quote either number. Both are reported:

* **system** energy = every row of the energy frame (what `energy_pj` is);
  ``tops_per_w_system`` = ops / system energy. ``tops_per_w`` is kept as its alias.
* **core** energy = every row except the off-chip DRAM rows (components whose
  `archsim.cost.CATEGORY` is ``"DRAM"``): the MAC array, register files, SRAM buffers, codebook,
  decoders and muxes, clock/control and all leakage (logic and SRAM) stay in;
  ``tops_per_w_core`` = ops / core energy, so ``tops_per_w_core >= tops_per_w_system``.
* ``energy_core_pj + energy_dram_pj == energy_pj`` holds exactly in floating point: core and DRAM
  are each the exact (``math.fsum``) sum of their rows and the total is defined as their sum, so it
  is within one rounding (~1e-16 relative) of an fsum over all rows. (The other way round, total =
  fsum of all rows, cannot always be split exactly: a half-ulp tie has no float complement.)
* TOPS = ops / latency (s) / 1e12; TOPS/mm² = TOPS / (area µm² / 1e6).
* inferences/s = batch / latency (s).
* utilisation = executed MACs / (PEs × cycles) (spatial × temporal, stalls included).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import pandas as pd

from archsim.cost import CATEGORIES, CATEGORY, by_category, by_component, empty_energy
from archsim.sim.engine import BufferCounts, LayerCounters

#: The ops convention of every TOPS / TOPS/W number archsim reports (table headers, CSV readmes, plot titles).
OPS_NOTE = "ops = 2 x dense-equivalent MACs"
#: The energy category that is off-chip (excluded from core energy).
DRAM_CATEGORY = "DRAM"


def _is_dram(component: str) -> bool:
    """Whether an energy-frame component is off-chip DRAM (``dram`` or a registered unit in the DRAM category)."""
    return component == "dram" or CATEGORY.get(component) == DRAM_CATEGORY


def _sum_maps(maps: Iterable[Mapping[str, float]]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for m in maps:
        for k, v in m.items():
            out[k] += v
    return dict(sorted(out.items()))


class _Metrics:
    """Derived metrics shared by layer and network results (everything from summed counts)."""

    cycles: int
    clock_hz: float
    area: pd.DataFrame
    batch: int
    pe_total: int

    @property
    def energy_pj(self) -> float:
        """Total (system) energy = `energy_core_pj` + `energy_dram_pj`, each an exact (``math.fsum``) sum of
        its rows of `energy`: the split adds up exactly, and the total is within one rounding of an fsum
        over all rows."""
        return self.energy_core_pj + self.energy_dram_pj

    def _split_rows(self, dram: bool) -> list[float]:
        """Energy of the DRAM rows (``dram``) or of every other row, in frame order."""
        comps = self.energy.index.get_level_values("component")
        return [float(e) for c, e in zip(comps, self.energy["energy_pj"].to_numpy()) if _is_dram(str(c)) == dram]

    @property
    def energy_dram_pj(self) -> float:
        """Off-chip DRAM energy (pJ): the rows of every DRAM-category component."""
        return math.fsum(self._split_rows(dram=True))

    @property
    def energy_core_pj(self) -> float:
        """On-chip (core) energy (pJ): every row except DRAM: array, RFs, buffers, codebook, decoders, muxes,
        clock/control and leakage."""
        return math.fsum(self._split_rows(dram=False))

    @property
    def energy_breakdown(self) -> dict[str, float]:
        """pJ per energy category (see `archsim.cost.CATEGORY`)."""
        return by_category(self.energy)

    @property
    def energy_by_component(self) -> dict[str, float]:
        return by_component(self.energy)

    @property
    def area_um2(self) -> float:
        return float(self.area["area_um2"].sum())

    @property
    def latency_s(self) -> float:
        return self.cycles / self.clock_hz

    @property
    def utilisation(self) -> float:
        return self.macs / (self.pe_total * self.cycles) if self.cycles else 0.0

    @property
    def stall_cycles(self) -> int:
        return sum(self.stalls.values())

    @property
    def gated_macs(self) -> int:
        """MAC slots clock-gated on pruned zeros (zero-gated dense arrays, spare slots of sparse ones)."""
        return int(sum(lr.counters.events.get(("pe_array", "gated_mac"), 0) for lr in self.layers))

    def ops(self, effective: bool = False) -> float:
        return 2.0 * (self.macs if effective else self.dense_macs)

    def tops(self, effective: bool = False) -> float:
        return self.ops(effective) / self.latency_s / 1e12 if self.cycles else 0.0

    def tops_per_w_system(self, effective: bool = False) -> float:
        """ops / system energy (DRAM included); ops per `OPS_NOTE` (``effective``: executed MACs x 2)."""
        e = self.energy_pj
        return self.ops(effective) / e if e else 0.0

    def tops_per_w(self, effective: bool = False) -> float:
        """Alias of `tops_per_w_system` (kept for compatibility: TOPS/W without a qualifier is the system value)."""
        return self.tops_per_w_system(effective)

    def tops_per_w_core(self, effective: bool = False) -> float:
        """ops / core energy (no DRAM rows); >= `tops_per_w_system`."""
        e = self.energy_core_pj
        return self.ops(effective) / e if e else 0.0

    def tops_per_mm2(self, effective: bool = False) -> float:
        return self.tops(effective) / (self.area_um2 / 1e6)

    @property
    def inferences_per_s(self) -> float:
        return self.batch / self.latency_s if self.cycles and self.batch else float("nan")

    def summary(self) -> dict[str, Any]:
        """Headline numbers as plain data (JSON-safe)."""
        return {
            "cycles": int(self.cycles), "busy_cycles": int(self.busy_cycles),
            "stall_cycles": int(self.stall_cycles), "stalls_by_cause": {k: int(v) for k, v in self.stalls.items()},
            "latency_s": self.latency_s, "macs": int(self.macs), "dense_macs": int(self.dense_macs),
            "gated_macs": self.gated_macs,
            "utilisation": self.utilisation, "dram_read_bytes": dict(self.dram_read_bytes),
            "dram_write_bytes": dict(self.dram_write_bytes), "energy_pj": self.energy_pj,
            "energy_core_pj": self.energy_core_pj, "energy_dram_pj": self.energy_dram_pj,
            "energy_breakdown_pj": self.energy_breakdown, "energy_by_component_pj": self.energy_by_component,
            "area_um2": self.area_um2, "ops": self.ops(), "ops_definition": OPS_NOTE, "tops": self.tops(),
            "tops_per_w": self.tops_per_w(), "tops_per_w_system": self.tops_per_w_system(),
            "tops_per_w_core": self.tops_per_w_core(),
            "tops_per_w_effective": self.tops_per_w(effective=True),
            "tops_per_w_core_effective": self.tops_per_w_core(effective=True), "tops_per_mm2": self.tops_per_mm2(),
            "inferences_per_s": self.inferences_per_s, "batch": self.batch,
        }

    def __add__(self, other: "_Metrics") -> "NetworkResult":
        return combine([self, other])


@dataclass(frozen=True, eq=False)
class LayerResult(_Metrics):
    """One layer on one design."""

    name: str
    design: str
    clock_hz: float
    batch: int
    dense_macs: int
    counters: LayerCounters
    energy: pd.DataFrame
    area: pd.DataFrame

    @property
    def layers(self) -> tuple["LayerResult", ...]:
        return (self,)

    @property
    def cycles(self) -> int:  # type: ignore[override]
        return self.counters.cycles

    @property
    def busy_cycles(self) -> int:
        return self.counters.busy_cycles

    @property
    def stalls(self) -> dict[str, int]:
        return dict(self.counters.stall_cycles)

    @property
    def macs(self) -> int:
        return self.counters.macs

    @property
    def pe_total(self) -> int:  # type: ignore[override]
        return self.counters.pe_total

    @property
    def dram_read_bytes(self) -> dict[str, float]:
        return dict(self.counters.dram_read_bytes)

    @property
    def dram_write_bytes(self) -> dict[str, float]:
        return dict(self.counters.dram_write_bytes)

    @property
    def accesses(self) -> pd.DataFrame:
        """Buffer traffic per component: bytes and port accesses, read and write."""
        return pd.DataFrame({n: vars(b) for n, b in self.counters.buffers.items()}).T

    def row(self) -> dict[str, Any]:
        return {"name": self.name, "cycles": self.cycles, "stall_cycles": self.stall_cycles,
                "utilisation": self.utilisation, "macs": self.macs,
                "dram_bytes": self.counters.dram_bytes, "energy_pj": self.energy_pj,
                "energy_core_pj": self.energy_core_pj, "energy_dram_pj": self.energy_dram_pj,
                "tops_per_w_core": self.tops_per_w_core(), "tops_per_w_system": self.tops_per_w_system()}


@dataclass(frozen=True, eq=False)
class NetworkResult(_Metrics):
    """Layers run back to back on one design; every count is the sum over `layers`."""

    name: str
    design: str
    clock_hz: float
    batch: int
    layers: tuple[LayerResult, ...]
    area: pd.DataFrame
    _energy: pd.DataFrame | None = field(default=None, repr=False)
    #: The array simulated and the iso condition it was sized under (`archsim.sizing.ArraySizing`; None for
    #: results assembled by `combine`). Stated in `summary`, `to_dict` and `archsim run`'s header/JSON/CSV.
    sizing: Any = None

    @property
    def energy(self) -> pd.DataFrame:
        if self._energy is None:
            frame = pd.concat([lr.energy for lr in self.layers]) if self.layers else empty_energy()
            object.__setattr__(self, "_energy", frame)
        return self._energy  # type: ignore[return-value]

    @property
    def cycles(self) -> int:  # type: ignore[override]
        return sum(lr.cycles for lr in self.layers)

    @property
    def busy_cycles(self) -> int:
        return sum(lr.busy_cycles for lr in self.layers)

    @property
    def stalls(self) -> dict[str, int]:
        return {k: int(v) for k, v in _sum_maps(lr.stalls for lr in self.layers).items()}

    @property
    def macs(self) -> int:
        return sum(lr.macs for lr in self.layers)

    @property
    def dense_macs(self) -> int:
        return sum(lr.dense_macs for lr in self.layers)

    @property
    def pe_total(self) -> int:  # type: ignore[override]
        return self.layers[0].pe_total

    @property
    def dram_read_bytes(self) -> dict[str, float]:
        return _sum_maps(lr.dram_read_bytes for lr in self.layers)

    @property
    def dram_write_bytes(self) -> dict[str, float]:
        return _sum_maps(lr.dram_write_bytes for lr in self.layers)

    @property
    def accesses(self) -> pd.DataFrame:
        frames = [lr.accesses for lr in self.layers]
        return pd.concat(frames).groupby(level=0).sum()

    def layers_frame(self) -> pd.DataFrame:
        """One row per layer, every count the totals are made of (the CSV of `archsim run --csv`):

        cycles (``busy_cycles`` + ``stall_cycles``), ``stall_<cause>_cycles`` per stall cause (one column per
        cause seen in any layer, 0 where a layer has none), ``macs`` (executed), ``dense_macs``, ``gated_macs``,
        ``utilisation``, ``dram_bytes`` and ``dram_read_<operand>_bytes`` / ``dram_write_<operand>_bytes``,
        energy in pJ (``energy_pj`` = ``energy_core_pj`` + ``energy_dram_pj``; ``energy_cat_<category>_pj`` per
        `archsim.cost.CATEGORIES` category; ``energy_comp_<component>_pj`` per component), TOPS/W (core,
        system; ops per `OPS_NOTE`). Columns are the same for every layer, so the table sums column-wise
        to the network totals."""
        causes = sorted({c for lr in self.layers for c in lr.stalls})
        reads = sorted({k for lr in self.layers for k in lr.dram_read_bytes})
        writes = sorted({k for lr in self.layers for k in lr.dram_write_bytes})
        cats = list(dict.fromkeys([*CATEGORIES, *(c for lr in self.layers for c in lr.energy_breakdown)]))
        comps = sorted({c for lr in self.layers for c in lr.energy_by_component})
        rows = []
        for lr in self.layers:
            stalls, rd, wr = lr.stalls, lr.dram_read_bytes, lr.dram_write_bytes
            cat, comp = lr.energy_breakdown, lr.energy_by_component
            row: dict[str, Any] = {"name": lr.name, "cycles": lr.cycles, "stall_cycles": lr.stall_cycles,
                                   "busy_cycles": lr.busy_cycles}
            row.update({f"stall_{_slug(c)}_cycles": int(stalls.get(c, 0)) for c in causes})
            row.update({"macs": lr.macs, "dense_macs": lr.dense_macs, "gated_macs": lr.gated_macs,
                        "utilisation": lr.utilisation, "dram_bytes": lr.counters.dram_bytes})
            row.update({f"dram_read_{_slug(k)}_bytes": float(rd.get(k, 0.0)) for k in reads})
            row.update({f"dram_write_{_slug(k)}_bytes": float(wr.get(k, 0.0)) for k in writes})
            row.update({"energy_pj": lr.energy_pj, "energy_core_pj": lr.energy_core_pj,
                        "energy_dram_pj": lr.energy_dram_pj})
            row.update({f"energy_cat_{_slug(c)}_pj": float(cat.get(c, 0.0)) for c in cats})
            row.update({f"energy_comp_{_slug(c)}_pj": float(comp.get(c, 0.0)) for c in comps})
            row.update({"tops_per_w_core": lr.tops_per_w_core(), "tops_per_w_system": lr.tops_per_w_system()})
            rows.append(row)
        return pd.DataFrame(rows).set_index("name")

    def summary(self) -> dict[str, Any]:
        """Headline numbers as plain data (JSON-safe), with the array and iso condition when known."""
        out = super().summary()
        out["energy_per_inference_pj"] = self.energy_pj / self.batch if self.batch else float("nan")
        if self.sizing is not None:
            out.update(self.sizing.to_dict())
        return out

    def to_dict(self) -> dict[str, Any]:
        out = {"workload": self.name, "design": self.design, "clock_hz": self.clock_hz, **self.summary()}
        out["area_breakdown_um2"] = {str(k): float(v) for k, v in self.area["area_um2"].items()}
        out["layers"] = [{**lr.row(), "stalls_by_cause": lr.stalls, "energy_breakdown_pj": lr.energy_breakdown}
                         for lr in self.layers]
        return out


def _slug(text: str) -> str:
    """Column-name fragment: 'muxes/decoder' -> 'muxes_decoder'."""
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_")


def combine(results: Iterable[_Metrics], name: str | None = None) -> NetworkResult:
    """Sum layer and/or network results of one design into a `NetworkResult`."""
    layers: list[LayerResult] = []
    names: list[str] = []
    batches: set[int] = set()
    for r in results:
        layers.extend(r.layers)
        names.append(r.name)
        batches.add(r.batch)
    if not layers:
        raise ValueError("combine() needs at least one result")
    first = layers[0]
    for lr in layers[1:]:
        if lr.design != first.design or lr.clock_hz != first.clock_hz or not lr.area.equals(first.area):
            raise ValueError(f"cannot add results of different designs ({first.design!r} vs {lr.design!r}); "
                             f"area and clock would be meaningless")
    batch = batches.pop() if len(batches) == 1 else 0
    return NetworkResult(name=name or "+".join(names), design=first.design, clock_hz=first.clock_hz, batch=batch,
                         layers=tuple(layers), area=first.area)


__all__ = ["BufferCounts", "DRAM_CATEGORY", "LayerResult", "NetworkResult", "OPS_NOTE", "combine"]
