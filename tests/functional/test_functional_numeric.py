"""Functional mode computes the layer: outputs equal torch's convolution on the reconstructed weights.

Real `compress` output (MVQ, N:M, VQ) on small random layers, run on dense WS/EWS arrays and on
N:M sparse arrays smaller than the layer (several row and column folds), exact integer equality.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from functional_helpers import design, int8, reconstruct_int, reference

from archsim.functional import DenseWeights, from_compressed, run_functional
from compress.config import CompressionConfig
from compress.layer import compress_weight
from workloads.layer import Layer, LayerKind, conv2d, linear

# (layer, compress kwargs): conv with stride/padding/dilation, grouped, depthwise (kernel layout:
# d = the 2x2 kernel, so N:M groups fit), linear, 1-D conv.
LAYERS = {
    "conv3x3_s2_p1": conv2d("conv", 16, 12, (9, 7), 3, stride=2, padding=1),
    "conv3x3_dil2": conv2d("dil", 16, 6, (9, 9), 3, padding=2, dilation=2),
    "conv1x1": conv2d("pw", 32, 10, (5, 5), 1),
    "grouped": conv2d("grp", 16, 8, (6, 6), 3, padding=1, groups=2),
    "linear": linear("fc", 32, 9, batch=2),
    "linear_rows": linear("fc_rows", 16, 5, rows=3),
}
DEPTHWISE = conv2d("dw", 6, 6, (7, 7), 2, stride=1, padding=1, groups=6)   # kernel 2x2: K = 4 per group


def _weight(layer: Layer, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if layer.kind is LayerKind.LINEAR:
        return torch.randn(layer.out_channels, layer.in_channels, generator=g)
    return torch.randn(layer.out_channels, layer.in_channels // layer.groups, layer.kernel_h, layer.kernel_w,
                       generator=g)


def _compress(layer: Layer, method: str, n: int, m: int, d: int, layout: str = "input_channel", k: int = 16):
    cfg = CompressionConfig(method=method, n=n, m=m, d=d, k=k, iterations=4, layout=layout)
    kind = "linear" if layer.kind is LayerKind.LINEAR else "conv"
    return compress_weight(_weight(layer, 7), cfg, kind=kind, groups=layer.groups)


def _check(layer: Layer, cl, des, seed: int = 0):
    x = int8(np.random.default_rng(seed), layer.input_shape)
    res = run_functional(layer, from_compressed(cl), x, des)
    np.testing.assert_array_equal(res.outputs, reference(layer, x, reconstruct_int(cl)))
    assert res.outputs.dtype == np.int32 and not res.psum_overflow
    return res


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("nm,d", [((1, 4), 8), ((1, 4), 16), ((2, 4), 8), ((2, 8), 16)])
def test_mvq_on_sparse_array_equals_torch(name, nm, d):
    layer = LAYERS[name]
    d = d if (layer.in_channels // layer.groups) % d == 0 else nm[1]     # the grouped conv has 8 channels a group
    cl = _compress(layer, "mvq", *nm, d=d)
    res = _check(layer, cl, design("ws", rows=4, cols=4, n=nm[0], m=nm[1]))
    span = (4 // nm[0]) * nm[1]                       # reduction positions one fold of 4 sparse rows covers
    per_col_fold = -(-layer.reduction_size // span)
    assert res.sparse_array and res.counts.col_folds == layer.groups * -(-layer.out_channels // layer.groups // 4)
    assert res.counts.row_folds == per_col_fold * res.counts.col_folds


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("nm", [(1, 4), (2, 4), (2, 8)])
def test_s2ta_nm_on_sparse_array_equals_torch(name, nm):
    layer = LAYERS[name]
    cl = _compress(layer, "nm", *nm, d=nm[1])
    res = _check(layer, cl, design("ws", rows=4, cols=4, n=nm[0], m=nm[1]), seed=1)
    assert res.weight_format == "nm" and res.counts.codebook_lookups == 0


@pytest.mark.parametrize("dataflow", ["ws", "ews"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_mvq_and_vq_on_dense_arrays_equal_torch(name, dataflow):
    """EWS-CM / EWS-C: the codebook (and mask) decoded onto a dense array, on the mapper's own folds."""
    layer = LAYERS[name]
    for method in ("mvq", "vq", "prune_vq"):
        cl = _compress(layer, method, 1, 4, d=8)
        res = _check(layer, cl, design(dataflow, rows=8, cols=4), seed=2)
        assert not res.sparse_array and res.counts.macs == layer.macs


