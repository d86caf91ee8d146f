"""Property: for random conv parameters, Layer's output size equals what torch's F.conv2d produces,
and from_torch reproduces the same layer from the executed op."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from workloads import conv2d
from workloads.torch_trace import from_torch


@st.composite
def conv_params(draw):
    groups = draw(st.integers(1, 3))
    return dict(
        groups=groups,
        cin=groups * draw(st.integers(1, 2)),
        cout=groups * draw(st.integers(1, 2)),
        h=draw(st.integers(1, 19)), w=draw(st.integers(1, 19)),
        kh=draw(st.integers(1, 5)), kw=draw(st.integers(1, 5)),
        sh=draw(st.integers(1, 3)), sw=draw(st.integers(1, 3)),
        ph=draw(st.integers(0, 3)), pw=draw(st.integers(0, 3)),
        dh=draw(st.integers(1, 3)), dw=draw(st.integers(1, 3)),
        batch=draw(st.integers(1, 2)),
    )


class _Conv(torch.nn.Module):
    def __init__(self, p: dict) -> None:
        super().__init__()
        self.p = p
        self.weight = torch.nn.Parameter(torch.randn(p["cout"], p["cin"] // p["groups"], p["kh"], p["kw"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.p
        return F.conv2d(x, self.weight, None, (p["sh"], p["sw"]), (p["ph"], p["pw"]), (p["dh"], p["dw"]), p["groups"])


@settings(max_examples=60, deadline=None)
@given(conv_params())
def test_layer_output_size_matches_torch(p):
    assume(p["h"] + 2 * p["ph"] >= p["dh"] * (p["kh"] - 1) + 1)
    assume(p["w"] + 2 * p["pw"] >= p["dw"] * (p["kw"] - 1) + 1)
    x = torch.randn(p["batch"], p["cin"], p["h"], p["w"])
    module = _Conv(p)
    with torch.no_grad():
        out = module(x)
    layer = conv2d("c", p["cin"], p["cout"], (p["h"], p["w"]), (p["kh"], p["kw"]), stride=(p["sh"], p["sw"]),
                   padding=(p["ph"], p["pw"]), dilation=(p["dh"], p["dw"]), groups=p["groups"], batch=p["batch"])
    assert (layer.out_h, layer.out_w) == tuple(out.shape[2:])
    assert layer.output_shape == tuple(out.shape)
    traced = from_torch(module, x)
    assert traced[0].output_shape == tuple(out.shape)
    assert traced[0].macs == layer.macs == out.numel() * (p["cin"] // p["groups"]) * p["kh"] * p["kw"]
