"""The SparTen model's arithmetic: chunks, in-bounds taps, kept-weight placement, expected join cycles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.mapping.sparten_model import (JoinCycleTable, apportion, brent_kung_adder_bits, chunk_layout,
                                           cycles_of_matches, inbounds, kept_per_chunk, modelled_filter_kept,
                                           pixel_plan)
from sparten_helpers import conv, linear


@pytest.mark.parametrize("cin,chunk", [(20, 16), (16, 16), (3, 128), (300, 128)])
def test_chunks_cover_each_tap_channels_once(cin, chunk):
    layer = conv(cin=cin, k=3)
    c = chunk_layout(layer, chunk)
    assert c.k == cin * 9 == layer.reduction_size
    for tap in range(9):
        sel = c.tap == tap
        assert c.length[sel].sum() == cin and (c.length[sel] <= chunk).all()
        assert sorted(c.c0[sel]) == list(range(0, cin, chunk))


def _brute_inbounds(layer):
    rows = []
    for oy in range(layer.out_h):
        for ox in range(layer.out_w):
            row = []
            for r in range(layer.kernel_h):
                for s in range(layer.kernel_w):
                    y = oy * layer.stride_h - layer.pad_top + r * layer.dilation_h
                    x = ox * layer.stride_w - layer.pad_left + s * layer.dilation_w
                    row.append(0 <= y < layer.in_h and 0 <= x < layer.in_w)
            rows.append(row)
    return np.array(rows * layer.batch)


@pytest.mark.parametrize("layer", [conv(), conv(stride=2, hw=7), conv(k=5, pad=2, hw=5, dilation=1),
                                   conv(k=3, pad=2, dilation=2, hw=6), conv(k=1, pad=0, batch=2)])
def test_inbounds_matches_brute_force(layer):
    assert (inbounds(layer) == _brute_inbounds(layer)).all()
    assert inbounds(linear(batch=3)).shape == (3, 1)


def test_pixel_plan_covers_every_pixel_once():
    for pixels, clusters, T in [(37, 4, 4), (3, 8, 4), (64, 4, 16), (1, 64, 8)]:
        plan = pixel_plan(pixels, clusters, T)
        seen = plan.members[plan.members >= 0]
        assert sorted(seen.tolist()) == list(range(pixels))
        assert plan.blocks == min(clusters, pixels)
        assert plan.filter_groups == max(1, clusters // plan.blocks)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 50), min_size=1, max_size=30), st.integers(0, 50))
def test_apportion_is_exact_and_close(shares, cap):
    shares = np.minimum(np.array(shares), cap)
    total = int(round(shares.sum()))
    out = apportion(shares, total, cap)
    assert out.sum() == total
    assert (out >= 0).all() and (out <= cap).all()
    assert (np.abs(out - shares) < 1.0 + 1e-9).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8), st.integers(0, 10_000))
def test_kept_per_chunk_keeps_each_filters_total(lengths, seed):
    lengths = np.array(lengths)
    rng = np.random.default_rng(seed)
    kept = rng.integers(0, lengths.sum() + 1, size=5)
    out = kept_per_chunk(kept, lengths, np.random.default_rng(seed))
    assert (out.sum(axis=1) == kept).all()
    assert (out >= 0).all() and (out <= lengths[None, :]).all()


def test_modelled_filter_density_spread_grows_with_sigma():
    rng = lambda: np.random.default_rng(3)  # noqa: E731
    flat = modelled_filter_kept(64, 576, 64 * 144, 0.0, rng())
    wide = modelled_filter_kept(64, 576, 64 * 144, 0.5, rng())
    assert flat.sum() == wide.sum() == 64 * 144
    assert flat.max() - flat.min() <= 1
    assert wide.std() > 10 * max(flat.std(), 0.1)
    assert (modelled_filter_kept(8, 10, 80, 0.3, rng()) == 10).all()     # density 1: every weight kept


def test_expected_step_is_exact_when_activations_are_dense():
    """a = 1: every kept weight matches, Y = max(1, ceil(k / mult)) deterministically."""
    t = JoinCycleTable(chunk=16, density=1.0, multipliers=2)
    kept = [np.array([3, 9, 0, 16]), np.array([5])]
    y = cycles_of_matches(np.array([3, 9, 0, 16, 5]), 2, 0)
    hist = np.array([[0, 0, 2, 0, 1], [3, 0, 0, 0, 0]])      # blocks with n in-bounds pixels, n = 0..4
    e = t.expected_step(kept, hist, per_pass=4, join_latency=1)
    assert e[0] == pytest.approx(4 * (y.max() + 1))          # the busiest block has 4 pixels
    assert e[1] == 0.0


def test_expected_step_matches_monte_carlo():
    """a < 1: E[max over clusters of sum over pixels of max over CUs] against a direct simulation."""
    rng = np.random.default_rng(0)
    t = JoinCycleTable(chunk=32, density=0.4, multipliers=1)
    kept = [np.array([4, 9, 13, 20]), np.array([2, 30])]
    hist = np.array([[0, 1, 0, 2]])                        # 1 block with 1 pixel, 2 blocks with 3 pixels
    e = t.expected_step(kept, hist, per_pass=3)[0]
    sizes = [1, 3, 3]
    draws = 40_000
    total = np.zeros(draws)
    for n in sizes:
        for group in kept:                                 # cluster = (pixel block, filter group)
            cluster = np.zeros(draws)
            for _ in range(n):
                cluster += np.max([cycles_of_matches(rng.binomial(k, 0.4, size=draws), 1, 0) for k in group], axis=0)
            total = np.maximum(total, cluster)
    assert e == pytest.approx(total.mean(), rel=0.01)


def test_brent_kung_cell_count():
    assert brent_kung_adder_bits(8) == 2 * (4 * 1 + 2 * 2 + 1 * 3)
    assert brent_kung_adder_bits(128) == 494
