"""Masked-gradient codebook fine-tuning with fixed codes and masks (MVQ §1.5, PQF/BGD style).

Why this shape: after clustering, every compressed weight is fully described by
``W = from_subvectors(mask * codebook[codes], shape, layout)``. If the network's weight *is* that
expression, autograd gives exactly the MVQ update rule for free:

* ``codebook[codes]`` is a gather, so its backward is an index-add: the gradient of codeword ``j``
  is the sum of ``dL/dW_i`` over the subvectors ``i`` assigned to ``j``;
* the multiplication by ``mask`` zeroes ``dL/dW`` at pruned positions, so pruned weights never
  contribute to a codeword's gradient and stay exactly zero in the rebuilt weight.

The codes and masks are buffers (never trained): only the codebooks, and — unless frozen — BN and
the uncompressed layers (first conv, biases, ...) get gradients. The rebuilt weight is installed
with `torch.nn.utils.parametrize`, so any model / DataLoader / loss works unchanged.

At the end the codebooks are re-quantised to the layer's integer width (symmetric per layer,
`compress.quantize`); with ``straight_through=True`` they are also fake-quantised in every forward
pass (straight-through estimator), so training sees the integer codebook the hardware will use.
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from compress.layout import from_subvectors
from compress.quantize import FLOAT_BITS, quantize_symmetric
from workloads.errors import ArchsimInputError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_BN_TYPES = (nn.modules.batchnorm._BatchNorm,)


@dataclass(frozen=True)
class FinetuneConfig:
    """Knobs of `finetune_codebooks`.

    Defaults follow PQF's fine-tuning recipe where the MVQ paper is silent (mvq.md §1.2 [I]):
    Adam with ``lr = 1e-3`` decayed by a cosine schedule to ``lr_min = 1e-6`` over all steps.

    epochs: passes over the loader.
    lr, lr_min: Adam learning rate at the start / end of the cosine schedule (``lr_min = lr``
        gives a constant rate).
    weight_decay: Adam (L2) weight decay on the *uncompressed* parameters only; codebooks get none
        (decaying a codeword would shrink every weight assigned to it).
    codebook_lr: learning rate of the codebooks; ``None`` = ``lr``.
    freeze_uncompressed: if True, only the codebooks train; BN affine parameters, biases and dense
        layers stay fixed.
    freeze_bn_stats: if True, BatchNorm layers run in eval mode (running statistics frozen).
    straight_through: fake-quantise the codebooks to their integer width in every forward pass
        (STE) instead of only once at the end.
    max_steps: stop after this many optimiser steps (None = all epochs); for quick runs and tests.
    seed: seeds torch, numpy and `random` before training, so a loader that shuffles with the
        default generator (and dropout) is reproducible: same seed -> same result on one device.
    progress: show a tqdm progress bar.
    device: where training runs (``cpu`` or ``cuda[:N]``).
    """

    epochs: int = 3
    lr: float = 1e-3
    lr_min: float = 1e-6
    weight_decay: float = 0.0
    codebook_lr: float | None = None
    freeze_uncompressed: bool = False
    freeze_bn_stats: bool = False
    straight_through: bool = False
    max_steps: int | None = None
    seed: int = 0
    progress: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not isinstance(self.epochs, int) or isinstance(self.epochs, bool) or self.epochs < 0:
            raise ArchsimInputError(f"finetune config: epochs must be an integer >= 0, got {self.epochs!r}")
        for name in ("lr", "lr_min"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ArchsimInputError(f"finetune config: {name} must be a finite number >= 0, got {value!r}")
        if self.lr_min > self.lr:
            raise ArchsimInputError(f"finetune config: lr_min ({self.lr_min}) must not exceed lr ({self.lr})")
        if self.codebook_lr is not None and not (math.isfinite(self.codebook_lr) and self.codebook_lr >= 0):
            raise ArchsimInputError(f"finetune config: codebook_lr must be a finite number >= 0 or None, "
                                    f"got {self.codebook_lr!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ArchsimInputError(f"finetune config: weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise ArchsimInputError(f"finetune config: max_steps must be a positive integer or None, "
                                    f"got {self.max_steps!r}")


class MaskedCodebookWeight(nn.Module):
    """Parametrization: ``weight = from_subvectors(mask * q(codebook)[codes], shape, layout)``.

    The original weight passed to `forward` is ignored (it is replaced, not transformed). ``q`` is
    the identity, or the symmetric fake-quantiser with a straight-through gradient.
    """

    def __init__(self, codebook: torch.Tensor, codes: torch.Tensor, mask: torch.Tensor | None,
                 shape: tuple[int, ...], layout: str, bits: int, straight_through: bool) -> None:
        super().__init__()
        self.codebook = nn.Parameter(codebook.detach().float().clone())
        self.register_buffer("codes", codes.detach().long().clone())
        full = torch.ones(codes.numel(), codebook.shape[1]) if mask is None else mask.detach()
        self.register_buffer("mask", full.to(torch.float32).clone())
        self.shape = tuple(int(s) for s in shape)
        self.layout = layout
        self.bits = int(bits)
        self.straight_through = bool(straight_through)

    def quantised_codebook(self) -> torch.Tensor:
        if not self.straight_through or self.bits == FLOAT_BITS:
            return self.codebook
        qmax = 2 ** (self.bits - 1) - 1
        scale = self.codebook.detach().abs().max().clamp_min(torch.finfo(torch.float32).tiny) / qmax
        fake = torch.clamp(torch.round(self.codebook / scale), -qmax, qmax) * scale
        return self.codebook + (fake - self.codebook).detach()

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        subvectors = self.quantised_codebook()[self.codes] * self.mask
        return from_subvectors(subvectors, self.shape, self.layout).to(original.dtype)


@dataclass
class FinetuneResult:
    """What `finetune_codebooks` returns.

    compressed: a new CompressedModel whose layers carry the trained, re-quantised codebooks (codes
        and masks are the input's, unchanged) and whose ``model`` is the trained module with the
        original dense weights in the compressed layers (so ``apply()`` == ``module``).
    module: the trained ``nn.Module`` with plain weights equal to ``compressed``'s reconstruction.
    losses: the training loss of every optimiser step.
    """

    compressed: Any
    module: nn.Module
    losses: list[float] = field(default_factory=list)


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _layer_bits(layer: Any) -> int:
    """Integer width of what the layer stores per value (codebook entries, or kept N:M values)."""
    return int(layer.config.value_bits if layer.method == "nm" else layer.config.codebook_bits)


def _trainable_parts(layer: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(codebook, codes, mask) that rebuild ``layer``.

    A plain N:M layer has no codebook: its kept values are one "codeword" per subvector
    (``codes = arange``), so the same parametrization trains them and keeps pruned ones at zero.
    """
    if layer.method == "nm":
        return layer.values.float(), torch.arange(layer.values.shape[0]), layer.mask
    return layer.codebook.float(), layer.codes, layer.mask


def attach_parametrizations(module: nn.Module, layers: dict[str, Any], *,
                            straight_through: bool = False) -> dict[str, MaskedCodebookWeight]:
    """Replace the weight of every compressed layer of ``module`` (in place) by its rebuilt tensor."""
    params: dict[str, MaskedCodebookWeight] = {}
    for name, layer in layers.items():
        try:
            sub = module.get_submodule(name)
        except AttributeError:
            raise ArchsimInputError(f"compressed layer {name!r} is not a submodule of the model to fine-tune") from None
        if tuple(sub.weight.shape) != tuple(layer.shape):
            raise ArchsimInputError(f"compressed layer {name!r}: stored shape {tuple(layer.shape)} differs from the "
                                    f"model's weight shape {tuple(sub.weight.shape)}")
        codebook, codes, mask = _trainable_parts(layer)
        p = MaskedCodebookWeight(codebook, codes, mask, tuple(layer.shape), layer.layout, _layer_bits(layer),
                                 straight_through)
        p.to(sub.weight.device)
        parametrize.register_parametrization(sub, "weight", p, unsafe=True)
        sub.parametrizations.weight.original.requires_grad_(False)
        params[name] = p
    return params


def _requantised_layer(layer: Any, codebook: torch.Tensor) -> Any:
    """A copy of ``layer`` with ``codebook`` quantised to the layer's width (codes, mask unchanged)."""
    q = quantize_symmetric(codebook.detach().cpu().float(), _layer_bits(layer))
    values = q.dequantize() if q.bits != FLOAT_BITS else q.values
    if layer.method == "nm":
        return replace(layer, values=values * layer.mask, values_int=q.values * layer.mask, scale=q.scale)
    return replace(layer, codebook=values, codebook_int=q.values, scale=q.scale)


def _make_compressed(compressed: Any, layers: dict[str, Any], trained: nn.Module) -> Any:
    """A new CompressedModel: the trained module as ``model`` but with the *original* dense weights in
    the compressed layers, so ``apply()`` gives the trained network and ``stats()`` still measures the
    reconstruction error against the weights that were compressed."""
    reference = copy.deepcopy(trained).cpu()
    originals = dict(compressed.model.named_modules())
    errors = {}
    with torch.no_grad():
        for name, layer in layers.items():
            original = originals[name].weight.detach()
            reference.get_submodule(name).weight.copy_(original)
            errors[name] = layer.errors(original)
    return replace(compressed, layers=layers, model=reference, layer_errors=errors)


def _set_train_mode(module: nn.Module, freeze_bn_stats: bool) -> None:
    module.train()
    if freeze_bn_stats:
        for m in module.modules():
            if isinstance(m, _BN_TYPES):
                m.eval()


def train_loop(module: nn.Module, param_groups: list[dict], loader: Iterable, config: FinetuneConfig,
               loss_fn: LossFn, *, batch_fn: Callable[[Any], tuple[Any, torch.Tensor]] | None = None,
               desc: str = "train") -> list[float]:
    """Adam over ``param_groups`` with the cosine schedule of ``config`` (``lr`` -> ``lr_min`` over all
    steps), ``config.epochs`` passes over ``loader`` (or ``max_steps``); returns every step's loss.

    Shared by codebook fine-tuning and `compress.retrain` so every training stage of a pipeline uses
    the same optimiser, schedule, device handling and divergence check. ``module`` is left in eval mode.
    """
    device = torch.device(config.device)
    optimiser = torch.optim.Adam(param_groups)
    try:
        steps_per_epoch = len(loader)  # type: ignore[arg-type]
    except TypeError:
        steps_per_epoch = None
    total = config.epochs * steps_per_epoch if steps_per_epoch is not None else None
    if config.max_steps is not None:
        total = min(total, config.max_steps) if total is not None else config.max_steps
    scheduler = None
    if total and config.lr_min < config.lr:
        ratio = config.lr_min / config.lr

        def factor(step: int) -> float:  # cosine from 1 to lr_min/lr over `total` steps
            t = min(step / max(total, 1), 1.0)
            return ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * t))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, [factor] * len(optimiser.param_groups))

    from tqdm.auto import tqdm

    losses: list[float] = []
    bar = tqdm(total=total, desc=desc, disable=not config.progress, leave=False)
    step = 0
    _set_train_mode(module, config.freeze_bn_stats)
    done = False
    for _epoch in range(config.epochs):
        for batch in loader:
            inputs, targets = batch_fn(batch) if batch_fn is not None else batch
            inputs = inputs.to(device) if isinstance(inputs, torch.Tensor) else inputs
            targets = targets.to(device) if isinstance(targets, torch.Tensor) else targets
            loss = loss_fn(module(inputs), targets)
            if not torch.isfinite(loss):
                raise ArchsimInputError(f"{desc} diverged at step {step} (loss {loss.item()}); lower lr")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if config.max_steps is not None and step >= config.max_steps:
                done = True
                break
        if done:
            break
    bar.close()
    module.eval()
    return losses


