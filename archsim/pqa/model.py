"""SimPy models of PQA and the DLA baseline: events per tile / phase, never per cycle.

Time unit: one clock cycle of the design. Both models share one structure, because both designs
stream per-layer tables (PQA: prototypes + LUT; DLA: filters) from external memory into on-chip
banks and may prefetch the next layer's tables while the current layer computes:

* **Loader** process: for each layer, take a free half of the double-buffered table store (a
  ``simpy.Container`` with 2 slots when loading overlaps compute, 1 otherwise), then stream the
  tables. The external channel is `archsim.sim.dram.Dram` (one FCFS channel, bits/cycle from the
  memory config); PQA's transfer also waits for the LUT write ports (NOV*NSV entries per cycle),
  whichever is slower. The slot is given back when the layer that used it finishes computing.
* **Compute**: a layer starts when its tables are loaded and the previous layer has finished (its
  outputs are this layer's inputs).

  - PQA: an encoder process (subtract-square-accumulate units + min tree) emits one tile of
    ``tile_cols`` columns x NSV subspace indices per event into a bounded FIFO
    (``fifo_tiles``); a lookup process (banked LUT read + adder tree + accumulators) consumes
    it. Encoder per tile ``n*ceil(Ls/PLV)*ceil(Np/NPV)``, lookup ``n*ceil(K/NOV)`` cycles;
    ``ceil(Ns/NSV)`` passes. Back-pressure and the slower stage emerge from the FIFO.
  - DLA: one tile per group of Kvec output channels, ``P*ceil(Q/Qvec)*ceil(FW/Svec)*FH*ceil(C/Cvec)``
    cycles each.

  Both end with the datapath depth (`pqa_pipeline_latency` / `dla_pipeline_latency`, [A]).

The steady state is therefore the analytical model's; the difference is pipeline fill and drain
(first tile of the faster stage + datapath depth per layer), which `tests/pqa` bounds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Generator, Sequence

import pandas as pd
import simpy

from archsim.pqa.analytical import (dla_layer, dla_pipeline_latency, pqa_layer, pqa_pipeline_latency)
from archsim.pqa.config import DlaConfig, MemoryConfig, PqaConfig
from archsim.sim.dram import Dram, DramTiming
from compress.pq.facts import PqLayerFacts
from workloads.errors import ArchsimInputError


@dataclass
class LayerRecord:
    name: str
    load_start: float = 0.0
    load_end: float = 0.0
    compute_start: float = 0.0
    compute_end: float = 0.0
    stage_a_busy: float = 0.0  # PQA encoder / DLA PE array
    stage_b_busy: float = 0.0  # PQA lookup+accumulate / unused for DLA
    counters: dict[str, float] = field(default_factory=dict)

    @property
    def compute_cycles(self) -> float:
        return self.compute_end - self.compute_start

    @property
    def load_cycles(self) -> float:
        return self.load_end - self.load_start


@dataclass
class SimResult:
    design: str
    total_cycles: int
    layers: list[LayerRecord]
    dram_bytes: float
    dram_busy_cycles: int
    clock_hz: float

    def frame(self) -> pd.DataFrame:
        rows = []
        for r in self.layers:
            d = asdict(r)
            d.update(d.pop("counters"))
            d["compute_cycles"] = r.compute_cycles
            d["load_cycles"] = r.load_cycles
            rows.append(d)
        return pd.DataFrame(rows).set_index("name")

    @property
    def seconds(self) -> float:
        return self.total_cycles / self.clock_hz


def _dram(env: simpy.Environment, mem: MemoryConfig, clock_hz: float) -> Dram:
    return Dram(env, DramTiming(bytes_per_cycle=mem.bits_per_cycle(clock_hz) / 8, latency_cycles=mem.latency_cycles))


class _TableLoader:
    """Loader + double-buffered table store shared by both designs."""

    def __init__(self, env: simpy.Environment, dram: Dram, overlap: bool, n_layers: int) -> None:
        self.env = env
        self.dram = dram
        self.slots = simpy.Container(env, capacity=2 if overlap else 1, init=2 if overlap else 1)
        self.loaded = [env.event() for _ in range(n_layers)]

    def run(self, jobs: Sequence[tuple[str, float, int]], records: list[LayerRecord]) -> Generator:
        """``jobs``: (operand, bytes, minimum cycles imposed by the receiving write ports)."""
        for i, (operand, nbytes, port_cycles) in enumerate(jobs):
            yield self.slots.get(1)
            records[i].load_start = self.env.now
            transfer = self.env.process(self.dram.transfer(operand, nbytes, write=False))
            yield self.env.all_of([transfer, self.env.timeout(port_cycles)])
            if self.dram.timing.latency_cycles:
                yield self.env.timeout(self.dram.timing.latency_cycles)
            records[i].load_end = self.env.now
            self.loaded[i].succeed()


def _check_memory_configs(facts: Sequence[PqLayerFacts]) -> None:
    if not facts:
        raise ArchsimInputError("no layers to simulate: the workload has no PQ-covered layer")


def simulate_pqa(facts: Sequence[PqLayerFacts], cfg: PqaConfig) -> SimResult:
    """Run the PQA SimPy model over ``facts`` (in order); returns per-layer records and the total."""
    _check_memory_configs(facts)
    timings = [pqa_layer(f, cfg) for f in facts]  # also validates the hardware limits
    env = simpy.Environment()
    dram = _dram(env, cfg.memory, cfg.clock_hz)
    loader = _TableLoader(env, dram, cfg.overlap_table_load, len(facts))
    records = [LayerRecord(f.name) for f in facts]
    latency = pqa_pipeline_latency(cfg)
    jobs = [("pq_tables", f.table_bits / 8, max(1, t.init_port)) for f, t in zip(facts, timings)]

    def encoder(f: PqLayerFacts, enc: int, groups: int, fifo: simpy.Store, rec: LayerRecord) -> Generator:
        for _ in range(groups):
            for start in range(0, f.cols, cfg.tile_cols):
                n = min(cfg.tile_cols, f.cols - start)
                yield env.timeout(n * enc)
                rec.stage_a_busy += n * enc
                yield fifo.put(n)

    def lookup(lut: int, n_tiles: int, fifo: simpy.Store, rec: LayerRecord) -> Generator:
        for _ in range(n_tiles):
            n = yield fifo.get()
            yield env.timeout(n * lut)
            rec.stage_b_busy += n * lut

    def compute() -> Generator:
        for i, (f, t) in enumerate(zip(facts, timings)):
            yield loader.loaded[i]
            rec = records[i]
            rec.compute_start = env.now
            fifo = simpy.Store(env, capacity=cfg.fifo_tiles)
            n_tiles = t.groups * math.ceil(f.cols / cfg.tile_cols)
            yield env.all_of([env.process(encoder(f, t.enc_per_col, t.groups, fifo, rec)),
                              env.process(lookup(t.lut_per_col, n_tiles, fifo, rec))])
            yield env.timeout(latency)
            rec.compute_end = env.now
            rec.counters = {
                "distance_ops": f.cols * f.ns * f.np * f.ls,  # subtract-square-add per element
                "min_compares": f.cols * f.ns * (f.np - 1),
                "lut_reads": f.cols * f.ns * f.k,
                "adds": f.cols * f.ns * f.k,
                "table_bits_loaded": f.table_bits,
            }
            yield loader.slots.put(1)

    env.process(loader.run(jobs, records))
    done = env.process(compute())
    env.run(until=done)
    return SimResult(cfg.name, int(env.now), records, sum(dram.read_bytes.values()), dram.busy_cycles, cfg.clock_hz)


def simulate_dla(facts: Sequence[PqLayerFacts], cfg: DlaConfig) -> SimResult:
    """Run the DLA SimPy model over the dense layers that ``facts`` describe."""
    _check_memory_configs(facts)
    timings = [dla_layer(f, cfg) for f in facts]
    env = simpy.Environment()
    dram = _dram(env, cfg.memory, cfg.clock_hz)
    loader = _TableLoader(env, dram, True, len(facts))  # [C] DLA always overlaps filter load and compute
    records = [LayerRecord(f.name) for f in facts]
    latency = dla_pipeline_latency(cfg)
    jobs = [("filters", f.k * f.reduction * cfg.data_bits / 8, 1) for f in facts]

    def compute() -> Generator:
        for i, t in enumerate(timings):
            yield loader.loaded[i]
            rec = records[i]
            rec.compute_start = env.now
            for _ in range(t.k_groups):  # one tile per group of Kvec output channels
                yield env.timeout(t.cycles_per_group)
                rec.stage_a_busy += t.cycles_per_group
            yield env.timeout(latency)
            rec.compute_end = env.now
            rec.counters = {"macs": t.macs, "mac_slots": t.compute * cfg.peak_macs_per_cycle}
            yield loader.slots.put(1)

    env.process(loader.run(jobs, records))
    done = env.process(compute())
    env.run(until=done)
    return SimResult(cfg.name, int(env.now), records, sum(dram.read_bytes.values()), dram.busy_cycles, cfg.clock_hz)
