"""N:M masks and subvector layouts."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compress.layout import from_subvectors, to_subvectors
from compress.nm import nm_mask
from workloads.errors import ArchsimInputError


@st.composite
def nm_cases(draw):
    m = draw(st.integers(2, 8))
    n = draw(st.integers(1, m - 1))
    d = m * draw(st.integers(1, 4))
    n_sub = draw(st.integers(1, 30))
    seed = draw(st.integers(0, 2**16))
    ties = draw(st.booleans())
    return n, m, d, n_sub, seed, ties


@settings(max_examples=60, deadline=None)
@given(nm_cases())
def test_nm_mask_keeps_exactly_n_per_group_and_the_largest(case):
    n, m, d, n_sub, seed, ties = case
    x = torch.randn(n_sub, d, generator=torch.Generator().manual_seed(seed))
    if ties:  # many equal magnitudes: still exactly N per group
        x = x.round()
    mask = nm_mask(x, n, m)
    groups = mask.reshape(n_sub, d // m, m)
    assert mask.dtype == torch.bool and mask.shape == x.shape
    assert (groups.sum(-1) == n).all()
    scores = x.abs().reshape(n_sub, d // m, m)
    kept_min = torch.where(groups, scores, torch.inf).amin(-1)
    dropped_max = torch.where(~groups, scores, -torch.inf).amax(-1)
    assert (kept_min >= dropped_max).all()


def test_nm_mask_importance_is_pluggable():
    x = torch.tensor([[4.0, -3.0, 2.0, 1.0]])
    assert nm_mask(x, 1, 4).tolist() == [[True, False, False, False]]
    smallest = nm_mask(x, 1, 4, importance=lambda s: -s.abs())
    assert smallest.tolist() == [[False, False, False, True]]
    given_scores = nm_mask(x, 2, 4, importance=torch.tensor([[0.0, 1.0, 3.0, 2.0]]))
    assert given_scores.tolist() == [[False, False, True, True]]


@pytest.mark.parametrize("n, m, d", [(4, 4, 16), (5, 4, 16), (0, 4, 16), (1, 4, 10)])
def test_nm_mask_rejects_bad_n_m(n, m, d):
    with pytest.raises(ArchsimInputError, match="N|M"):
        nm_mask(torch.randn(3, d), n, m)


def test_nm_mask_rejects_unknown_importance():
    with pytest.raises(ArchsimInputError, match="importance"):
        nm_mask(torch.randn(3, 8), 1, 4, importance="hessian")


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 5), c_mult=st.integers(1, 4), r=st.integers(1, 3), s=st.integers(1, 3),
       d=st.sampled_from([1, 2, 4]), layout=st.sampled_from(["input_channel", "kernel"]))
def test_layout_round_trip(k, c_mult, r, s, d, layout):
    w = torch.randn(k, 4 * c_mult, r, s)
    sub = to_subvectors(w, d, layout)
    assert sub.shape == (w.numel() // d, d)
    assert torch.equal(from_subvectors(sub, w.shape, layout), w)


def test_input_channel_layout_runs_along_channels():
    w = torch.arange(2 * 8 * 3 * 3, dtype=torch.float32).reshape(2, 8, 3, 3)
    sub = to_subvectors(w, 4, "input_channel")
    # the first subvector is channels 0..3 of filter 0 at kernel position (0, 0)
    assert torch.equal(sub[0], w[0, 0:4, 0, 0])
    assert torch.equal(sub[1], w[0, 4:8, 0, 0])
    assert torch.equal(sub[2], w[0, 0:4, 0, 1])


def test_kernel_layout_is_bgd_blocks():
    w = torch.randn(2, 8, 3, 3)
    sub = to_subvectors(w, 9, "kernel")
    assert torch.equal(sub[0], w[0, 0].flatten())  # one whole 3x3 kernel per block
    assert torch.equal(sub[9], w[1, 1].flatten())
    lin = torch.randn(5, 8)
    assert torch.equal(to_subvectors(lin, 4, "kernel"), to_subvectors(lin, 4, "input_channel"))


def test_layout_rejects_d_not_dividing():
    with pytest.raises(ArchsimInputError, match="d=16 does not divide"):
        to_subvectors(torch.randn(4, 24, 3, 3), 16, "input_channel")
    with pytest.raises(ArchsimInputError, match="layout"):
        to_subvectors(torch.randn(4, 16), 4, "rows")