def finetune_codebooks(compressed: Any, loader: Iterable, loss_fn: LossFn | None = None,
                       config: FinetuneConfig | None = None, *, model: nn.Module | None = None,
                       batch_fn: Callable[[Any], tuple[Any, torch.Tensor]] | None = None,
                       desc: str = "fine-tune codebooks") -> FinetuneResult:
    """Fine-tune the codebooks of ``compressed`` (a `CompressedModel`) on ``loader``.

    Parameters
    ----------
    compressed: the output of `compress.model.compress_model`; its ``layers`` give codebooks, codes,
        masks and layouts, and its ``apply()`` gives the starting module (a deep copy is trained; the
        input is never modified).
    loader: any iterable of batches (e.g. a DataLoader); by default a batch is ``(inputs, targets)``.
    loss_fn: ``loss_fn(outputs, targets) -> scalar``; default cross-entropy.
    config: see `FinetuneConfig`.
    model: start from this module instead of ``compressed.apply()`` (its compressed layers' weights
        are replaced anyway).
    batch_fn: maps a batch to ``(inputs, targets)`` when batches have another structure.
    desc: label of the progress bar and of the divergence error.
    """
    config = config or FinetuneConfig()
    loss_fn = loss_fn or nn.functional.cross_entropy
    if not getattr(compressed, "layers", None):
        raise ArchsimInputError("fine-tuning needs a CompressedModel with at least one compressed layer")
    _seed_everything(config.seed)
    device = torch.device(config.device)
    module = copy.deepcopy(model if model is not None else compressed.apply()).to(device)
    params = attach_parametrizations(module, compressed.layers, straight_through=config.straight_through)

    codebooks = [p.codebook for p in params.values()]
    codebook_ids = {id(c) for c in codebooks}
    others = [p for p in module.parameters() if p.requires_grad and id(p) not in codebook_ids]
    if config.freeze_uncompressed:
        for p in others:
            p.requires_grad_(False)
        others = []
    groups = [{"params": codebooks, "lr": config.codebook_lr if config.codebook_lr is not None else config.lr,
               "weight_decay": 0.0}]
    if others:
        groups.append({"params": others, "lr": config.lr, "weight_decay": config.weight_decay})
    losses = train_loop(module, groups, loader, config, loss_fn, batch_fn=batch_fn, desc=desc)

    new_layers = {name: _requantised_layer(layer, params[name].codebook)
                  for name, layer in compressed.layers.items()}
    for name, layer in new_layers.items():  # bake the re-quantised reconstruction into plain weights
        sub = module.get_submodule(name)
        parametrize.remove_parametrizations(sub, "weight", leave_parametrized=False)
        with torch.no_grad():
            sub.weight.copy_(layer.reconstruct().to(sub.weight.device, sub.weight.dtype))
        sub.weight.requires_grad_(True)
    for p in module.parameters():
        p.requires_grad_(True)
    return FinetuneResult(compressed=_make_compressed(compressed, new_layers, module), module=module, losses=losses)


__all__ = ["FinetuneConfig", "FinetuneResult", "MaskedCodebookWeight", "attach_parametrizations",
           "finetune_codebooks", "train_loop"]
