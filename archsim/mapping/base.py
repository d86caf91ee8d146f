"""The loop nest shared by the weight-stationary mappers (WS, EWS): folds, loop order, DRAM policy, psums, tiles.

A dataflow supplies `RowFold`s (which K range a fold pins, how many weights per PE) and the
per-tile closed forms (cycles, on-chip events) through `FoldModel`; everything else — loop order,
DRAM traffic, psum accumulation and spill, tile emission and run-length compression — lives here so
the dataflows cannot disagree on it.

Loop orders (`LOOP_ORDERS`; outer to inner; N = column folds, K = row folds, M = lines of output)
------------------------------------------------------------------------------------------------
Every order runs each repeat (group of a grouped conv, batch element of a matmul) to completion
before the next; they differ in how the column folds, row folds and output lines nest::

    NKM  for col_fold: for row_fold: for line_chunk(input):        stream       # weight reuse
    NMK  for col_fold: for m_chunk(psum): for row_fold: [sub-chunk] stream      # psums stay on chip
    MNK  for m_chunk(psum, input): for col_fold: for row_fold: [sub-chunk] stream  # input reuse

* **NKM** (SCALE-Sim's order): a fold's weights are loaded into the array once and all of M streams
  through them. Each weight crosses DRAM once, but the psums of the whole column fold
  (``M x cols_used x psum bytes``) stay live across the row folds; the part that does not fit the
  output-buffer half spills to DRAM and comes back (operand ``psum``). Compute cycles equal
  SCALE-Sim's closed form.
* **NMK**: M is cut into *m-chunks* whose psum tile fits the output-buffer half, and each chunk
  completes its whole reduction (all row folds) before the next: no psum spill. The price: each
  fold's weights enter the array once per chunk, so the fold's fixed cost (weight load, fill and
  drain) is paid once per chunk, and the weights are re-read from the weight buffer each time.
  When the column fold's weights fit the weight-buffer half they are fetched from DRAM once (one
  block, with the column fold's first tile) and re-read on chip; otherwise every chunk re-fetches
  them from DRAM.
* **MNK**: the m-chunk is outermost, sized so that its psum tile fits the output half and, if the
  layer input is not resident, its input for *all* channels fits the input half: the chunk's input is
  fetched once (one block, with its first tile; halo rows again per chunk) and reused by every column
  fold, instead of re-fetched per column fold. Weights: fetched once when all of the repeat's
  weights fit the weight half (one block), else re-fetched per chunk. Fixed cost per fold per chunk
  as in NMK.

With one m-chunk NMK and MNK are NKM exactly. ``loop_order="auto"`` (the default) builds every order
and keeps the one with the **fewest DRAM bytes**; ties go to fewer compute cycles, then to the order
listed first (NKM) — so when nothing spills and the input is resident, auto is NKM and the WS
schedule sums to SCALE-Sim's closed form. Auto minimises DRAM traffic, not latency: an order that
saves DRAM bytes at the price of extra fill/drain cycles is taken (on the presets the saved DRAM time
is far larger than the added cycles; the notes of each schedule name the order chosen).

Within a chunk, a row fold's input slab that does not fit the input-buffer half is streamed in line
*sub-chunks* (`geometry.line_chunks`) with the halo rows fetched again; weights stay in the array
across sub-chunks, so sub-chunks add no fixed cost.

DRAM policy (per repeat; "half" = half the capacity when the buffer is double buffered)
------------------------------------------------------------------------------------------
* weights: per fold pass (``k1 - k0`` x ``cols_used``), or as one resident block (above). With a trace
  the bytes are scaled by ``trace.weight_bits_total / (8 * layer.weight_bytes)``.
* inputs: when the repeat's whole input (its channels x the touched plane) fits the input-buffer
  half it is fetched once — the first pass touching a channel loads that channel's plane — and
  re-read from SRAM afterwards. Otherwise (NKM, NMK, and MNK when one line of all channels does not
  fit) every pass loads the channel slab its fold touches for its lines (a channel split across two
  row folds is fetched by both). DRAM input traffic therefore never shrinks as the buffer shrinks.
* psums: with more than one row fold, psums of the (column fold, chunk) tile accumulate in the
  output buffer by read-modify-write; the part that does not fit the output-buffer half spills:
  stored after each non-last row fold, loaded back before each non-first one, proportionally per tile.
* outputs: written to DRAM once, by the last row fold, in output precision.

The input-buffer half must hold at least one output line of a fold's channel slab, and the
weight-buffer half one fold, else `ArchsimInputError` names the field.

Buffer-side bytes of DRAM transfers (fill writes for loads, drain reads for stores) are not in the
events: the engine adds them for every transfer it times (see ``archsim.schedule``).

Layer-level cycle convention: the first tile of the layer carries SCALE-Sim's "−1" (see
``archsim.mapping.ws``), so a WS layer in NKM order sums to exactly ``folds·(2R + C + T − 2) − 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from archsim.design import Design
from archsim.mapping.geometry import Geometry, ceil_div, even_chunks, line_chunks, max_lines_fitting
from archsim.schedule import LayerSchedule, Tile, Transfer
from workloads.errors import ArchsimInputError
from workloads.layer import Layer

#: Loop orders of the shared nest, outer to inner (N column folds, K row folds, M output lines); see the
#: module docstring. ``AUTO`` picks, per layer, the one that moves the fewest DRAM bytes.
LOOP_ORDERS: tuple[str, ...] = ("NKM", "NMK", "MNK")
AUTO = "auto"


@dataclass(frozen=True)
class RowFold:
    """One block of the reduction pinned in the array.

    ``k0, k1``: the K range (within the repeat). ``rows_used``: array rows that hold weights.
    ``per_pe``: weights each used PE holds (1 for WS; up to the WRF depth for EWS); the PE spends
    ``per_pe`` cycles per streamed pixel. ``unit``: K elements per reuse unit (EWS: the kernel
    width when the taps of one (channel, kh) share a PE so the ARF can slide; else 1).
    """

    k0: int
    k1: int
    rows_used: int
    per_pe: int = 1
    unit: int = 1
    reuse: bool = False

    @property
    def k_len(self) -> int:
        return self.k1 - self.k0


class FoldModel(Protocol):
    """What a dataflow contributes to the shared loop nest."""

    name: str

    def row_folds(self, geo: Geometry, design: Design) -> list[RowFold]: ...

    def fold_overhead_cycles(self, rf: RowFold, design: Design) -> int:
        """Cycles paid once per fold (weight load, systolic fill and drain)."""

    def stream_cycles(self, rf: RowFold, geo: Geometry, line_lo: int, line_hi: int) -> int:
        """Cycles to stream lines ``[line_lo, line_hi)`` through the fold."""

    def tile_events(self, rf: RowFold, geo: Geometry, design: Design, cols_used: int, line_lo: int, line_hi: int,
                    first_chunk: bool, weight_scale: float) -> dict[tuple[str, str], float]:
        """On-chip events of the tile except the output buffer (which the loop nest counts)."""

    def storage_bits_per_pe(self, folds: tuple[RowFold, ...], geo: Geometry, design: Design) -> dict[str, int]:
        """PE-local storage (bits per PE) the folds use, per event component (see `LayerSchedule`)."""


def weight_scale_of(layer: Layer, trace: object | None) -> float:
    """DRAM weight bytes per dense weight byte: 1 for dense, ``weight_bits_total/8 / weight_bytes`` with a trace."""
    if trace is None:
        return 1.0
    t_layer = getattr(trace, "layer", None)
    bits = getattr(trace, "weight_bits_total", None)
    if t_layer is None or bits is None:
        raise ArchsimInputError(f"layer {layer.name!r}: trace must be a compress.trace.Trace, got {type(trace).__name__}")
    if (t_layer.weights, t_layer.macs) != (layer.weights, layer.macs):
        raise ArchsimInputError(f"layer {layer.name!r}: the trace is for layer {t_layer.name!r} with different shape "
                                f"({t_layer.weights} weights, {t_layer.macs} MACs vs {layer.weights}, {layer.macs}); "
                                f"pass the trace made for this layer")
    return (bits / 8) / layer.weight_bytes if layer.weight_bytes else 0.0


def resolve_loop_order(loop_order: str | None, design: Design) -> str:
    """The loop order to use: the mapper's own setting, else the design's ``mapping.loop_order`` if the
    design schema has one, else ``auto``. Case-insensitive; anything else is an `ArchsimInputError`."""
    value = loop_order
    if value is None:
        value = getattr(getattr(design, "mapping", None), "loop_order", None)
    if value is None:
        return AUTO
    key = str(value).strip()
    if key.lower() == AUTO:
        return AUTO
    if key.upper() in LOOP_ORDERS:
        return key.upper()
    raise ArchsimInputError(f"unknown loop order {value!r} (mapper parameter / design field 'mapping.loop_order'); "
                            f"use one of: {AUTO}, {', '.join(LOOP_ORDERS)}")


@dataclass(frozen=True)
class _Setup:
    """Everything about (layer, design) the loop orders share, computed once."""

    model: FoldModel
    layer: Layer
    design: Design
    geo: Geometry
    folds: tuple[RowFold, ...]
    R: int
    C: int
    in_half: float
    w_half: float
    out_half: float
    w_scale: float
    col_folds: int
    resident: bool


@dataclass
class _Plan:
    """One loop order's schedule (``tiles``), or only its totals when built as a dry run."""

    order: str
    chunks: int
    tiles: list[Tile] = field(default_factory=list)
    spill: float = 0.0
    dram_bytes: float = 0.0
    cycles: int = 0
    notes: str = ""


