"""Measured activation statistics: how dense each layer's *input* really is, on real data.

Designs that exploit activation sparsity (S2TA's run-time activation DBB, SA-ZVCG's zero gating;
``archsim.mapping.activation_sparsity``) need, per layer, the fraction of non-zero input activations
— a property of the model *and the data*, not of the weights. This module measures it by running a
torch model on a data loader (or tensors) with forward hooks, and attaches the numbers to the
layers' `compress.trace.Trace`s (``act_density``, optionally ``act_dbb_n/act_dbb_m``), the only thing
archsim reads. Torch-only: nothing here imports archsim.

What is measured (`measure_activation_stats`)
---------------------------------------------
* Every ``nn.Conv1d`` / ``nn.Conv2d`` / ``nn.Linear`` module call, named as `workloads.from_torch`
  names the layer it runs: the module's qualified name, and ``name#k`` for its k-th call in one
  forward pass (k >= 2). Convs/linears computed by functional calls inside another module's forward
  are not hooked (they have no module), so their layers get no statistics.
* ``nonzero / total`` over the layer's input tensor (padding excluded: it is generated, not stored),
  summed over every batch: ``density``. Measured on the model's float activations, where ReLU makes
  exact zeros; int8 quantisation can only turn more small values into zeros.
* With ``block_m``: the histogram of non-zeros per DBB block — ``block_m`` consecutive input channels
  (per group) at one pixel for a conv, consecutive features for a linear layer, the blocking S2TA's
  DBB-izer applies (archsim ``activations.dbb_m``). Layers whose channels per group are not a multiple
  of ``block_m`` have no blocks (``block_hist`` is None).

`attach_activation_stats(traces, stats)` returns the traces with ``act_density`` set (and, with
``dbb_coverage``, ``act_dbb_n`` = the smallest N that at least that fraction of blocks fit, and
``act_dbb_m = block_m``; coverage 1.0 is the lossless bound). Layers without statistics keep their
traces unchanged. A layer whose input was all zeros on the data has no density in (0, 1]: one clear
error names it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import nn

from compress.trace import Trace
from workloads.errors import ArchsimInputError

HOOKED = (nn.Conv1d, nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class ActivationStats:
    """Non-zero counts of one layer's input over all measured batches."""

    layer: str
    nonzero: int
    total: int
    block_m: int | None = None
    #: blocks with exactly j non-zeros, j = 0 .. block_m (None: no blocking asked, or channels not whole blocks)
    block_hist: tuple[int, ...] | None = None

    @property
    def density(self) -> float:
        return self.nonzero / self.total if self.total else 0.0

    def dbb_n(self, coverage: float = 1.0) -> int:
        """The smallest N such that at least ``coverage`` of the blocks hold <= N non-zeros (>= 1)."""
        if self.block_hist is None or self.block_m is None:
            raise ArchsimInputError(f"layer {self.layer!r}: no per-block statistics (measure with block_m, and the "
                                    f"layer's input channels per group must be a multiple of it)")
        if not 0.0 < coverage <= 1.0:
            raise ArchsimInputError(f"dbb_coverage must be in (0, 1], got {coverage}")
        blocks = sum(self.block_hist)
        need = math.ceil(coverage * blocks - 1e-9)
        running = 0
        for n, count in enumerate(self.block_hist):
            running += count
            if running >= need:
                return max(1, n)
        return self.block_m


def _batches(data: Any) -> Iterable[Any]:
    """A tensor is one batch; an iterable yields batches (a tuple/list batch: its first element is the input)."""
    if isinstance(data, torch.Tensor):
        return [data]
    return data


def _input_of(batch: Any) -> Any:
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ArchsimInputError("a batch of the data is empty; give tensors or (input, target) pairs")
        return batch[0]
    if isinstance(batch, Mapping):
        raise ArchsimInputError("dict batches are not supported; give tensors or (input, target) pairs")
    return batch


