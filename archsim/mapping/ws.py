"""Weight-stationary (TPU-like) mapping of a layer onto a rows x cols systolic array, via im2col.

Mapping
-------
* Array rows hold the reduction (GEMM K, ordered (c, kh, kw) like PyTorch weights), array
  columns the output channels (GEMM N). Each PE pins one weight. Inputs stream over the
  T = M rows of the im2col matrix (output pixels x batch): one activation per row per cycle
  enters at the left edge and is forwarded right; psums flow down and leave at the bottom.
* A fold pins ``min(rows, K_rem) x min(cols, N_rem)`` weights; a layer has
  ``ceil(K/rows) * ceil(N/cols)`` folds per repeat. Grouped and depthwise convolutions run each
  group as its own GEMM, one group at a time (SCALE-Sim's way): a depthwise 3x3 layer uses 9 rows
  and 1 column of the array per fold — honest, and very under-utilising; that is WS's weakness
  on depthwise layers, not a modelling artefact. Batched matmuls likewise run one product at a time.

Timing (SCALE-Sim's closed form, peers.md §3.6)
------------------------------------------------
A fold costs ``2·rows + cols + T − 2`` cycles: ``rows`` to shift the weights in, ``rows + cols − 2``
to fill and drain the skewed pipeline, and ``T`` to stream. The full ``rows``/``cols`` are paid even
by a partial fold (as SCALE-Sim does). The layer's first tile carries SCALE-Sim's ``−1`` once, so
with unlimited memory the tiles of a layer sum to exactly ``folds·(2·rows + cols + T − 2) − 1`` in
SCALE-Sim's loop order (``loop_order="NKM"``). The default ``auto`` order is NKM whenever the output
buffer holds the column fold's psums and the input buffer the layer's input (then no order moves fewer
DRAM bytes); otherwise it may split M into m-chunks (NMK/MNK, `archsim.mapping.base`), and each chunk
re-pays every fold's ``2·rows + cols − 2`` — compute cycles then exceed the closed form by exactly
``(chunks − 1) · folds · (2·rows + cols − 2)``, the price of not spilling psums to DRAM.
When a fold's stream is split into several tiles (its input slab does not fit the input buffer),
the fold's first tile carries the fill/drain and weight load (``2·rows + cols − 2``) plus its own
pixels, later tiles only their pixels: fill/drain is paid once per fold and the sum stays exact.
Memory stalls are the engine's business and are never in ``compute_cycles``.

Events per tile (bytes unless stated; ``macs = pixels · rows_used · cols_used``)
---------------------------------------------------------------------------------
* ``(pe_array, mac)``: useful MACs; ``(pe_array, idle_pe_cycles)``: ``cycles·rows·cols − macs``.
* ``(weight_buffer, read_bytes)`` and ``(weight_rf, write_bytes)``: the fold's weights, once, in
  the fold's first tile (the weight shift chain is counted as one register write per weight;
  the hops through upper rows are not counted). With a trace the buffer read is scaled like the
  DRAM bytes (the buffer holds what DRAM delivered); the register write stays dense.
* ``(weight_rf, stationary_read_bytes)``: one read of the pinned weight per MAC. The weight register is
  not rewritten during the fold, so under the default ``switching`` access convention it costs nothing
  per MAC (leakage only); ``legacy`` prices it as a register read.
* ``(input_buffer, read_bytes)``: ``pixels · rows_used`` activations — each streamed row of the
  im2col matrix reads its K-fold window, so overlapping windows are re-read (no convolutional
  reuse in WS) and padding positions count as reads (the feeder treats them uniformly).
* ``(activation_rf, write_bytes/read_bytes)``: every activation is written into, and read from,
  the forwarding register of each of the ``cols_used`` columns it visits (unused columns are
  assumed clock-gated): ``macs`` of each.
* ``(psum_rf, write_bytes/read_bytes)``: every MAC reads the psum coming from above and writes
  its own pipeline register: ``macs`` of each, in psum bytes.
* ``(output_buffer, ...)``: counted by the shared loop nest (`archsim.mapping.base`): each row
  fold writes ``pixels · cols_used`` psums (the last one writes outputs in output precision);
  every row fold after the first also reads them back (read-modify-write).
"""

