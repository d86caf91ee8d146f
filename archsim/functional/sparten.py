"""Functional (numeric) mode for SparTen designs: the inner join on real sparse integers, chunk by chunk.

`run_sparten(layer, weight, activations, design)` pushes int8 sparse weights and activations through
the SparTen model of `archsim.mapping.sparten` the way its compute units would: every operand is
stored as ``chunk``-position chunks (a bitmask word + the packed non-zeros in position order); for
each (filter, output pixel, chunk) a CU ANDs the two masks, takes the prefix sums of both masks to
find where each matched position's value sits in the *packed* arrays, gathers those values,
multiplies and accumulates into the pixel's psum. Chunks whose kernel tap falls in the padding are
skipped (not joined), as in the timing model. Outputs are the raw accumulations (wrapped at
``precision.psum_bits`` like the hardware's accumulator; no bias, no requantisation).

It also returns the per-(filter, pixel, chunk) matched counts, the kept weights per (filter, chunk)
and the non-zero activations per (pixel, chunk), from which `archsim.mapping.sparten.map_layer_actual`
evaluates the timing model on the actual data. The counters are then compared *exactly*: executed MACs
(``pe_array.mac``) = the products the join computed, joins (``sparten_join.join``) = the chunk joins
executed, selects = MACs, broadcast activation-chunk bytes (``input_buffer.read_bytes``). The timing
model proper uses expected values under the independence assumption; its MACs and cycles are reported
next to the actual ones (not compared: they are expectations).

`check_sparten_layer` is what ``archsim run --functional`` runs per layer on a SparTen design (dispatched
from `archsim.functional.check.check_workload`): seeded random float weights (as for the other
designs) are magnitude-pruned to the density the compression policy plans for the layer
(`compress.unstructured`; layers the policy keeps dense: every weight), quantised to int8 per layer
(the bitmask marks the non-zero integers), seeded int8 activations with exactly
``round((1 - a) x n)`` zeros at the layer's activation density ``a`` (the timing model's rule,
`archsim.mapping.sparten.activation_density`), and the outputs must equal torch's convolution on the
same integers exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from archsim.design import Design, load_design
from archsim.functional.lowering import assemble_output, check_activations, im2col
from archsim.mapping.sparten_model import chunk_layout, inbounds
from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind


@dataclass(frozen=True, eq=False)
class SpartenRun:
    """What one functional run on a SparTen design produced (see the module docstring)."""

    layer: Layer
    design_name: str
    outputs: np.ndarray            # layer.output_shape
    matched: np.ndarray            # [out_channels, P, chunks] matched pairs (0 where the chunk is skipped)
    kept_chunk: np.ndarray         # [out_channels, chunks] non-zero weights per chunk
    act_nnz: np.ndarray            # [repeats, P, chunks] non-zero activations per chunk (0 where skipped)
    macs: int                      # products the inner join computed
    joins: int                     # (filter, pixel, chunk) joins executed
    act_chunk_bytes: np.ndarray    # [repeats] bytes of every joined activation chunk once (mask + non-zeros)
    psum_overflow: bool


def _design(design: Design | str | Path) -> Design:
    d = design if isinstance(design, Design) else load_design(design)
    if d.dataflow.strip().lower() != "sparten":
        raise ArchsimInputError(f"design {d.name!r} has dataflow {d.dataflow!r}; run_sparten needs a SparTen design "
                                f"(dataflow: sparten)")
    return d


def _check_ints(x: np.ndarray, bits: int, what: str, field: str) -> None:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if x.size and (x.min() < lo or x.max() > hi):
        raise ArchsimInputError(f"{what} must be {bits}-bit integers in [{lo}, {hi}] ({field}); got values in "
                                f"[{x.min()}, {x.max()}]")


def _packed(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The chunk's packed storage: its non-zeros in position order, then zeros (what follows the bitmask)."""
    order = np.argsort(~mask, axis=-1, kind="stable")
    return np.take_along_axis(np.where(mask, values, 0), order, axis=-1)


