"""EWS — enhanced weight stationary: a WS systolic array whose PEs carry three register files.

Source: only the EWS abstract is available (reference/energy_tables.md §1, mvq.md §3.1): a
weight RF (WRF) per PE allows "more flexible weight mapping" with several weights per PE; an
activation RF (ARF) gives "convolutional reuse" of ifmap pixels inside the PE; a psum RF (PRF)
keeps psums local "during channel-wise accumulation"; reported 1.22–1.72x throughput and
1.35–2.48x energy efficiency over WS for 16x16 … 64x64 arrays. Everything below beyond that is
our model [A]; its parameters are ``design.register_files`` (depths Dw, Da, Dp) and ``design.ews``.
Nothing here is tuned to the paper's range.

Model
-----
The array, the im2col view and the shared loop nest (loop orders NKM / NMK / MNK / auto; DRAM,
psum-spill and output policy) are those of WS (`archsim.mapping.base`). Only what happens inside a
fold differs. The (S, g) choice below is made first, for one pass of M per fold; the loop order is
then chosen on the resulting folds (an m-chunked order re-pays the WRF load and fill/drain per chunk).

* **WRF — several weights per PE (fewer folds).** A PE pins ``g`` *units* of the reduction of one
  output channel. With ``ews.conv_reuse`` on, a conv with ``kernel_w >= 2``, ``dilation_w = 1`` and
  ``Dw >= kernel_w``, a unit is the ``S = kernel_w`` taps of one (input channel, kernel row) — the
  taps a sliding window can share; otherwise a unit is one reduction element (``S = 1``).
  ``g = floor(Dw / S)``, so a fold covers ``rows · g · S`` reduction elements and a layer has
  ``ceil(K / (rows·g·S)) · ceil(N / cols)`` folds per repeat instead of ``ceil(K/rows) · …``.
  A partial last fold spreads its units evenly: ``g_f = ceil(units / rows)`` per PE.
  "Flexible weight mapping": per layer the mapper tries every ``S`` in {1, kernel unit} and every
  ``g`` in 1 … floor(Dw/S) and keeps the one with the fewest compute cycles (ties: fewer
  input-buffer reads, then fewer folds). ``(S, g) = (1, 1)`` is WS, so EWS is never slower than WS
  and never reads more input bytes; a deep unit can lose (e.g. conv1's 7-tap rows on 3 channels
  fill only 21 of 64 rows), and then a finer one wins.
* **Timing.** Each PE does one MAC per cycle and spends ``g_f·S`` cycles per streamed pixel
  (it accumulates its ``g_f·S`` products locally before adding the psum from above and passing
  it down). A fold costs::

      ceil(rows · g_f·S / ews.weight_load_words_per_cycle)   weight load (WS: rows)
    + rows + cols − 2                                       fill and drain (as WS)
    + g_f·S · T                                             stream

  The weight load is not overlapped with compute (the WRF has no shadow half) — it is the stall
  the next fold's WRF load causes, and it is in ``compute_cycles``. With one word per cycle the
  load costs the same per weight as in WS, so the throughput gain is the amortisation of fill and
  drain over ``g_f·S`` times more work per fold: large for small T (late layers), ~1 for large T.
  The row's activation port needs at most one activation per cycle in every case below, so
  streaming never stalls. With Dw = Da = Dp = 1 this is WS exactly (cycles and events; a test).
* **ARF — sliding-window reuse along W.** For a conv unit (``S >= 2``), consecutive output pixels
  of a line at stride ``sw < S`` share ``S − sw`` of the unit's ``S`` activations. A PE row that
  slides a window over a run of ``L`` pixels reads ``seg(L) = (L−1)·sw + S`` activations from the
  input buffer instead of WS's ``L·S``. A PE holding ``g`` units can order its work two ways; the
  mapper takes, per fold, whichever reads fewer input-buffer bytes:
    (i) pixel-major over the whole line, one S-entry window per unit: ``min(g, floor(Da/S))``
        units reuse (``seg(out_w)`` per line), the others stream without reuse (``out_w·S``);
    (ii) unit-major over chunks of ``P = min(Dp, out_w)`` pixels whose psums wait in the PRF
        (needs ``Da >= S``): every unit reads ``seg(P)`` per chunk. This is where the PRF keeps
        psums local while the PE walks its channels (units); with ``Dp = 1`` it gives no reuse.
  Units with ``S = 1`` (1x1 convs, linear, matmul, or ``conv_reuse`` off) read as WS does.
  Padding positions count as reads, as in WS, so EWS never reads more than WS.
* **PRF / psums.** A PE spends ``per_pe`` consecutive cycles on one pixel (its run); the run's
  products accumulate in the MAC's own 32-bit accumulator register, priced as a flop like WS's
  pipeline register (events ``psum_rf acc_read_bytes/acc_write_bytes``, ``per_pe − 1`` per run),
  and the run's result meets the psum from above once per run through the PRF (``psum_rf
  read_bytes/write_bytes``, priced by the PRF's depth). This follows the timing model (the PE
  "accumulates its products locally before adding the psum from above"); for the unit-major
  order (ii) the PRF entry of the pixel is the one touched once per run, so the count is the same.
  With ``per_pe = 1`` there is no run and the events are WS's. The SRAM-level saving is at the output buffer: with ``g·S`` times fewer row folds
  there are that many fewer psum read-modify-writes (and spills) per output.
  Not modelled: keeping psums of Dp pixels in the PE *across* row folds (pixel-chunk outer loop),
  because it forces a WRF reload (``rows·g·S`` cycles) every Dp pixels, which costs far more
  cycles than it saves unless all of K fits the WRFs — then it is the same as a larger ``g``.

Events per tile (bytes unless stated; same keys as WS, see `archsim.mapping.ws`)
---------------------------------------------------------------------------------
* ``weight_buffer read`` / ``weight_rf write``: the fold's ``k_len·cols_used`` weights, once per
  fold; ``weight_rf read``: one per MAC (``stationary_read`` when a PE holds a single weight for the
  fold, ``per_pe = 1``: the selected entry never changes, as in WS).
* ``input_buffer read``: per the ARF rule above; ``activation_rf write``: every activation read
  from the input buffer is written into the ARF of each used column it visits
  (``input reads · cols_used``); ``activation_rf read``: one per MAC.
* ``psum_rf read/write``: one each per run (pixel × used PE); ``psum_rf acc_read/acc_write``:
  one each per MAC that is not the first of its run. ``pe_array mac``/``idle_pe_cycles`` and the output
  buffer as in WS.
"""

