"""Functional counters agree with the timing model's schedule and the trace for the same layer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from functional_helpers import design, int8

from archsim.functional import DenseWeights, MVQWeights, NMWeights, VQWeights, run_functional
from archsim.functional.weights import expected_weight_shape
from archsim.mapping import map_layer
from compress.trace import structural_trace
from workloads.layer import Layer, conv2d, linear

LAYERS = [conv2d("conv", 16, 12, (9, 7), 3, stride=2, padding=1), conv2d("grp", 16, 8, (6, 6), 3, padding=1, groups=2),
          conv2d("dw", 8, 8, (6, 6), 3, padding=1, groups=8), linear("fc", 48, 10, batch=2)]


def _events(schedule) -> dict[tuple[str, str], float]:
    total: dict[tuple[str, str], float] = {}
    for tile in schedule.tiles:
        for key, value in tile.events.items():
            total[key] = total.get(key, 0.0) + value * tile.repeat
    return total


def random_mvq(layer: Layer, n: int, m: int, d: int, k: int, rng: np.random.Generator) -> MVQWeights:
    """Random MVQ weights in the input_channel layout: exact N:M masks, int8 codebook."""
    shape = expected_weight_shape(layer)
    n_sub = math.prod(shape) // d
    scores = rng.random((n_sub, d // m, m))
    mask = np.zeros_like(scores, dtype=bool)
    np.put_along_axis(mask, np.argsort(-scores, axis=-1)[..., :n], True, axis=-1)
    return MVQWeights(codebook=rng.integers(-127, 128, (k, d)), codes=rng.integers(0, k, n_sub),
                      mask=mask.reshape(n_sub, d), n=n, m=m, shape=shape)


@pytest.mark.parametrize("dataflow", ["ws", "ews"])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: l.name)
def test_dense_counts_equal_schedule_events(layer, dataflow):
    """MACs, weight-register writes, psum read-modify-writes (and WS input reads) of the same folds."""
    des = design(dataflow, rows=8, cols=4)
    rng = np.random.default_rng(0)
    w = int8(rng, expected_weight_shape(layer))
    res = run_functional(layer, DenseWeights(w), int8(rng, layer.input_shape), des)
    sched = map_layer(layer, des)
    assert "NKM" in sched.notes          # one weight load per fold, as functional mode counts it
    ev = _events(sched)
    c = res.counts
    p_bytes, o_bytes = des.precision.psum_bits / 8, layer.precision.output_bits / 8
    assert c.macs == c.kept_macs == sched.macs == ev[("pe_array", "mac")] == layer.macs
    assert c.weights_loaded * layer.precision.weight_bits / 8 == ev[("weight_rf", "write_bytes")]
    assert c.psum_reads * p_bytes == ev.get(("output_buffer", "read_bytes"), 0.0)
    outputs = layer.output_elements
    assert (c.psum_writes - outputs) * p_bytes + outputs * o_bytes == ev[("output_buffer", "write_bytes")]
    if dataflow == "ws":
        assert c.input_reads * layer.precision.input_bits / 8 == ev[("input_buffer", "read_bytes")]
    assert c.mux_selects == c.codebook_lookups == c.lzc_positions == 0


SPARSE_CASES = [pytest.param(layer, n, m, d, rows, id=f"{layer.name}-{n}:{m}-d{d}-r{rows}")
                for layer in LAYERS[:2] + LAYERS[3:]
                for n, m, d, rows in [(1, 4, 8, 8), (2, 4, 8, 8), (2, 8, 16, 4), (1, 4, 16, 12)]
                if (layer.in_channels // layer.groups) % d == 0]


@pytest.mark.parametrize("layer,n,m,d,rows", SPARSE_CASES)
def test_sparse_counts(layer, n, m, d, rows):
    """Sparse MACs = dense MACs x N/M = the trace's effective MACs; one mux select per MAC; the loader
    LZC-decodes every kept weight once per column fold and looks every codeword up once per fold
    that holds (part of) its subvector."""
    rng = np.random.default_rng(1)
    w = random_mvq(layer, n, m, d, 8, rng)
    res = run_functional(layer, w, int8(rng, layer.input_shape), design("ws", rows=rows, cols=4, n=n, m=m))
    c = res.counts
    trace = structural_trace(layer, "mvq", n=n, m=m, d=d, k=8)
    assert c.macs == c.kept_macs == layer.macs * n // m == trace.effective_macs
    assert c.mux_selects == c.macs
    assert c.lzc_positions == c.weights_loaded == layer.weights * n // m
    assert c.mask_groups == layer.weights // m
    span = (rows // n) * m
    straddles = sum(1 for f0 in range(span, layer.reduction_size, span) if f0 % d)   # fold edges inside a subvector
    assert c.codebook_lookups == layer.weights // d + straddles * layer.out_channels
    assert c.input_reads == layer.gemm.m * layer.reduction_size * layer.groups * -(-layer.gemm.n // 4)
    # fold records: repeat-major, then column fold, then row folds in reduction order, covering K exactly
    for f, g in zip(res.folds, res.folds[1:]):
        assert (f.repeat, f.col0) <= (g.repeat, g.col0)
        if (f.repeat, f.col0) == (g.repeat, g.col0):
            assert g.k0 == f.k1
    assert all(f.rows_used <= rows for f in res.folds)


def test_nm_counts_on_dense_array():
    """EWS-CM-like: N:M weights on a dense array issue every dense MAC; the pruned ones are zero-weight MACs."""
    layer = LAYERS[0]
    rng = np.random.default_rng(2)
    w = random_mvq(layer, 1, 4, 8, 8, rng)
    res = run_functional(layer, w, int8(rng, layer.input_shape), design("ws", rows=8, cols=4))
    c = res.counts
    assert c.macs == layer.macs and c.kept_macs == layer.macs // 4
    assert c.zero_weight_macs >= layer.macs - c.kept_macs and c.mux_selects == 0


def random_nm(layer: Layer, n: int, m: int, rng: np.random.Generator) -> NMWeights:
    """Random S2TA-like weights: N kept int8 values and their positions per M-group (input_channel layout)."""
    shape = expected_weight_shape(layer)
    groups = math.prod(shape) // m
    pos = np.sort(np.argsort(rng.random((groups, m)), axis=1)[:, :n], axis=1)
    return NMWeights(values=rng.integers(-127, 128, (groups, n)), positions=pos, n=n, m=m, shape=shape)


# (preset, weights, rows, cols): the MVQ ladder and S2TA-like presets of archsim.mapping.compressed, shrunk
# so that layers fold; rows chosen so that folds hold whole d=8 subvectors (the timing model counts
# ceil(fold weights / d) lookups, which equals the functional count only then).
PRESET_CASES = [("mvq", "mvq", 8, 4), ("mvq", "mvq", 16, 8), ("s2ta-w", "nm", 8, 4), ("ews-cm", "mvq", 8, 4),
                ("ews-c", "vq", 8, 4), ("ews-cm", "mvq", 64, 64)]


@pytest.mark.parametrize("preset,fmt,rows,cols", PRESET_CASES)
@pytest.mark.parametrize("layer", [LAYERS[0], LAYERS[1], LAYERS[3]], ids=lambda l: l.name)
def test_counts_equal_compressed_timing_model(layer, preset, fmt, rows, cols):
    """The timing model's events for the compressed-weight presets equal the functional counts: executed
    and gated MACs, mux selects, codebook lookups, LZC mask decodes, weight-register writes, psum RMWs."""
    from archsim.design import load_design

    des = load_design(preset).with_overrides(**{"array.rows": rows, "array.cols": cols})
    rng = np.random.default_rng(3)
    if fmt == "nm":
        w, trace = random_nm(layer, 1, 4, rng), structural_trace(layer, "nm", n=1, m=4, mask_encoding="index")
    else:
        w = random_mvq(layer, 1, 4, 8, 8, rng)
        if fmt == "vq":
            w = VQWeights(codebook=w.codebook, codes=w.codes, shape=w.shape)
        trace = structural_trace(layer, fmt, n=1, m=1 if fmt == "vq" else 4, d=8, k=8)
    res = run_functional(layer, w, int8(rng, layer.input_shape), des)
    sched = map_layer(layer, des, trace)
    ev, c = _events(sched), res.counts
    assert "NKM" in sched.notes
    assert c.kept_macs == sched.macs == ev[("pe_array", "mac")]
    assert c.macs - c.kept_macs == ev.get(("pe_array", "gated_mac"), 0)
    assert c.mux_selects == ev.get(("mux", "mux_select"), 0)
    assert c.codebook_lookups == ev.get(("codebook", "lookup"), 0)
    if fmt == "mvq":                                  # bitmap masks: LZC decodes; s2ta's index masks: none
        assert c.mask_groups == ev[("decoder", "decode")]
    assert c.weights_loaded * des.precision.weight_bits / 8 == ev[("weight_rf", "write_bytes")]
    assert c.psum_reads * des.precision.psum_bits / 8 == ev.get(("output_buffer", "read_bytes"), 0.0)
    assert res.sparse_array == (des.array.pe == "nm_sparse")
    assert (c.mux_selects > 0) == res.sparse_array and (c.codebook_lookups > 0) == (fmt != "nm")
    assert c.kept_macs == (layer.macs if fmt == "vq" else layer.macs // 4)