def _blocks(x: torch.Tensor, module: nn.Module, m: int) -> torch.Tensor | None:
    """Non-zeros per block of ``m`` consecutive channels (per group) at each pixel; None if channels do not tile."""
    if isinstance(module, nn.Linear):
        feats = x.shape[-1]
        if feats % m:
            return None
        return (x.reshape(-1, feats // m, m) != 0).sum(dim=-1).reshape(-1)
    groups = module.groups
    c = x.shape[1]
    cg = c // groups
    if cg % m:
        return None
    rest = x.shape[2:]
    xb = x.reshape(x.shape[0], groups, cg // m, m, *rest)
    return (xb != 0).sum(dim=3).reshape(-1)


class _Recorder:
    """Forward pre-hooks that accumulate the statistics of every hooked module call."""

    def __init__(self, block_m: int | None) -> None:
        self.block_m = block_m
        self.calls: dict[str, int] = {}
        self.nonzero: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.hist: dict[str, torch.Tensor | None] = {}

    def start_pass(self) -> None:
        self.calls = {}

    def hook(self, name: str):
        def pre(module: nn.Module, args: tuple) -> None:
            if not args or not isinstance(args[0], torch.Tensor):
                return
            x = args[0].detach()
            k = self.calls.get(name, 0) + 1
            self.calls[name] = k
            key = name if k == 1 else f"{name}#{k}"
            self.nonzero[key] = self.nonzero.get(key, 0) + int(torch.count_nonzero(x))
            self.total[key] = self.total.get(key, 0) + x.numel()
            if self.block_m:
                counts = _blocks(x, module, self.block_m)
                if counts is None:
                    self.hist[key] = None
                elif self.hist.get(key, 0) is not None:
                    h = torch.bincount(counts, minlength=self.block_m + 1)
                    self.hist[key] = h if key not in self.hist else self.hist[key] + h
        return pre


def measure_activation_stats(model: nn.Module, data: Any, *, block_m: int | None = None,
                             max_batches: int | None = None) -> dict[str, ActivationStats]:
    """Run ``model`` (eval mode, no grad) on ``data`` and return each hooked layer's input statistics.

    ``data``: a tensor (one batch), or an iterable of batches — tensors or ``(input, target, ...)``
    tuples such as a ``DataLoader`` yields. ``max_batches`` stops early. ``block_m`` adds the per-block
    non-zero histogram (see the module docstring)."""
    if not isinstance(model, nn.Module):
        raise ArchsimInputError(f"model must be a torch nn.Module, got {type(model).__name__}")
    if block_m is not None and (not isinstance(block_m, int) or isinstance(block_m, bool) or block_m < 2):
        raise ArchsimInputError(f"block_m must be an integer >= 2 (the DBB block size), got {block_m!r}")
    if max_batches is not None and (not isinstance(max_batches, int) or max_batches < 1):
        raise ArchsimInputError(f"max_batches must be a positive integer, got {max_batches!r}")
    rec = _Recorder(block_m)
    handles = [mod.register_forward_pre_hook(rec.hook(name)) for name, mod in model.named_modules()
               if isinstance(mod, HOOKED)]
    if not handles:
        raise ArchsimInputError(f"model {type(model).__name__} has no Conv1d/Conv2d/Linear module to measure")
    was_training = model.training
    model.eval()
    seen = 0
    try:
        with torch.no_grad():
            for batch in _batches(data):
                if max_batches is not None and seen >= max_batches:
                    break
                rec.start_pass()
                model(_input_of(batch))
                seen += 1
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if not seen:
        raise ArchsimInputError("the data yielded no batch; give at least one input tensor")
    out = {}
    for key, total in rec.total.items():
        hist = rec.hist.get(key) if block_m else None
        out[key] = ActivationStats(layer=key, nonzero=rec.nonzero[key], total=total, block_m=block_m,
                                   block_hist=None if hist is None else tuple(int(v) for v in hist.tolist()))
    return out


def attach_activation_stats(traces: Sequence[Trace], stats: Mapping[str, ActivationStats], *,
                            dbb_coverage: float | None = None) -> list[Trace]:
    """The traces with their layer's measured ``act_density`` (and DBB bound with ``dbb_coverage``).

    Traces of layers without statistics are returned unchanged; statistics of layers that have no
    trace are ignored (a network may hold fewer layers than the model runs, e.g. with exclusions)."""
    out = []
    for trace in traces:
        s = stats.get(trace.layer.name)
        if s is None:
            out.append(trace)
            continue
        if s.nonzero == 0:
            raise ArchsimInputError(f"layer {trace.layer.name!r}: every input activation was zero on the data "
                                    f"given ({s.total} values), so its density is not in (0, 1]; measure on "
                                    f"real inputs or more batches")
        changes: dict[str, Any] = {"act_density": s.density}
        if dbb_coverage is not None and s.block_hist is not None:
            changes.update(act_dbb_n=s.dbb_n(dbb_coverage), act_dbb_m=s.block_m)
        out.append(replace(trace, **changes))
    return out


__all__ = ["ActivationStats", "attach_activation_stats", "measure_activation_stats"]
