"""EIE's storage: per-PE compressed sparse column (CSC) with codebook codes, 4-bit relative row
indices and padding zeros (pq_permdnn.md §C).

Rows are interleaved over PEs (row i lives in PE ``i mod n_pe`` as local row ``i // n_pe``), so
every PE holds a slice of every column. Per PE and column the stored entries are
``(code, rel)`` pairs: ``rel`` = zeros skipped since the previous entry. A gap of more zeros than
``2^index_bits - 1`` cannot be expressed, so a **padding zero** (code of the value 0, rel = max) is
inserted: a gap of ``g`` zeros costs ``g // 2^index_bits`` padding entries. Padding entries are
real work (the PE multiplies by zero) -- they are why EIE's theoretical times exceed nnz/(PEs x f).

Two views, checked against each other in the tests:
* `encode_pe_column` / `decode_pe_column`: the literal encoding of one PE's column (functional).
* `entry_counts`: vectorised counts of stored entries (nnz + padding) per (PE, column) for a whole
  boolean non-zero mask, used for timing and storage of large layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workloads.errors import ArchsimInputError


def encode_pe_column(local: np.ndarray, codes_of: np.ndarray | None = None, index_bits: int = 4,
                     zero_code: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Encode one PE's slice of a column. ``local``: the slice's weight codes, 0 = zero weight.

    Returns ``(codes, rel)`` arrays of the stored entries, padding zeros included
    (``zero_code`` decodes to 0). Trailing zeros need no entry (the column pointer ends the run)."""
    local = np.asarray(local)
    max_rel = 2 ** index_bits - 1
    codes, rels = [], []
    gap = 0
    for v in local:
        if v == zero_code:
            gap += 1
            continue
        # a gap the index cannot express: each padding zero stands for (max_rel + 1) positions
        for _ in range(gap // (max_rel + 1)):
            codes.append(zero_code)
            rels.append(max_rel)
        codes.append(int(v))
        rels.append(gap % (max_rel + 1))
        gap = 0
    return np.asarray(codes, dtype=np.int64), np.asarray(rels, dtype=np.int64)


def decode_pe_column(codes: np.ndarray, rels: np.ndarray, length: int) -> np.ndarray:
    """Inverse of `encode_pe_column`: the slice's codes (0 where no weight), of ``length`` rows."""
    out = np.zeros(length, dtype=np.int64)
    pos = -1
    for c, r in zip(codes, rels):
        pos += int(r) + 1
        if pos >= length:
            raise ArchsimInputError(f"CSC decode: entry beyond the column (row {pos} >= {length})")
        out[pos] = c
    return out


def entry_counts(mask: np.ndarray, n_pe: int, index_bits: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Stored entries per (PE, column) for a boolean non-zero mask of shape (rows, cols).

    Returns ``(entries, padding)``, both (n_pe, cols) int64; ``entries`` includes ``padding``."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ArchsimInputError(f"mask must be 2-D (rows, cols) (got shape {mask.shape})")
    rows, cols = mask.shape
    local_rows = -(-rows // n_pe)
    padded = np.zeros((local_rows * n_pe, cols), dtype=bool)
    padded[:rows] = mask
    # (local_row, pe, col) -> (pe, col, local_row)
    m3 = padded.reshape(local_rows, n_pe, cols).transpose(1, 2, 0)
    nnz = m3.sum(axis=2)
    pe, col, lr = np.nonzero(m3)                       # sorted by (pe, col, lr)
    group = pe * cols + col
    prev = np.empty_like(lr)
    prev[0:1] = -1
    if lr.size:
        prev[1:] = np.where(group[1:] == group[:-1], lr[:-1], -1)
    gaps = lr - prev - 1
    pads = gaps // (2 ** index_bits)
    padding = np.zeros(n_pe * cols, dtype=np.int64)
    np.add.at(padding, group, pads)
    padding = padding.reshape(n_pe, cols)
    return nnz.astype(np.int64) + padding, padding


def random_mask_counts(rows: int, cols: int, density: float, n_pe: int, index_bits: int, seed: int,
                       chunk_cols: int = 1024) -> tuple[np.ndarray, np.ndarray, int]:
    """`entry_counts` of a seeded Bernoulli(density) mask, generated in column chunks so a
    25088 x 4096 layer never sits in memory at once. Returns (entries, padding, nnz)."""
    if not 0 < density <= 1:
        raise ArchsimInputError(f"weight_density must be in (0, 1] (got {density})")
    rng = np.random.default_rng(seed)
    ent, pad, nnz = [], [], 0
    for c0 in range(0, cols, chunk_cols):
        m = rng.random((rows, min(chunk_cols, cols - c0)), dtype=np.float32) < density
        nnz += int(m.sum())
        e, p = entry_counts(m, n_pe, index_bits)
        ent.append(e)
        pad.append(p)
    return np.concatenate(ent, axis=1), np.concatenate(pad, axis=1), nnz


@dataclass(frozen=True)
class CscStorage:
    """Bits EIE stores for one layer: (code + relative index) per entry, plus column pointers."""

    entries: int              # nnz + padding zeros
    padding: int
    n_pe: int
    cols: int
    entry_bits: int = 8
    pointer_bits: int = 16
    codebook_entries: int = 16
    codebook_value_bits: int = 16

    @property
    def spmat_bits(self) -> int:
        return self.entries * self.entry_bits

    @property
    def pointer_bits_total(self) -> int:
        return self.n_pe * (self.cols + 1) * self.pointer_bits

    @property
    def codebook_bits(self) -> int:
        return self.codebook_entries * self.codebook_value_bits

    @property
    def total_bits(self) -> int:
        return self.spmat_bits + self.pointer_bits_total + self.codebook_bits


__all__ = ["encode_pe_column", "decode_pe_column", "entry_counts", "random_mask_counts", "CscStorage"]
