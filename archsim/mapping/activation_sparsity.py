"""Activation sparsity on a weight-stationary array: S2TA's activation DBB and SA-ZVCG's zero gating.

S2TA (Liu et al., HPCA'22; reference/energy_tables.md §2) prunes weights *and* activations to
density-bound blocks (DBB: at most N non-zeros per block of M). Weights are pruned offline (the
N:M sparse array of `archsim.mapping.compressed`); activations are pruned at run time by a
hardware top-N unit, the "DBB-izer". Its baseline, SA-ZVCG, is a dense systolic array that clock-gates
MACs with a zero operand. This module adds the activation side to the existing mappers by wrapping
their schedules; what we know of S2TA beyond that one paragraph is nothing, so every rule below is
an assumption [A], and each is a named design field (``design.activations``, `archsim.design`).

Which N (or density) a layer gets — `plan_activations`
-------------------------------------------------------
* ``activations.sparsity = none``: activations are streamed dense (every other design).
* A layer runs with dense activations when it is named in ``activations.dense_layers``, is a matmul,
  or (``dbb``) its input channels per group are not a multiple of ``activations.dbb_m``: a DBB block is
  ``dbb_m`` consecutive input channels of one pixel [A] (the axis the weight N:M groups lie on, the
  ``input_channel`` layout), so a 3-channel RGB input and a depthwise layer (one channel per group)
  have no block. That is also the "network input is dense" rule of S2TA-like designs on the zoo CNNs.
* Otherwise the layer's trace decides (`compress.trace.Trace`, measured by `compress.activations`):
  ``act_dbb_n/act_dbb_m`` if given (``act_dbb_m`` must equal ``activations.dbb_m``, the block the
  DBB-izer is built for), else ``act_density`` → **N = ceil(density · M)**, the smallest bound the
  measured mean density fits (blocks denser than N lose their smallest values: lossy [A]); else
  ``activations.default_density`` by the same rule; else an `ArchsimInputError` naming the fix.
  ``N = M`` means no pruning: the layer runs dense (no DBB-izer work, no index).
* ``zero_gating``: the density is ``act_density``, else ``act_dbb_n/act_dbb_m`` (a bound the
  activations already obey), else ``default_density``, else the same error.

Time-unrolled activation DBB (``dbb``) — `ActDbbStreamMapper`, wrapped by the weight path
-----------------------------------------------------------------------------------------
After the DBB-izer every block of M activations is exactly N (value, index) entries (zero-padded when a
block has fewer non-zeros) and the array streams only those, one entry per PE step: the VDBB sibling
paper's "configurable non-zeros per block at constant utilisation (time-unrolled)". With ``f = N/M``:

* stream cycles of every fold ``x f`` (rounded up per tile); weight load and fill/drain unchanged;
* MAC steps ``x f``: executed MACs, gated spare slots, mux selects, weight-RF (and weight-index) reads,
  activation-RF reads and the MAC accumulator traffic (``psum_rf acc_*``: ``f·per_pe − 1`` local adds
  per pixel run) — the wrapped EWS mapper's per-MAC events, before the N:M weight transform scales
  them again by its own slots/executed fractions (so the two sparsities multiply);
* activation-RF writes ``x f`` (only kept entries enter the array), each with its log2(M)-bit index
  (component ``activation_index``: written with the entry, read with it per MAC step, one index
  register per ARF entry — PE storage declared in ``storage_bits_per_pe`` and priced/areaed by
  `archsim.mapping.activation_cost`);
* unchanged: the psum hand-off per pixel run (``psum_rf read/write``), weight-RF writes, output traffic.

Not modelled, and what that omits: S2TA's *tensor PEs* (several MACs per PE sharing operand registers
and one psum) — the PE here is the EWS PE of ``ews.yaml`` (one MAC per cycle, WRF/ARF/PRF), so the
operand reuse a tensor PE adds is not credited; the index match between a streamed activation and
the PE's weights (the PE is assumed to pick the weight its entry's index names through its WRF read
mux, which the WRF read already pays for); a fold boundary inside a block (each fold streams its
share ``f`` of its dense steps); per-block variation (time is set by the bound N, not the data).

Where the DBB-izer sits (``activations.compressed_storage``)
------------------------------------------------------------
* ``true`` (S2TA-like preset): on the write-back path (array outputs → activation store), so activations
  are stored DBB-compressed — N values + N log2(M)-bit indices per block — in DRAM and in the input
  buffer: a DBB layer's input DRAM loads, input-buffer fills and reads scale by
  ``f·(act_bits + log2 M)/act_bits`` (when below 1; a denser tensor is kept dense [A]). Each tensor is
  DBB-ized once, where it is produced: a layer's DBB-izer work is one top-N per block of its *outputs*
  (``output_elements / M``, when its output channels per group form whole blocks [A]; the hardware does
  not know whether the consumer uses them), spread over its tiles by their output stores. Omitted: the
  output *stores* are charged dense (a tensor's bound N is its consumer's, which a per-layer simulation
  does not know) — S2TA's DRAM write saving is not claimed, its read saving is; pooling between layers
  is not modelled (the DBB-izer sees the producing layer's output tensor), and both producers of a
  residual sum are charged for it.
* ``false``: at the input-buffer read port: buffers and DRAM hold dense activations; every streamed
  block passes the DBB-izer: ``input-buffer reads / M`` blocks per tile.
* Throughput: ``activations.dbbizers`` units, one block per cycle each (a pipelined network). A tile
  whose blocks need more cycles than it computes is stretched to them (the stall is inside
  ``compute_cycles``).
* Price (`archsim.mapping.activation_cost`): a top-N is bounded by a full sorting network of M inputs
  (Batcher's odd-even merge sort, 19 compare-exchanges for M = 8); one compare-exchange = one
  act-bits magnitude comparator (priced as an adder of that width) + two 2:1 muxes of value + index.

Zero-value clock gating (``zero_gating``, SA-ZVCG)
--------------------------------------------------
Same cycles; of the MACs the weight path executes, a fraction ``1 − density`` has a zero activation
and is clock-gated: counted as ``gated_mac`` (no dynamic energy), without its activation-RF read and
accumulator update (as `archsim.mapping.compressed` gates pruned weights). Zeros are assumed
independent of the weight mask [A]. The zero detector (an act-bits NOR per activation) is not charged.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable

from archsim.cost import index_bits
from archsim.design import Design
from archsim.mapping.base import RowFold, build_schedule
from archsim.mapping.geometry import Geometry
from archsim.schedule import LayerSchedule, Tile, Transfer
from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind

#: Per-MAC-step events of the wrapped EWS/WS fold model that time-unrolling scales by N/M.
PER_STEP_EVENTS: tuple[tuple[str, str], ...] = (
    ("weight_rf", "read_bytes"), ("weight_rf", "stationary_read_bytes"), ("activation_rf", "read_bytes"),
)
ACC_EVENTS: tuple[tuple[str, str], ...] = (("psum_rf", "acc_read_bytes"), ("psum_rf", "acc_write_bytes"))


@dataclass(frozen=True)
class ActivationPlan:
    """How one layer's input activations are treated on one design (see the module docstring)."""

    mode: str                 # "dense", "dbb" or "gating"
    n: int = 1                # dbb: kept entries per block
    m: int = 1                # dbb: block size
    density: Fraction = Fraction(1)   # gating: non-zero fraction
    source: str = ""          # where the numbers came from (trace / default / why dense)
    compressed_storage: bool = False
    act_bits: int = 8

    @property
    def factor(self) -> Fraction:
        """Fraction of the dense MAC steps and stream time the layer needs (DBB: N/M)."""
        return Fraction(self.n, self.m) if self.mode == "dbb" else Fraction(1)

    @property
    def storage_factor(self) -> Fraction:
        """Stored activation bytes per dense byte: ``N/M·(bits + log2 M)/bits`` when compressed storage is on
        and that is smaller than dense (a per-layer format bit [A]: at N = 7 of 8 the values + indices
        would be 7·11 > 8·8 bits, so such a tensor stays dense in memory), else 1."""
        if self.mode != "dbb" or not self.compressed_storage:
            return Fraction(1)
        return min(Fraction(1), self.factor * Fraction(self.act_bits + index_bits(self.m), self.act_bits))

    def note(self) -> str:
        if self.mode == "dbb":
            return f"; activations DBB {self.n}:{self.m} ({self.source})"
        if self.mode == "gating":
            return f"; activations zero-gated at density {float(self.density):.3g} ({self.source})"
        return f"; activations dense ({self.source})" if self.source else ""


