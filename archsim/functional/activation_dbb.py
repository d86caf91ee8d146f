"""Functional mode for activation sparsity: S2TA's DBB-izer on real int activations (numpy only).

The timing model (`archsim.mapping.activation_sparsity`) streams, per block of M consecutive input
channels of a pixel, only the N entries the DBB-izer keeps. Functionally that is:

1. **DBB-izer** (`dbb_encode`): for every block, keep the N activations of largest magnitude — ties
   go to the lower channel position (a stable sort on ``-|a|``) — and emit them as (value, index in
   the block) pairs, zero-padded when a block has fewer than N non-zeros. Blocks are M consecutive
   channels *within a group* at one pixel (conv) or M consecutive features (linear); the layer must
   have whole blocks, otherwise it runs dense (the timing model's rule).
2. **The array's view** (`dbb_decode`): each PE step selects its operand through the entry's index,
   i.e. every (value, index) pair lands at its channel; positions no pair names are zero. The sum the
   array then computes over the folds (`archsim.functional.run_functional`, unchanged) is the layer on
   the DBB-pruned activations — the outputs must equal torch's convolution on the sparse weights and
   the pruned activations, which `reference_dbb_prune` computes independently (torch, stable sort).
3. **Counts**: time-unrolling makes every PE spend N/M of its dense MAC steps, so the functional
   counters of MAC slots, kept-weight MACs and mux selects are the fold walk's counts x N/M
   (`time_unrolled`) — what the timing model's events count; the DBB-izer blocks are those the
   write-back DBB-izer prunes on the layer's *output* tensor (one top-N per block of M output channels
   at a pixel), counted by running `dbb_encode` on the outputs.

`ActivationStage` is the hook `archsim.functional.check.check_layer` uses: ``None`` when the design
streams the layer's activations dense.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind


def _blocked(layer: Layer, x: np.ndarray, m: int, channels: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """``x`` (conv ``[B, C, H, W]``, linear ``[B, rows, F]``) as ``[blocks, m]``, and the permuted shape to undo."""
    groups = layer.groups if layer.kind is LayerKind.CONV else 1
    cg = channels // groups
    if cg % m:
        raise ArchsimInputError(f"layer {layer.name!r}: {cg} channels per group do not form blocks of "
                                f"activations.dbb_m = {m}; such a layer runs with dense activations")
    if layer.kind is LayerKind.CONV:
        moved = np.moveaxis(x, 1, -1)                  # [B, H, W, C]: a block = m consecutive channels of one pixel
    else:
        moved = x
    return moved.reshape(-1, m), moved.shape


def _unblocked(layer: Layer, blocks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    y = blocks.reshape(shape)
    return np.moveaxis(y, -1, 1) if layer.kind is LayerKind.CONV else y


@dataclass(frozen=True)
class DbbEncoded:
    """The DBB-izer's output: ``values[b, j]`` at position ``indices[b, j]`` of block ``b`` (j < N)."""

    values: np.ndarray
    indices: np.ndarray
    shape: tuple[int, ...]         # the permuted (channel-last) tensor shape
    n: int
    m: int

    @property
    def blocks(self) -> int:
        return int(self.values.shape[0])


def dbb_encode(layer: Layer, x: np.ndarray, n: int, m: int, channels: int | None = None) -> DbbEncoded:
    """Top-``n`` of every block of ``m`` by magnitude, ties to the lower position (see the module docstring)."""
    if not 1 <= n <= m:
        raise ArchsimInputError(f"activation DBB needs 1 <= N <= M, got {n}:{m}")
    x = np.asarray(x, dtype=np.int64)
    chans = layer.in_channels if channels is None else channels
    blocks, shape = _blocked(layer, x, m, chans)
    order = np.argsort(-np.abs(blocks), axis=1, kind="stable")[:, :n]
    values = np.take_along_axis(blocks, order, axis=1)
    return DbbEncoded(values=values, indices=order, shape=shape, n=n, m=m)


def dbb_decode(layer: Layer, enc: DbbEncoded) -> np.ndarray:
    """Every (value, index) pair at its channel, zeros elsewhere, in the layer's input layout."""
    dense = np.zeros((enc.blocks, enc.m), dtype=np.int64)
    np.put_along_axis(dense, enc.indices, enc.values, axis=1)
    return _unblocked(layer, dense, enc.shape)


