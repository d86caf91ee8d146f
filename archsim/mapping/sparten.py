"""SparTen-like two-sided sparse accelerator: bitmask chunks, the inner join, clusters of compute units.

Source: only the summary in reference/energy_tables.md §2 and mvq.md: SparTen (Gondimalla et al.,
MICRO'19; [M] 45 nm synthesis) has clusters of compute units (CUs) doing sparse dot products on a
bit-mask representation of *both* operands; the inner join of two masks (AND + prefix sum) finds the
matching non-zeros; software "greedy balancing" groups filters by density; 4.7x / 1.8x / 3x faster
than dense, one-sided-sparse and SCNN [P]. SparTen's chunks are 128 positions wide [M]. Everything
else below is an assumption [A], each a named design field (``design.sparten``, the array and the
register files; `archsim.design.SpartenConfig`).

Hardware (per design)
---------------------
``array.cols`` clusters x ``array.rows`` CUs. A CU holds one filter chunk at a time (bitmask + packed
non-zeros) in a filter-chunk buffer of ``register_files.weight_depth`` weight words (>= 2 chunk slots:
the next chunk loads while the current one is joined; 1 slot: loads serialise), a psum file of
``register_files.psum_depth`` outputs (= T, the pixels of a pass), an AND + prefix-sum join unit and
``sparten.multipliers_per_cu`` multipliers. A cluster has one activation-chunk register, broadcast to
its CUs. The global weight / input / output SRAMs are ``buffers.*``.

Dataflow (output-stationary per CU, filter-chunk-stationary over a pass)
----------------------------------------------------------------------
Per repeat (group), filters are taken in *rounds* of ``array.rows x filter_groups`` (one per CU of a
cluster; see `archsim.mapping.sparten_model` for pixel blocks and filter groups). With
``sparten.greedy_balancing`` the repeat's filters are first sorted by kept weights, densest first, so a
round holds filters of similar density (SparTen's software greedy balancing as summarised in
energy_tables.md; the exact GB-S/GB-H algorithms of the paper were not available [M]); otherwise in
network order. For each round, every cluster walks its pixel block in passes of T pixels; for each
chunk of the filters, the CUs load their filter chunk (read once from the weight buffer and broadcast
to every cluster), then for each pixel of the pass the cluster broadcasts that pixel's activation chunk
(bitmask + non-zeros from the input buffer) and each CU joins it with its filter chunk: matched pairs =
popcount(AND), one MAC each, accumulated into the pixel's psum. The CUs of a cluster are lock-stepped
per chunk (one shared activation register) and all clusters per filter chunk (the broadcast), so a
chunk step lasts as long as the slowest CU: that is the load imbalance, with and without balancing.
After the last chunk, the T x filters outputs are re-encoded (bitmask + non-zeros) and written out.

Timing per tile (round, pass, weight segment)::

    cycles = sum over chunks c of  max(step_c, load_c)   (step_c + load_c with a 1-slot filter buffer)
    step_c = (busiest block's in-bounds pixels for c's tap) x E[max over the round's CUs of Y] ,
    Y      = max(1, ceil(Binomial(k_jc, a) / multipliers)) + join_latency_cycles,
    load_c = round's chunk-c filter bytes / (weight-buffer port bytes x banks)

with ``k_jc`` the kept weights of filter j in chunk c and ``a`` the layer's activation density
(independence assumption; `archsim.mapping.sparten_model`). Executed MACs = expected matched pairs =
``a x sum k_jc`` per in-bounds pixel. Functional mode evaluates the same schedule on actual matched
counts (`map_layer_actual`): the step is then the actual ``max over blocks of sum over the pass of max
over CUs of Y``.

Activation density ``a`` per layer: the trace's ``act_density`` (measured, `compress.activations`), else
1 for an ungrouped conv with at most ``sparten.image_input_max_channels`` input channels (a raw image,
not a ReLU output) [A], else ``sparten.act_density`` [A], else an `ArchsimInputError`. Outputs are
stored compressed at the density ``sparten.act_density`` (the next layer's input density, which a
per-layer trace does not carry) [A], or ``a`` when that is null.

Weights per filter: ``dense`` traces keep every weight, ``nm`` traces N/M of each filter (and of each
chunk), ``sparse`` traces their kept count, spread over filters by the trace's ``filter_density`` (real
pruning) or else by the stated model `sparten_model.modelled_filter_kept` (``sparten.filter_scale_sigma``,
seeded by ``sparten.seed`` and the layer shape). SparTen stores every layer as bitmask + values, so a
dense layer also carries its (all-ones) bitmask. VQ/MVQ traces are refused (no codebook).

DRAM and loop order (per repeat, `build_schedule`): the repeat's compressed input (bitmask + non-zeros at
density ``a``) is fetched once when it fits the input-buffer half. Otherwise two orders are costed and the
one moving fewer DRAM bytes is taken [A]: *rounds outer* — a round's compressed filters are fetched once
when they fit the weight-buffer half (else per pass and segment of chunks that fit), and the input is
streamed again for every round, each output pixel of a tile bringing ``min(taps, stride_h x stride_w)`` new
input positions per channel of the tile's chunks (halo re-fetch not modelled); *passes outer* — a pass's
input is fetched once and kept for every round, the filters are fetched again for every pass unless the
repeat's filters all fit the weight-buffer half. Outputs are stored per pass, compressed. When a layer has
fewer pixels than clusters, the spare clusters take other filters only as far as one chunk of the round's
filters (dense worst case) fits the weight-buffer half [A].

Events (per tile; bytes unless stated)
--------------------------------------
* ``weight_buffer read_bytes``: the round's filter chunks that some pixel of the pass needs (mask + kept
  values), once per pass (broadcast); ``weight_rf write_bytes``: the same x active pixel blocks (every
  cluster's CU copy).
* ``weight_rf stationary_read_bytes``: the filter chunk's mask word per join (held across the pass);
  ``weight_rf read_bytes``: one packed weight per matched pair.
* ``input_buffer read_bytes`` = ``sparten_act_chunk write_bytes``: each broadcast activation chunk (mask +
  non-zeros), per cluster; ``sparten_act_chunk read_bytes``: one activation per matched pair.
* ``sparten_join join``: one AND + two prefix sums per (CU, pixel, chunk) join; ``sparten_join select``:
  one priority-encode + index/value select per matched pair; ``pe_array mac``: matched pairs;
  ``psum_rf acc_*``: the MAC accumulator per matched pair; ``psum_rf read/write_bytes``: the pixel's psum
  around each join, and the final read of each output.
* ``sparten_encoder encode``: one per output value; ``output_buffer write_bytes``: compressed outputs.
Prices and areas: `archsim.mapping.sparten_hw`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from archsim.design import Design
from archsim.mapping.sparten_model import (ChunkLayout, PixelPlan, apportion, chunk_layout, cycles_of_matches,
                                           inbounds, join_table, kept_per_chunk, modelled_filter_kept, pixel_plan,
                                           shape_seed)
from archsim.schedule import LayerSchedule, Tile, Transfer
from compress.trace import Trace, WeightFormat
from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind


@dataclass(frozen=True)
class SpartenLayer:
    """Everything about (layer, design, trace) the SparTen schedule needs, decided once."""

    layer: Layer
    design: Design
    chunks: ChunkLayout
    inb: np.ndarray                # [P, taps]
    pixels: PixelPlan
    most: np.ndarray               # [passes, taps] in-bounds pixels of the busiest block
    block_counts: np.ndarray       # [passes, blocks, taps] in-bounds pixels of each block
    tap_hist: tuple                # per tap: (distinct rows of blocks-with-n-in-bounds-pixels, row of each pass)
    total: np.ndarray              # [passes, taps] in-bounds pixels over all blocks
    kept: np.ndarray               # [out_channels] kept weights per filter
    kept_chunk: np.ndarray         # [out_channels, chunks]
    act_density: float
    act_source: str
    out_density: float
    weight_source: str
    repeats: int
    filters: int                   # per repeat

    @property
    def cus(self) -> int:
        return self.design.array.rows

    @property
    def clusters(self) -> int:
        return self.design.array.cols

    @property
    def round_size(self) -> int:
        return self.cus * self.pixels.filter_groups

    @property
    def filter_slots(self) -> int:
        d = self.design
        return d.register_files.weight_depth * d.precision.weight_bits // (d.sparten.chunk * (1 + d.precision.weight_bits))


# ------------------------------------------------------------------------------------------- decisions
def activation_density(layer: Layer, design: Design, trace: Trace | None) -> tuple[float, str]:
    """The layer's input activation density and where it comes from (module docstring)."""
    sp = design.sparten
    measured = getattr(trace, "act_density", None) if trace is not None else None
    if measured is not None:
        return float(measured), "trace act_density"
    if (layer.kind is LayerKind.CONV and layer.groups == 1 and sp.image_input_max_channels
            and layer.in_channels <= sp.image_input_max_channels):
        return 1.0, f"raw image input ({layer.in_channels} channels <= sparten.image_input_max_channels) [A]"
    if sp.act_density is not None:
        return float(sp.act_density), f"sparten.act_density {sp.act_density:g} [A]"
    raise ArchsimInputError(
        f"layer {layer.name!r}: design {design.name!r} (SparTen) exploits activation sparsity, but the layer's trace "
        f"has no act_density and the design states no sparten.act_density; measure the activations "
        f"(compress.activations, then attach the statistics to the traces) or set sparten.act_density (e.g. 0.5)")