def run_sparten(layer: Layer, weight: np.ndarray, activations: object, design: Design | str | Path) -> SpartenRun:
    """The inner join of every (filter, pixel, chunk) of ``layer`` (see the module docstring)."""
    if not isinstance(layer, Layer) or layer.kind is LayerKind.MATMUL:
        raise ArchsimInputError("run_sparten needs a conv or linear workloads Layer")
    d = _design(design)
    prec = d.precision
    w = np.asarray(weight)
    shape = (layer.out_channels, layer.in_channels // layer.groups, layer.kernel_h, layer.kernel_w) \
        if layer.kind is LayerKind.CONV else (layer.out_channels, layer.in_channels)
    if w.shape != shape:
        raise ArchsimInputError(f"layer {layer.name!r}: weight has shape {w.shape}, the layer needs {shape}")
    if not np.issubdtype(w.dtype, np.integer):
        raise ArchsimInputError(f"layer {layer.name!r}: weights must be integers (int8), got dtype {w.dtype}")
    w = w.astype(np.int64)
    _check_ints(w, prec.weight_bits, f"layer {layer.name!r}: weights", "precision.weight_bits")
    x = check_activations(layer, activations)
    _check_ints(x, prec.act_bits, f"layer {layer.name!r}: activations", "precision.act_bits")

    chunks = chunk_layout(layer, d.sparten.chunk)
    live = inbounds(layer)[:, chunks.tap]                          # [P, chunks]
    cols = im2col(layer, x)                                         # [repeats, P, K] PyTorch (c, kh, kw) order
    reps, P, _ = cols.shape
    n = layer.out_channels // reps
    taps = chunks.taps
    wk = w.reshape(layer.out_channels, -1)                          # PyTorch K order too
    matched = np.zeros((layer.out_channels, P, chunks.n), dtype=np.int64)
    kept = np.zeros((layer.out_channels, chunks.n), dtype=np.int64)
    nnz = np.zeros((reps, P, chunks.n), dtype=np.int64)
    acc = np.zeros((reps, P, n), dtype=np.int64)
    mask_bytes = np.zeros(reps)
    for c in range(chunks.n):
        pos = (chunks.c0[c] + np.arange(chunks.length[c])) * taps + chunks.tap[c]   # K indices of the chunk
        run = live[:, c]
        for r in range(reps):
            wc = wk[r * n:(r + 1) * n, pos]                            # [n, L]
            ac = cols[r][:, pos] * run[:, None]                        # [P, L]; skipped pixels contribute nothing
            wm, am = wc != 0, ac != 0
            pw, pa = _packed(wc, wm), _packed(ac, am)                  # bitmask + packed values, as stored
            iw = np.maximum(np.cumsum(wm, axis=1) - 1, 0)              # prefix sums: index into the packed arrays
            ia = np.maximum(np.cumsum(am, axis=1) - 1, 0)
            gw = np.take_along_axis(pw, iw, axis=1)                    # weight value at each position (via prefix)
            ga = np.take_along_axis(pa, ia, axis=1)
            join = am[:, None, :] & wm[None, :, :]                     # [P, n, L]: AND of the two bitmasks
            acc[r] += np.einsum("pjl,pl,jl->pj", join, ga, gw, optimize=True)
            m = join.sum(axis=2).T                                     # [n, P]
            matched[r * n:(r + 1) * n, :, c] = m
            kept[r * n:(r + 1) * n, c] = wm.sum(axis=1)
            nnz[r, :, c] = am.sum(axis=1)
            mask_bytes[r] += run.sum() * chunks.length[c] / 8
    bits = prec.psum_bits
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    overflow = bool(acc.size and (acc.min() < lo or acc.max() > hi))
    wrapped = ((acc - lo) % (2 ** bits)) + lo if overflow else acc
    out = assemble_output(layer, wrapped)
    if bits <= 32:
        out = out.astype(np.int32)
    act_bytes = mask_bytes + nnz.sum(axis=(1, 2)) * prec.act_bits / 8
    joins = int(live.sum()) * layer.out_channels
    return SpartenRun(layer=layer, design_name=d.name, outputs=out, matched=matched, kept_chunk=kept, act_nnz=nnz,
                      macs=int(matched.sum()), joins=joins, act_chunk_bytes=act_bytes, psum_overflow=overflow)


# ------------------------------------------------------------------------------------------- operands
def quantize_int(weight: np.ndarray, bits: int) -> np.ndarray:
    """Symmetric per-layer integer quantisation (scale = max |w| / (2^(bits-1) - 1)), round to nearest."""
    w = np.asarray(weight, dtype=np.float64)
    top = float(np.abs(w).max())
    if top == 0.0:
        return np.zeros(w.shape, dtype=np.int64)
    q = 2 ** (bits - 1) - 1
    return np.clip(np.rint(w / top * q), -q, q).astype(np.int64)


def sparse_activations(shape: tuple[int, ...], density: float, bits: int, rng: np.random.Generator) -> np.ndarray:
    """Signed ``bits``-bit activations, non-zero values uniform, exactly ``round((1 - density) x n)`` zeros."""
    n = int(np.prod(shape))
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1)
    values = rng.integers(lo, hi - 1, size=n, dtype=np.int64)
    values = np.where(values >= 0, values + 1, values)               # skip 0: uniform over the non-zeros
    zeros = int(round((1.0 - density) * n))
    values[rng.permutation(n)[:zeros]] = 0
    return values.reshape(shape)


