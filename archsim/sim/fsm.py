"""`ControlFsm`: walks one layer's `LayerSchedule` as four SimPy processes joined by bounded stores.

::

    loader ──loaded──► decoder ──decoded──► compute ──computed──► writer
      │ takes a buffer slot per operand   │ array busy          │ drains stores, frees
      │ streams loads over the DRAM       │ compute_cycles;     │ the output slot
      │ channel                           │ frees dead slots    │

* Each input-side buffer (weight, input, codebook) is filled half by half. A tile's load joins the
  half being filled while it fits there (so data a mapper keeps resident, e.g. an input fetched
  channel slab by channel slab and reused by later column folds, accumulates in one half); a load
  that does not fit opens the next half, for which the loader must take a free slot — it blocks
  until the data of that half is dead. Data of a half dies when the tile just before the one
  that opened the following half has finished computing. So with double buffering the next
  tile's data streams in while the current one computes; with single buffering a new fill waits
  for the array. (Mappers size every tile's load to one half; the engine checks it.)
* The decoder (`archsim.sim.decoder.WeightDecoder`; only when some tile has decode work: codebook
  lookups, mask groups or ``decode_cycles``) waits for the tile's data to arrive, then decodes it
  at the codebook store's read ports and the LZC decoders' rate; the compute stage can hold at most
  ``decoded_queue_depth`` decoded tiles, so the next fold decodes while the current one computes.
* The compute stage takes an output-buffer slot at the start of each accumulation group (the
  tiles up to and including one with ``stores``), waits for the data, holds the array for
  ``compute_cycles``, then frees every input-side half whose data is dead (see above).
* The writer streams the stores of a finished group to DRAM and then frees its output slot. The
  output buffer is a staging buffer: a group's outputs need not fit in it (mappers stream them),
  but they leave only after the group's compute ends — pessimistic by at most one group's drain.

Stalls are the array's idle gaps. Each gap is split by what the tile it waited for was doing at the
time, from timestamps the stages record:

* ``load_<operand>`` — the tile's own loads of that operand: their streaming over the channel, and
  the DRAM latency after the last one (split between the tile's operands in proportion to their
  bytes, because in a bandwidth-bound pipeline the latency window is where the shortfall shows);
* ``dram_writeback`` — the channel was busy streaming stores when the tile's load wanted it;
* ``buffer_full`` — the loader waited for a free buffer half;
* ``decode`` — the weight decoder was busy (this tile or earlier ones);
* ``writeback_slot`` — no free output-buffer half (write-back of an earlier group not done);
* ``writeback_drain`` — after the last compute, until the last store has left;
* ``other`` — none of these (e.g. the loader was still busy with earlier tiles' transfers).

By construction cycles == busy + Σ stalls, in whole cycles.

Layers are simulated one at a time from an empty pipeline: the first loads are a prologue and the
final write-back an epilogue of each layer; the next layer's loads do not overlap them (as in
SCALE-Sim). This keeps every layer's result self-contained and network = Σ layers exact.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterator

import simpy

from archsim.schedule import LayerSchedule, Tile
from archsim.sim.array import SystolicArray
from archsim.sim.buffer import SramBuffer
from archsim.sim.decoder import WeightDecoder, needs_decoder
from archsim.sim.dram import Dram

#: Buffers whose slots the loader manages (data read by the array during compute).
INPUT_SIDE = ("weight_buffer", "input_buffer", "codebook")


@dataclass
class _Flight:
    """One tile instance moving through the pipeline, with the timestamps stalls are built from."""

    index: int
    tile: Tile
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    ready_at: int = 0
    latency_split: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class FsmOptions:
    """Pipeline parameters of the control FSM [A] (no source; named so studies can vary them)."""

    #: tile instances the loader may run ahead of the next stage (bounded queue; back-pressure)
    loaded_queue_depth: int = 2
    #: decoded tiles waiting for the array (e.g. a shadow weight register set)
    decoded_queue_depth: int = 1
    #: DRAM fills are limited by the receiving buffer's write bandwidth (port bytes x banks / cycle)
    fill_limited_by_port: bool = True


class ControlFsm:
    def __init__(self, env: simpy.Environment, schedule: LayerSchedule, dram: Dram,
                 buffers: dict[str, SramBuffer], array: SystolicArray, options: FsmOptions,
                 decoder: WeightDecoder | None = None) -> None:
        self.env = env
        self.schedule = schedule
        self.dram = dram
        self.buffers = buffers
        self.array = array
        self.options = options
        self.stalls: dict[str, int] = defaultdict(int)
        self.decode_busy_cycles = 0
        self.instances = sum(t.repeat for t in schedule.tiles)
        self.last_compute_end = 0
        self.end = 0
        self._check_buffers()
        self._opens = self._plan_halves()
        self.decoder = decoder or WeightDecoder(env)
        self._has_decoder = any(needs_decoder(t) for t in schedule.tiles)
        self._stores_groups = sum(t.repeat for t in schedule.tiles if t.stores)

    def _plan_halves(self) -> list[tuple[str, ...]]:
        """For every tile instance, the input-side buffers in which its loads open a new half.

        Sizes alone decide it, so it is planned before the run; the loader takes a slot for each
        opened half and the compute stage frees the previous half after the preceding instance.
        """
        used: dict[str, float] = {}
        opens: list[tuple[str, ...]] = []
        for tile in self.schedule.tiles:
            per_buf: dict[str, float] = defaultdict(float)
            for x in tile.loads:
                if x.buffer in INPUT_SIDE and x.nbytes > 0:
                    per_buf[x.buffer] += x.nbytes
            for _ in range(tile.repeat):
                opened = []
                for b, nbytes in per_buf.items():
                    if b not in used or used[b] + nbytes > self.buffers[b].slot_bytes + 1e-9:
                        opened.append(b)
                        used[b] = nbytes
                    else:
                        used[b] += nbytes
                opens.append(tuple(sorted(opened)))
        return opens

    # ---- set-up checks -----------------------------------------------------------------------
    def _check_buffers(self) -> None:
        """Every buffer a tile touches exists; a tile's input-side load fits one half."""
        name = self.schedule.layer_name
        for i, tile in enumerate(self.schedule.tiles):
            per_buf: dict[str, float] = defaultdict(float)
            for x in tile.loads:
                per_buf[x.buffer] += x.nbytes
            for buf, nbytes in per_buf.items():
                if buf not in self.buffers:
                    raise ValueError(f"layer {name!r}, tile {i}: loads into {buf!r} but the design has no "
                                     f"such buffer (add buffers.codebook to the design)")
                if buf in INPUT_SIDE:
                    self.buffers[buf].check_fits(nbytes, name, i)

    def _instances(self) -> Iterator[tuple[int, Tile]]:
        i = 0
        for tile in self.schedule.tiles:
            for _ in range(tile.repeat):
                yield i, tile
                i += 1

    # ---- processes ---------------------------------------------------------------------------
    def start(self) -> None:
        env = self.env
        self.loaded = simpy.Store(env, capacity=self.options.loaded_queue_depth)
        self.decoded = simpy.Store(env, capacity=self.options.decoded_queue_depth) if self._has_decoder \
            else self.loaded
        self.computed = simpy.Store(env, capacity=max(1, self.buffers["output_buffer"].slots))
        self.out_free = self.buffers["output_buffer"].free
        env.process(self._loader())
        if self._has_decoder:
            env.process(self._decoder())
        env.process(self._compute())
        self._writer_proc = env.process(self._writer())

    def _loader(self):
        env = self.env
        limit = self.options.fill_limited_by_port
        latency = self.dram.timing.latency_cycles
        for i, tile in self._instances():
            f = _Flight(i, tile)
            t0 = env.now
            for b in self._opens[i]:
                yield self.buffers[b].free.get(1)
            if env.now > t0:
                f.spans.append(("buffer_full", t0, env.now))
            last_end = None
            for x in tile.loads:
                buf = self.buffers[x.buffer]
                buf.count_write(x.nbytes)
                if x.nbytes <= 0:
                    continue
                req = env.now
                start, end = yield from self.dram.transfer(
                    x.operand, x.nbytes, write=False,
                    port_bytes_per_cycle=buf.fill_bytes_per_cycle if limit else float("inf"))
                if start > req:
                    f.spans.append(("dram_writeback", req, start))
                if end > start:
                    f.spans.append((f"load_{x.operand}", start, end))
                last_end = end
            f.ready_at = env.now if last_end is None else last_end + (latency if not self.dram.timing.unlimited else 0)
            if f.ready_at > env.now:
                f.spans.append(("dram_latency", env.now, f.ready_at))
                f.latency_split = tuple((x.operand, x.nbytes) for x in tile.loads if x.nbytes > 0)
            yield self.loaded.put(f)

    def _decoder(self):
        env = self.env
        for _ in range(self.instances):
            f = yield self.loaded.get()
            if env.now > f.ready_at:  # the decoder was still busy with earlier tiles
                f.spans.append(("decode", f.ready_at, env.now))
            if f.ready_at > env.now:
                yield env.timeout(f.ready_at - env.now)
            start = env.now
            yield from self.decoder.decode(f.tile)
            if env.now > start:
                self.decode_busy_cycles += env.now - start
                f.spans.append(("decode", start, env.now))
            yield self.decoded.put(f)

    def _compute(self):
        env = self.env
        buffers = self.buffers
        opened: set[str] = set()
        opens = self._opens
        last = self.instances - 1
        out_held = False
        prev_end = 0
        for i, tile in self._instances():
            f = yield self.decoded.get()
            if f.ready_at > env.now:
                yield env.timeout(f.ready_at - env.now)
            got = env.now
            if not out_held:
                yield self.out_free.get(1)
                out_held = True
            if env.now > got:
                f.spans.append(("writeback_slot", got, env.now))
            if env.now > prev_end:
                self._attribute(prev_end, env.now, f)
            yield from self.array.compute(tile.compute_cycles, tile.macs)
            opened.update(opens[i])
            if i < last:
                for b in opens[i + 1]:
                    if b in opened:  # the half in use dies: the next instance fills another one
                        yield buffers[b].free.put(1)
            if tile.stores:
                yield self.computed.put(f)
                out_held = False
            prev_end = env.now
        self.last_compute_end = prev_end

    def _writer(self):
        env = self.env
        out = self.buffers["output_buffer"]
        limit = self.options.fill_limited_by_port
        for _ in range(self._stores_groups):
            f = yield self.computed.get()
            for x in f.tile.stores:
                out.count_read(x.nbytes)
                if x.nbytes > 0:
                    yield from self.dram.transfer(x.operand, x.nbytes, write=True,
                                                  port_bytes_per_cycle=out.fill_bytes_per_cycle if limit
                                                  else float("inf"))
            yield self.out_free.put(1)

    def _attribute(self, a: int, b: int, f: _Flight) -> None:
        covered = 0
        for cause, s, e in f.spans:
            lo, hi = max(a, s), min(b, e)
            if hi > lo:
                covered += hi - lo
                if cause == "dram_latency":
                    for operand, share in _split(hi - lo, f.latency_split):
                        self.stalls[f"load_{operand}"] += share
                else:
                    self.stalls[cause] += hi - lo
        if b - a > covered:
            self.stalls["other"] += b - a - covered

    # ---- run -----------------------------------------------------------------------------------
    def run(self) -> int:
        """Simulate to the end; returns the layer's cycles (last compute or last store, whichever later)."""
        self.start()
        self.env.run()
        self.end = int(self.env.now)
        if self.end > self.last_compute_end:
            self.stalls["writeback_drain"] += self.end - self.last_compute_end
        return self.end


def _split(cycles: int, weights: tuple[tuple[str, float], ...]) -> list[tuple[str, int]]:
    """Whole cycles split in proportion to weights (largest remainder), so shares sum exactly."""
    total = sum(w for _, w in weights)
    exact = [(name, cycles * w / total) for name, w in weights]
    shares = [[name, int(x)] for name, x in exact]
    rest = cycles - sum(n for _, n in shares)
    order = sorted(range(len(exact)), key=lambda i: exact[i][1] - shares[i][1], reverse=True)
    for i in order[:rest]:
        shares[i][1] += 1
    return [(name, n) for name, n in shares if n]