def _stats(trace: Any) -> tuple[float | None, int | None, int | None]:
    if trace is None:
        return None, None, None
    return getattr(trace, "act_density", None), getattr(trace, "act_dbb_n", None), getattr(trace, "act_dbb_m", None)


def _missing(layer: Layer, design: Design) -> ArchsimInputError:
    return ArchsimInputError(
        f"layer {layer.name!r}: design {design.name!r} exploits activation sparsity (activations.sparsity = "
        f"{design.activations.sparsity}) but the layer's trace has no activation statistics (act_density or "
        f"act_dbb_n/act_dbb_m) and the design states no activations.default_density; measure them "
        f"(compress.activations.measure_activation_stats, then attach_activation_stats to the traces) or set "
        f"activations.default_density")


def _bound(density: float, m: int) -> int:
    """The smallest N whose bound N/M the density fits: ceil(density·M), at least 1."""
    return max(1, min(m, math.ceil(density * m - 1e-9)))


def plan_activations(layer: Layer, design: Design, trace: Any = None) -> ActivationPlan:
    """Decide how ``layer``'s input activations run on ``design`` (rules in the module docstring)."""
    cfg = design.activations
    bits = design.precision.act_bits
    if cfg.sparsity == "none":
        return ActivationPlan("dense", act_bits=bits)
    if layer.kind is LayerKind.MATMUL:
        return ActivationPlan("dense", source="matmul", act_bits=bits)
    if layer.name in cfg.dense_layers:
        return ActivationPlan("dense", source="activations.dense_layers", act_bits=bits)
    density, tn, tm = _stats(trace)
    where = f"layer {layer.name!r} on design {design.name!r}"
    if cfg.sparsity == "dbb":
        m = cfg.dbb_m
        cg = layer.in_channels // layer.groups
        if cg % m:
            return ActivationPlan("dense", source=f"{cg} input channels per group: no {m}-channel block",
                                  act_bits=bits)
        if tn is not None:
            if tm != m:
                raise ArchsimInputError(f"{where}: the trace's activation DBB is {tn}:{tm} but the design's DBB-izer "
                                        f"prunes blocks of activations.dbb_m = {m}; measure with block {m} or set "
                                        f"activations.dbb_m = {tm}")
            n, source = tn, "trace act_dbb"
        elif density is not None:
            n, source = _bound(density, m), f"trace act_density {density:.3g}"
        elif cfg.default_density is not None:
            n, source = _bound(cfg.default_density, m), f"default_density {cfg.default_density:g} [A]"
        else:
            raise _missing(layer, design)
        if n == m:
            return ActivationPlan("dense", source=f"{source}: N = M, no pruning", act_bits=bits)
        return ActivationPlan("dbb", n=n, m=m, source=source, compressed_storage=cfg.compressed_storage,
                              act_bits=bits)
    # zero gating
    if density is not None:
        d, source = Fraction(density), "trace act_density"
    elif tn is not None:
        d, source = Fraction(tn, tm), "trace act_dbb bound"
    elif cfg.default_density is not None:
        d, source = Fraction(cfg.default_density), "default_density [A]"
    else:
        raise _missing(layer, design)
    if d >= 1:
        return ActivationPlan("dense", source=f"{source}: density 1", act_bits=bits)
    return ActivationPlan("gating", density=d, source=source, act_bits=bits)


