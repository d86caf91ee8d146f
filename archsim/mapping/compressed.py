"""Compressed-weight dataflows: the MVQ weight path and N:M sparse arrays on top of a dense mapper.

`CompressedMapper` wraps a dense weight-stationary mapper (EWS by default, through its public
``map_layer(layer, design, trace)``) and turns its schedule into the schedule of a design whose
weights arrive compressed. It covers the MVQ ablation ladder (mvq.md §3.2, §5.1) and an S2TA-like
N:M array:

=========  ======================  ==============================  ==============================
preset     weights (trace format)  array                           what changes against EWS
=========  ======================  ==============================  ==============================
ews-c      vq (codebook)           dense                           weight path: codes + codebook
ews-cm     mvq (codebook + mask)   dense, zero-gated MACs          + masks; pruned MACs gated
mvq        mvq                     N:M sparse, M:1 act. muxes      + (N/M)·d PEs per subvector
s2ta       nm (int8 values + idx)  N:M sparse, M:1 act. muxes      sparse array, no codebook
=========  ======================  ==============================  ==============================

Weight path (per fold: each tile where weights enter the array, marked by the wrapped mapper's
weight-RF write of the fold's dense weights; a fold re-entered for another chunk of M decodes again)
---------------------------------------------------------------------------------------------------
* **DRAM → weight buffer**: every weight block the wrapped mapper fetches (a fold, or a resident
  block, per its loop order) carries its share of the trace's code (or kept-value) bits as operand
  ``weight`` and of its mask bits as operand ``mask``: ``block_weights / layer.weights`` of each.
  When the mapper fetches every weight once, the layer's DRAM ``weight`` + ``mask`` bytes are
  exactly ``(code_bits + value_bits) / 8`` and ``mask_bits / 8``.
* **DRAM → codebook store**: the whole codebook (``trace.codebook_bits / 8``), once per layer, in
  the layer's first tile (operand ``codebook``). It must fit the store (``buffers.codebook``).
* **Decode** (the assignment-aware loader, mvq.md §3.2 [S1]): the fold's codes are looked up in
  the codebook — ``ceil(fold_weights / d)`` codeword reads — and its bitmap masks go through the
  LZC decoders — ``ceil(fold_weights / M)`` M-bit groups; a subvector that straddles two folds is
  looked up by both [A]. These are the tile's ``("codebook", "lookup")`` and ``("decoder", "decode")``
  events — the demand; the SimPy `archsim.sim.decoder.WeightDecoder` serves them at
  ``buffers.codebook.read_ports`` lookups and ``decoder.mask_decoders`` groups per cycle, so a fold
  decodes in ``max(ceil(lookups / read_ports), ceil(groups / mask_decoders))`` cycles.
  Index-encoded masks (S2TA/A100 style: a position per kept value) drive the muxes directly and
  need no LZC decode [A]. The FSM's decoder stage runs
  the next fold's decode while the array computes the current one and stalls the array (cause
  ``decode``) when it cannot keep up; decoding starts once the fold's codes have arrived [A: no
  streaming decode], so the first fold's decode is always a prologue stall.
* Dense layers (excluded by the compression policy: first conv, depthwise; or no trace) load int8
  weights as in the dense mapper and need no decode.

Array
-----
* **Dense array** (ews-c, ews-cm): the dense mapper's timing, unchanged. With
  ``array.zero_gating`` the MACs on pruned weights (``dense·(1 − N/M)``, from the decoded mask)
  are clock-gated: counted as ``gated_mac`` (no dynamic energy), and they skip the activation
  operand read and the psum update; the weight-register read that finds the zero stays [A].
* **N:M sparse array** (``array.pe: nm_sparse`` built for ``Na:Ma``): each d-dim subvector uses
  ``(Na/Ma)·d`` PEs instead of d (mvq.md §3.2 [S1]); every PE holds kept weights only and picks its
  activation from the ``Ma`` of its group with an ``Ma``:1 mux driven by the decoded position. So
  one physical PE row covers ``Ma/Na`` reduction rows: the layer is mapped by the dense mapper on
  a *logical* array of ``rows·Ma/Na`` rows (same columns, same register files), and then
    - the weight load is the physical one (``ews.weight_load_words_per_cycle`` is scaled by
      ``Ma/Na`` on the logical array, so ``ceil(rows_logical·w / (wl·Ma/Na)) = ceil(rows·w / wl)``)
      and the systolic fill/drain is the physical ``rows + cols − 2``: every tile where weights
      enter the array gives back ``rows_logical − rows`` cycles;
    - MAC slots are ``dense·Na/Ma``; executed MACs ``dense·N/M`` of the trace's ``N:M`` (equal
      for the pattern the array is built for); spare slots of a sparser pattern hold zeros and are
      gated. Weight-RF writes and reads scale with the slots, activation-RF reads and psum-RF
      traffic with the executed MACs, and every slot is one ``mux_select``;
    - activation traffic is that of the dense logical mapping: all K activations of a pixel still
      enter the array and pass every column (the "activation broadcast", mvq.md §3.2 [I]; it is
      why sparse arrays save less area and energy than MACs), input-buffer reads likewise [A].
  Which trace patterns a sparse array runs: `archsim.design.nm_support_problem`.
  A dense layer (first conv, depthwise, anything without an N:M trace) runs *dense* on the sparse
  array: one reduction row per physical row (the mux select is static, still charged per MAC),
  no speed-up — the "dense-model fallback" of mvq.md §5.3.

The loop order, DRAM policy, psum handling and sliding-window reuse are the wrapped mapper's
(`archsim.mapping.ews`); see there.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction

from archsim.cost import index_bits
from archsim.design import Design, nm_support_problem
from archsim.schedule import LayerSchedule, Tile, Transfer
from compress.trace import Trace, WeightFormat
from workloads.errors import ArchsimInputError
from workloads.layer import Layer


@dataclass(frozen=True)
class WeightPathPlan:
    """How one layer's weights travel and are computed on one design (all fractions exact)."""

    fmt: WeightFormat
    sparse: bool               # runs on the N:M sparse array at its rate (logical rows = rows·Ma/Na)
    rows_ratio: Fraction       # logical reduction rows per physical row (Ma/Na when sparse, else 1)
    slots: Fraction            # PE MAC slots per dense MAC
    executed: Fraction         # executed (non-gated) MACs per dense MAC
    mux: bool                  # the array has activation muxes (nm_sparse), one select per slot
    lookups: bool              # codebook lookups (vq, mvq)
    mask_decode: bool          # LZC decode of bitmap/combinatorial masks (nm, mvq)
    code_bits: int             # codes + kept values (operand "weight")
    mask_bits: int             # operand "mask"
    codebook_bits: int         # operand "codebook", once per layer
    d: int = 1
    m: int = 1

    @property
    def gated(self) -> Fraction:
        return self.slots - self.executed