def filter_kept(layer: Layer, design: Design, trace: Trace | None, k: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, str]:
    """Kept weights per filter (``out_channels``) and their source (module docstring)."""
    n = layer.out_channels
    if trace is None or trace.format is WeightFormat.DENSE:
        return np.full(n, k, dtype=np.int64), "dense weights (all kept)"
    if trace.format is WeightFormat.NM:
        per = k * trace.n / trace.m
        return apportion(np.full(n, per), round(n * per), k), f"{trace.n}:{trace.m} (N/M of every filter)"
    if trace.format is WeightFormat.SPARSE:
        total = min(n * k, max(1, round(n * k * trace.density)))
        if trace.filter_density is not None:
            return apportion(np.asarray(trace.filter_density) * k, total, k), "trace filter_density"
        sigma = design.sparten.filter_scale_sigma
        return (modelled_filter_kept(n, k, total, sigma, rng),
                f"modelled per-filter density (sparten.filter_scale_sigma {sigma:g}, seed {design.sparten.seed}) [A]")
    raise ArchsimInputError(f"layer {layer.name!r}: design {design.name!r} (SparTen) stores weights as bitmask + "
                            f"values and has no codebook; its trace is {trace.format.value} — use weights.format "
                            f"sparse (or dense / nm traces)")


