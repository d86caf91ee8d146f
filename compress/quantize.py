"""Symmetric per-tensor integer quantisation (codebooks, and the kept values of plain N:M).

MVQ stores its codebook as 8-bit symmetric integers [S1]; the scale is per layer [I]:
``scale = max|x| / (2^(b-1) - 1)``, ``q = clamp(round(x / scale), -qmax, qmax)``. ``bits = 32``
means "keep float32" (no quantisation; scale 1). The integer tensor uses the smallest torch
integer dtype that holds ``bits``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workloads.errors import ArchsimInputError

FLOAT_BITS = 32


@dataclass(frozen=True)
class Quantized:
    values: torch.Tensor  # integers (or float32 when bits == 32)
    scale: float
    bits: int

    def dequantize(self) -> torch.Tensor:
        return dequantize(self.values, self.scale)


def _int_dtype(bits: int) -> torch.dtype:
    return torch.int8 if bits <= 8 else torch.int16 if bits <= 16 else torch.int32


def quantize_symmetric(x: torch.Tensor, bits: int = 8) -> Quantized:
    """Symmetric quantisation of ``x`` with one scale for the whole tensor."""
    if bits == FLOAT_BITS:
        return Quantized(x.detach().float().clone(), 1.0, bits)
    if not isinstance(bits, int) or not 2 <= bits <= 16:
        raise ArchsimInputError(f"quantisation bit width must be 2..16 (or 32 = float), got {bits!r}")
    qmax = 2 ** (bits - 1) - 1
    amax = float(x.detach().abs().max()) if x.numel() else 0.0
    scale = amax / qmax if amax > 0 else 1.0
    q = torch.clamp(torch.round(x.detach() / scale), -qmax, qmax).to(_int_dtype(bits))
    return Quantized(q, scale, bits)


def dequantize(values: torch.Tensor, scale: float) -> torch.Tensor:
    return values.float() * scale