# ---- integer bookkeeping ---------------------------------------------------------------------------
def apportion(tiles: list[Tile], weights: list[Fraction], total: int,
              apply: Callable[[Tile, int], Tile]) -> list[Tile]:
    """Split an integer ``total`` over the tiles in proportion to ``weights`` (per repetition), exactly.

    Each repetition gets the floor of its share; the remainder goes one unit each to the repetitions with
    the largest fractional shares (largest-remainder rounding; a tile whose repetitions differ is split in
    two), so no repetition gets more than the ceiling of its share — with integer weights and
    ``total <= sum(weights·repeat)``, never more than its weight. ``apply(tile, count)`` returns the tile
    carrying ``count`` per repetition."""
    if not tiles:
        return tiles
    norm = sum(w * t.repeat for t, w in zip(tiles, weights))
    if not norm:                          # nothing to weigh by: the whole total on one repetition of the last tile
        *head, last = tiles
        rest = [apply(dataclasses.replace(last, repeat=last.repeat - 1), 0)] if last.repeat > 1 else []
        return [*(apply(t, 0) for t in head), *rest, apply(dataclasses.replace(last, repeat=1), total)]
    shares = [Fraction(total) * w / norm for w in weights]
    counts = [math.floor(x) for x in shares]
    extra = total - sum(c * t.repeat for c, t in zip(counts, tiles))   # = sum of fractional parts x repeats
    out: list[Tile] = []
    bumped = [0] * len(tiles)             # repetitions of tile i that get one more unit
    for i in sorted(range(len(tiles)), key=lambda j: (counts[j] - shares[j], j)):
        if extra <= 0 or shares[i] == counts[i]:
            break
        bumped[i] = min(tiles[i].repeat, extra)
        extra -= bumped[i]
    assert extra == 0, "largest-remainder rounding left units over"
    for t, c, b in zip(tiles, counts, bumped):
        if b < t.repeat:
            out.append(apply(dataclasses.replace(t, repeat=t.repeat - b), c))
        if b:
            out.append(apply(dataclasses.replace(t, repeat=b), c + 1))
    return out