def _check_trace(layer: Layer, design: Design, trace: object | None) -> Trace | None:
    if trace is None:
        return None
    if not isinstance(trace, Trace):
        raise ArchsimInputError(f"layer {layer.name!r}: trace must be a compress.trace.Trace, got {type(trace).__name__}")
    t = trace.layer
    if (t.weights, t.macs, t.out_channels) != (layer.weights, layer.macs, layer.out_channels):
        raise ArchsimInputError(f"layer {layer.name!r}: the trace is for layer {t.name!r} with a different shape; pass "
                                f"the trace made for this layer")
    return trace


def setup_layer(layer: Layer, design: Design, trace: object | None = None) -> SpartenLayer:
    """Decide chunks, pixels, densities and kept weights of one layer on one SparTen design."""
    trace = _check_trace(layer, design, trace)
    sp = design.sparten
    chunks = chunk_layout(layer, sp.chunk)
    a, a_src = activation_density(layer, design, trace)
    inb = inbounds(layer)
    pixels = pixel_plan(inb.shape[0], design.array.cols, design.register_files.psum_depth)
    # spare clusters take other filters only as far as one chunk of the round's filters (dense worst case)
    # still fits the weight-buffer half [A]
    slot = int(chunks.length.max()) * (1 + design.precision.weight_bits) / 8
    fit = int(design.buffers.weight.half_bytes // (design.array.rows * slot))
    if fit < 1:
        raise ArchsimInputError(f"design {design.name!r}: one chunk of {design.array.rows} filters ({design.array.rows} "
                                f"CUs x {slot:.0f} B) does not fit the weight buffer half "
                                f"({design.buffers.weight.half_bytes:.0f} B); raise buffers.weight.capacity_bytes or "
                                f"lower array.rows")
    if pixels.filter_groups > fit:
        pixels = dataclasses.replace(pixels, filter_groups=fit)
    most, total = pixels.inbound_counts(inb)
    rng = shape_seed(layer, sp.seed)
    kept, w_src = filter_kept(layer, design, trace, chunks.k, rng)
    if trace is not None and trace.format is WeightFormat.NM and (chunks.length % trace.m == 0).all():
        kept_chunk = np.repeat((chunks.length * trace.n // trace.m)[None, :], layer.out_channels, axis=0)
    else:
        kept_chunk = kept_per_chunk(kept, chunks.length, rng)
    out_density = float(sp.act_density) if sp.act_density is not None else a
    counts = pixels.block_counts(inb)
    tap_hist = []
    for tap in range(chunks.taps):
        hist = np.stack([np.bincount(row, minlength=pixels.per_pass + 1) for row in counts[:, :, tap]])
        rows, inverse = np.unique(hist, axis=0, return_inverse=True)
        tap_hist.append((rows, inverse.reshape(-1)))
    return SpartenLayer(layer=layer, design=design, chunks=chunks, inb=inb, pixels=pixels, most=most,
                        block_counts=counts, tap_hist=tuple(tap_hist), total=total,
                        kept=kept, kept_chunk=kept_chunk, act_density=a, act_source=a_src, out_density=out_density,
                        weight_source=w_src, repeats=layer.groups if layer.kind is LayerKind.CONV else 1,
                        filters=layer.out_channels // (layer.groups if layer.kind is LayerKind.CONV else 1))


def filter_order(s: SpartenLayer, repeat: int) -> np.ndarray:
    """Global filter indices of one repeat in the order they are assigned to rounds."""
    ids = np.arange(repeat * s.filters, (repeat + 1) * s.filters)
    if s.design.sparten.greedy_balancing:
        ids = ids[np.argsort(-s.kept[ids], kind="stable")]
    return ids


def rounds_of(s: SpartenLayer, repeat: int) -> list[list[np.ndarray]]:
    """Each round of the repeat as its filter groups (one group per set of clusters; ``array.rows`` filters each)."""
    order = filter_order(s, repeat)
    out = []
    for r0 in range(0, order.size, s.round_size):
        rnd = order[r0:r0 + s.round_size]
        out.append([rnd[g:g + s.cus] for g in range(0, rnd.size, s.cus)])
    return out


# ------------------------------------------------------------------------------------------- per-round statistics
@dataclass(frozen=True)
class RoundStats:
    """What one round costs per (pass, chunk): lock-stepped compute cycles, matched pairs, and non-zero
    activations broadcast (summed over clusters)."""

    step: np.ndarray
    macs: np.ndarray
    act_values: np.ndarray


StatsFn = Callable[[SpartenLayer, int, list], RoundStats]


def expected_stats(s: SpartenLayer, repeat: int, groups: list[np.ndarray]) -> RoundStats:
    """The timing model: expectations under the independence assumption (module docstring)."""
    sp = s.design.sparten
    table = join_table(sp.chunk, s.act_density, sp.multipliers_per_cu)
    taps = s.chunks.tap
    T = s.pixels.per_pass
    step = np.zeros((s.pixels.passes, s.chunks.n))
    for tap, (rows, inverse) in enumerate(s.tap_hist):
        for c in np.flatnonzero(taps == tap):
            e = table.expected_step([s.kept_chunk[g, c] for g in groups], rows, T, sp.join_latency_cycles)
            step[:, c] = e[inverse]
    kept = s.kept_chunk[np.concatenate(groups)].sum(axis=0)                      # [chunks]
    macs = s.total[:, taps] * (s.act_density * kept)[None, :]
    act = len(groups) * s.total[:, taps] * (s.act_density * s.chunks.length)[None, :]
    return RoundStats(step=step, macs=macs, act_values=act)


def actual_stats(matched: np.ndarray, act_nnz: np.ndarray) -> StatsFn:
    """The timing model on actual data: ``matched[filter, pixel, chunk]`` (global filter index; pixels of a
    repeat) and ``act_nnz[repeat, pixel, chunk]`` non-zero activations of each activation chunk."""

    def stats(s: SpartenLayer, repeat: int, groups: list[np.ndarray]) -> RoundStats:
        sp = s.design.sparten
        live = s.inb[:, s.chunks.tap]                                          # [P, chunks]
        members = s.pixels.members
        valid = members >= 0
        idx = np.where(valid, members, 0)
        steps = []
        for g in groups:
            y = cycles_of_matches(matched[g], sp.multipliers_per_cu, sp.join_latency_cycles).max(axis=0)
            y = np.where(live, y, 0)                                           # [P, chunks]
            per_block = (y[idx] * valid[..., None]).sum(axis=2)                 # [passes, blocks, chunks]
            steps.append(per_block.max(axis=1))
        step = np.max(steps, axis=0).astype(np.float64)
        m = np.where(live[None], matched[np.concatenate(groups)], 0).sum(axis=0)  # [P, chunks]
        nnz = np.where(live, act_nnz[repeat], 0)
        per_pass = lambda x: (x[idx] * valid[..., None]).sum(axis=(1, 2))     # noqa: E731  [passes, chunks]
        return RoundStats(step=step, macs=per_pass(m).astype(np.float64),
                          act_values=len(groups) * per_pass(nnz).astype(np.float64))

    return stats


# ------------------------------------------------------------------------------------------- schedule
def _segments(weight_bytes: np.ndarray, input_bytes: np.ndarray, w_half: float, in_half: float, where: str
              ) -> list[np.ndarray]:
    """Consecutive chunk ranges whose per-tile loads fit: the round's filter bytes in the weight half (only
    when the round's filters are not resident, i.e. do not fit as a whole) and the pass's streamed input
    share in the input half (only when the input is not resident); one range when nothing needs splitting."""
    w_limit = weight_bytes.sum() > w_half
    for need, half, what, field in ((weight_bytes if w_limit else None, w_half, "a round's filters", "weight"),
                                    (input_bytes, in_half, "a pass's input", "input")):
        if need is not None and need.size and need.max() > half:
            raise ArchsimInputError(f"{where}: one chunk of {what} needs {need.max():.0f} bytes but the {field} buffer "
                                    f"holds {half:.0f} per half; raise buffers.{field}.capacity_bytes"
                                    + (" or lower array.rows (CUs per cluster)" if field == "weight" else ""))
    out, start, acc_w, acc_i = [], 0, 0.0, 0.0
    for c in range(weight_bytes.size):
        over_w = w_limit and acc_w + weight_bytes[c] > w_half
        over_i = input_bytes.size and acc_i + input_bytes[c] > in_half
        if c > start and (over_w or over_i):
            out.append(np.arange(start, c))
            start, acc_w, acc_i = c, 0.0, 0.0
        acc_w += weight_bytes[c]
        acc_i += input_bytes[c] if input_bytes.size else 0.0
    out.append(np.arange(start, weight_bytes.size))
    return out


@dataclass(frozen=True)
class _Round:
    """One round's filters, statistics, chunk bytes and weight segments."""

    groups: list
    filters: np.ndarray
    stats: RoundStats
    wbytes: np.ndarray             # [chunks] the round's filter bytes per chunk (mask + kept values)
    segments: list

    @property
    def total(self) -> float:
        return float(self.wbytes.sum())


def build_schedule(s: SpartenLayer, stats: StatsFn) -> LayerSchedule:
    """The layer's tiles (round, pass, weight segment) from per-round statistics (expected or actual).

    Loop order per repeat, whichever moves fewer DRAM bytes (ties: rounds outer) [A]: ``rounds outer``
    (a round's filters stay in the weight buffer for all passes; a non-resident input is streamed again
    for every round) or ``passes outer`` (a pass's input stays in the input buffer for all rounds; the
    filters are fetched again for every pass unless the repeat's filters all fit the weight-buffer half)."""
    d, layer = s.design, s.layer
    prec = d.precision
    w_b, i_b, o_b, p_b = prec.weight_bits / 8, prec.act_bits / 8, prec.act_bits / 8, prec.psum_bits / 8
    L = s.chunks.length.astype(np.float64)
    mask_b = L / 8
    port = d.buffers.weight.port_bits / 8 * d.buffers.weight.banks
    w_half, in_half = d.buffers.weight.half_bytes, d.buffers.input.half_bytes
    P = s.pixels.pixels
    pass_px = s.pixels.pass_pixels()
    blocks_on = s.pixels.active_blocks()
    cu_slots = s.cus * d.array.cols * d.sparten.multipliers_per_cu
    in_elems = layer.batch * s.chunks.channels * layer.in_h * layer.in_w if layer.kind is LayerKind.CONV \
        else P * s.chunks.channels
    per_elem = 1 / 8 + s.act_density * i_b
    in_bytes = in_elems * per_elem
    resident_in = in_bytes <= in_half
    # a non-resident input is streamed per tile: each output pixel brings min(taps, stride_h x stride_w) new
    # input positions per channel of the tile's chunks (the input plane tiled by the output grid; halo not
    # re-fetched) [A]
    own = min(s.chunks.taps, layer.stride_h * layer.stride_w) / s.chunks.taps if layer.kind is LayerKind.CONV else 1.0
    in_chunk = own * L * per_elem                                   # bytes per output pixel, per chunk
    pass_in = pass_px * float(in_chunk.sum())                       # [passes] a whole pass's input
    out_per_value = 1 / 8 + s.out_density * o_b
    where = f"design {d.name!r}, layer {layer.name!r}"
    taps = s.chunks.tap
    runs: list[list] = []
    ideal = 0
    orders = []

    def emit(rd: _Round, i: int, j: int, loads: list[Transfer]) -> int:
        seg = rd.segments[j]
        use = seg[s.most[i, taps[seg]] > 0]
        nf = rd.filters.size
        st = rd.stats
        load = rd.wbytes[use] / port
        step = st.step[i, use]
        cyc = float(np.maximum(step, load).sum() if s.filter_slots >= 2 else (step + load).sum())
        cycles = math.ceil(cyc - 1e-9)
        joins = float((nf * s.total[i, taps[use]]).sum())
        macs = int(round(float(st.macs[i, use].sum())))
        bcasts = len(rd.groups) * s.total[i, taps[use]]
        act_bytes = float((bcasts * mask_b[use]).sum() + st.act_values[i, use].sum() * i_b)
        ev: dict[tuple[str, str], float] = {
            ("weight_buffer", "read_bytes"): float(rd.wbytes[use].sum()),
            ("weight_rf", "write_bytes"): float(rd.wbytes[use].sum() * blocks_on[i]),
            ("weight_rf", "stationary_read_bytes"): float((nf * s.total[i, taps[use]] * mask_b[use]).sum()),
            ("weight_rf", "read_bytes"): macs * w_b,
            ("input_buffer", "read_bytes"): act_bytes,
            ("sparten_act_chunk", "write_bytes"): act_bytes,
            ("sparten_act_chunk", "read_bytes"): macs * i_b,
            ("sparten_join", "join"): joins,
            ("sparten_join", "select"): float(macs),
            ("pe_array", "mac"): macs,
            ("pe_array", "idle_pe_cycles"): max(0, cycles * cu_slots - macs),
            ("psum_rf", "acc_read_bytes"): macs * p_b,
            ("psum_rf", "acc_write_bytes"): macs * p_b,
            ("psum_rf", "read_bytes"): joins * p_b,
            ("psum_rf", "write_bytes"): joins * p_b,
        }
        stores: tuple[Transfer, ...] = ()
        if j == len(rd.segments) - 1:
            n_out = float(pass_px[i] * nf)
            ev[("psum_rf", "read_bytes")] += n_out * p_b
            ev[("sparten_encoder", "encode")] = n_out
            ev[("output_buffer", "write_bytes")] = n_out * out_per_value
            stores = (Transfer("output", n_out * out_per_value),)
        _append(runs, Tile(compute_cycles=cycles, macs=macs, loads=tuple(loads), stores=stores,
                           events={k: v for k, v in ev.items() if v}))
        return cycles

    for rep in range(s.repeats):
        rounds = []
        for groups in rounds_of(s, rep):
            filt = np.concatenate(groups)
            wbytes = filt.size * mask_b + s.kept_chunk[filt].sum(axis=0) * w_b
            rounds.append(_Round(groups=groups, filters=filt, stats=stats(s, rep, groups), wbytes=wbytes,
                                 segments=[]))
        rep_w = sum(rd.total for rd in rounds)
        passes = s.pixels.passes
        bytes_rounds = sum(rd.total * (1 if rd.total <= w_half else passes) for rd in rounds) \
            + (in_bytes if resident_in else len(rounds) * float(pass_in.sum()))
        passes_ok = not resident_in and len(rounds) > 1 and float(pass_in.max()) <= in_half
        bytes_passes = (rep_w if rep_w <= w_half else sum(rd.total for rd in rounds) * passes) + float(pass_in.sum())
        order = "passes outer" if passes_ok and bytes_passes < bytes_rounds else "rounds outer"
        orders.append(order)
        share = pass_px.max() * in_chunk if (not resident_in and order == "rounds outer") else np.zeros(0)
        rounds = [dataclasses.replace(rd, segments=_segments(rd.wbytes, share, w_half, in_half, where))
                  for rd in rounds]
        first = True
        if order == "rounds outer":
            for rd in rounds:
                resident_w = rd.total <= w_half
                for i in range(passes):
                    for j, seg in enumerate(rd.segments):
                        loads = []
                        if not resident_w or (i == 0 and j == 0):
                            loads.append(Transfer("weight", rd.total if resident_w else float(rd.wbytes[seg].sum())))
                        if resident_in and first:
                            loads.append(Transfer("input", in_bytes))
                        elif not resident_in:
                            loads.append(Transfer("input", float(pass_px[i] * in_chunk[seg].sum())))
                        first = False
                        ideal += emit(rd, i, j, loads)
        else:
            all_w = rep_w <= w_half
            for i in range(passes):
                for r, rd in enumerate(rounds):
                    for j, seg in enumerate(rd.segments):
                        loads = []
                        if not all_w:
                            whole = rd.total <= w_half
                            if not whole or j == 0:
                                loads.append(Transfer("weight", rd.total if whole else float(rd.wbytes[seg].sum())))
                        elif i == 0 and j == 0:
                            loads.append(Transfer("weight", rd.total))
                        if r == 0 and j == 0:
                            loads.append(Transfer("input", float(pass_in[i])))
                        ideal += emit(rd, i, j, loads)
    tiles = tuple(t if n == 1 else dataclasses.replace(t, repeat=n) for t, n in runs)
    pe_used = min(s.cus, s.filters) * s.pixels.blocks * min(s.pixels.filter_groups, math.ceil(s.filters / s.cus))
    slots = s.filter_slots
    order_note = orders[0] if len(set(orders)) == 1 else "mixed orders"
    notes = (f"sparten {order_note}: {s.repeats} repeat(s) x {math.ceil(s.filters / s.round_size)} round(s) of <= "
             f"{s.round_size} filters x {s.pixels.passes} pass(es) of {s.pixels.per_pass} pixel(s) on "
             f"{s.pixels.blocks} block(s); {s.chunks.n} chunk(s)/filter; a = {s.act_density:.3g} ({s.act_source}); "
             f"weights: {s.weight_source}; input {'resident' if resident_in else 'streamed'}; "
             f"{'greedy balancing' if d.sparten.greedy_balancing else 'filters in network order'}")
    return LayerSchedule(layer_name=layer.name, tiles=tiles, ideal_cycles=ideal, pe_used=pe_used,
                         pe_total=s.cus * s.clusters, notes=notes,
                         storage_bits_per_pe={"weight_rf": min(slots, 2) * d.sparten.chunk * (1 + prec.weight_bits),
                                              "psum_rf": s.pixels.per_pass * prec.psum_bits})


def _append(runs: list[list], tile: Tile) -> None:
    if runs:
        prev = runs[-1][0]
        if (prev.compute_cycles == tile.compute_cycles and prev.macs == tile.macs and prev.loads == tile.loads
                and prev.stores == tile.stores and prev.events == tile.events):
            runs[-1][1] += 1
            return
    runs.append([tile, 1])


class SpartenMapper:
    """SparTen-like clusters of compute units (see the module docstring). `map_layer` is the entry point."""

    name = "sparten"

    def map_layer(self, layer: Layer, design: Design, trace: object | None = None) -> LayerSchedule:
        return build_schedule(setup_layer(layer, design, trace), expected_stats)


def map_layer_actual(layer: Layer, design: Design, trace: Trace | None, kept_chunk: np.ndarray, matched: np.ndarray,
                     act_nnz: np.ndarray) -> LayerSchedule:
    """The same schedule evaluated on actual data (functional mode): the real kept weights per
    ``[filter, chunk]``, matched pairs per ``[filter, pixel, chunk]`` and non-zero activations per
    ``[repeat, pixel, chunk]``. The input's DRAM bytes use the actual activation density."""
    s = setup_layer(layer, design, trace)
    kept_chunk = np.asarray(kept_chunk, dtype=np.int64)
    if kept_chunk.shape != s.kept_chunk.shape:
        raise ArchsimInputError(f"layer {layer.name!r}: kept_chunk has shape {kept_chunk.shape}, expected "
                                f"{s.kept_chunk.shape} (filters x chunks)")
    live = s.inb[:, s.chunks.tap]
    positions = float((live * s.chunks.length[None, :]).sum()) * s.repeats
    a = float(np.where(live[None], act_nnz, 0).sum()) / positions if positions else s.act_density
    s = dataclasses.replace(s, kept=kept_chunk.sum(axis=1), kept_chunk=kept_chunk, act_density=max(a, 1e-9),
                            weight_source="actual weights", act_source=f"actual activations ({a:.3g})")
    return build_schedule(s, actual_stats(matched, act_nnz))


__all__ = ["RoundStats", "SpartenLayer", "SpartenMapper", "activation_density", "actual_stats", "build_schedule",
           "expected_stats", "filter_kept", "filter_order", "map_layer_actual", "rounds_of", "setup_layer"]
