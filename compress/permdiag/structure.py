"""Permuted-diagonal (PD) block structure: layout, expansion, products, projection, storage.

PermDNN (Deng et al., MICRO'18) splits an ``m x n`` weight matrix into ``(m/p) x (n/p)`` blocks of
``p x p``. Block ``(a, b)`` is a *permuted diagonal*: one non-zero per row and per column, at
local positions ``(i, (i + k_ab) mod p)`` for one permutation value ``k_ab in {0..p-1}``
(pq_permdnn.md §B.1). So a block is fully described by ``p`` values and ``k_ab``: no per-weight
index is stored, the positions follow from ``k_ab`` by modulo arithmetic.

Layout used everywhere in this package (numpy here, torch in `modules`):

* ``values[a, b, i]`` = ``W[a*p + i, b*p + (i + k[a, b]) % p]`` -- shape ``(m/p, n/p, p)``;
* ``perms[a, b]`` = ``k[a, b]`` -- shape ``(m/p, n/p)``, integers in ``[0, p)``.

Column view (what the hardware uses when it broadcasts a non-zero input ``x_j``): column
``j = b*p + jl`` meets block row ``a`` at local row ``(jl - k[a, b]) mod p`` -- the "modulo index
generation" of the PermDNN PE (`row_for_column`).

This module is numpy-only (no torch), so archsim-side tests can use it without torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workloads.errors import ArchsimInputError


def _divisors(x: int) -> list[int]:
    return [d for d in range(1, x + 1) if x % d == 0]


def check_block_size(m: int, n: int, p: int, what: str = "layer") -> None:
    """Raise one clear `ArchsimInputError` unless ``p`` (>= 1) divides both ``m`` (rows/outputs) and ``n``.

    The message names the field (``p``), the offending dimension and the valid choices."""
    for name, v in (("rows (out_features)", m), ("cols (in_features)", n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ArchsimInputError(f"{what}: {name} must be a whole number >= 1 (got {v!r})")
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
        raise ArchsimInputError(f"{what}: block size p must be a whole number >= 1 (got {p!r})")
    bad = [f"{name}={v}" for name, v in (("rows (out_features)", m), ("cols (in_features)", n)) if v % p]
    if bad:
        common = [d for d in _divisors(math.gcd(int(m), int(n))) if d > 1]
        raise ArchsimInputError(
            f"{what}: block size p={p} does not divide {' and '.join(bad)}; set p to a common divisor of "
            f"{m} and {n} ({', '.join(map(str, common[:12])) or 'none > 1'}) or pad the layer to a multiple of p")


def random_perms(m: int, n: int, p: int, seed: int = 0) -> np.ndarray:
    """One uniformly random permutation value per block, fixed before training (PermDNN [R])."""
    check_block_size(m, n, p)
    return np.random.default_rng(seed).integers(0, p, size=(m // p, n // p), dtype=np.int64)


def _check_params(values: np.ndarray, perms: np.ndarray) -> tuple[int, int, int]:
    values, perms = np.asarray(values), np.asarray(perms)
    if values.ndim != 3 or perms.shape != values.shape[:2]:
        raise ArchsimInputError(f"PD parameters: values must be (m/p, n/p, p) and perms (m/p, n/p); got "
                                f"values {values.shape}, perms {perms.shape}")
    p = values.shape[2]
    if perms.size and (perms.min() < 0 or perms.max() >= p):
        raise ArchsimInputError(f"PD parameters: permutation values must lie in [0, p={p}) "
                                f"(got {perms.min()}..{perms.max()})")
    return values.shape[0], values.shape[1], p


def nonzero_positions(perms: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Global (row, col) index arrays, each shaped like ``values`` (m/p, n/p, p)."""
    perms = np.asarray(perms, dtype=np.int64)
    mb, nb = perms.shape
    i = np.arange(p)
    rows = np.arange(mb)[:, None, None] * p + i[None, None, :]
    cols = np.arange(nb)[None, :, None] * p + (i[None, None, :] + perms[:, :, None]) % p
    return np.broadcast_to(rows, (mb, nb, p)), cols


