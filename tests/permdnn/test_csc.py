"""EIE CSC storage: encode/decode round trip with padding zeros, vectorised counts, storage bits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.permdnn.csc import CscStorage, decode_pe_column, encode_pe_column, entry_counts, random_mask_counts


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 15).map(lambda v: v if v % 3 == 0 else 0), min_size=0, max_size=120),
       st.integers(1, 5))
def test_round_trip_with_padding(col, index_bits):
    col = np.asarray(col, dtype=np.int64)
    codes, rels = encode_pe_column(col, index_bits=index_bits)
    assert (rels <= 2 ** index_bits - 1).all() and (rels >= 0).all()
    np.testing.assert_array_equal(decode_pe_column(codes, rels, len(col)), col)
    # entries = non-zeros + padding zeros; padding = sum over gaps before an entry of gap // 2^bits
    assert (codes != 0).sum() == (col != 0).sum()


def test_padding_example_from_the_encoding_rule():
    col = np.zeros(40, dtype=np.int64)
    col[[0, 16, 39]] = [3, 5, 7]     # gaps: 0, 15 (fits 4 bits), 22 (needs one padding zero)
    codes, rels = encode_pe_column(col, index_bits=4)
    assert list(codes) == [3, 5, 0, 7] and list(rels) == [0, 15, 15, 6]
    col2 = np.zeros(40, dtype=np.int64)
    col2[[16, 33]] = 1                # gap 16 -> 1 padding; gap 16 -> 1 padding
    codes2, _ = encode_pe_column(col2, index_bits=4)
    assert len(codes2) == 4


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 80), st.integers(1, 12), st.integers(1, 9), st.floats(0.01, 0.6), st.integers(0, 999),
       st.integers(2, 4))
def test_vectorised_counts_equal_the_literal_encoding(rows, cols, n_pe, density, seed, index_bits):
    rng = np.random.default_rng(seed)
    w = (rng.random((rows, cols)) < density) * rng.integers(1, 16, size=(rows, cols))
    entries, padding = entry_counts(w != 0, n_pe, index_bits)
    for k in range(n_pe):
        for j in range(cols):
            codes, _ = encode_pe_column(w[k::n_pe, j], index_bits=index_bits)
            assert entries[k, j] == len(codes)
            assert padding[k, j] == (codes == 0).sum()


def test_random_mask_counts_are_seeded_and_dense_enough():
    e1, p1, n1 = random_mask_counts(256, 300, 0.05, 8, 4, seed=3, chunk_cols=64)
    e2, p2, n2 = random_mask_counts(256, 300, 0.05, 8, 4, seed=3, chunk_cols=64)
    np.testing.assert_array_equal(e1, e2)
    assert n1 == n2 and abs(n1 / (256 * 300) - 0.05) < 0.01
    assert (e1 - p1).sum() == n1            # entries = nnz + padding
    assert p1.sum() > 0                     # 32 local rows at 5%: gaps > 15 happen


def test_csc_storage_bits():
    s = CscStorage(entries=1000, padding=100, n_pe=64, cols=50, entry_bits=8, pointer_bits=16)
    assert s.spmat_bits == 8000
    assert s.pointer_bits_total == 64 * 51 * 16
    assert s.total_bits == 8000 + 64 * 51 * 16 + 16 * 16