def build_schedule(model: FoldModel, layer: Layer, design: Design, trace: object | None = None,
                   loop_order: str | None = None) -> LayerSchedule:
    """Walk the shared loop nest in the given (or auto-chosen) order and emit the layer's tiles
    (consecutive identical tiles merged via ``repeat``)."""
    order = resolve_loop_order(loop_order, design)
    setup = _setup(model, layer, design, trace)
    if order != AUTO:
        plan = _emit(setup, order)
    elif _nkm_is_minimal(setup):
        plan = _emit(setup, "NKM")
    else:   # dry runs (totals only) of the orders that differ from NKM, then the winner for real
        dry = [p for p in (_emit(setup, o, dry=True) for o in LOOP_ORDERS) if p.order == "NKM" or p.chunks > 1]
        best = min(dry, key=lambda p: (p.dram_bytes, p.cycles, LOOP_ORDERS.index(p.order)))
        plan = _emit(setup, best.order)
    geo = setup.geo
    pe_used = max(rf.rows_used for rf in setup.folds) * min(setup.C, geo.n)
    notes = (f"{model.name} {plan.order}{' (auto)' if order == AUTO else ''}: {geo.repeats} repeat(s) x "
             f"{setup.col_folds} col fold(s) x {len(setup.folds)} row fold(s) x {plan.chunks} m-chunk(s); "
             f"input {'resident (fetched once)' if setup.resident else plan.notes}; psum spill {plan.spill:.0%}")
    return LayerSchedule(layer_name=layer.name, tiles=tuple(plan.tiles), ideal_cycles=plan.cycles, pe_used=pe_used,
                         pe_total=setup.R * setup.C, notes=notes,
                         storage_bits_per_pe=model.storage_bits_per_pe(setup.folds, geo, design))