def _set_macs(tile: Tile, executed: int, gated: int | None = None) -> Tile:
    """The tile with ``executed`` MACs (and, if given, ``gated`` clock-gated MACs); idle PE cycles follow."""
    ev = dict(tile.events)
    old_exec, old_gated = ev.get(("pe_array", "mac"), tile.macs), ev.get(("pe_array", "gated_mac"), 0)
    ev[("pe_array", "mac")] = executed
    if gated is not None:
        if gated:
            ev[("pe_array", "gated_mac")] = gated
        else:
            ev.pop(("pe_array", "gated_mac"), None)
    if ("pe_array", "idle_pe_cycles") in ev:
        ev[("pe_array", "idle_pe_cycles")] = max(0, ev[("pe_array", "idle_pe_cycles")] + old_exec + old_gated
                                                 - executed - ev.get(("pe_array", "gated_mac"), 0))
    return dataclasses.replace(tile, macs=executed, events=ev)


def _scale_event(ev: dict, key: tuple[str, str], factor: Fraction) -> None:
    if key in ev and factor != 1:
        ev[key] = ev[key] * float(factor)


# ---- the time-unrolled stream (inner: below the weight path) ------------------------------------------
class _CompactedFolds:
    """A fold model whose stream carries only N of every M activation positions (see the module docstring).

    Delegates the fold structure (row folds, weight load, fill/drain, storage) to the wrapped model."""

    def __init__(self, base: Any, plan: ActivationPlan) -> None:
        self.base = base
        self.plan = plan
        self.name = base.name

    def __getattr__(self, item: str) -> Any:      # anything the loop nest may ask the fold model for
        if item in ("base", "plan"):
            raise AttributeError(item)
        return getattr(self.base, item)

    def row_folds(self, geo: Geometry, design: Design) -> list[RowFold]:
        return self.base.row_folds(geo, design)

    def fold_overhead_cycles(self, rf: RowFold, design: Design) -> int:
        return self.base.fold_overhead_cycles(rf, design)

    def stream_cycles(self, rf: RowFold, geo: Geometry, line_lo: int, line_hi: int) -> int:
        return math.ceil(self.base.stream_cycles(rf, geo, line_lo, line_hi) * self.plan.factor)

    def tile_events(self, rf: RowFold, geo: Geometry, design: Design, cols_used: int, line_lo: int, line_hi: int,
                    first_chunk: bool, weight_scale: float) -> dict[tuple[str, str], float]:
        ev = self.base.tile_events(rf, geo, design, cols_used, line_lo, line_hi, first_chunk, weight_scale)
        f = self.plan.factor
        for key in PER_STEP_EVENTS:
            _scale_event(ev, key, f)
        _scale_event(ev, ("activation_rf", "write_bytes"), f)
        _scale_event(ev, ("input_buffer", "read_bytes"), self.plan.storage_factor)
        # local accumulations: f·per_pe products per pixel run, the first of which meets the psum hand-off
        pixels = (line_hi - line_lo) * geo.line_len
        steps = Fraction(pixels * rf.k_len * cols_used) * f
        runs = ev.get(("psum_rf", "write_bytes"), 0) / geo.p_bytes if geo.p_bytes else 0
        local = max(0.0, float(steps) - runs)
        for key in ACC_EVENTS:
            ev.pop(key, None)
            if local:
                ev[key] = local * geo.p_bytes
        return ev


