"""The arithmetic of the SparTen model (`archsim.mapping.sparten`): chunks, pixel passes, kept weights
per chunk, and the expected cycles of a lock-stepped cluster — pure numpy/scipy, no schedule.

Chunks
------
A dot product (one filter x one output pixel) is cut into *chunks* of ``chunk`` reduction positions:
for each kernel tap, the input channels of the group in runs of ``chunk`` (tap-major; the last run of a
tap holds ``C_g mod chunk`` positions) [A] — the natural layout of a feature map stored as one bitmask
word + packed non-zeros per ``chunk`` channels of a pixel (SparTen's 128-bit chunks [M]). A linear layer
is one tap. A chunk whose tap falls in the zero padding of an output pixel is skipped (the address
generator knows the geometry [A]).

Pixels
------
The output pixels of one repeat (group) are split into ``blocks`` contiguous blocks, one per cluster
group; each block is walked in *passes* of ``T`` pixels (the CU's psum file holds one output per pixel
of the pass). ``blocks = min(clusters, pixels)``; when a layer has fewer pixels than clusters (a linear
layer at batch 1), the ``clusters // blocks`` spare clusters take other filters instead (filter groups).

Kept weights per chunk
----------------------
Per filter, the kept count comes from the trace (``filter_density``, real pruning) or from a stated
model (`modelled_filter_kept`); per chunk, the filter's kept weights are placed uniformly at random
among its positions (a seeded multivariate hypergeometric draw, so every filter keeps its exact
count) [A] — the only thing the independence assumption below needs.

Expected cycles of a chunk step
-------------------------------
A CU that joins a filter chunk with ``k`` kept weights against an activation chunk finds
``B ~ Binomial(k, a)`` matched pairs (activations non-zero independently with density ``a``:
the independence assumption [A]) and spends ``Y = max(1, ceil(B / multipliers))`` cycles (an empty
chunk still occupies the join for a cycle) plus ``join_latency_cycles``. The CUs of a cluster are
lock-stepped per chunk (one broadcast activation chunk register per cluster [A]), so a step lasts
``max_j Y_j`` over the cluster's CUs. `JoinCycleTable.expected_max` computes ``E[max_j Y_j]`` exactly
from the product of the CUs' CDFs — this is where load imbalance enters the timing model: per-filter
density differences *and* chunk-to-chunk randomness.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy.special import erfc
from scipy.stats import binom

from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind

#: log(0) stand-in so that 0 x log(0) = 0 in matrix products (a CDF of 0 still drives the product to 0).
_LOG_ZERO = -1.0e30


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# ------------------------------------------------------------------------------------------- chunks
@dataclass(frozen=True)
class ChunkLayout:
    """The chunks of one filter (one repeat): ``tap[c]``, ``length[c]`` and first channel ``c0[c]``."""

    chunk: int
    taps: int
    channels: int                  # input channels per group
    tap: np.ndarray
    length: np.ndarray
    c0: np.ndarray

    @property
    def n(self) -> int:
        return int(self.tap.size)

    @property
    def k(self) -> int:
        """Reduction length of one dot product (= sum of the chunk lengths)."""
        return int(self.length.sum())


def chunk_layout(layer: Layer, chunk: int) -> ChunkLayout:
    if layer.kind is LayerKind.MATMUL:
        raise ArchsimInputError(f"layer {layer.name!r}: SparTen runs conv and linear layers (its weights are stored "
                                f"pruned); a matmul's right operand is an activation")
    taps = layer.kernel_h * layer.kernel_w if layer.kind is LayerKind.CONV else 1
    cg = layer.in_channels // layer.groups
    per_tap = ceil_div(cg, chunk)
    c0 = np.tile(np.arange(per_tap) * chunk, taps)
    length = np.minimum(chunk, cg - c0)
    tap = np.repeat(np.arange(taps), per_tap)
    return ChunkLayout(chunk=chunk, taps=taps, channels=cg, tap=tap, length=length.astype(np.int64), c0=c0)


def inbounds(layer: Layer) -> np.ndarray:
    """``[P, taps]``: True where output pixel p's kernel tap lies inside the input (not in the padding).

    Pixels of one repeat in (image, out_y, out_x) order (the im2col row order); a linear layer has one tap."""
    g = layer.gemm
    if layer.kind is not LayerKind.CONV:
        return np.ones((g.m, 1), dtype=bool)
    oy = np.arange(layer.out_h)[:, None] * layer.stride_h - layer.pad_top + np.arange(layer.kernel_h)[None, :] \
        * layer.dilation_h
    ox = np.arange(layer.out_w)[:, None] * layer.stride_w - layer.pad_left + np.arange(layer.kernel_w)[None, :] \
        * layer.dilation_w
    vy = (oy >= 0) & (oy < layer.in_h)                          # [out_h, kh]
    vx = (ox >= 0) & (ox < layer.in_w)                          # [out_w, kw]
    one = (vy[:, None, :, None] & vx[None, :, None, :]).reshape(layer.out_h * layer.out_w, -1)
    return np.tile(one, (layer.batch, 1))


# ------------------------------------------------------------------------------------------- pixels
@dataclass(frozen=True)
class PixelPlan:
    """How one repeat's output pixels are spread over clusters and passes (see the module docstring)."""

    pixels: int
    blocks: int
    filter_groups: int
    per_pass: int                  # T
    members: np.ndarray            # [passes, blocks, T] pixel index, -1 where a block has no pixel left

    @property
    def passes(self) -> int:
        return int(self.members.shape[0])

    def pass_pixels(self) -> np.ndarray:
        """[passes] output pixels computed by each pass (over all blocks)."""
        return (self.members >= 0).sum(axis=(1, 2))

    def active_blocks(self) -> np.ndarray:
        """[passes] blocks with at least one pixel in the pass."""
        return (self.members >= 0).any(axis=2).sum(axis=1)

    def block_counts(self, inb: np.ndarray) -> np.ndarray:
        """``[passes, blocks, taps]`` in-bounds pixels of each block in each pass, per kernel tap."""
        padded = np.vstack([inb, np.zeros((1, inb.shape[1]), dtype=bool)])     # index -1 -> the all-False row
        return padded[self.members].sum(axis=2)

    def inbound_counts(self, inb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(``most[pass, tap]``, ``total[pass, tap]``): in-bounds pixels of the busiest block, and over all
        blocks, per pass and kernel tap."""
        padded = np.vstack([inb, np.zeros((1, inb.shape[1]), dtype=bool)])     # index -1 -> the all-False row
        per_block = padded[self.members].sum(axis=2)                            # [passes, blocks, taps]
        return per_block.max(axis=1), per_block.sum(axis=1)


def pixel_plan(pixels: int, clusters: int, per_pass: int) -> PixelPlan:
    blocks = max(1, min(clusters, pixels))
    size = ceil_div(pixels, blocks)
    passes = ceil_div(size, per_pass)
    idx = np.arange(passes * per_pass)
    members = np.full((passes, blocks, per_pass), -1, dtype=np.int64)
    for b in range(blocks):
        lo, hi = b * size, min((b + 1) * size, pixels)
        own = lo + idx
        own = np.where(own < hi, own, -1)
        members[:, b, :] = own.reshape(passes, per_pass)
    return PixelPlan(pixels=pixels, blocks=blocks, filter_groups=max(1, clusters // blocks), per_pass=per_pass,
                     members=members)


# ------------------------------------------------------------------------------------------- kept weights
def apportion(shares: np.ndarray, total: int, cap: int) -> np.ndarray:
    """Integers close to ``shares`` (each <= cap) summing to ``total`` exactly (largest remainder)."""
    shares = np.clip(np.asarray(shares, dtype=np.float64), 0.0, cap)
    base = np.floor(shares).astype(np.int64)
    rest = int(total - base.sum())
    if rest > 0:
        room = np.where(base < cap, shares - base, -1.0)
        order = np.lexsort((np.arange(base.size), -room))
        order = order[room[order] >= 0]
        while rest > 0 and order.size:       # one pass adds at most one per filter; repeat if needed
            take = order[:rest]
            base[take] += 1
            rest -= take.size
            order = order[base[order] < cap]
    elif rest < 0:
        order = np.lexsort((np.arange(base.size), shares - base))
        order = order[base[order] > 0]
        while rest < 0 and order.size:
            take = order[:-rest]
            base[take] -= 1
            rest += take.size
            order = order[base[order] > 0]
    if rest:
        raise ArchsimInputError(f"cannot place {total} kept weights in filters of {cap} positions")
    return base


def shape_seed(layer: Layer, seed: int) -> np.random.Generator:
    """A generator seeded by the layer's *shape* (not its name: identical layers must get identical
    results, since archsim simulates them once and reuses the counters)."""
    key = replace(layer, name="").__repr__().encode()
    return np.random.default_rng([seed, zlib.crc32(key)])


def modelled_filter_kept(n_filters: int, k: int, total_kept: int, sigma: float, rng: np.random.Generator
                         ) -> np.ndarray:
    """Kept weights per filter when the trace does not say (stated model [A]).

    Filter i's weights are N(0, s_i^2) with ``log s_i ~ N(0, sigma^2)`` (seeded); one layer-wise magnitude
    threshold ``t`` keeps the expected fraction ``erfc(t / (s_i sqrt 2))`` of filter i, with ``t`` solved so
    the layer keeps ``total_kept``; the expected counts are rounded to integers summing to ``total_kept``.
    ``sigma = 0`` gives every filter the same density (binomial spread only through the chunk draw)."""
    scale = np.exp(sigma * rng.standard_normal(n_filters))
    target = total_kept / (n_filters * k)
    if target >= 1.0:
        return np.full(n_filters, k, dtype=np.int64)
    lo, hi = 0.0, 50.0 * float(scale.max())
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if erfc(mid / (scale * math.sqrt(2.0))).mean() > target:
            lo = mid
        else:
            hi = mid
    p = erfc(0.5 * (lo + hi) / (scale * math.sqrt(2.0)))
    return apportion(p * k, total_kept, k)


def kept_per_chunk(kept: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``[filters, chunks]`` kept weights per chunk: each filter's kept weights placed uniformly at random
    among its positions (sequential hypergeometric draws; exact per-filter totals)."""
    kept = np.asarray(kept, dtype=np.int64)
    out = np.zeros((kept.size, lengths.size), dtype=np.int64)
    left_len = int(lengths.sum())
    left = kept.copy()
    for c, length in enumerate(lengths):
        length = int(length)
        if c == lengths.size - 1 or left_len == length:
            out[:, c] = left
        elif length:
            out[:, c] = rng.hypergeometric(length, left_len - length, left) if left.any() else 0
        left -= out[:, c]
        left_len -= length
    return out