def expand(values: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """The dense ``m x n`` matrix that the PD parameters describe (zeros off the permuted diagonals)."""
    mb, nb, p = _check_params(values, perms)
    dense = np.zeros((mb * p, nb * p), dtype=np.asarray(values).dtype)
    rows, cols = nonzero_positions(perms, p)
    dense[rows, cols] = values
    return dense


def pd_matvec(values: np.ndarray, perms: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``W @ x`` from the ``m*n/p`` free weights only (``x``: ``(n,)`` or ``(n, batch)``).

    y[a*p + i] = sum_b values[a, b, i] * x[b*p + (i + k[a, b]) % p]: m*n/p multiplies."""
    mb, nb, p = _check_params(values, perms)
    x = np.asarray(x)
    if x.shape[0] != nb * p:
        raise ArchsimInputError(f"pd_matvec: x has {x.shape[0]} rows, the matrix has n={nb * p} columns")
    _, cols = nonzero_positions(perms, p)
    gathered = x[cols]                                     # (mb, nb, p, [batch])
    v = np.asarray(values).reshape(values.shape + (1,) * (x.ndim - 1))
    return (gathered * v).sum(axis=1).reshape((mb * p,) + x.shape[1:])


def row_for_column(perms: np.ndarray, p: int, col: int) -> np.ndarray:
    """Global output row, per block row, that input column ``col`` feeds: the PE's modulo index
    generation ``a*p + (jl - k[a, b]) mod p`` with ``b, jl = divmod(col, p)``."""
    perms = np.asarray(perms, dtype=np.int64)
    b, jl = divmod(int(col), p)
    return np.arange(perms.shape[0]) * p + (jl - perms[:, b]) % p


@dataclass(frozen=True)
class Projection:
    """The best PD approximation of a dense matrix and how much of it survives."""

    values: np.ndarray          # (m/p, n/p, p)
    perms: np.ndarray           # (m/p, n/p)
    rel_error: float            # ||W - W_pd||_F / ||W||_F
    kept_energy: float          # ||W_pd||_F^2 / ||W||_F^2  (= 1 - rel_error^2)

    @property
    def p(self) -> int:
        return int(self.values.shape[2])


def project(weight: np.ndarray, p: int, what: str = "layer") -> Projection:
    """Per block, the permutation value whose diagonal keeps the most energy (sum of squares); keep
    those entries, zero the rest. This is the Frobenius-optimal PD matrix: blocks are independent
    and, for a fixed ``k``, keeping the entries exactly is optimal, so the argmax over ``k`` is too."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 2:
        raise ArchsimInputError(f"{what}: project needs a 2-D weight matrix (got shape {w.shape})")
    m, n = w.shape
    check_block_size(m, n, p, what)
    mb, nb = m // p, n // p
    blocks = w.reshape(mb, p, nb, p).transpose(0, 2, 1, 3)          # (mb, nb, p_row, p_col)
    i = np.arange(p)
    cols = (i[None, :] + np.arange(p)[:, None]) % p                  # (k, i)
    diags = blocks[:, :, i[None, :], cols]                           # (mb, nb, k, i)
    perms = np.argmax((diags ** 2).sum(axis=-1), axis=-1)            # (mb, nb)
    values = np.take_along_axis(diags, perms[:, :, None, None], axis=2)[:, :, 0, :]
    total = float((w ** 2).sum())
    kept = float((values ** 2).sum())
    err = math.sqrt(max(total - kept, 0.0) / total) if total > 0 else 0.0
    return Projection(values.astype(np.asarray(weight).dtype, copy=False), perms.astype(np.int64),
                      err, kept / total if total > 0 else 1.0)


@dataclass(frozen=True)
class PermDiagStorage:
    """Storage of one PD layer: ``m*n/p`` weights plus ``ceil(log2 p)`` bits per block."""

    m: int
    n: int
    p: int
    weight_bits: int = 16

    def __post_init__(self) -> None:
        check_block_size(self.m, self.n, self.p)
        if isinstance(self.weight_bits, bool) or not isinstance(self.weight_bits, int) or self.weight_bits < 1:
            raise ArchsimInputError(f"weight_bits must be a whole number >= 1 (got {self.weight_bits!r})")

    @property
    def blocks(self) -> int:
        return (self.m // self.p) * (self.n // self.p)

    @property
    def weights(self) -> int:
        return self.m * self.n // self.p

    @property
    def perm_bits_per_block(self) -> int:
        return math.ceil(math.log2(self.p)) if self.p > 1 else 0

    @property
    def value_bits(self) -> int:
        return self.weights * self.weight_bits

    @property
    def index_bits(self) -> int:
        return self.blocks * self.perm_bits_per_block

    @property
    def total_bits(self) -> int:
        return self.value_bits + self.index_bits

    @property
    def dense_bits(self) -> int:
        return self.m * self.n * self.weight_bits

    @property
    def compression(self) -> float:
        return self.dense_bits / self.total_bits


__all__ = ["check_block_size", "random_perms", "nonzero_positions", "expand", "pd_matvec", "row_for_column",
           "Projection", "project", "PermDiagStorage"]
