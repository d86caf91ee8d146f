"""One small layer representation that every part of archsim understands.

A `Layer` is the shape of one compute operation — a convolution (including grouped, depthwise,
strided, dilated, non-square and 1-D), a fully connected layer, or a batched matrix multiply —
together with the precision of each operand. Everything an accelerator model needs is derived
from it: output size, MACs, weight count, bytes per operand and the GEMM view (M, N, K).

Padding is explicit (top/bottom/left/right) because peers get this wrong: SCALE-Sim expects a
pre-padded input and rounds output sizes up, PyTorch pads implicitly and rounds down. Here the
input size is the *unpadded* tensor and the output size follows PyTorch's floor rule.

Conventions
-----------
* conv: input ``(batch, in_channels, in_h, in_w)``, weight ``(out_channels, in_channels/groups,
  kernel_h, kernel_w)``. Conv1d is a conv with ``in_h = kernel_h = 1``.
* linear: ``in_h`` counts the rows that share the weight (e.g. tokens of a sequence; 1 for a
  classifier), ``in_w = 1``, kernel 1x1. The weight is ``(out_channels, in_channels)``.
* matmul: ``batch`` independent products ``(in_h x in_channels) @ (in_channels x out_channels)``.
  The right-hand operand plays the role of the weight (it is what a weight-stationary array
  would pin), and it differs per batch element, so ``weights = batch * in_channels * out_channels``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

from workloads.errors import ArchsimInputError


class LayerKind(str, Enum):
    """What kind of operation a layer is; decides how weights and the GEMM view are counted."""

    CONV = "conv"
    LINEAR = "linear"
    MATMUL = "matmul"


@dataclass(frozen=True)
class Precision:
    """Bits per element of each operand. Defaults: int8 weights/activations, 32-bit partial sums."""

    weight_bits: int = 8
    input_bits: int = 8
    output_bits: int = 8
    psum_bits: int = 32

    def __post_init__(self) -> None:
        for name in ("weight_bits", "input_bits", "output_bits", "psum_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ArchsimInputError(f"precision.{name} must be a positive integer number of bits, got {value!r}")


@dataclass(frozen=True)
class GemmShape:
    """The im2col GEMM view of a layer: ``repeats`` independent products of (M x K) @ (K x N).

    ``repeats`` is the number of groups for a grouped convolution and the batch for a batched
    matmul: the products do not share weights, so an array runs them one after another.
    """

    m: int
    n: int
    k: int
    repeats: int = 1

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k * self.repeats


@dataclass(frozen=True)
class Layer:
    """Shape and precision of one compute layer. Frozen: derived quantities are properties."""

    name: str
    kind: LayerKind
    in_channels: int
    out_channels: int
    in_h: int = 1
    in_w: int = 1
    kernel_h: int = 1
    kernel_w: int = 1
    stride_h: int = 1
    stride_w: int = 1
    pad_top: int = 0
    pad_bottom: int = 0
    pad_left: int = 0
    pad_right: int = 0
    dilation_h: int = 1
    dilation_w: int = 1
    groups: int = 1
    batch: int = 1
    bias: bool = False
    precision: Precision = field(default_factory=Precision)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, LayerKind):
            try:
                object.__setattr__(self, "kind", LayerKind(self.kind))
            except ValueError:
                known = ", ".join(k.value for k in LayerKind)
                raise ArchsimInputError(f"layer {self.name!r}: kind must be one of {known}, got {self.kind!r}") from None
        positive = ("in_channels", "out_channels", "in_h", "in_w", "kernel_h", "kernel_w", "stride_h", "stride_w",
                    "dilation_h", "dilation_w", "groups", "batch")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ArchsimInputError(f"layer {self.name!r}: {name} must be a positive integer, got {value!r}")
        for name in ("pad_top", "pad_bottom", "pad_left", "pad_right"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ArchsimInputError(f"layer {self.name!r}: {name} must be a non-negative integer, got {value!r}")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ArchsimInputError(
                f"layer {self.name!r}: groups={self.groups} must divide in_channels={self.in_channels} "
                f"and out_channels={self.out_channels}")
        if self.kind is not LayerKind.CONV:
            if (self.kernel_h, self.kernel_w, self.in_w, self.groups) != (1, 1, 1, 1):
                raise ArchsimInputError(
                    f"layer {self.name!r}: a {self.kind.value} layer has kernel 1x1, in_w=1 and groups=1; "
                    f"use kind='conv' for spatial layers")
        if self.out_h < 1 or self.out_w < 1:
            raise ArchsimInputError(
                f"layer {self.name!r}: the {self.kernel_h}x{self.kernel_w} kernel (dilation "
                f"{self.dilation_h}x{self.dilation_w}) does not fit the padded {self.padded_h}x{self.padded_w} input; "
                f"enlarge the input or add padding")

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def padded_h(self) -> int:
        return self.in_h + self.pad_top + self.pad_bottom

    @property
    def padded_w(self) -> int:
        return self.in_w + self.pad_left + self.pad_right

    @property
    def effective_kernel_h(self) -> int:
        """Extent of the dilated kernel along H."""
        return self.dilation_h * (self.kernel_h - 1) + 1

    @property
    def effective_kernel_w(self) -> int:
        return self.dilation_w * (self.kernel_w - 1) + 1

    @property
    def out_h(self) -> int:
        """PyTorch's rule: floor((padded - dilated kernel) / stride) + 1."""
        return (self.padded_h - self.effective_kernel_h) // self.stride_h + 1

    @property
    def out_w(self) -> int:
        return (self.padded_w - self.effective_kernel_w) // self.stride_w + 1

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.kind is LayerKind.CONV:
            return (self.batch, self.in_channels, self.in_h, self.in_w)
        return (self.batch, self.in_h, self.in_channels)

    @property
    def output_shape(self) -> tuple[int, ...]:
        if self.kind is LayerKind.CONV:
            return (self.batch, self.out_channels, self.out_h, self.out_w)
        return (self.batch, self.in_h, self.out_channels)

    @property
    def is_depthwise(self) -> bool:
        return self.kind is LayerKind.CONV and self.groups > 1 and self.groups == self.in_channels

    # ---- counts ------------------------------------------------------------------------------
    @property
    def reduction_size(self) -> int:
        """Inputs summed into one output: (in_channels / groups) x kernel area (the GEMM K)."""
        return (self.in_channels // self.groups) * self.kernel_h * self.kernel_w

    @property
    def weights(self) -> int:
        """Weight elements (no bias). For a matmul, the right-hand operand of every batch element."""
        per = self.out_channels * self.reduction_size
        return per * self.batch if self.kind is LayerKind.MATMUL else per

    @property
    def biases(self) -> int:
        return self.out_channels if self.bias else 0

    @property
    def params(self) -> int:
        """Model parameters this layer owns. A matmul's right operand is an activation computed in the
        forward pass (attention scores, values...), not a parameter, so a matmul owns none; its
        operand still counts in `weights` because the array must fetch it like a weight."""
        if self.kind is LayerKind.MATMUL:
            return 0
        return self.weights + self.biases

    @property
    def input_elements(self) -> int:
        """Elements of the (unpadded) input tensor: padding is generated, never fetched."""
        return math.prod(self.input_shape)

    @property
    def output_elements(self) -> int:
        return math.prod(self.output_shape)

    @property
    def macs(self) -> int:
        return self.gemm.macs

    @property
    def gemm(self) -> GemmShape:
        """im2col view: M output pixels (x batch when weights are shared), N filters, K reduction."""
        if self.kind is LayerKind.MATMUL:
            return GemmShape(m=self.in_h, n=self.out_channels, k=self.in_channels, repeats=self.batch)
        return GemmShape(m=self.batch * self.out_h * self.out_w, n=self.out_channels // self.groups,
                         k=self.reduction_size, repeats=self.groups)

    # ---- bytes -------------------------------------------------------------------------------
    @property
    def weight_bytes(self) -> float:
        return self.weights * self.precision.weight_bits / 8

    @property
    def input_bytes(self) -> float:
        return self.input_elements * self.precision.input_bits / 8

    @property
    def output_bytes(self) -> float:
        return self.output_elements * self.precision.output_bits / 8

    @property
    def bias_bytes(self) -> float:
        return self.biases * self.precision.psum_bits / 8

    # ---- conversion --------------------------------------------------------------------------
    def with_batch(self, batch: int) -> "Layer":
        return replace(self, batch=batch)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-safe): the stored fields only."""
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Layer":
        data = dict(data)
        prec = data.pop("precision", None) or {}
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ArchsimInputError(f"layer fields {sorted(unknown)} are not known; valid fields: {sorted(known)}")
        return cls(precision=Precision(**prec), **data)

    def summary(self) -> dict[str, Any]:
        """One flat row for tables: dims, derived sizes, counts."""
        g = self.gemm
        return {
            "name": self.name, "kind": self.kind.value, "batch": self.batch,
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "in_h": self.in_h, "in_w": self.in_w, "kernel": f"{self.kernel_h}x{self.kernel_w}",
            "stride": f"{self.stride_h}x{self.stride_w}",
            "padding": f"{self.pad_top},{self.pad_bottom},{self.pad_left},{self.pad_right}",
            "dilation": f"{self.dilation_h}x{self.dilation_w}", "groups": self.groups,
            "out_h": self.out_h, "out_w": self.out_w,
            "gemm_m": g.m, "gemm_n": g.n, "gemm_k": g.k, "gemm_repeats": g.repeats,
            "macs": self.macs, "weights": self.weights, "params": self.params,
            "weight_bytes": self.weight_bytes, "input_bytes": self.input_bytes, "output_bytes": self.output_bytes,
        }


def conv2d(name: str, in_channels: int, out_channels: int, in_hw: tuple[int, int] | int, kernel: tuple[int, int] | int,
           stride: tuple[int, int] | int = 1, padding: tuple[int, int] | int = 0, dilation: tuple[int, int] | int = 1,
           groups: int = 1, batch: int = 1, bias: bool = False, precision: Precision | None = None) -> Layer:
    """Convenience constructor with PyTorch-style symmetric padding arguments."""
    def pair(v: tuple[int, int] | int) -> tuple[int, int]:
        return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))

    (h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(pair, (in_hw, kernel, stride, padding, dilation))
    return Layer(name=name, kind=LayerKind.CONV, in_channels=in_channels, out_channels=out_channels, in_h=h, in_w=w,
                 kernel_h=kh, kernel_w=kw, stride_h=sh, stride_w=sw, pad_top=ph, pad_bottom=ph, pad_left=pw,
                 pad_right=pw, dilation_h=dh, dilation_w=dw, groups=groups, batch=batch, bias=bias,
                 precision=precision or Precision())


def linear(name: str, in_features: int, out_features: int, rows: int = 1, batch: int = 1, bias: bool = False,
           precision: Precision | None = None) -> Layer:
    """A fully connected layer applied to ``rows`` positions of each of ``batch`` samples."""
    return Layer(name=name, kind=LayerKind.LINEAR, in_channels=in_features, out_channels=out_features, in_h=rows,
                 batch=batch, bias=bias, precision=precision or Precision())


def matmul(name: str, m: int, k: int, n: int, batch: int = 1, precision: Precision | None = None) -> Layer:
    """``batch`` products (m x k) @ (k x n)."""
    return Layer(name=name, kind=LayerKind.MATMUL, in_channels=k, out_channels=n, in_h=m, batch=batch,
                 precision=precision or Precision())