@pytest.mark.parametrize("method,nm", [("mvq", (1, 4)), ("mvq", (2, 4)), ("nm", (2, 4)), ("nm", (1, 4))])
def test_depthwise_kernel_layout(method, nm):
    """Depthwise: one input channel per group, so the N:M groups run along the 2x2 kernel (kernel layout)."""
    cl = _compress(DEPTHWISE, method, *nm, d=4, layout="kernel")
    cl_dense = _check(DEPTHWISE, cl, design("ews", rows=4, cols=2), seed=3)
    res = _check(DEPTHWISE, cl, design("ws", rows=2, cols=2, n=nm[0], m=nm[1]), seed=3)
    assert res.k_order == "pytorch" and res.counts.col_folds == DEPTHWISE.groups
    assert cl_dense.counts.macs == DEPTHWISE.macs


def test_vq_kernel_layout_d9_on_ws():
    """BGD/PQF blocks: one 3x3 kernel per subvector (d = 9), decoded onto a 5-row WS array."""
    layer = LAYERS["conv3x3_s2_p1"]
    cl = _compress(layer, "vq", 1, 1, d=9, layout="kernel")
    assert cl.d == 9
    _check(layer, cl, design("ws", rows=5, cols=5))


@pytest.mark.parametrize("dataflow,rows,cols", [("ws", 7, 3), ("ews", 5, 4), ("ws", 64, 64)])
@pytest.mark.parametrize("layer", [*LAYERS.values(), DEPTHWISE], ids=lambda l: l.name)
def test_dense_int8_equals_torch(layer, dataflow, rows, cols):
    rng = np.random.default_rng(4)
    w = int8(rng, tuple(_weight(layer, 0).shape))
    x = int8(rng, layer.input_shape)
    res = run_functional(layer, DenseWeights(w), x, design(dataflow, rows=rows, cols=cols))
    np.testing.assert_array_equal(res.outputs, reference(layer, x, w))


def test_conv1d_weight_shape_accepted():
    layer = Layer(name="c1d", kind=LayerKind.CONV, in_channels=8, out_channels=4, in_h=1, in_w=12, kernel_h=1,
                  kernel_w=3, pad_left=1, pad_right=2, stride_w=2)
    rng = np.random.default_rng(5)
    w = int8(rng, (4, 8, 3))
    x = int8(rng, layer.input_shape)
    res = run_functional(layer, DenseWeights(w), x, design("ws", rows=5, cols=3))
    np.testing.assert_array_equal(res.outputs, reference(layer, x, w))


@pytest.mark.parametrize("weights_nm,array_nm", [((1, 8), (1, 4)), ((1, 2), (2, 4)), ((2, 8), (2, 4))])
def test_sparser_pattern_runs_on_sparse_array(weights_nm, array_nm):
    """Patterns the array supports without being built for them (archsim.design.nm_support_problem):
    spare PE slots hold zeros, so issued MACs follow the array's N/M and kept MACs the weights'."""
    layer = LAYERS["conv1x1"]
    cl = _compress(layer, "mvq", *weights_nm, d=16)
    res = _check(layer, cl, design("ws", rows=8, cols=4, n=array_nm[0], m=array_nm[1]))
    c = res.counts
    assert c.macs * array_nm[1] == layer.macs * array_nm[0]
    assert c.kept_macs * weights_nm[1] == layer.macs * weights_nm[0]
    assert c.zero_weight_macs >= c.macs - c.kept_macs


def test_psum_wraps_at_design_width():
    """With 16-bit psums the hardware register wraps; functional mode reproduces it and says so."""
    layer = linear("fc", 64, 3)
    w = np.full((3, 64), 127)
    x = np.full(layer.input_shape, 127)
    res = run_functional(layer, DenseWeights(w), x, design("ws", rows=16, cols=4, **{"precision.psum_bits": 16}))
    exact = reference(layer, x, w)
    wrapped = ((exact + 2 ** 15) % 2 ** 16) - 2 ** 15
    assert res.psum_overflow
    np.testing.assert_array_equal(res.outputs, wrapped)
    assert not np.array_equal(res.outputs, exact)


def test_converter_on_compressed_model():
    """compress_model output -> from_compressed_model -> one run per compressed layer."""
    from archsim.functional import from_compressed_model
    from compress.model import compress_model

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(16, 16, 3, padding=1, bias=False), torch.nn.Flatten(),
                              torch.nn.Linear(16 * 4 * 4, 8))
    cm = compress_model(net, CompressionConfig(d=8, k=8, iterations=3), torch.zeros(1, 3, 4, 4), progress=False)
    weights = from_compressed_model(cm)
    assert set(weights) == set(cm.layers) == {"2", "4"}           # conv1 stays dense (policy)
    layers = {"2": conv2d("2", 16, 16, 4, 3, padding=1), "4": linear("4", 256, 8)}
    rng = np.random.default_rng(6)
    for name, w in weights.items():
        x = int8(rng, layers[name].input_shape)
        res = run_functional(layers[name], w, x, design("ws", rows=16, cols=8, n=1, m=4))
        np.testing.assert_array_equal(res.outputs, reference(layers[name], x, reconstruct_int(cm.layers[name])))