# ------------------------------------------------------------------------------------------- expected cycles
class JoinCycleTable:
    """``P(Y <= y)`` for ``Y = max(1, ceil(Binomial(k, a) / multipliers))``, k = 0..chunk (see the module
    docstring); `expected_max` gives ``E[max_j Y_j]`` over CUs with kept counts ``k_j``."""

    def __init__(self, chunk: int, density: float, multipliers: int) -> None:
        self.chunk, self.density, self.multipliers = chunk, density, multipliers
        self.ymax = max(1, ceil_div(chunk, multipliers))
        k = np.arange(chunk + 1)[:, None]
        y = np.arange(self.ymax + 1)[None, :]
        cdf = binom.cdf(y * multipliers, k, density)        # P(B <= y*mult); Y >= 1 always
        cdf[:, 0] = 0.0
        with np.errstate(divide="ignore"):
            self.log_cdf = np.where(cdf > 0, np.log(np.clip(cdf, 1e-300, 1.0)), _LOG_ZERO)
        self._memo: dict = {}

    def max_cdf(self, kept: np.ndarray) -> np.ndarray:
        """``P(max_j Y_j <= y)`` for y = 0..ymax over CUs with kept counts ``kept`` (a 1-D array)."""
        hist = np.bincount(np.asarray(kept, dtype=np.int64), minlength=self.chunk + 1).astype(np.float64)
        return np.exp(hist @ self.log_cdf)

    def expected_step(self, kept_groups: list[np.ndarray], block_hist: np.ndarray, per_pass: int,
                      join_latency: int = 0) -> np.ndarray:
        """Expected cycles of one lock-stepped chunk step over a pass: ``E[max over clusters of sum over the
        cluster's in-bounds pixels of max over its CUs of (Y + join_latency)]``.

        ``kept_groups``: the kept counts of each filter group's CUs for this chunk (every block of pixels
        meets every group); ``block_hist[row, n]``: how many pixel blocks have n in-bounds pixels
        (n = 0..per_pass) in the pass. Pixels and CUs are independent (module docstring), so the per-pixel
        maxima of a cluster are i.i.d.: their sum's CDF is a convolution power, and the max over clusters
        is the product of those CDFs — exact under the independence assumption. Returns one value per row."""
        key = (tuple(np.sort(np.asarray(g, dtype=np.int64)).tobytes() for g in kept_groups),
               np.ascontiguousarray(block_hist).tobytes(), per_pass, join_latency)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        hist = np.asarray(block_hist, dtype=np.float64)
        nz = np.flatnonzero(hist.any(axis=0))
        nmax = int(nz.max()) if nz.size else 0             # most in-bounds pixels any block has in a pass
        if nmax == 0:
            out = np.zeros(hist.shape[0])
        else:
            counts = np.stack([np.bincount(np.asarray(g, dtype=np.int64), minlength=self.chunk + 1)
                               for g in kept_groups]).astype(np.float64)
            pmf = np.diff(np.exp(counts @ self.log_cdf), axis=1, prepend=0.0)   # [groups, ymax+1], Y >= 1
            if join_latency:
                pmf = np.concatenate([np.zeros((pmf.shape[0], join_latency)), pmf], axis=1)
            width = nmax * (pmf.shape[1] - 1) + 1
            if nmax == 1:
                sums = pmf[:, None, :width]
            else:                                             # pmf of the sum of n i.i.d. maxima, n = 1..nmax
                size = 1 << (width + pmf.shape[1]).bit_length()
                spectrum = np.fft.rfft(pmf, size, axis=1)
                powers = np.arange(1, nmax + 1)[None, :, None]
                sums = np.fft.irfft(spectrum[:, None, :] ** powers, size, axis=2)[:, :, :width]
            cdf = np.clip(np.cumsum(np.clip(sums, 0.0, None), axis=2), 0.0, 1.0)      # [groups, nmax, width]
            with np.errstate(divide="ignore"):
                logs = np.where(cdf > 1e-300, np.log(np.maximum(cdf, 1e-300)), _LOG_ZERO).sum(axis=0)
            total = np.vstack([np.zeros((1, width)), logs])                             # n = 0: P = 1
            log_max = hist[:, :nmax + 1] @ total                                       # log P(max <= s)
            out = (1.0 - np.exp(log_max[:, :-1])).sum(axis=1)
        if len(self._memo) < 200_000:
            self._memo[key] = out
        return out

    def expected_max(self, kept: np.ndarray) -> np.ndarray:
        """``kept[..., cus]`` -> ``E[max over cus of Y]`` for each leading index (integers 0..chunk)."""
        kept = np.asarray(kept, dtype=np.int64)
        lead = kept.shape[:-1]
        flat = kept.reshape(-1, kept.shape[-1])
        hist = np.zeros((flat.shape[0], self.chunk + 1))
        np.add.at(hist, (np.repeat(np.arange(flat.shape[0]), flat.shape[1]), flat.reshape(-1)), 1.0)
        log_f = hist @ self.log_cdf[:, 1:self.ymax]           # log P(max Y <= y), y = 1..ymax-1
        out = 1.0 + (1.0 - np.exp(log_f)).sum(axis=1)
        return out.reshape(lead)


