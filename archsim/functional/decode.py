"""The weight loader: codebook decode (assignment-aware loader) and the LZC mask decoder.

Per fold (one block of reduction rows x one block of output-channel columns) the loader turns the
stored weights into what the PEs hold, and counts what it did:

* **Codebook lookups** (VQ/MVQ): one read of the codebook register file per (subvector, column)
  that the fold touches — the codeword ``c_{a_i}`` is read once and its coordinates routed to the
  PE rows that need them. A subvector split across two folds is looked up by both.
* **Mask decode** (MVQ, N:M): ``mask_groups`` counts the mask fields the loader processes. On
  the N:M sparse array (built for ``Na:Ma``) the reduction is cut into windows of ``Ma`` positions,
  each served by ``Na`` PE rows; the window's mask bits go through the leading-zero-count decoder:
  ``Na`` times "find the leading 1, emit its position, clear it" (`lzc_decode`), giving the kept
  positions in increasing order. Position ``p`` becomes one PE's weight (``c[window·Ma + p]``) and
  that PE's Ma:1 mux select. When the weights are sparser than the array (e.g. 1:8 on a 1:4 array,
  allowed by `archsim.design.nm_support_problem`), a window may keep fewer than ``Na`` weights and
  the spare PE holds a zero (``lzc_positions`` counts only real positions). S2TA-like `NMWeights`
  store positions (``index`` encoding), which are scattered into the window directly (no LZC).
  On a dense array the mask only zeroes the pruned coordinates (``mask_groups`` = M-groups masked).

Dense arrays receive a ``[k_len, cols]`` int weight block in the array's reduction order; the
sparse array receives ``[slots, cols]`` kept values plus ``[slots, cols]`` activation indices
(fold-relative reduction positions) — slot ``s`` sits in window ``s // Na`` of the fold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from archsim.functional.lowering import k_permutation, layout_index
from archsim.functional.weights import DenseWeights, MVQWeights, NMWeights, Weights
from workloads.errors import ArchsimInputError
from workloads.layer import Layer


def lzc_decode(bits: np.ndarray, n: int) -> np.ndarray:
    """Positions of up to ``n`` set bits of every bit group ``bits[..., W]`` (bit 0 = leading), found as
    the hardware does: leading-zero count of the remaining bits, emit, clear that bit; ``n`` times.

    A group with fewer than ``n`` ones yields ``-1`` for the missing positions (an empty PE slot: its
    weight is zero and the MAC is gated). A group with more than ``n`` ones cannot be decoded onto
    ``n`` PEs and raises `ArchsimInputError`."""
    work = np.array(bits, dtype=bool, copy=True)
    out = np.full(work.shape[:-1] + (n,), -1, dtype=np.int64)
    for step in range(n):
        lead = work.argmax(axis=-1)                                    # leading zeros before the first 1
        hit = np.take_along_axis(work, lead[..., None], axis=-1)[..., 0]
        out[..., step] = np.where(hit, lead, -1)
        np.put_along_axis(work, lead[..., None], False, axis=-1)
    if work.any():
        raise ArchsimInputError(f"a {bits.shape[-1]}-position mask window keeps more than the N={n} weights its PEs "
                                f"can hold; the weights' N:M pattern does not fit the array's")
    return out


@dataclass
class LoaderCounts:
    codebook_lookups: int = 0
    mask_groups: int = 0
    lzc_positions: int = 0


class WeightLoader:
    """Decodes the weights of one layer fold by fold, in the array's reduction order ``order``."""

    def __init__(self, layer: Layer, weights: Weights, shape: tuple[int, ...], order: str) -> None:
        self.layer, self.weights, self.order = layer, weights, order
        self.k = math.prod(shape[1:])                       # reduction length of one repeat
        self.n_per_repeat = shape[0] // layer.groups
        self.perm = k_permutation(layer, order)             # array position -> PyTorch K index
        self.counts = LoaderCounts()
        if isinstance(weights, DenseWeights):
            self.dense_rows = weights.values.reshape(shape[0], self.k)[:, self.perm]
        else:
            self.d = weights.d
            self.subs_per_row = self.k // self.d
            lay = layout_index(layer, weights.layout)[self.perm]   # array position -> layout position
            self.sub_of = lay // self.d
            self.off_of = lay % self.d

    # ---- dense array ---------------------------------------------------------------------------
    def dense_block(self, repeat: int, c0: int, c1: int, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """(weights, kept) ``[k1-k0, c1-c0]`` for a fold of a dense array: pruned weights are zeros and
        ``kept`` is False there (all True for dense and VQ weights)."""
        outs = np.arange(c0, c1) + repeat * self.n_per_repeat
        w = self.weights
        if isinstance(w, DenseWeights):
            block = self.dense_rows[outs, k0:k1].T
            return block, np.ones(block.shape, dtype=bool)
        uniq, inv = np.unique(self.sub_of[k0:k1], return_inverse=True)
        offs = self.off_of[k0:k1]
        gsub = outs[:, None] * self.subs_per_row + uniq[None, :]          # [cols, subvectors touched]
        cu = outs.size
        if isinstance(w, NMWeights):
            words = np.zeros((cu, uniq.size, w.m), dtype=np.int64)       # scatter kept values to positions
            kept = np.zeros((cu, uniq.size, w.m), dtype=bool)
            np.put_along_axis(words, w.positions[gsub], w.values[gsub], axis=-1)
            np.put_along_axis(kept, w.positions[gsub], True, axis=-1)
            self.counts.mask_groups += cu * uniq.size
            return words[:, inv, offs].T, kept[:, inv, offs].T
        words = w.codebook[w.codes[gsub]]                                 # [cols, subs, d]: one lookup each
        self.counts.codebook_lookups += cu * uniq.size
        if isinstance(w, MVQWeights):
            kept = w.mask[gsub]
            self.counts.mask_groups += cu * uniq.size * (w.d // w.m)
            return (words * kept)[:, inv, offs].T, kept[:, inv, offs].T
        block = words[:, inv, offs].T
        return block, np.ones(block.shape, dtype=bool)

    # ---- N:M sparse array ----------------------------------------------------------------------
    def _kept(self, repeat: int, c0: int, c1: int, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """(kept bitmap, values) ``[cols, k1-k0]`` of the fold, read from the stored format (layout order)."""
        w = self.weights
        outs = np.arange(c0, c1) + repeat * self.n_per_repeat
        cu = outs.size
        if isinstance(w, MVQWeights):
            s0, s1 = k0 // w.d, -(-k1 // w.d)                              # subvectors touched (contiguous)
            gsub = outs[:, None] * self.subs_per_row + np.arange(s0, s1)[None, :]
            words = w.codebook[w.codes[gsub]].reshape(cu, -1)              # one lookup per (subvector, column)
            bits = w.mask[gsub].reshape(cu, -1)
            self.counts.codebook_lookups += cu * (s1 - s0)
            lo = k0 - s0 * w.d
            return bits[:, lo:lo + k1 - k0], words[:, lo:lo + k1 - k0]
        if isinstance(w, NMWeights):
            g0, g1 = k0 // w.m, -(-k1 // w.m)
            ggrp = outs[:, None] * (self.k // w.m) + np.arange(g0, g1)[None, :]
            vals = np.zeros((cu, g1 - g0, w.m), dtype=np.int64)
            bits = np.zeros((cu, g1 - g0, w.m), dtype=bool)
            np.put_along_axis(vals, w.positions[ggrp], w.values[ggrp], axis=-1)   # index field -> position
            np.put_along_axis(bits, w.positions[ggrp], True, axis=-1)
            lo = k0 - g0 * w.m
            return bits.reshape(cu, -1)[:, lo:lo + k1 - k0], vals.reshape(cu, -1)[:, lo:lo + k1 - k0]
        raise ArchsimInputError("the N:M sparse array needs N:M weights (MVQWeights or NMWeights)")

    def sparse_block(self, repeat: int, c0: int, c1: int, k0: int, k1: int, array_n: int,
                     array_m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values, activation index, kept) ``[slots, c1-c0]`` for a fold of an ``array_n:array_m`` sparse array.

        ``k0`` is a multiple of ``array_m`` in the layout's own order (subvectors contiguous). Every
        window of ``array_m`` reduction positions has ``array_n`` PE rows; the mask bits of the window
        go through the LZC decoder, whose i-th position feeds the window's i-th PE: the kept value as
        its weight and the position as its mux select. Slots left empty (a sparser pattern than the
        array's) hold weight 0 with select 0."""
        bits, vals = self._kept(repeat, c0, c1, k0, k1)
        cu, k_len = bits.shape
        nw = -(-k_len // array_m)
        pad = nw * array_m - k_len                                         # a partial last window
        bits = np.pad(bits, ((0, 0), (0, pad))).reshape(cu, nw, array_m)
        vals = np.pad(vals, ((0, 0), (0, pad))).reshape(cu, nw, array_m)
        pos = lzc_decode(bits, array_n)                                    # [cols, windows, array_n], -1 = empty
        valid = pos >= 0
        sel = np.where(valid, pos, 0)
        values = np.where(valid, np.take_along_axis(vals, sel, axis=-1), 0)
        self.counts.mask_groups += cu * nw
        if isinstance(self.weights, MVQWeights):
            self.counts.lzc_positions += int(valid.sum())
        act = np.arange(nw)[None, :, None] * array_m + sel                 # fold-relative reduction index
        return (values.reshape(cu, nw * array_n).T, act.reshape(cu, nw * array_n).T,
                valid.reshape(cu, nw * array_n).T)