def plan_weight_path(layer: Layer, design: Design, trace: Trace | None) -> WeightPathPlan:
    """Check that ``trace`` can run on ``design`` and decide how (see the module docstring)."""
    arr = design.array
    name = layer.name
    mux = arr.pe == "nm_sparse"
    if trace is None or trace.format is WeightFormat.DENSE:
        bits = trace.weight_bits_total if trace is not None else layer.weights * layer.precision.weight_bits
        return WeightPathPlan(fmt=WeightFormat.DENSE, sparse=False, rows_ratio=Fraction(1), slots=Fraction(1),
                              executed=Fraction(1), mux=mux, lookups=False, mask_decode=False, code_bits=bits,
                              mask_bits=0, codebook_bits=0)
    fmt = trace.format
    masked = fmt in (WeightFormat.NM, WeightFormat.MVQ)
    coded = fmt in (WeightFormat.VQ, WeightFormat.MVQ)
    if coded:
        cb = design.buffers.codebook
        if cb is None:
            raise ArchsimInputError(f"layer {name!r}: its trace is {fmt.value} (codebook + codes) but design "
                                    f"{design.name!r} has no codebook store; add buffers.codebook or use a "
                                    f"{'nm' if masked else 'dense'} trace")
        if trace.d < 1 or trace.k < 1:
            raise ArchsimInputError(f"layer {name!r}: a {fmt.value} trace needs d >= 1 and k >= 1 "
                                    f"(got d={trace.d}, k={trace.k})")
        slot = cb.half_bytes
        if trace.codebook_bytes > slot:
            raise ArchsimInputError(f"layer {name!r}: its codebook needs {trace.codebook_bytes:.0f} B (k={trace.k}, "
                                    f"d={trace.d}, {trace.codebook_value_bits}-bit values) but the codebook store of "
                                    f"design {design.name!r} holds {slot:.0f} B; raise "
                                    f"buffers.codebook.capacity_bytes or compress with a smaller k or d")
    density = Fraction(1)
    if masked:
        if not 1 <= trace.n < trace.m:
            raise ArchsimInputError(f"layer {name!r}: an {fmt.value} trace needs 1 <= n < m, got {trace.n}:{trace.m}")
        if fmt is WeightFormat.MVQ and trace.d % trace.m:
            raise ArchsimInputError(f"layer {name!r}: d={trace.d} is not a multiple of M={trace.m}; N:M groups lie "
                                    f"inside each d-dim subvector, so pick d as a multiple of M")
        density = Fraction(trace.n, trace.m)
        if abs(float(density) - trace.density) > 1e-9:
            raise ArchsimInputError(f"layer {name!r}: trace density {trace.density} is not N/M = {trace.n}/{trace.m}")
    sparse = mux and masked
    if sparse:
        problem = nm_support_problem(trace.n, trace.m, arr.sparse_n, arr.sparse_m)
        if problem:
            raise ArchsimInputError(f"layer {name!r} on design {design.name!r}: trace {trace.n}:{trace.m} does not "
                                    f"run: {problem}")
        ratio = Fraction(arr.sparse_m, arr.sparse_n)
        slots, executed = 1 / ratio, density
    else:
        ratio, slots = Fraction(1), Fraction(1)
        executed = density if (masked and arr.zero_gating) else Fraction(1)
    return WeightPathPlan(fmt=fmt, sparse=sparse, rows_ratio=ratio, slots=slots, executed=executed, mux=mux,
                          lookups=coded, mask_decode=masked and trace.mask_encoding != "index",
                          code_bits=trace.code_bits + trace.value_bits, mask_bits=trace.mask_bits,
                          codebook_bits=trace.codebook_bits, d=trace.d if coded else 1, m=trace.m if masked else 1)


