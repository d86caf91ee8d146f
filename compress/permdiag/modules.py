"""Torch layers with the permuted-diagonal structure imposed: only the ``m*n/p`` free weights are
parameters, so training from scratch never leaves the structure (PermDNN trains this way: no
prune/retrain loop, permutation values fixed before training, pq_permdnn.md §B.1).

* `PermDiagLinear`: the forward gathers, for every free weight, the one input it multiplies
  (``x[..., cols]``) and reduces over block columns -- ``m*n/p`` multiplies, no dense matrix.
* `PermDiagConv2d`: PD over the (out-channel, in-channel) dimensions of the kernel (each free
  "weight" is a ``kh x kw`` filter). Its forward scatters the free filters into a kernel with
  ``index_put`` (differentiable, gradients reach only the free values) and calls ``conv2d``:
  simple and exact; the multiply savings are the hardware's business, not this reference layer's.

Layout of ``values`` / ``perms`` is the one of `compress.permdiag.structure`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from compress.permdiag.structure import check_block_size, nonzero_positions, project, random_perms


def _index_buffers(perms: np.ndarray, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    rows, cols = nonzero_positions(perms, p)
    return torch.from_numpy(np.ascontiguousarray(rows)), torch.from_numpy(np.ascontiguousarray(cols))


class PermDiagLinear(nn.Module):
    """``y = W x + b`` with ``W`` (out x in) permuted-diagonal in ``p x p`` blocks.

    ``perms``: one permutation value per block (``(out/p, in/p)`` ints in [0, p)); random with
    ``seed`` when omitted. Raises `ArchsimInputError` if ``p`` does not divide both dimensions."""

    def __init__(self, in_features: int, out_features: int, p: int, *, bias: bool = True,
                 perms: np.ndarray | None = None, seed: int = 0) -> None:
        super().__init__()
        check_block_size(out_features, in_features, p, "PermDiagLinear")
        self.in_features, self.out_features, self.p = in_features, out_features, p
        mb, nb = out_features // p, in_features // p
        perms = random_perms(out_features, in_features, p, seed) if perms is None else np.asarray(perms, np.int64)
        if perms.shape != (mb, nb) or perms.min() < 0 or perms.max() >= p:
            raise ValueError(f"perms must be ({mb}, {nb}) integers in [0, {p})")
        rows, cols = _index_buffers(perms, p)
        self.register_buffer("perms", torch.from_numpy(perms.copy()))
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        # nn.Linear's init with the *structural* fan-in: each output sees in/p inputs
        bound = 1.0 / math.sqrt(in_features / p)
        self.values = nn.Parameter(torch.empty(mb, nb, p).uniform_(-bound, bound,
                                                                    generator=torch.Generator().manual_seed(seed)))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gathered = x[..., self.cols]                                   # (..., m/p, n/p, p)
        y = (gathered * self.values).sum(dim=-2).flatten(-2)          # (..., m)
        return y if self.bias is None else y + self.bias

    def dense_weight(self) -> torch.Tensor:
        """The expanded ``out x in`` matrix (for checks and export)."""
        w = self.values.new_zeros(self.out_features, self.in_features)
        return w.index_put((self.rows, self.cols), self.values)

    @property
    def free_weights(self) -> int:
        return self.values.numel()

    @classmethod
    def from_linear(cls, linear: nn.Linear, p: int) -> tuple["PermDiagLinear", float]:
        """Convert a trained dense layer by projection; returns the layer and the relative
        Frobenius error ``||W - W_pd|| / ||W||`` of the projection."""
        proj = project(linear.weight.detach().cpu().numpy(), p, "PermDiagLinear.from_linear")
        layer = cls(linear.in_features, linear.out_features, p, bias=linear.bias is not None, perms=proj.perms)
        with torch.no_grad():
            layer.values.copy_(torch.from_numpy(proj.values).to(layer.values.dtype))
            if linear.bias is not None:
                layer.bias.copy_(linear.bias.detach())
        return layer, proj.rel_error

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, p={self.p}, " \
               f"bias={self.bias is not None}"


class PermDiagConv2d(nn.Module):
    """2-D convolution whose kernel is permuted-diagonal over (out_channels, in_channels)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], p: int, *,
                 stride: int = 1, padding: int = 0, bias: bool = True, perms: np.ndarray | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        check_block_size(out_channels, in_channels, p, "PermDiagConv2d")
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.in_channels, self.out_channels, self.p = in_channels, out_channels, p
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        mb, nb = out_channels // p, in_channels // p
        perms = random_perms(out_channels, in_channels, p, seed) if perms is None else np.asarray(perms, np.int64)
        rows, cols = _index_buffers(perms, p)
        self.register_buffer("perms", torch.from_numpy(perms.copy()))
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        bound = 1.0 / math.sqrt(in_channels / p * kh * kw)
        self.values = nn.Parameter(torch.empty(mb, nb, p, kh, kw).uniform_(
            -bound, bound, generator=torch.Generator().manual_seed(seed)))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def dense_weight(self) -> torch.Tensor:
        w = self.values.new_zeros(self.out_channels, self.in_channels, *self.kernel_size)
        return w.index_put((self.rows, self.cols), self.values)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias, self.stride, self.padding)

    @property
    def free_weights(self) -> int:
        return self.values.numel()

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, p: int) -> tuple["PermDiagConv2d", float]:
        """Projection of a dense conv: per block, the permutation maximising the kept energy of the
        whole ``kh x kw`` filters on its diagonal (the kernel flattened to (out, in*kh*kw) per tap)."""
        if conv.groups != 1 or conv.dilation != (1, 1) or not isinstance(conv.padding, tuple):
            raise ValueError("PermDiagConv2d.from_conv supports groups=1, dilation=1, numeric padding")
        w = conv.weight.detach().cpu().numpy()                       # (O, I, kh, kw)
        o, i, kh, kw = w.shape
        check_block_size(o, i, p, "PermDiagConv2d.from_conv")
        # energy of each (o, i) filter; project on it, then keep the full filters at the chosen positions
        proj = project(np.sqrt((w ** 2).sum(axis=(2, 3))), p, "PermDiagConv2d.from_conv")
        layer = cls(i, o, (kh, kw), p, stride=conv.stride[0], padding=conv.padding[0], bias=conv.bias is not None,
                    perms=proj.perms)
        rows, cols = nonzero_positions(proj.perms, p)
        with torch.no_grad():
            layer.values.copy_(torch.from_numpy(w[rows, cols]).to(layer.values.dtype))
            if conv.bias is not None:
                layer.bias.copy_(conv.bias.detach())
        return layer, proj.rel_error

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, p={self.p}, " \
               f"stride={self.stride}, padding={self.padding}"


__all__ = ["PermDiagLinear", "PermDiagConv2d"]