@lru_cache(maxsize=64)
def join_table(chunk: int, density: float, multipliers: int) -> JoinCycleTable:
    return JoinCycleTable(chunk, density, multipliers)


def cycles_of_matches(matched: np.ndarray, multipliers: int, join_latency: int) -> np.ndarray:
    """Cycles a CU spends on chunks with ``matched`` pairs: ``max(1, ceil(m / multipliers)) + join_latency``."""
    m = np.asarray(matched, dtype=np.int64)
    return np.maximum(1, -(-m // multipliers)) + join_latency


# ------------------------------------------------------------------------------------------- energy helpers
def brent_kung_adder_bits(n: int) -> int:
    """Full-adder bit cells of a Brent–Kung prefix-sum network over ``n`` one-bit inputs [A]: an up-sweep and
    a down-sweep tree, each ``sum_l (n / 2^l) * l`` bit cells (level l adds l-bit counts) — the work-efficient
    (minimum-area) parallel prefix network; the count is an approximation, not a netlist."""
    levels = max(1, math.ceil(math.log2(max(n, 2))))
    return 2 * sum(ceil_div(n, 2 ** lvl) * lvl for lvl in range(1, levels + 1))


def index_bits(n: int) -> int:
    """Bits of a position / count inside an ``n``-position chunk."""
    return max(1, math.ceil(math.log2(n + 1)))


__all__ = ["ChunkLayout", "JoinCycleTable", "PixelPlan", "apportion", "brent_kung_adder_bits", "chunk_layout",
           "cycles_of_matches", "index_bits", "inbounds", "join_table", "kept_per_chunk", "modelled_filter_kept",
           "pixel_plan", "shape_seed"]