class ActDbbStreamMapper:
    """EWS with the time-unrolled activation-DBB stream: the dense mapper that ``ews_compressed_act``'s
    weight path wraps (dataflow ``ews_adbb``; on its own it lacks the DBB-izer and index accounting,
    which `ActivationSparseMapper` adds, so designs name ``ews_compressed_act``)."""

    def __init__(self, base: str = "ews") -> None:
        self.base = base
        self.name = f"{base}_adbb"

    def _base(self) -> Any:
        from archsim.mapping import get_mapper

        return get_mapper(self.base)

    def row_folds(self, geo: Geometry, design: Design) -> list[RowFold]:
        """The wrapped mapper's folds (functional mode walks these; the fold mapping is chosen for a dense
        stream [A])."""
        return self._base().row_folds(geo, design)

    def map_layer(self, layer: Layer, design: Design, trace: object | None = None) -> LayerSchedule:
        base = self._base()
        plan = plan_activations(layer, design, trace)
        if plan.mode != "dbb":
            return base.map_layer(layer, design, trace)
        sched = build_schedule(_CompactedFolds(base, plan), layer, design, trace, getattr(base, "loop_order", None))
        f = plan.factor
        tiles: list[Tile] = []
        for t in sched.tiles:
            loads = tuple(Transfer("input", float(Fraction(x.nbytes) * plan.storage_factor))
                          if x.operand == "input" else x for x in t.loads)
            tiles.append(dataclasses.replace(t, loads=loads))
        dense = [Fraction(t.macs) for t in tiles]
        tiles = apportion(tiles, dense, round(sum(d * t.repeat for d, t in zip(dense, tiles)) * f),
                          lambda t, c: _set_macs(t, c))
        return dataclasses.replace(sched, tiles=tuple(tiles), ideal_cycles=sum(t.compute_cycles * t.repeat
                                                                                for t in tiles))


# ---- the activation side on top of the weight path (outer) ---------------------------------------------
class ActivationSparseMapper:
    """Activation DBB (S2TA) or zero-value clock gating (SA-ZVCG) on top of the N:M weight path
    (`archsim.mapping.compressed`), whose dense mapper is the time-unrolled `ActDbbStreamMapper`.
    Dataflow ``ews_compressed_act``; see the module docstring for every rule."""

    handles_activation_sparsity = True

    def __init__(self, inner: Any, base: str = "ews_adbb", name: str = "ews_compressed_act") -> None:
        self.inner = inner
        self.base = base           # the mapper whose row folds functional mode walks
        self.name = name

    def map_layer(self, layer: Layer, design: Design, trace: object | None = None) -> LayerSchedule:
        plan = plan_activations(layer, design, trace)
        sched = self.inner.map_layer(layer, design, trace)
        if design.activations.sparsity == "dbb":
            sched = _add_dbbizer(sched, layer, design, plan)
        elif plan.mode == "gating":
            sched = _gate_zero_activations(sched, plan)
        return dataclasses.replace(sched, notes=sched.notes + plan.note())


