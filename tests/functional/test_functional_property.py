"""Property: for any small conv/linear layer, weight format, N:M pattern and array size, functional
mode equals torch's convolution on the independently reconstructed weights, and its MAC count is
dense MACs x (the array's N/M on a sparse array, 1 on a dense one)."""

from __future__ import annotations

import math

import numpy as np
import torch
from functional_helpers import design, reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archsim.functional import DenseWeights, MVQWeights, NMWeights, VQWeights, run_functional
from compress.layout import from_subvectors
from workloads.layer import Layer, LayerKind

NM = [(1, 2), (1, 4), (2, 4), (2, 8), (3, 8)]


@st.composite
def cases(draw):
    n, m = draw(st.sampled_from(NM))
    fmt = draw(st.sampled_from(["dense", "vq", "mvq", "nm"]))
    layout = draw(st.sampled_from(["input_channel", "kernel"]))
    d = m if fmt == "nm" else m * draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["conv", "conv", "linear"]))
    batch = draw(st.integers(1, 2))
    if kind == "linear":
        layer = Layer(name="fc", kind=LayerKind.LINEAR, in_channels=d * draw(st.integers(1, 4)),
                      out_channels=draw(st.integers(1, 9)), in_h=draw(st.integers(1, 3)), batch=batch)
    else:
        groups = draw(st.integers(1, 3))
        kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        cg = draw(st.integers(1, 3)) * (d if layout == "input_channel" else 1)
        if layout == "kernel" and (cg * kh * kw) % d:
            cg *= d                                                    # make the flattened row tile into d
        dil, dil_w = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        pads = [draw(st.integers(0, 2)) for _ in range(4)]
        layer = Layer(name="conv", kind=LayerKind.CONV, in_channels=cg * groups,
                      out_channels=groups * draw(st.integers(1, 4)), in_h=draw(st.integers(dil * (kh - 1) + 1, 8)),
                      in_w=draw(st.integers(dil_w * (kw - 1) + 1, 8)), kernel_h=kh, kernel_w=kw,
                      stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)), pad_top=pads[0],
                      pad_bottom=pads[1], pad_left=pads[2], pad_right=pads[3], dilation_h=dil,
                      dilation_w=dil_w, groups=groups, batch=batch)
    sparse = fmt in ("mvq", "nm") and draw(st.booleans())
    rows = n * draw(st.integers(1, 6)) if sparse else draw(st.integers(1, 12))
    cols = draw(st.integers(1, 5))
    dataflow = draw(st.sampled_from(["ws", "ews", "ews_compressed"]))
    seed = draw(st.integers(0, 2 ** 16))
    return layer, fmt, layout if kind == "conv" else "input_channel", n, m, d, sparse, rows, cols, dataflow, seed


def _weights(layer: Layer, fmt: str, layout: str, n: int, m: int, d: int, rng: np.random.Generator):
    """(accelerator-facing weights, reconstructed integer weight via compress.layout)."""
    shape = (layer.out_channels, layer.in_channels // layer.groups, layer.kernel_h, layer.kernel_w) \
        if layer.kind is LayerKind.CONV else (layer.out_channels, layer.in_channels)
    if fmt == "dense":
        w = rng.integers(-128, 128, shape)
        return DenseWeights(w), torch.as_tensor(w)
    n_sub = math.prod(shape) // d
    scores = rng.random((n_sub, d // m, m))
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, np.argsort(-scores, axis=-1)[..., :n], True, axis=-1)
    mask = mask.reshape(n_sub, d)
    k = int(rng.integers(1, 9))
    book, codes = rng.integers(-127, 128, (k, d)), rng.integers(0, k, n_sub)
    if fmt == "vq":
        return VQWeights(book, codes, shape, layout), from_subvectors(torch.as_tensor(book[codes]), shape, layout)
    if fmt == "mvq":
        sub = torch.as_tensor(book[codes] * mask)
        return MVQWeights(book, codes, mask, n, m, shape, layout), from_subvectors(sub, shape, layout)
    vals = rng.integers(-127, 128, (n_sub, n))
    pos = np.nonzero(mask)[1].reshape(n_sub, n)
    dense = np.zeros((n_sub, m), dtype=np.int64)
    np.put_along_axis(dense, pos, vals, axis=1)
    return NMWeights(vals, pos, n, m, shape, layout), from_subvectors(torch.as_tensor(dense), shape, layout)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_functional_equals_torch(case):
    layer, fmt, layout, n, m, d, sparse, rows, cols, dataflow, seed = case
    rng = np.random.default_rng(seed)
    weights, w_int = _weights(layer, fmt, layout, n, m, d, rng)
    preset = "ws" if dataflow == "ws" else "ews"
    des = design(preset, rows=rows, cols=cols, dataflow=dataflow, **({"n": n, "m": m} if sparse else {}))
    x = rng.integers(-128, 128, layer.input_shape)
    res = run_functional(layer, weights, x, des)
    np.testing.assert_array_equal(res.outputs, reference(layer, x, w_int))
    c = res.counts
    assert c.macs == (layer.macs * n // m if sparse else layer.macs)
    assert c.kept_macs == (layer.macs * n // m if fmt in ("mvq", "nm") else layer.macs)
    assert c.row_folds >= c.col_folds == layer.groups * -(-(layer.out_channels // layer.groups) // cols)
    assert c.psum_reads == c.psum_writes - layer.output_elements