# ------------------------------------------------------------------------------------------- the check
def _events(schedule: Any) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for t in schedule.tiles:
        for key, v in t.events.items():
            out[key] = out.get(key, 0.0) + v * t.repeat
    return out


def check_sparten_layer(layer: Layer, index: int, design: Design, density: float, seed: int, context: Any) -> Any:
    """Prune, run, compare one layer on a SparTen design (see the module docstring)."""
    from archsim.functional.check import CountCheck, LayerCheck, _layer_seed, _shape, draw_weight, reference_output
    from archsim.mapping.sparten import activation_density, map_layer_actual, rounds_of, setup_layer
    from compress.unstructured import magnitude_mask, sparse_trace

    layer_seed = _layer_seed(seed, index)
    w_float = draw_weight(layer, layer_seed).numpy()
    mask = magnitude_mask(w_float, density)
    w_int = quantize_int(np.where(mask, w_float, 0.0), design.precision.weight_bits)
    if not w_int.any():
        raise ArchsimInputError(f"layer {layer.name!r}: the pruned weights quantise to all zeros")
    a, _ = activation_density(layer, design, None)
    x = sparse_activations(layer.input_shape, a, design.precision.act_bits, np.random.default_rng(layer_seed + 1))
    trace = replace(sparse_trace(layer, w_int != 0), act_density=a)

    res = run_sparten(layer, w_int, x, design)
    ref = reference_output(layer, x, w_int)
    diff = np.abs(res.outputs.astype(np.int64) - ref)
    max_diff = int(diff.max()) if diff.size else 0

    actual = map_layer_actual(layer, design, trace, res.kept_chunk, res.matched, res.act_nnz)
    ev = _events(actual)
    counts = [CountCheck("executed MACs", res.macs, ev.get(("pe_array", "mac"), 0.0), True),
              CountCheck("chunk joins", res.joins, ev.get(("sparten_join", "join"), 0.0), True),
              CountCheck("join selects", res.macs, ev.get(("sparten_join", "select"), 0.0), True)]
    # each round's filter groups (sets of clusters) read every activation chunk once
    s = setup_layer(layer, design, trace)
    reads = np.array([sum(len(groups) for groups in rounds_of(s, r)) for r in range(s.repeats)])
    counts.append(CountCheck("activation-chunk bytes", round(float((res.act_chunk_bytes * reads).sum()), 6),
                             round(ev.get(("input_buffer", "read_bytes"), 0.0), 6), True,
                             f"read once per round and filter group ({int(reads.sum())} in all)"))
    expected = context.mapper(layer, design, trace=trace)
    e_macs, e_cycles = expected.macs, sum(t.compute_cycles * t.repeat for t in expected.tiles)
    a_cycles = sum(t.compute_cycles * t.repeat for t in actual.tiles)
    counts.append(CountCheck("expected-model MACs", res.macs, float(e_macs), False,
                             f"expectation under independence: {e_macs / max(res.macs, 1):.3f} x actual"))
    counts.append(CountCheck("expected-model cycles", a_cycles, float(e_cycles), False,
                             f"expectation: {e_cycles / max(a_cycles, 1):.3f} x the cycles on the actual data"))
    return LayerCheck(layer=layer.name, shape=_shape(layer), weight_format=f"sparse {trace.density:.2f}",
                      array=f"sparten {design.array.cols}x{design.array.rows} CUs", folds=len(actual.tiles),
                      macs_executed=res.macs, macs_issued=res.joins, dense_macs=layer.macs, max_abs_diff=max_diff,
                      match=max_diff == 0 and ref.shape == res.outputs.shape, psum_overflow=res.psum_overflow,
                      counts=tuple(counts))


__all__ = ["SpartenRun", "check_sparten_layer", "quantize_int", "run_sparten",
           "sparse_activations"]