def dbbizer_blocks(layer: Layer, design: Design, plan: ActivationPlan, input_reads: float = 0.0) -> int:
    """Blocks the DBB-izer prunes on behalf of one layer.

    Write-back placement (``compressed_storage``): the layer's *outputs* — ``output_elements / M`` blocks of
    M consecutive output channels at a pixel — when its output channels per group form whole blocks (else
    there is nothing to prune [A]); every tensor is DBB-ized once, where it is produced. Read-port
    placement: every block of the layer's own input streamed out of the input buffer (``input_reads``
    activations), when the layer's input runs DBB."""
    m = design.activations.dbb_m
    if design.activations.compressed_storage:
        if layer.kind is LayerKind.MATMUL or (layer.out_channels // layer.groups) % m:
            return 0
        return layer.output_elements // m
    return round(input_reads / m) if plan.mode == "dbb" else 0


def _add_dbbizer(sched: LayerSchedule, layer: Layer, design: Design, plan: ActivationPlan) -> LayerSchedule:
    """DBB-izer work and stalls; activation-index traffic and storage on a DBB layer (module docstring)."""
    i_bytes = layer.precision.input_bits / 8
    o_bytes = layer.precision.output_bits / 8
    sf = float(plan.storage_factor)
    tiles = list(sched.tiles)
    writeback = design.activations.compressed_storage
    if writeback:     # the layer's output stream, tile by tile
        share = [Fraction(sum(x.nbytes for x in t.stores if x.operand == "output") / o_bytes) for t in tiles]
        total = dbbizer_blocks(layer, design, plan)
    else:             # dense activations the input buffer delivers per tile
        share = [Fraction(t.events.get(("input_buffer", "read_bytes"), 0.0) / sf / i_bytes) for t in tiles]
        total = dbbizer_blocks(layer, design, plan, float(sum(r * t.repeat for r, t in zip(share, tiles))))
    idx_bytes = index_bits(plan.m) / 8 if plan.mode == "dbb" else 0.0
    units = design.activations.dbbizers
    R, C = design.array.rows, design.array.cols

    def apply(tile: Tile, blocks: int) -> Tile:
        ev = dict(tile.events)
        if blocks:
            ev[("dbbizer", "block")] = blocks
        if idx_bytes:
            writes = ev.get(("activation_rf", "write_bytes"), 0.0) / i_bytes
            steps = ev.get(("activation_rf", "read_bytes"), 0.0) / i_bytes
            if writes:
                ev[("activation_index", "write_bytes")] = writes * idx_bytes
            if steps:
                ev[("activation_index", "read_bytes")] = steps * idx_bytes
        cycles = max(tile.compute_cycles, math.ceil(blocks / units))
        if cycles != tile.compute_cycles and ("pe_array", "idle_pe_cycles") in ev:
            ev[("pe_array", "idle_pe_cycles")] += (cycles - tile.compute_cycles) * R * C
        return dataclasses.replace(tile, compute_cycles=cycles, events=ev)

    tiles = apportion(tiles, share, total, apply)
    storage = dict(sched.storage_bits_per_pe)
    if idx_bytes and "activation_rf" in storage:
        storage["activation_index"] = storage["activation_rf"] // plan.act_bits * index_bits(plan.m)
    return dataclasses.replace(sched, tiles=tuple(tiles), storage_bits_per_pe=storage,
                               ideal_cycles=sum(t.compute_cycles * t.repeat for t in tiles))


def _gate_zero_activations(sched: LayerSchedule, plan: ActivationPlan) -> LayerSchedule:
    """Of each tile's executed MACs, ``1 − density`` are clock-gated (zero activation); same cycles."""
    d = plan.density
    tiles = list(sched.tiles)
    executed = [Fraction(t.macs) for t in tiles]
    total = round(sum(e * t.repeat for e, t in zip(executed, tiles)) * d)

    def apply(tile: Tile, kept: int) -> Tile:
        ev = dict(tile.events)
        for key in (("activation_rf", "read_bytes"), *ACC_EVENTS):
            _scale_event(ev, key, d)
        gated = ev.get(("pe_array", "gated_mac"), 0) + tile.macs - kept
        return _set_macs(dataclasses.replace(tile, events=ev), kept, gated)

    tiles = apportion(tiles, executed, total, apply)
    return dataclasses.replace(sched, tiles=tuple(tiles))


def activation_plans(layers: Iterable[Layer], design: Design, traces: dict[str, Any] | None = None
                     ) -> dict[str, ActivationPlan]:
    """`plan_activations` for every layer (by name), e.g. for reports."""
    traces = traces or {}
    return {layer.name: plan_activations(layer, design, traces.get(layer.name)) for layer in layers}


__all__ = ["ActivationPlan", "ActDbbStreamMapper", "ActivationSparseMapper", "activation_plans", "apportion",
           "dbbizer_blocks", "index_bits", "plan_activations"]
