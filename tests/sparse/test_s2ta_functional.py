"""Functional mode on S2TA: int activations through the DBB-izer and the sparse array, checked against torch
(sparse weights, DBB-pruned activations) exactly and against the timing model's counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from s2ta_helpers import small_net

from archsim.functional.activation_dbb import dbb_decode, dbb_encode, reference_dbb_prune
from archsim.functional.check import check_workload
from workloads.layer import conv2d, linear

torch.set_num_threads(1)
NET = small_net()
SHRUNK = {"array.rows": 8, "array.cols": 4, "dram.unlimited": True}     # several row and column folds


@pytest.fixture(scope="module")
def s2ta_check():
    return check_workload(NET, "s2ta", overrides=SHRUNK, seed=3)


def test_s2ta_outputs_equal_torch_and_counts_equal_timing(s2ta_check):
    assert s2ta_check.ok, s2ta_check.count_mismatches or s2ta_check.mismatches
    by = {x.layer: x for x in s2ta_check.layers}
    assert by["conv1"].array == "dense fallback"                      # RGB input: dense weights and activations
    for name in ("b1", "b2", "pw", "fc"):
        x = by[name]
        assert x.array == "sparse 1:4" and x.folds > 1
        assert x.macs_executed * 8 == x.dense_macs                      # 1/4 weights x 4/8 activations
        names = {c.name: c for c in x.counts}
        assert names["DBB-izer blocks"].compared and names["DBB-izer blocks"].agree
        assert names["executed MACs"].compared and names["mux selects"].compared


def test_the_check_fails_without_the_dbbizer(monkeypatch):
    """Negative control: if the array saw the unpruned activations, the outputs would not match torch on the
    pruned ones (and the check would say so)."""
    from archsim.functional import activation_dbb

    monkeypatch.setattr(activation_dbb.ActivationStage, "prune", lambda self, x: x)
    bad = check_workload(NET, "s2ta", overrides=SHRUNK, seed=3, layers=["b1"])
    assert not bad.ok and bad.mismatches == ["b1"]


def test_sa_zvcg_outputs_equal_torch_and_gating_is_not_compared():
    check = check_workload(NET, "sa-zvcg", overrides=SHRUNK, seed=1, layers=["b1", "fc"])
    assert check.ok
    for x in check.layers:
        gated = {c.name: c for c in x.counts}["gated MACs"]
        assert not gated.compared and "zero-value clock gating" in gated.reason


small_ints = st.integers(min_value=-2, max_value=2)     # many ties


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(min_value=1, max_value=8), st.sampled_from([1, 2]))
def test_dbbizer_equals_torch_topk_with_ties_to_the_lower_position(data, n, groups):
    layer = conv2d("c", 16 * groups, 8, 3, 1, groups=groups)
    x = np.array(data.draw(st.lists(small_ints, min_size=layer.input_elements, max_size=layer.input_elements)),
                 dtype=np.int64).reshape(layer.input_shape)
    enc = dbb_encode(layer, x, n, 8)
    pruned = dbb_decode(layer, enc)
    np.testing.assert_array_equal(pruned, reference_dbb_prune(layer, x, n, 8))
    blocks = np.moveaxis(pruned, 1, -1).reshape(-1, 8)
    assert (np.count_nonzero(blocks, axis=1) <= n).all() and enc.blocks == layer.input_elements // 8
    kept = np.moveaxis(x, 1, -1).reshape(-1, 8)
    # every kept magnitude is >= every dropped one in its block
    dropped = np.where(blocks == 0, np.abs(kept), 0).max(axis=1)
    smallest_kept = np.where(blocks != 0, np.abs(blocks), 10**9).min(axis=1)
    some = np.count_nonzero(blocks, axis=1) > 0
    assert (dropped[some] <= smallest_kept[some]).all()


def test_linear_blocks_are_consecutive_features():
    layer = linear("fc", 16, 4, rows=2, batch=1)
    x = np.arange(32, dtype=np.int64).reshape(layer.input_shape) - 10
    pruned = dbb_decode(layer, dbb_encode(layer, x, 2, 8))
    np.testing.assert_array_equal(pruned, reference_dbb_prune(layer, x, 2, 8))
    assert np.count_nonzero(pruned) == 4 * 2
