"""Weight retraining *before* clustering: N:M sparse retraining, and its dense control.

Why this stage exists: pruning 50-75% of a trained network's weights in one shot costs accuracy
that codebook fine-tuning alone (only ``k x d`` values per layer train) cannot fully buy back.
The usual N:M recipe (NVIDIA ASP, SR-STE) is *prune, then retrain the kept weights with the mask
fixed*; the MVQ paper's text available to us does not say whether it retrains between pruning and
clustering (mvq.md §1.2 [U]), so this is an optional, separately reported stage:

    dense model -> retrain_nm (mask fixed, kept weights train) -> masked k-means -> codebook fine-tuning

`retrain_dense` gives a VQ pipeline the same number of extra training epochs with no constraint,
so comparisons that retrain one method retrain every method equally.

Implementation: N:M retraining *is* codebook fine-tuning of the ``nm`` method with float values
(`compress.layer.compress_weight_nm` stores one "codeword" per subvector, so every kept weight is
its own trainable value and pruned positions are multiplied by 0 in forward and backward). The
masks are the magnitude N:M masks of the dense weights (``compression.importance``), computed once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
from torch import nn

from compress.config import CompressionConfig
from compress.finetune import FinetuneConfig, LossFn, _seed_everything, finetune_codebooks, train_loop
from compress.quantize import FLOAT_BITS
from workloads.errors import ArchsimInputError


@dataclass
class RetrainResult:
    """What `retrain_nm` returns.

    module: the retrained network; in every N:M-pruned layer the pruned positions are exactly 0.
    masks: layer name -> bool mask ``[n_subvectors, d]`` in the layer's subvector layout (the masks
        the retraining kept fixed).
    losses: the training loss of every optimiser step.
    """

    module: nn.Module
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)


def nm_retrain_config(n: int, m: int, compression: CompressionConfig | None = None) -> CompressionConfig:
    """The ``nm`` config that retraining uses: ``compression``'s layer choice (exclusions, first conv,
    depthwise, layout, importance) with N:M = ``n:m``, float values and ``d = m``.

    ``d = m`` is the smallest subvector that holds one group; with the ``input_channel`` layout the
    groups sit at the same channel offsets for every ``d`` divisible by ``m``, so a later VQ step with
    any such ``d`` finds the same mask by magnitude (pruned weights are 0, kept ones are not).
    """
    base = compression or CompressionConfig()
    if base.linear_method not in (None, "mvq", "prune_vq", "nm"):
        raise ArchsimInputError(f"retrain_nm: the compression config's linear_method={base.linear_method!r} leaves "
                                "fully connected layers unmasked; retrain with linear_method=None (or exclude "
                                "them via `exclude`) so the retrained and the clustered layers agree")
    return base.replace(method="nm", linear_method=None, n=n, m=m, d=m, linear_d=None, linear_k=None, value_bits=FLOAT_BITS)


def retrain_nm(model: nn.Module, loader: Iterable, n: int, m: int, *, compression: CompressionConfig | None = None,
               config: FinetuneConfig | None = None, loss_fn: LossFn | None = None,
               batch_fn: Callable[[Any], tuple[Any, torch.Tensor]] | None = None) -> RetrainResult:
    """Prune ``model`` N:M by magnitude and retrain the kept weights (mask fixed) on ``loader``.

    ``compression`` chooses which layers are pruned (its exclusions, first-conv and depthwise rules;
    default `CompressionConfig()`), ``config`` the optimiser and epochs (`FinetuneConfig`; all other
    parameters — BN, biases, dense layers — train too unless ``freeze_uncompressed``). The input
    model is not modified.
    """
    from compress.model import compress_model

    config = config or FinetuneConfig()
    pruned = compress_model(model, nm_retrain_config(n, m, compression), progress=False)
    if not pruned.layers:
        raise ArchsimInputError("retrain_nm: no layer of the model is N:M-prunable under this config "
                                "(all excluded?); nothing to retrain")
    result = finetune_codebooks(pruned, loader, loss_fn, config, model=model, batch_fn=batch_fn,
                                desc=f"retrain {n}:{m}")
    masks = {name: layer.mask.clone() for name, layer in result.compressed.layers.items()}
    return RetrainResult(module=result.module, masks=masks, losses=result.losses)


def retrain_dense(model: nn.Module, loader: Iterable, *, config: FinetuneConfig | None = None,
                  loss_fn: LossFn | None = None,
                  batch_fn: Callable[[Any], tuple[Any, torch.Tensor]] | None = None) -> RetrainResult:
    """The control for `retrain_nm`: the same optimiser, schedule and epochs with no mask (all
    parameters train). The input model is not modified."""
    config = config or FinetuneConfig()
    _seed_everything(config.seed)
    module = copy.deepcopy(model).to(torch.device(config.device))
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ArchsimInputError("retrain_dense: the model has no trainable parameter")
    groups = [{"params": params, "lr": config.lr, "weight_decay": config.weight_decay}]
    losses = train_loop(module, groups, loader, config, loss_fn or nn.functional.cross_entropy, batch_fn=batch_fn,
                        desc="retrain dense")
    return RetrainResult(module=module, losses=losses)


__all__ = ["RetrainResult", "nm_retrain_config", "retrain_nm", "retrain_dense"]