def reference_dbb_prune(layer: Layer, x: np.ndarray, n: int, m: int) -> np.ndarray:
    """The same pruning written independently in torch (stable descending sort of |x| per block)."""
    import torch

    t = torch.as_tensor(np.asarray(x, dtype=np.int64))
    if layer.kind is LayerKind.CONV:
        b, c, h, w = t.shape
        g = layer.groups
        blocks = t.reshape(b, g, c // g // m, m, h, w)
        keep_dim = 3
    else:
        blocks = t.reshape(*t.shape[:-1], t.shape[-1] // m, m)
        keep_dim = blocks.dim() - 1
    order = torch.sort(blocks.abs(), dim=keep_dim, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    pos = torch.arange(m).reshape([m if d == keep_dim else 1 for d in range(blocks.dim())]).expand_as(order)
    rank.scatter_(keep_dim, order, pos)
    return (blocks * (rank < n)).reshape(t.shape).numpy()


def time_unrolled(counts: Any, factor: Fraction) -> Any:
    """MAC-step counters of a fold walk on dense activations x N/M (rounded to whole steps)."""
    if factor == 1:
        return counts
    scale = lambda v: round(Fraction(v) * factor)      # noqa: E731
    return dataclasses.replace(counts, macs=scale(counts.macs), kept_macs=scale(counts.kept_macs),
                               zero_weight_macs=scale(counts.zero_weight_macs),
                               mux_selects=scale(counts.mux_selects))


@dataclass(frozen=True)
class ActivationStage:
    """What functional mode does to one layer's activations on one design (see the module docstring)."""

    layer: Layer
    design: Any
    plan: Any                       # archsim.mapping.activation_sparsity.ActivationPlan

    @classmethod
    def of(cls, layer: Layer, design: Any, trace: Any) -> "ActivationStage | None":
        from archsim.mapping.activation_sparsity import plan_activations

        if design.activations.sparsity == "none":
            return None
        return cls(layer, design, plan_activations(layer, design, trace))

    @property
    def prunes(self) -> bool:
        return self.plan.mode == "dbb"

    def prune(self, x: np.ndarray) -> np.ndarray:
        """The activations as the array sees them: DBB-izer, then the index-driven selection."""
        if not self.prunes:
            return x
        return dbb_decode(self.layer, dbb_encode(self.layer, x, self.plan.n, self.plan.m))

    def reference(self, x: np.ndarray) -> np.ndarray:
        return reference_dbb_prune(self.layer, x, self.plan.n, self.plan.m) if self.prunes else x

    def scale(self, result: Any) -> Any:
        return dataclasses.replace(result, counts=time_unrolled(result.counts, self.plan.factor))

    def output_blocks(self, outputs: np.ndarray) -> int:
        """Blocks the write-back DBB-izer prunes on this layer's outputs (0 when its channels do not tile)."""
        m = self.design.activations.dbb_m
        layer = self.layer
        out_ch = layer.out_channels
        groups = layer.groups if layer.kind is LayerKind.CONV else 1
        if layer.kind is LayerKind.MATMUL or (out_ch // groups) % m:
            return 0
        return dbb_encode(layer, outputs, m, m, channels=out_ch).blocks

    def adjust(self, checks: tuple, result: Any, outputs: np.ndarray, events: Any) -> tuple:
        """The count checks of `archsim.functional.check.compare_counts`, adapted to activation sparsity."""
        from archsim.functional.check import CountCheck

        if self.plan.mode == "gating":
            why = "zero-value clock gating: the timing model gates 1 - density of them (data-dependent)"
            return tuple(CountCheck(c.name, c.functional, None, False, why)
                         if c.name in ("executed MACs", "gated MACs") else c for c in checks)
        if self.design.activations.sparsity != "dbb":
            return checks
        timing = float(events.get(("dbbizer", "block"), 0.0))
        if self.design.activations.compressed_storage:
            extra = CountCheck("DBB-izer blocks", self.output_blocks(outputs), timing, True,
                               "write-back DBB-izer on the layer's outputs")
        else:
            extra = CountCheck("DBB-izer blocks", 0, None, False,
                               "read-port DBB-izer: timing counts the EWS input-buffer reads")
        return (*checks, extra)


__all__ = ["ActivationStage", "DbbEncoded", "dbb_decode", "dbb_encode", "reference_dbb_prune", "time_unrolled"]