def logical_design(design: Design, plan: WeightPathPlan) -> Design:
    """The dense array the wrapped mapper sees: ``rows·Ma/Na`` rows when the layer runs sparse."""
    if not plan.sparse:
        return design
    r = plan.rows_ratio
    rows = design.array.rows * r
    wl = design.ews.weight_load_words_per_cycle * r
    assert rows.denominator == 1 and wl.denominator == 1, "validated: rows is a multiple of sparse_n"
    return design.model_copy(update={
        "array": design.array.model_copy(update={"rows": int(rows)}),
        "ews": design.ews.model_copy(update={"weight_load_words_per_cycle": int(wl)}),
    })


class CompressedMapper:
    """Compressed weights on a dense or N:M sparse weight-stationary array (see the module docstring)."""

    def __init__(self, base: str = "ews") -> None:
        self.base = base
        self.name = f"{base}_compressed"

    def map_layer(self, layer: Layer, design: Design, trace: object | None = None) -> LayerSchedule:
        from archsim.mapping import get_mapper

        if trace is not None and not isinstance(trace, Trace):
            raise ArchsimInputError(f"layer {layer.name!r}: trace must be a compress.trace.Trace, "
                                    f"got {type(trace).__name__}")
        plan = plan_weight_path(layer, design, trace)
        inner_trace = None if trace is None else dataclasses.replace(trace, codebook_bits=0)
        logical = logical_design(design, plan)
        base = get_mapper(self.base).map_layer(layer, logical, inner_trace)
        return transform_schedule(base, layer, design, logical, plan)


