"""Matching compression methods at equal model size, before any clustering runs.

A fair accuracy comparison gives every method the *same* storage budget. The size of a compressed
model depends only on shapes and the geometry (method, d, k, N:M, bit widths), never on weight
values (`compress.policy.LayerPlan.expected_bits`), so the matching can be planned exactly from
`compress.model.plan_model` and checked afterwards against `CompressedModel.storage_bits()`.

Rule used by the experiments: a method/geometry gets the **largest** codebook size ``k`` whose whole
model still fits in the budget (``total bits <= budget``), so no method is ever given more bits
than the budget, and each gets as close to it as its geometry allows. ``k`` need not be a power of
two: codes still cost ``ceil(log2 k)`` bits each, but the codebook costs ``k * d * bits``, so a
non-power-of-two ``k`` lets a method use the budget it is given instead of rounding down a factor
of two.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from compress.config import CompressionConfig
from compress.model import plan_model


def planned_bits(model: nn.Module, config: CompressionConfig, example_input: Any = None) -> dict[str, int]:
    """Model size in bits by part, from the policy alone — the same accounting as
    `CompressedModel.storage_bits()` (codes, mask, codebook, dense, bias, other, total)."""
    plans = plan_model(model, config, example_input)
    modules = dict(model.named_modules())
    parts = {"codes": 0, "mask": 0, "codebook": 0, "dense": 0, "bias": 0}
    owned: set[int] = set()
    for plan in plans:
        module = modules[plan.name]
        for part, bits in plan.expected_bits(config).items():
            parts[part] += bits
        owned.add(id(module.weight))
        if getattr(module, "bias", None) is not None:
            parts["bias"] += module.bias.numel() * config.bias_bits
            owned.add(id(module.bias))
    other = sum(p.numel() for p in model.parameters() if id(p) not in owned)
    if config.count_bn_running_stats:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                other += module.running_mean.numel() + module.running_var.numel()
    parts["other"] = other * config.other_bits
    parts["total"] = sum(parts.values())
    return parts


def dense_bits(model: nn.Module) -> int:
    """The uncompressed fp32 model: 32 bits per parameter (the numerator of the compression ratio)."""
    return 32 * sum(p.numel() for p in model.parameters())


def largest_k_within(model: nn.Module, config: CompressionConfig, budget_bits: int, *, k_min: int = 2,
                     k_max: int = 65_536, example_input: Any = None) -> int | None:
    """The largest ``k`` in ``[k_min, k_max]`` with ``planned_bits(...)['total'] <= budget_bits``.

    Total bits never decrease as ``k`` grows (more code bits and more codewords; per-layer clamps
    only cap the growth), so a binary search is exact. Returns None when even ``k_min`` is over
    budget.
    """
    def total(k: int) -> int:
        return planned_bits(model, config.replace(k=k), example_input)["total"]

    # beyond the largest layer's subvector count every layer's k is clamped: nothing changes
    n_subs = [p.n_subvectors for p in plan_model(model, config.replace(k=k_min), example_input) if p.compressed]
    k_max = min(k_max, max(n_subs, default=k_min))
    if total(k_min) > budget_bits:
        return None
    lo, hi = k_min, k_max
    if total(hi) <= budget_bits:
        return hi
    while hi - lo > 1:  # invariant: total(lo) <= budget < total(hi)
        mid = (lo + hi) // 2
        if total(mid) <= budget_bits:
            lo = mid
        else:
            hi = mid
    return lo


__all__ = ["planned_bits", "dense_bits", "largest_k_within"]
