"""Run one layer's schedule on one design and return its counters.

`simulate_schedule` builds a fresh SimPy environment with the design's components (`Dram`, the
SRAM buffers and codebook store, `WeightDecoder`, `SystolicArray`) and a `ControlFsm`, runs it to completion and freezes every
component's counters into a `LayerCounters`. Per-tile on-chip events that do not need timing
(register-file traffic, array-side buffer reads, MACs, mux selects, decodes, lookups) are counted
statically from the schedule — identical tiles cost identical events — so the simulation itself only
carries what timing depends on.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Mapping

import simpy

from archsim.design import Design
from archsim.schedule import LayerSchedule
from archsim.sim.array import SystolicArray
from archsim.sim.buffer import SramBuffer
from archsim.sim.decoder import WeightDecoder
from archsim.sim.dram import Dram, DramTiming
from archsim.sim.fsm import ControlFsm, FsmOptions

BUFFER_NAMES = ("weight_buffer", "input_buffer", "output_buffer", "codebook")
_BUFFER_CONFIG = {"weight_buffer": "weight", "input_buffer": "input", "output_buffer": "output",
                  "codebook": "codebook"}


@dataclass(frozen=True)
class BufferCounts:
    read_bytes: float = 0.0
    write_bytes: float = 0.0
    read_accesses: int = 0
    write_accesses: int = 0


@dataclass(frozen=True)
class LayerCounters:
    """Everything the simulation of one layer counted. All cycle counts are whole cycles.

    ``events`` holds the schedule's non-buffer events ``(component, action) -> count`` summed over
    tile repetitions (MACs, register-file bytes, mux selects, ...). Buffer traffic — from the array
    side (schedule events) and from DRAM fills and write-backs (added by the engine) — is in
    ``buffers``. DRAM bytes are per operand.
    """

    layer_name: str
    cycles: int
    busy_cycles: int
    stall_cycles: Mapping[str, int]
    macs: int
    tiles: int
    ideal_cycles: int
    pe_used: int
    pe_total: int
    dram_read_bytes: Mapping[str, float]
    dram_write_bytes: Mapping[str, float]
    dram_busy_cycles: int
    buffers: Mapping[str, BufferCounts]
    events: Mapping[tuple[str, str], float] = field(default_factory=dict)
    decode_busy_cycles: int = 0

    @property
    def dram_bytes(self) -> float:
        return sum(self.dram_read_bytes.values()) + sum(self.dram_write_bytes.values())


def dram_timing(design: Design, bandwidth_bytes_per_s: float | None, latency_ns: float | None) -> DramTiming:
    """The design's DRAM at its clock; the design's own values override the tech-table defaults."""
    d = design.dram
    if d.unlimited:
        return DramTiming.from_rates(math.inf, 0.0, design.clock_hz, unlimited=True)
    bw = d.bandwidth_gbps * 1e9 if d.bandwidth_gbps is not None else bandwidth_bytes_per_s
    lat = d.latency_ns if d.latency_ns is not None else latency_ns
    if bw is None or lat is None:
        raise ValueError("DRAM bandwidth/latency: give design.dram.bandwidth_gbps/latency_ns or a tech-table default")
    return DramTiming.from_rates(bw, lat, design.clock_hz)


def simulate_schedule(schedule: LayerSchedule, design: Design, timing: DramTiming,
                      options: FsmOptions | None = None) -> LayerCounters:
    """Simulate one layer's tiles; see `ControlFsm` for the pipeline and stall model."""
    options = options or FsmOptions()
    env = simpy.Environment()
    dram = Dram(env, timing)
    buffers: dict[str, SramBuffer] = {}
    for name in BUFFER_NAMES:
        cfg = getattr(design.buffers, _BUFFER_CONFIG[name])
        if cfg is not None:
            buffers[name] = SramBuffer(env, name, cfg)
    array = SystolicArray(env, design.array)
    fsm = ControlFsm(env, schedule, dram, buffers, array, options, WeightDecoder.of(env, design))
    cycles = fsm.run()

    events: dict[tuple[str, str], float] = defaultdict(float)
    for i, tile in enumerate(schedule.tiles):
        for (component, action), count in tile.events.items():
            if count < 0:
                raise ValueError(f"layer {schedule.layer_name!r}, tile {i}: negative event count "
                                 f"{count} for ({component}, {action})")
            if component in BUFFER_NAMES and action in ("read_bytes", "write_bytes"):
                if component not in buffers:
                    raise ValueError(f"layer {schedule.layer_name!r}, tile {i}: events on {component!r} but the "
                                     f"design has no such buffer")
                buf = buffers[component]
                (buf.count_read if action == "read_bytes" else buf.count_write)(count, tile.repeat)
            else:
                events[(component, action)] += count * tile.repeat

    if array.macs != schedule.macs:  # the array counted what it executed; the schedule what it promised
        raise AssertionError(f"layer {schedule.layer_name!r}: array executed {array.macs} MACs, "
                             f"schedule has {schedule.macs}")
    return LayerCounters(
        layer_name=schedule.layer_name, cycles=cycles, busy_cycles=array.busy_cycles,
        stall_cycles=dict(sorted(fsm.stalls.items())), macs=array.macs, tiles=array.tiles,
        ideal_cycles=schedule.ideal_cycles, pe_used=schedule.pe_used, pe_total=schedule.pe_total,
        dram_read_bytes=dict(dram.read_bytes), dram_write_bytes=dict(dram.write_bytes),
        dram_busy_cycles=dram.busy_cycles,
        buffers={n: BufferCounts(b.read_bytes, b.write_bytes, b.read_accesses, b.write_accesses)
                 for n, b in buffers.items()},
        events=dict(events), decode_busy_cycles=fsm.decode_busy_cycles)