def transform_schedule(base: LayerSchedule, layer: Layer, design: Design, logical: Design,
                       plan: WeightPathPlan) -> LayerSchedule:
    """The dense mapper's schedule on ``logical`` → the schedule on the compressed-weight ``design``."""
    R, C = design.array.rows, design.array.cols
    fill_gain = logical.array.rows - R
    W = layer.weights
    inner_bits = plan.code_bits + plan.mask_bits
    w_bytes_per_weight = Fraction(inner_bits, 8 * W) if W else Fraction(0)
    w_bytes = layer.precision.weight_bits / 8
    tiles: list[Tile] = []
    for tile in base.tiles:
        loads: list[Transfer] = []
        for x in tile.loads:
            if x.operand != "weight" or plan.fmt is WeightFormat.DENSE or not w_bytes_per_weight:
                loads.append(x)
                continue
            n_w = round(x.nbytes / float(w_bytes_per_weight))      # dense weights in this DRAM block
            loads.append(Transfer("weight", float(Fraction(n_w * plan.code_bits, 8 * W))))
            if plan.mask_bits:
                loads.append(Transfer("mask", float(Fraction(n_w * plan.mask_bits, 8 * W))))
        # weights enter the array (a fold starts, or restarts for another chunk of M): the wrapped
        # mapper marks it with the weight-RF write of the fold's dense weights
        fold_w = round(tile.events.get(("weight_rf", "write_bytes"), 0) / w_bytes) if w_bytes else 0
        cycles = tile.compute_cycles - (fill_gain if fold_w else 0)
        lookups = -(-fold_w // plan.d) if plan.lookups else 0
        groups = -(-fold_w // plan.m) if plan.mask_decode else 0
        ev = dict(tile.events)
        L = tile.macs
        _scale(ev, ("weight_rf", "write_bytes"), plan.slots)
        _scale(ev, ("weight_rf", "read_bytes"), plan.slots)
        _scale(ev, ("weight_rf", "stationary_read_bytes"), plan.slots)
        _scale(ev, ("activation_rf", "read_bytes"), plan.executed)
        # local accumulations happen only for executed products; the once-per-run psum hand-off
        # happens in every physical PE slot (gated dense PEs still pass the psum down)
        _scale(ev, ("psum_rf", "acc_read_bytes"), plan.executed)
        _scale(ev, ("psum_rf", "acc_write_bytes"), plan.executed)
        _scale(ev, ("psum_rf", "read_bytes"), plan.slots)
        _scale(ev, ("psum_rf", "write_bytes"), plan.slots)
        executed, gated = _exact(L * plan.executed), _exact(L * plan.gated)
        ev[("pe_array", "mac")] = executed
        if gated:
            ev[("pe_array", "gated_mac")] = gated
        ev[("pe_array", "idle_pe_cycles")] = max(0, cycles * R * C - executed - gated)
        if plan.mux:
            ev[("mux", "mux_select")] = _exact(L * plan.slots)
            # every WRF entry's log2(Ma)-bit mux-select index: written with the weight, read per select
            # (stationary when the PE's weight entry is: one weight per PE, or a static dense fallback)
            idx_bytes = Fraction(index_bits(design.array.sparse_m), 8)
            slot_writes = ev.get(("weight_rf", "write_bytes"), 0) / w_bytes if w_bytes else 0
            if slot_writes:
                ev[("weight_index", "write_bytes")] = float(slot_writes * idx_bytes)
            static = not plan.sparse or ("weight_rf", "stationary_read_bytes") in tile.events
            ev[("weight_index", "stationary_read_bytes" if static else "read_bytes")] = _exact(L * plan.slots) * \
                float(idx_bytes)
        if lookups:
            ev[("codebook", "lookup")] = lookups
        if groups:
            ev[("decoder", "decode")] = groups
        tiles.append(Tile(compute_cycles=cycles, macs=executed, loads=tuple(loads), stores=tile.stores, events=ev,
                          repeat=tile.repeat))
    tiles = _fix_mac_total(tiles, base.macs * plan.executed)
    if plan.codebook_bits and tiles:
        first = tiles[0]
        with_cb = dataclasses.replace(first, loads=first.loads + (Transfer("codebook", plan.codebook_bits / 8),),
                                      repeat=1)
        rest = [dataclasses.replace(first, repeat=first.repeat - 1)] if first.repeat > 1 else []
        tiles = [with_cb, *rest, *tiles[1:]]
    ideal = sum(t.compute_cycles * t.repeat for t in tiles)
    pe_used = min(R * C, math.ceil(base.pe_used / plan.rows_ratio))
    note = (f"; weights {plan.fmt.value}" + (f", sparse {design.array.sparse_n}:{design.array.sparse_m} array "
                                            f"({logical.array.rows} logical rows)" if plan.sparse else "")
            + (", dense fallback on the sparse array" if plan.mux and not plan.sparse else ""))
    return LayerSchedule(layer_name=base.layer_name, tiles=tuple(tiles), ideal_cycles=ideal, pe_used=pe_used,
                         pe_total=R * C, notes=base.notes + note,
                         storage_bits_per_pe=physical_storage(base.storage_bits_per_pe, design, plan))


def physical_storage(logical: dict[str, int] | object, design: Design, plan: WeightPathPlan) -> dict[str, int]:
    """PE storage of one physical PE from the wrapped mapper's per-logical-PE declaration: on the
    sparse array a physical PE serves Ma/Na logical PEs, so it holds their activation windows (the
    ARF events write every candidate row) but only its kept weights (``per_pe`` slots, as before),
    each with a log2(Ma)-bit mux-select index."""
    out = dict(logical)  # type: ignore[arg-type]
    if plan.sparse and "activation_rf" in out:
        out["activation_rf"] = int(out["activation_rf"] * plan.rows_ratio)
    if plan.mux and "weight_rf" in out:
        out["weight_index"] = out["weight_rf"] // design.precision.weight_bits * index_bits(design.array.sparse_m)
    return out


def _scale(ev: dict, key: tuple[str, str], factor: Fraction) -> None:
    if key in ev and factor != 1:
        ev[key] = ev[key] * float(factor)


def _exact(x: Fraction) -> int:
    """Whole MACs of a tile (floor; `_fix_mac_total` puts the layer's remainder on the last tile)."""
    return math.floor(x)


def _fix_mac_total(tiles: list[Tile], total: Fraction) -> list[Tile]:
    """Make the executed MACs of the layer sum to ``total`` exactly (rounded when not whole): only
    needed when a tile's MACs x N/M is fractional (a fold boundary inside an M-group)."""
    target = round(total)
    have = sum(t.macs * t.repeat for t in tiles)
    if have == target or not tiles:
        return tiles
    last = tiles[-1]
    extra = target - have
    fixed_ev = dict(last.events)
    fixed_ev[("pe_array", "mac")] = last.macs + extra
    if ("pe_array", "gated_mac") in fixed_ev:
        fixed_ev[("pe_array", "gated_mac")] = max(0, fixed_ev[("pe_array", "gated_mac")] - extra)
    fixed = dataclasses.replace(last, macs=last.macs + extra, events=fixed_ev, repeat=1)
    head = [dataclasses.replace(last, repeat=last.repeat - 1)] if last.repeat > 1 else []
    return [*tiles[:-1], *head, fixed]


__all__ = ["CompressedMapper", "WeightPathPlan", "logical_design", "plan_weight_path", "transform_schedule"]
