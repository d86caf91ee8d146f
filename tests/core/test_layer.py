"""Layer / Network arithmetic and validation (the representation every other part builds on)."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from workloads import ArchsimInputError, Layer, LayerKind, Network, Precision, conv2d, linear, matmul


def test_conv_sizes_and_counts():
    layer = conv2d("c", 64, 128, 56, 3, stride=2, padding=1)
    assert (layer.out_h, layer.out_w) == (28, 28)
    assert layer.weights == 128 * 64 * 9
    assert layer.macs == 28 * 28 * 128 * 64 * 9
    assert layer.gemm.m == 784 and layer.gemm.k == 576 and layer.gemm.n == 128
    assert layer.weight_bytes == layer.weights  # int8 default
    assert layer.input_bytes == 64 * 56 * 56


def test_depthwise_grouped_dilated_nonsquare():
    dw = conv2d("dw", 32, 32, (15, 9), (3, 5), padding=(1, 2), groups=32)
    assert dw.is_depthwise and dw.reduction_size == 15 and dw.gemm.repeats == 32
    assert dw.macs == 32 * 15 * 9 * 15
    dil = conv2d("dil", 8, 8, 20, 3, dilation=2)
    assert dil.out_h == 20 - 4
    grouped = conv2d("g", 8, 16, 10, 1, groups=4)
    assert grouped.weights == 16 * 2 and grouped.gemm.n == 4


def test_linear_and_matmul():
    fc = linear("fc", 512, 1000, bias=True)
    assert fc.macs == 512_000 and fc.params == 513_000
    seq = linear("proj", 64, 32, rows=10, batch=3)
    assert seq.macs == 3 * 10 * 64 * 32 and seq.output_shape == (3, 10, 32)
    mm = matmul("attn", m=10, k=16, n=10, batch=8)
    assert mm.macs == 8 * 10 * 16 * 10 and mm.weights == 8 * 16 * 10


def test_precision_changes_bytes():
    layer = conv2d("c", 4, 4, 8, 3, precision=Precision(weight_bits=4, input_bits=16))
    assert layer.weight_bytes == layer.weights / 2
    assert layer.input_bytes == 2 * layer.input_elements


@pytest.mark.parametrize("kwargs, field", [
    (dict(in_channels=0), "in_channels"),
    (dict(pad_top=-1), "pad_top"),
    (dict(groups=3), "groups"),
    (dict(kernel_h=9), "does not fit"),
    (dict(kind="pool"), "kind"),
])
def test_bad_layers_name_the_field(kwargs, field):
    base = dict(name="x", kind=LayerKind.CONV, in_channels=4, out_channels=4, in_h=5, in_w=5, kernel_h=3, kernel_w=3)
    base.update(kwargs)
    with pytest.raises(ArchsimInputError, match=field):
        Layer(**base)


def test_dict_round_trip_and_unknown_field():
    layer = conv2d("c", 3, 8, 9, 3, padding=1, bias=True)
    again = Layer.from_dict(json.loads(json.dumps(layer.to_dict())))
    assert again == layer
    with pytest.raises(ArchsimInputError, match="not known"):
        Layer.from_dict({**layer.to_dict(), "chanels": 3})


def test_network_totals_frame_and_batch():
    net = Network("n", (conv2d("a", 3, 8, 8, 3, padding=1), linear("b", 8, 2)), input_shape=(1, 3, 8, 8),
                  extra_params=5)
    assert net.macs == sum(l.macs for l in net)
    assert net.params == net.weights + 5
    frame = net.to_frame()
    assert list(frame.index) == ["a", "b"] and frame["macs"].sum() == net.macs
    assert net.with_batch(4).macs == 4 * net.macs
    with pytest.raises(ArchsimInputError, match="unique"):
        Network("dup", (linear("a", 2, 2), linear("a", 2, 2)))


@settings(max_examples=60, deadline=None)
@given(c=st.integers(1, 16), k=st.integers(1, 16), h=st.integers(1, 20), w=st.integers(1, 20),
       kh=st.integers(1, 5), kw=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2), b=st.integers(1, 4))
def test_macs_equal_gemm_and_output_elements(c, k, h, w, kh, kw, s, p, b):
    if h + 2 * p < kh or w + 2 * p < kw:
        return
    layer = conv2d("c", c, k, (h, w), (kh, kw), stride=s, padding=p, batch=b)
    assert layer.macs == layer.output_elements * layer.reduction_size
    g = layer.gemm
    assert g.m * g.n * g.repeats == layer.output_elements
