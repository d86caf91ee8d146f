"""The loop nest shared by the weight-stationary mappers (WS, EWS): folds, DRAM policy, psums, tiles.

Loop order (outer to inner), the same for WS and EWS::

    for repeat in groups/batch-of-matmul:       # independent GEMMs, one after another
      for col_fold in ceil(N / cols):           # a block of output channels (array columns)
        for row_fold in row folds of K:         # a block of the reduction pinned in the array
          for chunk in line chunks of M:        # only when the input slab does not fit the buffer
            tile

A dataflow supplies `RowFold`s (which K range a fold pins, how many weights per PE) and the
per-tile closed forms (cycles, on-chip events) through `FoldModel`; everything else — DRAM
traffic, psum accumulation and spill, tile emission and run-length compression — lives here so the
dataflows cannot disagree on it.

DRAM policy (per repeat; "half" = half the capacity when the buffer is double buffered):

* weights: each fold's block (``k1 - k0`` x ``cols_used`` weights) is loaded once, in the fold's
  first tile. WS uses each weight once, so every weight byte crosses DRAM exactly once per layer.
  With a trace the bytes are scaled by ``trace.weight_bits_total / (8 * layer.weight_bytes)``.
* inputs: when the repeat's whole input (its channels x the touched plane) fits the input-buffer
  half it is fetched once — each row fold of the first column fold loads the channels it touches
  that earlier folds did not — and re-read from SRAM by the other column folds. Otherwise every
  column fold re-fetches, each row fold loading the channel slab it touches (a channel split
  across two row folds is fetched by both); a slab that does not fit the half is streamed in
  line chunks (see `geometry.line_chunks`) with the halo rows fetched again. DRAM input traffic
  therefore grows, never shrinks, as the buffer shrinks below the working set.
* psums: with more than one row fold, psums of the column fold (``M x cols_used x psum bytes``)
  accumulate in the output buffer by read-modify-write. The part of that output tile that does not
  fit the output-buffer half spills: stored to DRAM after each non-last row fold and loaded back
  before each non-first one (operand ``psum``), proportionally per tile.
* outputs: written to DRAM once, by the last row fold, in output precision.

Known limits of this loop order (not modelled alternatives, stated so results are read right):
the whole column fold's psums (``M x cols_used``) stay live across the row folds, so large-M
layers with several row folds spill psums when the output buffer is small (WS far more than EWS,
which has fewer row folds); an M-tiled order (pixel chunk outside the row folds) would avoid the
spill at the cost of a weight reload and a fill/drain per chunk. The input-buffer half must hold
at least one output line of a fold's channel slab, else `ArchsimInputError` names the field.

Buffer-side bytes of DRAM transfers (fill writes for loads, drain reads for stores) are not in the
events: the engine adds them for every transfer it times (see ``archsim.schedule``).

Layer-level cycle convention: the first tile of the layer carries SCALE-Sim's "−1" (see
``archsim.mapping.ws``), so a WS layer sums to exactly ``folds·(2R + C + T − 2) − 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from archsim.design import Design
from archsim.mapping.geometry import Geometry, ceil_div, line_chunks
from archsim.schedule import LayerSchedule, Tile, Transfer
from workloads.errors import ArchsimInputError
from workloads.layer import Layer


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


def half(capacity: int, double_buffered: bool) -> float:
    return capacity / 2 if double_buffered else float(capacity)


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


def build_schedule(model: FoldModel, layer: Layer, design: Design, trace: object | None = None) -> LayerSchedule:
    """Walk the shared loop nest and emit the layer's tiles (consecutive identical tiles merged via ``repeat``)."""
    geo = Geometry.of(layer, design.precision.psum_bits)
    R, C = design.array.rows, design.array.cols
    bufs = design.buffers
    in_half = half(bufs.input.capacity_bytes, bufs.input.double_buffered)
    w_half = half(bufs.weight.capacity_bytes, bufs.weight.double_buffered)
    out_half = half(bufs.output.capacity_bytes, bufs.output.double_buffered)
    w_scale = weight_scale_of(layer, trace)

    folds = model.row_folds(geo, design)
    col_folds = ceil_div(geo.n, C)
    biggest_fold = max(rf.k_len for rf in folds) * min(C, geo.n) * geo.w_bytes * w_scale
    if biggest_fold > w_half:
        raise ArchsimInputError(
            f"design {design.name!r}, layer {layer.name!r}: one weight fold needs {biggest_fold:.0f} bytes but the "
            f"weight buffer holds {w_half:.0f} per half; raise buffers.weight.capacity_bytes")

    resident = geo.repeat_input_bytes <= in_half
    chunk_cache: dict[int, list[tuple[int, int]]] = {}

    def chunks_for(n_channels: int) -> list[tuple[int, int]]:
        if n_channels not in chunk_cache:
            try:
                chunk_cache[n_channels] = line_chunks(geo, n_channels, in_half)
            except ValueError as err:
                raise ArchsimInputError(
                    f"design {design.name!r}, layer {layer.name!r}: the input buffer half ({in_half:.0f} bytes) "
                    f"cannot hold the input of one output line of a fold ({err}); raise "
                    f"buffers.input.capacity_bytes") from None
        return chunk_cache[n_channels]

    tiles: list[Tile] = []
    first = True
    last_j = len(folds) - 1
    for _rep in range(geo.repeats):
        for cf in range(col_folds):
            cu = min(C, geo.n - cf * C)
            out_tile = geo.m * cu * geo.p_bytes
            spill = max(0.0, out_tile - out_half) / out_tile if last_j > 0 else 0.0
            loaded_to = 0                       # resident mode: channels [0, loaded_to) already on chip
            for j, rf in enumerate(folds):
                c0, c1 = geo.channel_range(rf.k0, rf.k1)
                chunks = [(0, geo.lines)] if resident else chunks_for(c1 - c0)
                overhead = model.fold_overhead_cycles(rf, design)
                for ci, (l0, l1) in enumerate(chunks):
                    pixels = (l1 - l0) * geo.line_len
                    cycles = model.stream_cycles(rf, geo, l0, l1) + (overhead if ci == 0 else 0) - (1 if first else 0)
                    first = False
                    loads: list[Transfer] = []
                    stores: list[Transfer] = []
                    if ci == 0:
                        loads.append(Transfer("weight", rf.k_len * cu * geo.w_bytes * w_scale))
                    if resident:
                        if cf == 0 and c1 > loaded_to:
                            loads.append(Transfer("input", (c1 - max(c0, loaded_to)) * geo.plane_elements
                                                  * geo.i_bytes))
                            loaded_to = c1
                    else:
                        loads.append(Transfer("input", (c1 - c0) * geo.input_rows(l0, l1) * geo.touched_w
                                              * geo.i_bytes))
                    psum = pixels * cu * geo.p_bytes
                    if j > 0 and spill:
                        loads.append(Transfer("psum", psum * spill))
                    if j < last_j and spill:
                        stores.append(Transfer("psum", psum * spill))
                    if j == last_j:
                        stores.append(Transfer("output", pixels * cu * geo.o_bytes))
                    events = model.tile_events(rf, geo, design, cu, l0, l1, ci == 0, w_scale)
                    macs = pixels * rf.k_len * cu
                    events[("pe_array", "mac")] = macs
                    events[("pe_array", "idle_pe_cycles")] = cycles * R * C - macs
                    events[("output_buffer", "write_bytes")] = pixels * cu * (geo.o_bytes if j == last_j else geo.p_bytes)
                    if j > 0:
                        events[("output_buffer", "read_bytes")] = psum
                    _append(tiles, Tile(compute_cycles=cycles, macs=macs, loads=tuple(loads), stores=tuple(stores),
                                        events=events))
    ideal = sum(t.compute_cycles * t.repeat for t in tiles)
    pe_used = max(rf.rows_used for rf in folds) * min(C, geo.n)
    notes = (f"{model.name}: {geo.repeats} repeat(s) x {col_folds} col fold(s) x {len(folds)} row fold(s); "
             f"input {'resident (fetched once)' if resident else 're-fetched per column fold'}; "
             f"psum spill {spill:.0%}")
    return LayerSchedule(layer_name=layer.name, tiles=tuple(tiles), ideal_cycles=ideal, pe_used=pe_used,
                         pe_total=R * C, notes=notes)


def _append(tiles: list[Tile], tile: Tile) -> None:
    """Append, merging with the previous tile when identical (``repeat`` compresses regular schedules)."""
    if tiles:
        prev = tiles[-1]
        if (prev.compute_cycles == tile.compute_cycles and prev.macs == tile.macs and prev.loads == tile.loads
                and prev.stores == tile.stores and prev.events == tile.events):
            tiles[-1] = Tile(compute_cycles=prev.compute_cycles, macs=prev.macs, loads=prev.loads, stores=prev.stores,
                             events=prev.events, decode_cycles=prev.decode_cycles, repeat=prev.repeat + 1)
            return
    tiles.append(tile)
