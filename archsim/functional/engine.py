"""Execution on the array: the weight-stationary loop nest with real integers and int psums.

Loop order — the one `archsim.mapping.base` schedules (outer to inner)::

    for repeat in groups:                 # independent GEMMs, one after another
      for col_fold in ceil(N / cols):     # a block of output channels on the array columns
        psum[M, cols_used] = 0            # the column fold's psums, live across its row folds
        for row_fold in folds:            # a block of the reduction pinned in the PE rows
          load:  loader decodes the fold's weights (codebook lookup, mask / LZC decode)
          run:   every streamed pixel p:  psum[p, c] += sum over used PE rows r of
                     w[r, c] * a[p, sel(r, c)]        (sel = r on a dense array; the PE's mux
                                                       select inside its M-group on the sparse one)
          psum wraps to design.precision.psum_bits (two's complement, like the hardware register)
        outputs[repeat, :, col block] = psum

Line chunks of the timing schedule (input slabs that do not fit the buffer) only split the
pixel stream of a fold; they change neither which products are summed nor the order of the
row folds, so functional mode streams each fold's pixels in one go (in bounded memory chunks).
Within one fold the adds of a PE column happen in the same clock wave in the systolic pipeline;
integer addition modulo 2^psum_bits is associative, so summing them at once is exact.

Counters (`FunctionalCounts`) are what the timing model's events count for the same layer:

``macs``              PE multiply-accumulate slots issued: every loaded weight x every streamed
                      pixel (dense array: dense MACs, pruned zeros included; sparse array built for
                      Na:Ma: dense MACs x Na/Ma, spare slots of a sparser pattern included);
``kept_macs``         of those, MACs on a stored kept weight (dense MACs x the weights' N/M for N:M
                      weights on either array; all MACs for dense/VQ weights) — the MACs a sparse
                      design really needs;
``zero_weight_macs``  of those, MACs whose weight is 0 (pruned, an empty slot, or a kept value that
                      quantised to 0): what zero-gating can switch off;
``mux_selects``       sparse array: one per issued MAC (every sparse PE's mux picks per pixel);
``codebook_lookups``, ``mask_groups``, ``lzc_positions``: the loader (`archsim.functional.decode`);
``weights_loaded``    weight registers written (slots x columns per fold; one load per fold);
``input_reads``       activations fed to the rows: the fold's reduction length per pixel (a sparse
                      window broadcasts its Ma activations to its Na rows);
``psum_writes``/``psum_reads``: output-buffer accesses — every row fold writes its column fold's
                      psums, every row fold after the first reads them back first;
``row_folds``/``col_folds``: folds executed.

The timing mappers may reorder the loop nest (NMK / MNK loop orders, `archsim.mapping.base`):
a fold's weights are then loaded once per m-chunk instead of once, which changes
``weights_loaded`` there (not the numbers: every output still sums its row folds in order).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from archsim.functional.decode import WeightLoader
from archsim.mapping.base import RowFold

#: Elements of the gathered activation block ``[pixels, slots, cols]`` built at once on the sparse path.
GATHER_CHUNK_ELEMENTS = 1 << 22


@dataclass
class FunctionalCounts:
    macs: int = 0
    kept_macs: int = 0
    zero_weight_macs: int = 0
    mux_selects: int = 0
    codebook_lookups: int = 0
    mask_groups: int = 0
    lzc_positions: int = 0
    weights_loaded: int = 0
    input_reads: int = 0
    psum_writes: int = 0
    psum_reads: int = 0
    row_folds: int = 0          # row folds executed (summed over repeats and column folds)
    col_folds: int = 0          # column folds executed (summed over repeats)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class FoldRecord:
    """One executed fold, in execution order (``k0, k1`` in the array's reduction order)."""

    repeat: int
    col0: int
    col1: int
    k0: int
    k1: int
    rows_used: int
    weights_per_col: int        # weights each used column holds (k1 - k0 dense; kept slots sparse)


def wrap(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap of int64 ``values`` to ``bits`` bits (the psum register's width)."""
    if bits >= 64:
        return values
    half = np.int64(1) << np.int64(bits - 1)
    return ((values + half) & ((half << np.int64(1)) - 1)) - half


def _sparse_contrib(xs: np.ndarray, vals: np.ndarray, act: np.ndarray) -> np.ndarray:
    """``out[p, c] = sum_r vals[r, c] * xs[p, act[r, c]]`` — every PE's mux picks its activation."""
    pixels = xs.shape[0]
    per_pixel = max(1, act.size)
    step = max(1, GATHER_CHUNK_ELEMENTS // per_pixel)
    out = np.empty((pixels, vals.shape[1]), dtype=np.int64)
    for p0 in range(0, pixels, step):
        picked = xs[p0:p0 + step][:, act]                   # [pixels, slots, cols]: the mux outputs
        out[p0:p0 + step] = np.einsum("prc,rc->pc", picked, vals)
    return out


def execute(x: np.ndarray, loader: WeightLoader, folds: list[RowFold], cols: int, sparse: tuple[int, int] | None,
            psum_bits: int) -> tuple[np.ndarray, FunctionalCounts, list[FoldRecord], bool]:
    """Run the loop nest. ``x``: ``[repeats, M, K]`` in the array's reduction order; ``sparse``: the
    sparse array's ``(Na, Ma)``, or None for a dense array.

    Returns (accumulations ``[repeats, M, N]`` int64 holding psum_bits-wide values, counts, fold
    records, whether any psum wrapped)."""
    reps, pixels, _ = x.shape
    n_out = loader.n_per_repeat
    out = np.zeros((reps, pixels, n_out), dtype=np.int64)
    counts = FunctionalCounts()
    records: list[FoldRecord] = []
    overflow = False
    for rep in range(reps):
        for c0 in range(0, n_out, cols):
            c1 = min(c0 + cols, n_out)
            cu = c1 - c0
            counts.col_folds += 1
            psum = np.zeros((pixels, cu), dtype=np.int64)
            for j, rf in enumerate(folds):
                xs = x[rep][:, rf.k0:rf.k1]
                if sparse is not None:
                    vals, act, kept = loader.sparse_block(rep, c0, c1, rf.k0, rf.k1, *sparse)
                    contrib = _sparse_contrib(xs, vals, act)
                    counts.mux_selects += pixels * vals.size
                    slots = vals.shape[0]
                else:
                    vals, kept = loader.dense_block(rep, c0, c1, rf.k0, rf.k1)
                    contrib = xs @ vals
                    slots = rf.k_len
                total = psum + contrib
                psum = wrap(total, psum_bits)
                overflow = overflow or not np.array_equal(psum, total)
                counts.macs += pixels * vals.size
                counts.kept_macs += pixels * int(np.count_nonzero(kept))
                counts.zero_weight_macs += pixels * int(np.count_nonzero(vals == 0))
                counts.weights_loaded += vals.size
                counts.input_reads += pixels * rf.k_len
                counts.psum_writes += pixels * cu
                counts.psum_reads += pixels * cu if j > 0 else 0
                counts.row_folds += 1
                records.append(FoldRecord(rep, c0, c1, rf.k0, rf.k1, rf.rows_used, slots))
            out[rep][:, c0:c1] = psum
    lc = loader.counts
    counts.codebook_lookups, counts.mask_groups, counts.lzc_positions = lc.codebook_lookups, lc.mask_groups, \
        lc.lzc_positions
    return out, counts, records, overflow
