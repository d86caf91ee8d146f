"""Cutting a weight tensor into d-dim subvectors and back.

Two layouts (see `compress.config`):

``input_channel``  the input-channel axis (dim 1) is moved last, so a conv weight K x C x R x S becomes
                   K x R x S x C and each run of ``d`` consecutive channels of one (k, r, s) is a
                   subvector. This is the reduction axis of a systolic array, which is where N:M
                   groups must lie for a Q = (N/M) d sparse PE row (mvq.md §1.3). Needs ``d | C``.
``kernel``         BGD/PQF: each filter's (C, R, S) row is flattened in PyTorch order and cut into
                   consecutive blocks of ``d`` (d = 9 puts exactly one 3x3 kernel in a block).
                   Needs ``d | C*R*S``.

Linear weights (K x C) are the same in both layouts: subvectors along the input features.
Both functions are pure reshapes/permutes, so they are differentiable (fine-tuning rebuilds
``W = from_subvectors(mask * codebook[codes], shape, layout)`` through them).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from workloads.errors import ArchsimInputError

LAYOUTS = ("input_channel", "kernel")


def subvector_fits(shape: Sequence[int], d: int, layout: str) -> bool:
    """True when ``d`` tiles the axis that ``layout`` cuts."""
    _check(shape, layout)
    return d >= 1 and _axis_length(shape, layout) % d == 0


def _axis_length(shape: Sequence[int], layout: str) -> int:
    if layout == "input_channel":
        return int(shape[1])
    return int(math.prod(shape[1:]))


def _check(shape: Sequence[int], layout: str) -> None:
    if layout not in LAYOUTS:
        raise ArchsimInputError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if len(shape) < 2:
        raise ArchsimInputError(f"a weight to cut into subvectors needs >= 2 dims (out, in, ...), got shape {tuple(shape)}")


def to_subvectors(weight: torch.Tensor, d: int, layout: str = "input_channel") -> torch.Tensor:
    """``weight`` (K x C [x R x S ...]) -> ``[n_sub, d]`` subvectors (see module docstring)."""
    shape = tuple(weight.shape)
    _check(shape, layout)
    if not subvector_fits(shape, d, layout):
        axis = "in_channels (dim 1)" if layout == "input_channel" else "in_channels*kernel (dims 1..)"
        raise ArchsimInputError(f"subvector size d={d} does not divide {axis} = {_axis_length(shape, layout)} of a "
                                f"weight of shape {shape} in the {layout!r} layout; pick d dividing it "
                                f"or leave the layer dense")
    if layout == "input_channel" and weight.dim() > 2:
        weight = weight.movedim(1, -1)
    return weight.reshape(-1, d)


def from_subvectors(subvectors: torch.Tensor, shape: Sequence[int], layout: str = "input_channel") -> torch.Tensor:
    """Inverse of `to_subvectors`: ``[n_sub, d]`` -> a tensor of ``shape``."""
    shape = tuple(int(s) for s in shape)
    _check(shape, layout)
    if subvectors.numel() != math.prod(shape):
        raise ArchsimInputError(f"{subvectors.numel()} subvector values cannot form a weight of shape {shape}")
    if layout == "input_channel" and len(shape) > 2:
        moved = (shape[0], *shape[2:], shape[1])
        return subvectors.reshape(moved).movedim(-1, 1)
    return subvectors.reshape(shape)