def _setup(model: FoldModel, layer: Layer, design: Design, trace: object | None) -> _Setup:
    geo = Geometry.of(layer, design.precision.psum_bits)
    bufs = design.buffers
    w_half = bufs.weight.half_bytes
    in_half = bufs.input.half_bytes
    w_scale = weight_scale_of(layer, trace)
    folds = tuple(model.row_folds(geo, design))
    C = design.array.cols
    biggest_fold = max(rf.k_len for rf in folds) * min(C, geo.n) * geo.w_bytes * w_scale
    if biggest_fold > w_half:
        raise ArchsimInputError(
            f"design {design.name!r}, layer {layer.name!r}: one weight fold needs {biggest_fold:.0f} bytes but the "
            f"weight buffer holds {w_half:.0f} per half; raise buffers.weight.capacity_bytes")
    return _Setup(model=model, layer=layer, design=design, geo=geo, folds=folds, R=design.array.rows, C=C,
                  in_half=in_half, w_half=w_half,
                  out_half=bufs.output.half_bytes, w_scale=w_scale,
                  col_folds=ceil_div(geo.n, C), resident=geo.repeat_input_bytes <= in_half)


def _psum_lines(s: _Setup) -> int:
    """Most lines whose psum tile (widest column fold) fits the output-buffer half; at least 1."""
    geo = s.geo
    if len(s.folds) == 1:
        return geo.lines                 # nothing accumulates across row folds: outputs stream out
    per_line = geo.line_len * min(s.C, geo.n) * geo.p_bytes
    return max(1, min(geo.lines, int(s.out_half // per_line)))


def _nkm_is_minimal(s: _Setup) -> bool:
    """NKM moves each weight, input and output byte exactly once and no psum: no order can move fewer."""
    return s.resident and _psum_lines(s) >= s.geo.lines


def _emit(s: _Setup, order: str, dry: bool = False) -> _Plan:
    """The tiles of one loop order; with ``dry`` only its DRAM bytes and compute cycles (for auto's choice)."""
    geo, folds, model, design = s.geo, s.folds, s.model, s.design
    R, C = s.R, s.C
    last_j = len(folds) - 1

    # m-chunks and the input mode
    in_mode = "repeat" if s.resident else "slab"
    if order == "NKM":
        chunks = [(0, geo.lines)]
    else:
        max_lines = _psum_lines(s)
        if order == "MNK" and not s.resident:
            fit = max_lines_fitting(geo, geo.channels * geo.touched_w * geo.i_bytes, s.in_half)
            if fit:
                in_mode = "chunk"
                max_lines = min(max_lines, fit)
        chunks = even_chunks(geo.lines, max_lines)
    multi = len(chunks) > 1
    if not multi and in_mode == "chunk":
        in_mode = "slab"                 # cannot happen (a single chunk of all lines would be resident)

    # resident weight blocks
    w_block = None
    if multi and order == "NMK" and geo.k * min(C, geo.n) * geo.w_bytes * s.w_scale <= s.w_half:
        w_block = "col_fold"
    elif multi and order == "MNK" and geo.k * geo.n * geo.w_bytes * s.w_scale <= s.w_half:
        w_block = "repeat"

    sub_cache: dict[tuple[int, int, int], list[tuple[int, int]]] = {}

    def sub_chunks(n_channels: int, lo: int, hi: int) -> list[tuple[int, int]]:
        key = (n_channels, lo, hi)
        if key not in sub_cache:
            try:
                sub_cache[key] = line_chunks(geo, n_channels, s.in_half, lo, hi)
            except ValueError as err:
                raise ArchsimInputError(
                    f"design {design.name!r}, layer {s.layer.name!r}: the input buffer half ({s.in_half:.0f} bytes) "
                    f"cannot hold the input of one output line of a fold ({err}); raise "
                    f"buffers.input.capacity_bytes") from None
        return sub_cache[key]

    plan = _Plan(order=order, chunks=len(chunks))
    runs: list[list] = []                # [tile, repeat] run-length list; identical tiles are one object
    tile_cache: dict[tuple, Tile] = {}
    state = {"first": True, "loaded_to": 0}

    def fold_pass(cf: int, chunk_idx: int, lo: int, hi: int, j: int, rf: RowFold) -> None:
        cu = min(C, geo.n - cf * C)
        c0, c1 = geo.channel_range(rf.k0, rf.k1)
        pieces = sub_chunks(c1 - c0, lo, hi) if in_mode == "slab" else [(lo, hi)]
        out_tile = (hi - lo) * geo.line_len * cu * geo.p_bytes
        spill = max(0.0, out_tile - s.out_half) / out_tile if last_j > 0 else 0.0
        plan.spill = max(plan.spill, spill)
        overhead = model.fold_overhead_cycles(rf, design)
        for si, (l0, l1) in enumerate(pieces):
            pixels = (l1 - l0) * geo.line_len
            cycles = model.stream_cycles(rf, geo, l0, l1) + (overhead if si == 0 else 0) - (1 if state["first"] else 0)
            state["first"] = False
            loads: list[tuple[str, float]] = []
            stores: list[tuple[str, float]] = []
            if si == 0:
                if w_block is None:
                    loads.append(("weight", rf.k_len * cu * geo.w_bytes * s.w_scale))
                elif w_block == "col_fold" and chunk_idx == 0 and j == 0:
                    loads.append(("weight", geo.k * cu * geo.w_bytes * s.w_scale))
                elif w_block == "repeat" and chunk_idx == 0 and cf == 0 and j == 0:
                    loads.append(("weight", geo.k * geo.n * geo.w_bytes * s.w_scale))
            if in_mode == "repeat":
                if c1 > state["loaded_to"]:
                    loads.append(("input", (c1 - max(c0, state["loaded_to"])) * geo.plane_elements * geo.i_bytes))
                    state["loaded_to"] = c1
            elif in_mode == "chunk":
                if cf == 0 and j == 0:
                    loads.append(("input", geo.channels * geo.input_rows(lo, hi) * geo.touched_w * geo.i_bytes))
            else:
                loads.append(("input", (c1 - c0) * geo.input_rows(l0, l1) * geo.touched_w * geo.i_bytes))
            psum = pixels * cu * geo.p_bytes
            if j > 0 and spill:
                loads.append(("psum", psum * spill))
            if j < last_j and spill:
                stores.append(("psum", psum * spill))
            if j == last_j:
                stores.append(("output", pixels * cu * geo.o_bytes))
            plan.cycles += cycles
            plan.dram_bytes += sum(n for _, n in loads) + sum(n for _, n in stores)
            if dry:
                continue
            key = (rf, cu, l0, l1, si == 0, j == 0, j == last_j, cycles, tuple(loads), tuple(stores))
            tile = tile_cache.get(key)
            if tile is None:
                events = model.tile_events(rf, geo, design, cu, l0, l1, si == 0, s.w_scale)
                macs = pixels * rf.k_len * cu
                events[("pe_array", "mac")] = macs
                events[("pe_array", "idle_pe_cycles")] = cycles * R * C - macs
                events[("output_buffer", "write_bytes")] = pixels * cu * (geo.o_bytes if j == last_j else geo.p_bytes)
                if j > 0:
                    events[("output_buffer", "read_bytes")] = psum
                tile = Tile(compute_cycles=cycles, macs=macs, loads=tuple(Transfer(o, n) for o, n in loads),
                            stores=tuple(Transfer(o, n) for o, n in stores), events=events)
                tile_cache[key] = tile
            _append(runs, tile)

    for _rep in range(geo.repeats):
        state["loaded_to"] = 0           # resident input: channels [0, loaded_to) of this repeat are on chip
        if order == "MNK":
            for ch, (lo, hi) in enumerate(chunks):
                for cf in range(s.col_folds):
                    for j, rf in enumerate(folds):
                        fold_pass(cf, ch, lo, hi, j, rf)
        else:
            for cf in range(s.col_folds):
                for ch, (lo, hi) in enumerate(chunks):
                    for j, rf in enumerate(folds):
                        fold_pass(cf, ch, lo, hi, j, rf)
    input_note = {"chunk": "fetched once per m-chunk, reused by all column folds",
                  "slab": "re-fetched per column fold"}.get(in_mode, "resident (fetched once)")
    plan.notes = input_note
    plan.tiles = [t if n == 1 else replace(t, repeat=n) for t, n in runs]
    return plan


def _append(runs: list[list], tile: Tile) -> None:
    """Append to the run-length list, merging with the previous run when identical (``repeat`` compresses
    regular schedules)."""
    if runs:
        prev = runs[-1][0]
        if prev is tile or (prev.compute_cycles == tile.compute_cycles and prev.macs == tile.macs
                            and prev.loads == tile.loads and prev.stores == tile.stores and prev.events == tile.events):
            runs[-1][1] += 1
            return
    runs.append([tile, 1])
