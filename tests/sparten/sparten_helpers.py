"""Small SparTen designs and layers for the tests (few CUs, short chunks: every case runs in milliseconds)."""

from __future__ import annotations

from typing import Any

from archsim.design import Design, load_design
from workloads.layer import Layer, LayerKind


def small_design(cus: int = 4, clusters: int = 4, chunk: int = 16, per_pass: int = 4, slots: int = 2,
                 **overrides: Any) -> Design:
    """The sparten preset shrunk: ``clusters`` x ``cus`` CUs, ``chunk``-position chunks, T = ``per_pass``."""
    base = {"array.rows": cus, "array.cols": clusters, "sparten.chunk": chunk,
            "register_files.psum_depth": per_pass,
            "register_files.weight_depth": slots * chunk * 9 // 8}
    base.update(overrides)
    return load_design("sparten").with_overrides(**base)


def conv(name: str = "c", cin: int = 20, cout: int = 6, hw: int = 6, k: int = 3, stride: int = 1, pad: int = 1,
         groups: int = 1, batch: int = 1, dilation: int = 1) -> Layer:
    return Layer(name=name, kind=LayerKind.CONV, in_channels=cin, out_channels=cout, in_h=hw, in_w=hw, kernel_h=k,
                 kernel_w=k, stride_h=stride, stride_w=stride, pad_top=pad, pad_bottom=pad, pad_left=pad,
                 pad_right=pad, groups=groups, batch=batch, dilation_h=dilation, dilation_w=dilation)


def linear(name: str = "fc", cin: int = 40, cout: int = 7, batch: int = 1) -> Layer:
    return Layer(name=name, kind=LayerKind.LINEAR, in_channels=cin, out_channels=cout, batch=batch)


def total_events(schedule) -> dict:
    out: dict = {}
    for t in schedule.tiles:
        for key, v in t.events.items():
            out[key] = out.get(key, 0.0) + v * t.repeat
    return out


def total_cycles(schedule) -> int:
    return sum(t.compute_cycles * t.repeat for t in schedule.tiles)