from __future__ import annotations

from functools import lru_cache

from archsim.design import Design
from archsim.mapping.base import RowFold, build_schedule
from archsim.mapping.geometry import Geometry, ceil_div
from archsim.schedule import LayerSchedule
from workloads.layer import Layer, LayerKind


def reuse_unit(layer: Layer, design: Design) -> int:
    """K elements per PE unit: the kernel width when sliding-window reuse applies, else 1."""
    S = layer.kernel_w
    if (design.ews.conv_reuse and layer.kind is LayerKind.CONV and S >= 2 and layer.dilation_w == 1
            and design.register_files.weight_depth >= S):
        return S
    return 1


@lru_cache(maxsize=4096)
def _seg(n: int, S: int, sw: int) -> int:
    """Activations a sliding window of S taps at stride sw reads for n consecutive pixels."""
    if n <= 0:
        return 0
    return (n - 1) * sw + S if sw < S else n * S


@lru_cache(maxsize=4096)
def row_reads_per_line(g: int, S: int, sw: int, line_len: int, da: int, dp: int) -> int:
    """Input-buffer activations one PE row holding ``g`` units of ``S`` taps reads per output line."""
    no_reuse = g * line_len * S
    if S < 2 or da < S or g == 0:
        return no_reuse
    kept = min(g, da // S)
    pixel_major = kept * _seg(line_len, S, sw) + (g - kept) * line_len * S
    P = min(dp, line_len)
    full, rem = divmod(line_len, P)
    unit_major = g * (full * _seg(P, S, sw) + _seg(rem, S, sw))
    return min(no_reuse, pixel_major, unit_major)


class EwsMapper:
    """Enhanced weight stationary (WRF/ARF/PRF per PE). `map_layer` is the entry point.

    ``loop_order``: how column folds (N), row folds (K) and output lines (M) nest — ``"NKM"``
    (weight reuse; SCALE-Sim's order), ``"NMK"`` (psum tile kept on chip), ``"MNK"`` (input reuse) or
    ``"auto"``, which picks per layer the order moving the fewest DRAM bytes (see
    `archsim.mapping.base`). ``None`` (default) means the design's ``mapping.loop_order`` when its
    schema has one, else ``"auto"``. Validated at `map_layer` time, as an `ArchsimInputError`."""

    name = "ews"

    def __init__(self, loop_order: str | None = None) -> None:
        self.loop_order = loop_order

    def row_folds(self, geo: Geometry, design: Design) -> list[RowFold]:
        S, g = self.choose(geo, design)
        return self.folds_for(geo, design, S, g)

    @staticmethod
    def folds_for(geo: Geometry, design: Design, S: int, g: int) -> list[RowFold]:
        """Row folds when each PE holds up to ``g`` units of ``S`` reduction elements."""
        R = design.array.rows
        units = geo.k // S
        folds = []
        for u0 in range(0, units, R * g):
            n_units = min(R * g, units - u0)
            g_f = ceil_div(n_units, R)
            folds.append(RowFold(k0=u0 * S, k1=(u0 + n_units) * S, rows_used=ceil_div(n_units, g_f),
                                 per_pe=g_f * S, unit=S, reuse=S >= 2))
        return folds

    def candidates(self, geo: Geometry, design: Design) -> list[tuple[int, int]]:
        """(unit S, units per PE g) pairs the WRF allows; (1, 1) is plain WS."""
        dw = design.register_files.weight_depth
        units = {1, reuse_unit(geo.layer, design)}
        return [(S, g) for S in sorted(units) for g in range(1, dw // S + 1)]

    def choose(self, geo: Geometry, design: Design) -> tuple[int, int]:
        """The mapping with the fewest compute cycles; ties go to fewer input-buffer reads, then fewer folds."""
        best, best_key = (1, 1), None
        for S, g in self.candidates(geo, design):
            folds = self.folds_for(geo, design, S, g)
            cycles = sum(self.fold_overhead_cycles(rf, design) + rf.per_pe * geo.m for rf in folds)
            reads = sum(self.input_reads(rf, geo, design, geo.lines) for rf in folds)
            key = (cycles, reads, len(folds))
            if best_key is None or key < best_key:
                best, best_key = (S, g), key
        return best

    def fold_overhead_cycles(self, rf: RowFold, design: Design) -> int:
        R, C = design.array.rows, design.array.cols
        return ceil_div(R * rf.per_pe, design.ews.weight_load_words_per_cycle) + R + C - 2

    def stream_cycles(self, rf: RowFold, geo: Geometry, line_lo: int, line_hi: int) -> int:
        return rf.per_pe * (line_hi - line_lo) * geo.line_len

    def input_reads(self, rf: RowFold, geo: Geometry, design: Design, n_lines: int) -> int:
        """Input-buffer activations the fold reads for ``n_lines`` lines (all its PE rows)."""
        if not rf.reuse:
            return n_lines * geo.line_len * rf.k_len
        rfd = design.register_files
        g_f = rf.per_pe // rf.unit
        n_units = rf.k_len // rf.unit
        full_rows, rem_units = divmod(n_units, g_f)
        sw = geo.layer.stride_w
        per_line = full_rows * row_reads_per_line(g_f, rf.unit, sw, geo.line_len, rfd.activation_depth,
                                                  rfd.psum_depth)
        if rem_units:
            per_line += row_reads_per_line(rem_units, rf.unit, sw, geo.line_len, rfd.activation_depth,
                                           rfd.psum_depth)
        return n_lines * per_line

    def tile_events(self, rf: RowFold, geo: Geometry, design: Design, cols_used: int, line_lo: int, line_hi: int,
                    first_chunk: bool, weight_scale: float) -> dict[tuple[str, str], float]:
        pixels = (line_hi - line_lo) * geo.line_len
        macs = pixels * rf.k_len * cols_used
        reads = self.input_reads(rf, geo, design, line_hi - line_lo)
        ev: dict[tuple[str, str], float] = {}
        if first_chunk:
            wbytes = rf.k_len * cols_used * geo.w_bytes
            ev[("weight_buffer", "read_bytes")] = wbytes * weight_scale
            ev[("weight_rf", "write_bytes")] = wbytes
        # a PE holding one weight (per_pe = 1) keeps it selected and unchanged for the whole fold: a
        # stationary read (free under the switching convention); otherwise the WRF read mux switches
        ev[("weight_rf", "stationary_read_bytes" if rf.per_pe == 1 else "read_bytes")] = macs * geo.w_bytes
        ev[("input_buffer", "read_bytes")] = reads * geo.i_bytes
        ev[("activation_rf", "write_bytes")] = reads * cols_used * geo.i_bytes
        ev[("activation_rf", "read_bytes")] = macs * geo.i_bytes
        # A PE's run of ``per_pe`` products for one pixel accumulates in the MAC's own accumulator
        # register (flop); the run's result is added to the psum arriving from above once per run,
        # through the PRF. With per_pe = 1 there is no local run and this is WS exactly.
        runs = pixels * rf.rows_used * cols_used
        local = macs - runs
        ev[("psum_rf", "write_bytes")] = runs * geo.p_bytes
        ev[("psum_rf", "read_bytes")] = runs * geo.p_bytes
        if local:
            ev[("psum_rf", "acc_write_bytes")] = local * geo.p_bytes
            ev[("psum_rf", "acc_read_bytes")] = local * geo.p_bytes
        return ev

    def storage_bits_per_pe(self, folds: tuple[RowFold, ...], geo: Geometry, design: Design) -> dict[str, int]:
        """Entries the folds use: ``per_pe`` weights in the WRF; the ARF holds the sliding windows
        (``min(Da, g·S)`` activations with reuse, else the one activation in flight); the PRF holds
        the unit-major order's pixel chunk (``min(Dp, out_w)`` psums) when a PE runs more than one
        product per pixel, else the one psum handed down."""
        rfd, p = design.register_files, design.precision
        w = max(rf.per_pe for rf in folds)
        a, ps = 1, 1
        for rf in folds:
            if rf.reuse and rfd.activation_depth >= rf.unit:
                a = max(a, min(rfd.activation_depth, rf.per_pe))
                ps = max(ps, min(rfd.psum_depth, geo.line_len))
        return {"weight_rf": w * p.weight_bits, "activation_rf": a * p.act_bits, "psum_rf": ps * p.psum_bits}

    def map_layer(self, layer: Layer, design: Design, trace: object | None = None) -> LayerSchedule:
        return build_schedule(self, layer, design, trace, self.loop_order)
