"""Unstructured (``sparse``) traces in compress: structural sizes, real magnitude pruning, the policy route."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compress.config import CompressionConfig
from compress.trace import Trace, WeightFormat, load_traces, save_traces, structural_trace
from compress.traces import structural_traces
from compress.unstructured import magnitude_mask, prune_layer, sparse_trace
from workloads.errors import ArchsimInputError
from workloads.network import Network
from sparten_helpers import conv, linear


@settings(max_examples=40, deadline=None)
@given(st.floats(0.001, 1.0))
def test_structural_sparse_sizes(density):
    layer = conv(cin=20, cout=6)
    t = structural_trace(layer, "sparse", density=density)
    kept = max(1, round(layer.weights * density))
    assert t.format is WeightFormat.SPARSE
    assert (t.mask_bits, t.value_bits) == (layer.weights, kept * 8)
    assert t.density == kept / layer.weights and t.kept_weights == kept
    assert t.filter_density is None


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 1.0))
def test_magnitude_mask_keeps_exactly_the_largest(seed, density):
    w = np.random.default_rng(seed).standard_normal((6, 20, 3, 3))
    mask = magnitude_mask(w, density)
    keep = max(1, round(w.size * density))
    assert mask.sum() == keep
    if keep < w.size:
        assert np.abs(w[mask]).min() >= np.abs(w[~mask]).max()


def test_real_pruning_records_per_filter_density():
    layer = conv(cin=20, cout=6)
    w = np.random.default_rng(0).standard_normal((6, 20, 3, 3)) * np.arange(1, 7)[:, None, None, None]
    pruned, t = prune_layer(layer, w, 0.3)
    assert t.kept_weights == int((pruned != 0).sum())
    fd = np.array(t.filter_density)
    assert fd.shape == (6,) and np.all(np.diff(fd) >= 0)             # larger-scale filters keep more
    assert fd.mean() == pytest.approx(t.density)


def test_filter_density_round_trips_through_files(tmp_path):
    layer = linear(cin=16, cout=4)
    mask = np.random.default_rng(1).random((4, 16)) < 0.4
    t = dataclasses.replace(sparse_trace(layer, mask), act_density=0.6)
    for suffix in (".json", ".parquet"):
        back = load_traces(save_traces([t], tmp_path / f"t{suffix}"))[0]
        assert back == t and isinstance(back.filter_density, tuple)


def test_policy_route_keeps_the_first_conv_dense_and_prunes_the_rest():
    net = Network("n", (conv(name="c1", cin=3), conv(name="c2", cin=6, cout=5), linear(name="fc", cin=180, cout=3)))
    traces = structural_traces(net, CompressionConfig(method="sparse", density=0.2))
    assert [t.format for t in traces] == [WeightFormat.DENSE, WeightFormat.SPARSE, WeightFormat.SPARSE]
    assert traces[1].density == pytest.approx(round(270 * 0.2) / 270)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan"), True])
def test_bad_weight_density_is_one_clear_error(bad):
    with pytest.raises(ArchsimInputError, match="density"):
        structural_trace(conv(), "sparse", density=bad)
    with pytest.raises(ArchsimInputError, match="density"):
        CompressionConfig(method="sparse", density=bad)
    with pytest.raises(ArchsimInputError, match="density"):
        magnitude_mask(np.ones((2, 2)), bad)


def test_bad_filter_density_is_one_clear_error():
    layer = conv(cout=6)
    base = structural_trace(layer, "sparse", density=0.5)
    with pytest.raises(ArchsimInputError, match="6 output channels"):
        dataclasses.replace(base, filter_density=(0.5,) * 5)
    with pytest.raises(ArchsimInputError, match=r"\[0, 1\]"):
        dataclasses.replace(base, filter_density=(0.5,) * 5 + (1.2,))
    with pytest.raises(ArchsimInputError, match="act_density"):
        Trace(layer=layer, format="sparse", density=0.5, act_density=0.0)


def test_compress_model_refuses_sparse_with_one_clear_error():
    import torch

    from compress import compress_model

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3))
    with pytest.raises(ArchsimInputError, match="compress.unstructured.prune_layer"):
        compress_model(model, CompressionConfig(method="sparse", density=0.3))
