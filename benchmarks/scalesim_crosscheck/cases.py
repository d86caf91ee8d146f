"""The layers and the hardware the SCALE-Sim cross-check runs, and their SCALE-Sim form.

Small on purpose: SCALE-Sim v3 is trace driven (~1-6 k simulated cycles/s, peers.md §3.5), so
the cases are chosen to run in well under a second each while still covering each mapping
feature the closed form depends on — padding, stride (including the case where SCALE-Sim's
round-up output rule disagrees with PyTorch's round-down one), partial and multiple row folds,
partial and multiple column folds, 1x1 convolution, a linear layer in GEMM form, and a buffer
too small to hold the input (so SCALE-Sim's DRAM traffic depends on SRAM size).

This module needs only `workloads` (no archsim engine, no SCALE-Sim): the specs it builds are
plain JSON for ``oracle.py``, which runs in SCALE-Sim's own virtual environment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind, conv2d, linear

#: SCALE-Sim release the golden numbers come from (setup_venv.sh installs exactly this).
SCALESIM_VERSION = "3.0.0"

#: Array of every case: small, so SCALE-Sim is fast and every layer folds several times.
ARRAY_ROWS = 8
ARRAY_COLS = 8

#: Default SRAM sizes (kB = k-words, SCALE-Sim words are 1 byte): large enough that no case re-fetches.
DEFAULT_SRAM_KB = 64


@dataclass(frozen=True)
class Case:
    """One cross-check point: a layer, the array it runs on, and the three SRAM sizes (kB)."""

    layer: Layer
    why: str
    array_rows: int = ARRAY_ROWS
    array_cols: int = ARRAY_COLS
    ifmap_sram_kb: int = DEFAULT_SRAM_KB
    filter_sram_kb: int = DEFAULT_SRAM_KB
    ofmap_sram_kb: int = DEFAULT_SRAM_KB
    dataflow: str = "ws"
    bandwidth_mode: str = "CALC"
    bandwidth: int = 10

    @property
    def name(self) -> str:
        return self.layer.name


def default_cases() -> tuple[Case, ...]:
    """The handful of layers the README table and the tests use."""
    return (
        Case(conv2d("conv3x3_s1_p1", 4, 8, 8, 3, stride=1, padding=1),
             "3x3 conv, stride 1, padding 1; K=36 -> 5 row folds, the last one half used"),
        Case(conv2d("conv3x3_s2_p1", 8, 12, 8, 3, stride=2, padding=1),
             "stride 2 on an even input: SCALE-Sim's ceil rule gives 5x5, PyTorch 4x4 -> the unused last "
             "padded row/column is dropped; 12 filters -> partial 2nd column fold"),
        Case(conv2d("conv1x1", 16, 16, 7, 1),
             "1x1 conv: im2col is the identity, 2 row folds x 2 column folds, all full"),
        Case(conv2d("conv3x3_c32", 32, 8, 6, 3),
             "many more channels than array rows: K=288 -> 36 row folds, no padding"),
        Case(linear("fc_tokens", 40, 24, rows=16),
             "linear layer on 16 tokens, run in SCALE-Sim's GEMM form (M=16, N=24, K=40)"),
        Case(conv2d("conv3x3_small_sram", 16, 16, 8, 3, stride=1, padding=1),
             "3x3 conv whose padded input (1,600 B) exceeds half of a 1 kB input SRAM: DRAM traffic "
             "now depends on buffer size", ifmap_sram_kb=1),
    )


# ---- conversion to SCALE-Sim's convention ------------------------------------------------------

def scalesim_out_size(padded: int, kernel: int, stride: int) -> int:
    """SCALE-Sim's output size, ceil((H - R + S) / S): inputs are taken as already padded and a
    stride that does not divide H - R rounds up (peers.md §2.1)."""
    return math.ceil((padded - kernel + stride) / stride)


def scalesim_extent(layer_out: int, padded: int, kernel: int, stride: int) -> int:
    """The input extent to give SCALE-Sim so its output size equals ours.

    The padded size is kept when the two rules agree. Otherwise the trailing padded rows the
    PyTorch floor rule never reads are dropped: ``(out - 1) * stride + kernel`` is exactly the
    extent the last window reaches, and SCALE-Sim's ceil rule returns ``out`` for it.
    """
    if scalesim_out_size(padded, kernel, stride) == layer_out:
        return padded
    extent = (layer_out - 1) * stride + kernel
    assert scalesim_out_size(extent, kernel, stride) == layer_out
    return extent


def to_spec(case: Case) -> dict[str, Any]:
    """The JSON spec `oracle.py` reads (and the golden-cache key is made of)."""
    layer = case.layer
    spec: dict[str, Any] = {"name": _scalesim_name(layer.name)}
    if layer.kind is LayerKind.CONV:
        if layer.groups != 1 or (layer.dilation_h, layer.dilation_w) != (1, 1):
            raise ArchsimInputError(f"cross-check layer {layer.name!r}: only groups=1, dilation=1 convs have a direct "
                                    f"SCALE-Sim form; pick another layer")
        if layer.stride_h != layer.stride_w or layer.batch != 1:
            raise ArchsimInputError(f"cross-check layer {layer.name!r}: SCALE-Sim takes one stride for both axes and "
                                    f"batch 1; use stride_h == stride_w and batch=1")
        spec.update(
            form="conv",
            ifmap_h=scalesim_extent(layer.out_h, layer.padded_h, layer.kernel_h, layer.stride_h),
            ifmap_w=scalesim_extent(layer.out_w, layer.padded_w, layer.kernel_w, layer.stride_w),
            filter_h=layer.kernel_h, filter_w=layer.kernel_w, channels=layer.in_channels,
            num_filters=layer.out_channels, stride=layer.stride_h)
    else:
        gemm = layer.gemm
        if gemm.repeats != 1:
            raise ArchsimInputError(f"cross-check layer {layer.name!r}: a batched matmul has no single SCALE-Sim GEMM; "
                                    f"use batch=1")
        m = layer.in_h * layer.batch if layer.kind is LayerKind.LINEAR else gemm.m
        spec.update(form="gemm", m=m, n=gemm.n, k=gemm.k)
    spec.update(array_rows=case.array_rows, array_cols=case.array_cols, ifmap_sram_kb=case.ifmap_sram_kb,
                filter_sram_kb=case.filter_sram_kb, ofmap_sram_kb=case.ofmap_sram_kb, dataflow=case.dataflow,
                bandwidth_mode=case.bandwidth_mode, bandwidth=case.bandwidth, scalesim_version=SCALESIM_VERSION)
    return spec


def spec_gemm(spec: dict[str, Any]) -> tuple[int, int, int]:
    """(T, K, N) of a spec as SCALE-Sim sees it: output pixels, reduction length, filters."""
    if spec["form"] == "gemm":
        return spec["m"], spec["k"], spec["n"]
    e = scalesim_out_size(spec["ifmap_h"], spec["filter_h"], spec["stride"])
    f = scalesim_out_size(spec["ifmap_w"], spec["filter_w"], spec["stride"])
    return e * f, spec["filter_h"] * spec["filter_w"] * spec["channels"], spec["num_filters"]


def closed_form_cycles(spec: dict[str, Any]) -> int:
    """SCALE-Sim's stall-free WS compute cycles (peers.md §3.6):
    folds * (2*rows + cols + T - 2) - 1, folds = ceil(K/rows) * ceil(N/cols)."""
    t, k, n = spec_gemm(spec)
    rows, cols = spec["array_rows"], spec["array_cols"]
    folds = math.ceil(k / rows) * math.ceil(n / cols)
    return folds * (2 * rows + cols + t - 2) - 1


def expected_scalesim_sram_counts(spec: dict[str, Any]) -> dict[str, int]:
    """What SCALE-Sim 3.0.0's WS demand generator counts as SRAM accesses (compute/systolic_compute_ws.py),
    derived here so the README's explanations are checked, not asserted:

    * ifmap reads: every im2col element each time a column fold streams it, padding included:
      T * K * col_folds;
    * filter reads: every weight once: K * N;
    * ofmap writes: one write per output per *row fold* (partial sums are written, never read
      back or accumulated in place): T * N * row_folds.
    """
    t, k, n = spec_gemm(spec)
    row_folds = math.ceil(k / spec["array_rows"])
    col_folds = math.ceil(n / spec["array_cols"])
    return {"sram_ifmap_reads": t * k * col_folds, "sram_filter_reads": k * n, "sram_ofmap_writes": t * n * row_folds}


def _scalesim_name(name: str) -> str:
    """Names SCALE-Sim accepts: word characters only, and no 'DP' (which means depth-wise to it)."""
    safe = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return safe.replace("DP", "Dp")
