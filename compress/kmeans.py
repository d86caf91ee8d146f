"""(Masked) k-means in torch, CPU or CUDA, chunked and deterministic per seed.

With subvectors ``X`` (n x d), a boolean ``mask`` (n x d, True = kept) and a codebook ``C`` (k x d):

* **assignment** ``a_i = argmin_j sum_t m_it (x_it - c_jt)^2`` — only kept coordinates count.
  Dropping the term that does not depend on j, the score matrix of a chunk of rows is
  ``-2 (M*X) C^T + M (C*C)^T``: two matmuls, computed ``chunk_size`` rows at a time so the
  n x k matrix never exists whole (memory bound on whole models).
* **update** ``c_jt = sum_{i: a_i=j} m_it x_it / sum_{i: a_i=j} m_it`` — a per-coordinate masked mean.
  A coordinate no member of cluster j keeps (denominator 0) keeps its previous value.
* **empty clusters** are re-seeded on the subvectors with the largest (masked) residual, which is
  the move that lowers the objective most (as scikit-learn does; PQF instead perturbs the most
  popular codeword). Coordinates the seed point does not keep get the global masked mean.
* **init** ``pqf``: k distinct random subvectors plus N(0, ``pqf_noise``) noise (PQF kmeans.py);
  ``kmeans++``: D^2 sampling with the masked distance.

``mask=None`` is plain k-means, and an all-ones mask is detected and run as ``mask=None``, so an
all-ones mask is plain k-means by construction. (The test suite checks plain k-means independently against
scikit-learn's Lloyd.) Every value the result depends on is ``mask * x``: pruned coordinates are
zeroed on entry, so changing pruned values cannot change the result.

Randomness comes only from a CPU `torch.Generator` seeded with ``seed``, so runs are bit-identical
for a seed on one device. On CUDA the cluster sums use a one-hot matmul instead of `index_add_`
(whose atomics are not deterministic there).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from compress.config import DEFAULT_CHUNK_SIZE, INITS
from workloads.errors import ArchsimInputError

#: PQF kmeans.py `get_initial_codebook` epsilon: std of the noise added to the initial codewords.
PQF_NOISE = 1e-5


@dataclass
class KMeansResult:
    codebook: torch.Tensor  # [k, d] float
    assignments: torch.Tensor  # [n] int64
    inertia: float  # sum of squared (masked) residuals with the returned codebook/assignments
    iterations_run: int  # codebook updates performed
    converged: bool = False  # assignments stopped changing before `iterations` was reached


def _resolve_device(device: str | torch.device | None, fallback: torch.device) -> torch.device:
    if device is None:
        return fallback
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ArchsimInputError(f"device {str(device)!r} requested but CUDA is not available; use device='cpu'")
    return dev


@torch.no_grad()
def kmeans(x: torch.Tensor, k: int, mask: torch.Tensor | None = None, iterations: int = 20, init: str = "pqf",
           seed: int = 0, chunk_size: int = DEFAULT_CHUNK_SIZE, device: str | torch.device | None = None,
           pqf_noise: float = PQF_NOISE) -> KMeansResult:
    """Cluster the rows of ``x`` (n x d) into ``k`` codewords, using only ``mask``-ed coordinates.

    Results are returned on ``x``'s device. Float64 input is clustered in float64, anything else in
    float32.
    """
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ArchsimInputError(f"kmeans expects a non-empty [n, d] tensor, got shape {tuple(x.shape)}")
    n, d = x.shape
    if not isinstance(k, int) or not 1 <= k <= n:
        raise ArchsimInputError(f"kmeans: k must be an integer in 1..n_subvectors={n}, got {k!r}")
    if init not in INITS:
        raise ArchsimInputError(f"kmeans: init must be one of {', '.join(INITS)}, got {init!r}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ArchsimInputError(f"kmeans: chunk_size must be a positive integer, got {chunk_size!r}")
    if not isinstance(iterations, int) or iterations < 0:
        raise ArchsimInputError(f"kmeans: iterations must be a non-negative integer, got {iterations!r}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ArchsimInputError(f"kmeans: the data holds {int((~torch.isfinite(x)).sum())} NaN/Inf value(s); "
                                f"k-means needs finite values")
    if mask is not None and tuple(mask.shape) != (n, d):
        raise ArchsimInputError(f"kmeans: mask shape {tuple(mask.shape)} differs from the data shape {(n, d)}")

    out_device = x.device
    dev = _resolve_device(device, x.device)
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    data = _Data(x.detach().to(dev, dtype), None if mask is None else mask.detach().to(dev, torch.bool), chunk_size)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))

    codebook = _init_pqf(data, k, gen, pqf_noise) if init == "pqf" else _init_kmeanspp(data, k, gen)
    previous: torch.Tensor | None = None
    runs, converged = 0, False
    for _ in range(iterations):
        codes, errors, sums, counts = data.assign(codebook, accumulate=True)
        if previous is not None and torch.equal(codes, previous):
            converged = True
            break
        codebook = torch.where(counts > 0, sums / counts.clamp_min(1), codebook)
        codebook = data.reseed_empty(codebook, codes, errors)
        previous = codes
        runs += 1
    if not converged:
        codes, errors, _, _ = data.assign(codebook, accumulate=False)
    inertia = float(errors.sum())
    return KMeansResult(codebook.to(out_device), codes.to(out_device), inertia, runs, converged)


#: Group rows by mask pattern when the patterns average at least this many rows each. N:M masks
#: have few patterns (1:4 on d=16: 4^4 = 256), and within one pattern the masked score is a plain
#: score on the kept coordinates only: ``-2 x_P . c_P + |c_P|^2``, a matmul with K = d*N/M (4)
#: instead of 2d (32). Below this many rows per pattern the per-group call overhead outweighs the
#: saving, and the side-by-side matmul is used.
GROUPED_MIN_ROWS = 64


class _Data:
    """The masked data and the chunked passes over it.

    Speed (measured against faiss-cpu k-means, benchmarks/compress; 4x faster than the first
    version on a ResNet-50 layer):

    * N:M masks have few distinct patterns, so rows are sorted by pattern once; within a pattern the
      masked score is a plain score on the kept coordinates, ``-2 x_P . c_P + |c_P|^2``: one small
      ``addmm`` with K = d N/M per pattern piece, written into a shared window buffer (see
      `GROUPED_MIN_ROWS` for when this applies);
    * otherwise the masked score matrix of a chunk is ONE matmul, ``[M*X, M] @ [-2C, C*C]^T`` (the
      data and its mask side by side, built once); plain k-means (no mask, or an all-ones mask)
      uses ``addmm`` with ``|c|^2`` as a broadcast bias;
    * on CPU the row-wise argmin is numpy's SIMD ``argmin`` on a zero-copy view (ties: first index,
      as torch's), several times faster than ``Tensor.min(dim=1)`` at k = 256;
    * the masked cluster sums and counts come from one ``index_add_`` over the side-by-side rows.
    """

    def __init__(self, x: torch.Tensor, mask: torch.Tensor | None, chunk_size: int) -> None:
        if mask is not None and bool(mask.all()):
            mask = None  # an all-ones mask is plain k-means: same code path, bit-identical result
        self.mask = mask
        self.xm = x * mask if mask is not None else x.contiguous()  # pruned coordinates zeroed once
        self.n, self.d = x.shape
        self.chunk = chunk_size
        self.row_norm = (self.xm * self.xm).sum(1)  # sum over kept coords of x^2: turns scores into distances
        # rows [m*x, m]: scores, cluster sums and per-coordinate counts each come from one pass
        self.aug = torch.cat([self.xm, mask.to(x.dtype)], 1) if mask is not None else None
        self.groups = self._pattern_groups() if mask is not None else None

    def _pattern_groups(self) -> list[tuple[int, int, list[tuple[int, int, int]]]] | None:
        """Sort the rows by mask pattern and cut them into windows of at most ``chunk`` rows.

        Sets ``order`` (row permutation), ``aug_sorted``, ``row_norm_sorted``, ``cols`` (kept
        coordinates per pattern, ``[G, kept]``; every N:M row keeps the same count) and
        ``values`` (kept values of the sorted rows, ``[n, kept]``); returns the windows as
        ``(start, stop, [(pattern, piece_start, piece_stop), ...])``. None when the patterns are
        too many for grouping to pay (see `GROUPED_MIN_ROWS`) or rows keep different counts.
        """
        if self.d > 62:
            return None
        kept = self.mask.sum(1)
        if not bool((kept == kept[0]).all()) or int(kept[0]) == 0:
            return None
        weights = (2 ** torch.arange(self.d, device=self.mask.device, dtype=torch.int64))
        keys = (self.mask.to(torch.int64) * weights).sum(1)
        patterns, inverse = torch.unique(keys, return_inverse=True)
        if patterns.numel() * GROUPED_MIN_ROWS > self.n:
            return None
        self.order = torch.argsort(inverse, stable=True)
        self.aug_sorted = self.aug[self.order]
        self.row_norm_sorted = self.row_norm[self.order]
        mask_sorted = self.mask[self.order]
        counts = torch.bincount(inverse, minlength=patterns.numel()).tolist()
        firsts = [0]
        for count in counts[:-1]:
            firsts.append(firsts[-1] + count)
        self.cols = torch.stack([mask_sorted[first].nonzero().flatten() for first in firsts])  # [G, kept]
        pattern_of_row = torch.repeat_interleave(torch.arange(len(counts), device=self.mask.device),
                                                 torch.tensor(counts, device=self.mask.device))
        self.values = self.aug_sorted[:, : self.d].gather(1, self.cols[pattern_of_row]).contiguous()
        windows = []
        for start in range(0, self.n, self.chunk):
            stop = min(start + self.chunk, self.n)
            pieces = []
            for g, (first, count) in enumerate(zip(firsts, counts)):
                a, b = max(first, start), min(first + count, stop)
                if a < b:
                    pieces.append((g, a, b))
            windows.append((start, stop, pieces))
        return windows

    def chunks(self):
        for start in range(0, self.n, self.chunk):
            stop = min(start + self.chunk, self.n)
            yield start, stop, self.xm[start:stop], self.mask_f(start, stop)

    def mask_f(self, start: int, stop: int) -> torch.Tensor:
        if self.mask is None:
            return torch.ones(stop - start, self.d, dtype=self.xm.dtype, device=self.xm.device)
        return self.aug[start:stop, self.d:]

    def assign(self, codebook: torch.Tensor, accumulate: bool):
        """Nearest codeword of every row; with ``accumulate`` also the masked cluster sums/counts."""
        k, d = codebook.shape[0], self.d
        dev, dtype = self.xm.device, self.xm.dtype
        codes = torch.empty(self.n, dtype=torch.long, device=dev)
        errors = torch.empty(self.n, dtype=dtype, device=dev)
        width = 2 * d if self.mask is not None else d
        acc = torch.zeros(k, width, dtype=dtype, device=dev) if accumulate else None
        if self.mask is not None:
            weights = torch.cat([-2.0 * codebook, codebook * codebook], 1).T.contiguous()  # [2d, k]
            bias = None
        else:
            weights = (-2.0 * codebook).T.contiguous()  # [d, k]
            bias = (codebook * codebook).sum(1)  # [k], broadcast over rows
        rows = self.aug if self.mask is not None else self.xm
        buffer = torch.empty(min(self.chunk, self.n), k, dtype=dtype, device=dev)
        on_cpu = dev.type == "cpu"
        if self.groups is not None:
            codes_sorted = self._assign_grouped(codebook, codes, errors, buffer, on_cpu)
            if accumulate:
                self._accumulate(acc, codes_sorted, on_cpu)
                return codes, errors, acc[:, :d], acc[:, d:]
            return codes, errors, None, None
        for start in range(0, self.n, self.chunk):
            stop = min(start + self.chunk, self.n)
            block = rows[start:stop]
            scores = buffer[: stop - start]  # reused: allocating n x k per chunk costs more than the matmul
            if bias is None:
                torch.mm(block, weights, out=scores)
            else:
                torch.addmm(bias, block, weights, out=scores)
            if on_cpu:
                idx = torch.from_numpy(scores.numpy().argmin(axis=1))
                best = scores.gather(1, idx.unsqueeze(1)).squeeze(1)
            else:
                best, idx = scores.min(dim=1)
            codes[start:stop] = idx
            errors[start:stop] = (best + self.row_norm[start:stop]).clamp_min(0)
            if accumulate:
                if not on_cpu:  # deterministic: a matmul instead of atomics
                    acc += torch.nn.functional.one_hot(idx, k).to(dtype).T @ block
                else:
                    acc.index_add_(0, idx, block)
        if not accumulate:
            return codes, errors, None, None
        if self.mask is not None:
            return codes, errors, acc[:, :d], acc[:, d:]
        counts = torch.bincount(codes, minlength=k).to(dtype).unsqueeze(1).expand(k, d)
        return codes, errors, acc, counts

    def _assign_grouped(self, codebook: torch.Tensor, codes: torch.Tensor, errors: torch.Tensor,
                        buffer: torch.Tensor, on_cpu: bool) -> torch.Tensor:
        """Masked assignment by mask pattern: plain scores on the kept coordinates, one small matmul
        per pattern piece written into a shared window buffer, one argmin per window. Fills
        ``codes``/``errors`` (original row order) and returns the codes in sorted order."""
        codes_sorted = torch.empty_like(codes)
        best_sorted = torch.empty_like(errors)
        book = codebook[:, self.cols]  # [k, G, kept]
        weights = (-2.0 * book).permute(1, 2, 0).contiguous()  # [G, kept, k]
        bias = (book * book).sum(2).T.contiguous()  # [G, k]
        for start, stop, pieces in self.groups:
            scores = buffer[: stop - start]
            for g, a, b in pieces:
                torch.addmm(bias[g], self.values[a:b], weights[g], out=scores[a - start:b - start])
            if on_cpu:
                idx = torch.from_numpy(scores.numpy().argmin(axis=1))
                best = scores.gather(1, idx.unsqueeze(1)).squeeze(1)
            else:
                best, idx = scores.min(dim=1)
            codes_sorted[start:stop] = idx
            best_sorted[start:stop] = best
        codes[self.order] = codes_sorted
        errors[self.order] = (best_sorted + self.row_norm_sorted).clamp_min(0)
        return codes_sorted

    def _accumulate(self, acc: torch.Tensor, codes_sorted: torch.Tensor, on_cpu: bool) -> None:
        """Masked cluster sums and counts (``acc = [sum m*x, sum m]`` per codeword) in row chunks."""
        k = acc.shape[0]
        for start in range(0, self.n, self.chunk):
            stop = min(start + self.chunk, self.n)
            block, idx = self.aug_sorted[start:stop], codes_sorted[start:stop]
            if on_cpu:
                acc.index_add_(0, idx, block)
            else:  # deterministic: a matmul instead of atomics
                acc += torch.nn.functional.one_hot(idx, k).to(acc.dtype).T @ block

    def reseed_empty(self, codebook: torch.Tensor, codes: torch.Tensor, errors: torch.Tensor) -> torch.Tensor:
        members = torch.bincount(codes, minlength=codebook.shape[0])
        empty = (members == 0).nonzero().flatten()
        if empty.numel() == 0:
            return codebook
        far = errors.topk(min(empty.numel(), self.n)).indices
        empty = empty[: far.numel()]
        seeds = self.xm[far]
        if self.mask is not None:
            keep = self.mask[far]
            seeds = torch.where(keep, seeds, self.masked_mean().expand_as(seeds))
        codebook = codebook.clone()
        codebook[empty] = seeds
        return codebook

    def masked_mean(self) -> torch.Tensor:
        total = torch.zeros(self.d, dtype=self.xm.dtype, device=self.xm.device)
        count = torch.zeros_like(total)
        for _, _, xc, mc in self.chunks():
            total += xc.sum(0)
            count += mc.sum(0)
        return (total / count.clamp_min(1)).unsqueeze(0)

    def distance_to(self, center: torch.Tensor) -> torch.Tensor:
        """Masked squared distance of every row to one codeword (for k-means++)."""
        out = torch.empty(self.n, dtype=self.xm.dtype, device=self.xm.device)
        for start, stop, xc, mc in self.chunks():
            out[start:stop] = (((xc - center) * mc) ** 2).sum(1)
        return out


def _init_pqf(data: _Data, k: int, gen: torch.Generator, noise: float) -> torch.Tensor:
    idx = torch.randperm(data.n, generator=gen)[:k].to(data.xm.device)
    jitter = torch.randn(k, data.d, generator=gen, dtype=data.xm.dtype).to(data.xm.device) * noise
    return data.xm[idx] + jitter


def _init_kmeanspp(data: _Data, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ (Arthur & Vassilvitskii 2007): each next seed drawn with probability ∝ D(x)^2."""
    first = int(torch.randint(data.n, (1,), generator=gen))
    centers = [data.xm[first]]
    dist = data.distance_to(centers[0])
    for _ in range(1, k):
        weights = dist.double().cpu()
        total = float(weights.sum())
        u = float(torch.rand(1, generator=gen, dtype=torch.float64))
        if total > 0:
            idx = int(torch.searchsorted(weights.cumsum(0), u * total, right=True).clamp_max(data.n - 1))
        else:  # every point coincides with a chosen seed: any point will do
            idx = int(u * data.n) % data.n
        centers.append(data.xm[idx])
        dist = torch.minimum(dist, data.distance_to(centers[-1]))
    return torch.stack(centers)