from __future__ import annotations

from archsim.design import Design
from archsim.mapping.base import RowFold, build_schedule
from archsim.mapping.geometry import Geometry
from archsim.schedule import LayerSchedule
from workloads.layer import Layer


class WsMapper:
    """Weight-stationary, TPU-like. `map_layer` is the entry point.

    ``loop_order``: how column folds (N), row folds (K) and output lines (M) nest — ``"NKM"``
    (weight reuse; SCALE-Sim's order), ``"NMK"`` (psum tile kept on chip), ``"MNK"`` (input reuse) or
    ``"auto"``, which picks per layer the order moving the fewest DRAM bytes (see
    `archsim.mapping.base`). ``None`` (default) means the design's ``mapping.loop_order`` when its
    schema has one, else ``"auto"``. Validated at `map_layer` time, as an `ArchsimInputError`."""

    name = "ws"

    def __init__(self, loop_order: str | None = None) -> None:
        self.loop_order = loop_order

    def row_folds(self, geo: Geometry, design: Design) -> list[RowFold]:
        R = design.array.rows
        return [RowFold(k0, min(k0 + R, geo.k), min(R, geo.k - k0)) for k0 in range(0, geo.k, R)]

    def fold_overhead_cycles(self, rf: RowFold, design: Design) -> int:
        return 2 * design.array.rows + design.array.cols - 2

    def stream_cycles(self, rf: RowFold, geo: Geometry, line_lo: int, line_hi: int) -> int:
        return (line_hi - line_lo) * geo.line_len

    def tile_events(self, rf: RowFold, geo: Geometry, design: Design, cols_used: int, line_lo: int, line_hi: int,
                    first_chunk: bool, weight_scale: float) -> dict[tuple[str, str], float]:
        pixels = (line_hi - line_lo) * geo.line_len
        macs = pixels * rf.rows_used * cols_used
        ev: dict[tuple[str, str], float] = {}
        if first_chunk:
            wbytes = rf.rows_used * cols_used * geo.w_bytes
            ev[("weight_buffer", "read_bytes")] = wbytes * weight_scale
            ev[("weight_rf", "write_bytes")] = wbytes
        ev[("weight_rf", "stationary_read_bytes")] = macs * geo.w_bytes
        ev[("input_buffer", "read_bytes")] = pixels * rf.rows_used * geo.i_bytes
        ev[("activation_rf", "write_bytes")] = macs * geo.i_bytes
        ev[("activation_rf", "read_bytes")] = macs * geo.i_bytes
        ev[("psum_rf", "write_bytes")] = macs * geo.p_bytes
        ev[("psum_rf", "read_bytes")] = macs * geo.p_bytes
        return ev

    def storage_bits_per_pe(self, folds: tuple[RowFold, ...], geo: Geometry, design: Design) -> dict[str, int]:
        """One weight, one activation (forwarding) and one psum register per PE."""
        p = design.precision
        return {"weight_rf": p.weight_bits, "activation_rf": p.act_bits, "psum_rf": p.psum_bits}

    def map_layer(self, layer: Layer, design: Design, trace: object | None = None) -> LayerSchedule:
        return build_schedule(self, layer, design, trace, self.loop_order)


def closed_form_cycles(layer: Layer, rows: int, cols: int) -> int:
    """SCALE-Sim's WS compute cycles for ``layer`` (peers.md §3.6), groups run one after another."""
    g = layer.gemm
    folds = g.repeats * (-(-g.k // rows)) * (-(-g.n // cols))
    return folds * (2 * rows + cols + g.m - 2) - 1
