"""Trace bit accounting and file round trips (the compress → archsim contract)."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from compress.trace import (Trace, WeightFormat, load_traces, mask_bits_per_group, save_traces, structural_trace)
from workloads import ArchsimInputError, conv2d, linear


def test_mvq_bits_by_hand():
    layer = conv2d("c", 64, 64, 56, 3, padding=1)
    t = structural_trace(layer, "mvq", n=1, m=4, d=16, k=256)
    subvectors = 64 * 64 * 9 // 16
    assert t.code_bits == subvectors * 8
    assert t.mask_bits == layer.weights  # bitmap: one bit per weight
    assert t.codebook_bits == 256 * 16 * 8
    assert t.value_bits == 0 and t.density == 0.25
    assert t.weight_bits_total == t.code_bits + t.mask_bits + t.codebook_bits


def test_mask_encodings():
    assert mask_bits_per_group(1, 4, "bitmap") == 4
    assert mask_bits_per_group(2, 4, "combinatorial") == 3   # C(4,2)=6 patterns
    assert mask_bits_per_group(1, 4, "index") == 2
    with pytest.raises(ArchsimInputError, match="mask_encoding"):
        mask_bits_per_group(1, 4, "rle")


def test_nm_and_dense():
    layer = linear("fc", 512, 1000)
    dense = structural_trace(layer, "dense")
    assert dense.value_bits == layer.weights * 8 and dense.compression_ratio == 4
    nm = structural_trace(layer, "nm", n=2, m=4, mask_encoding="index")
    assert nm.value_bits == layer.weights // 2 * 8
    assert nm.mask_bits == layer.weights // 4 * 2 * 2
    assert nm.effective_macs == layer.macs // 2


@pytest.mark.parametrize("kw, match", [
    (dict(fmt="mvq", n=4, m=4, d=16, k=16), "N < M"),
    (dict(fmt="mvq", n=1, m=3, d=16, k=16), "must divide d"),
    (dict(fmt="vq", d=7, k=16), "does not divide"),
])
def test_bad_shapes(kw, match):
    layer = conv2d("c", 64, 64, 8, 3, padding=1)
    fmt = kw.pop("fmt")
    with pytest.raises(ArchsimInputError, match=match):
        structural_trace(layer, fmt, **kw)


@pytest.mark.parametrize("suffix", [".json", ".parquet"])
def test_round_trip(tmp_path, suffix):
    layers = [conv2d("a", 16, 32, 8, 3, padding=1), linear("b", 32, 10, bias=True)]
    traces = [structural_trace(layers[0], "mvq", n=2, m=4, d=16, k=64), structural_trace(layers[1], "dense")]
    path = save_traces(traces, tmp_path / f"t{suffix}")
    assert load_traces(path) == traces


def test_bad_trace_file(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text("{not json")
    with pytest.raises(ArchsimInputError, match="could not be read"):
        load_traces(bad)
    with pytest.raises(ArchsimInputError, match="does not exist"):
        load_traces(tmp_path / "missing.json")


@settings(max_examples=50, deadline=None)
@given(c_mult=st.integers(1, 8), k=st.sampled_from([2, 16, 64, 256, 1000]), n_m=st.sampled_from([(1, 4), (2, 4), (2, 8), (4, 16)]))
def test_bits_conserved(c_mult, k, n_m):
    n, m = n_m
    layer = conv2d("c", 16 * c_mult, 32, 6, 3, padding=1)
    t = structural_trace(layer, WeightFormat.MVQ, n=n, m=m, d=16, k=k)
    assert sum(v for key, v in t.breakdown().items() if key != "bias") == t.weight_bits_total
    assert t.code_bits == layer.weights // 16 * math.ceil(math.log2(k))
    assert t.kept_weights * m == layer.weights * n
