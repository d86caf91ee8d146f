"""Whole-model driver: compress every eligible conv/linear weight of an ``nn.Module``.

`compress_model` walks the conv/linear modules, asks `compress.policy.plan_layer` what to do
with each (the same rule `compress.traces.structural_traces` applies to a `Network`), runs the
per-layer compressor, and returns a `CompressedModel` with per-layer statistics, the model-size
accounting and `apply()`.

Model-size accounting (PQF `compute_model_nbits`, utils/model_size.py + state_dict_utils.py)
------------------------------------------------------------------------------------------
* compressed layers: ``ceil(log2 k)`` bits per code + ``k d codebook_bits`` + mask bits;
* uncompressed conv/linear weights (conv1, depthwise, ...) at ``dense_bits`` (fp32 in PQF);
* biases at ``bias_bits``;
* every other parameter (BatchNorm affine, LayerNorm, embeddings, ...) at ``other_bits``. PQF
  folds each BatchNorm into two vectors before counting, so running mean/var are *not* counted
  (``count_bn_running_stats`` adds them; mvq.md §1.7's "BN incl. running stats" is what that flag
  gives — and it yields the 28.2x/41.8x quoted there instead of PQF's 29x/43x).
* ``compression_ratio = 32 * #parameters / total bits``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn

from compress.config import CompressionConfig
from compress.layer import COMPRESSORS, CompressedLayer
from compress.policy import LayerPlan, check_exclusions, plan_layer
from workloads.errors import ArchsimInputError

#: Module types whose ``weight`` the compressors understand (out, in/groups[, kernel...]).
CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
LINEAR_TYPES = (nn.Linear,)


def weight_modules(model: nn.Module, example_input: Any = None) -> list[tuple[str, nn.Module]]:
    """(name, module) of every conv/linear module, in execution order when ``example_input`` is given
    (so "first conv" is the first one the data meets), else in registration order."""
    modules = [(name, mod) for name, mod in model.named_modules() if isinstance(mod, CONV_TYPES + LINEAR_TYPES)]
    if example_input is None:
        return modules
    order: list[str] = []
    names = {id(mod): name for name, mod in modules}
    hooks = [mod.register_forward_pre_hook(lambda mod, _inp: order.append(names[id(mod)]))
             for _, mod in modules]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            if isinstance(example_input, (tuple, list)):
                model(*example_input)
            else:
                model(example_input)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    seen: dict[str, None] = dict.fromkeys(order)
    rank = {name: i for i, name in enumerate(seen)}
    return sorted(modules, key=lambda item: rank.get(item[0], len(rank)))


def _kind(module: nn.Module) -> str:
    return "conv" if isinstance(module, CONV_TYPES) else "linear"


def plan_model(model: nn.Module, config: CompressionConfig, example_input: Any = None) -> list[LayerPlan]:
    """The policy's decision for every conv/linear module of ``model``."""
    plans, first_seen = [], False
    modules = weight_modules(model, example_input)
    check_exclusions(config, [name for name, _ in modules], f"the model ({type(model).__name__})")
    for name, module in modules:
        kind = _kind(module)
        is_first = kind == "conv" and not first_seen
        first_seen = first_seen or kind == "conv"
        plans.append(plan_layer(name, tuple(module.weight.shape), kind, config,
                                groups=getattr(module, "groups", 1), is_first_conv=is_first))
    return plans


@dataclass
class CompressedModel:
    """The result of `compress_model`: compressed layers plus everything needed to account for size."""

    model: nn.Module
    config: CompressionConfig
    layers: dict[str, CompressedLayer]
    plans: dict[str, LayerPlan]
    layer_errors: dict[str, dict[str, float]] = field(default_factory=dict)

    # ---- per layer ---------------------------------------------------------------------------
    def stats(self) -> pd.DataFrame:
        """One row per conv/linear layer (dense ones included, with the reason)."""
        modules = dict(self.model.named_modules())
        rows = []
        for name, plan in self.plans.items():
            module = modules[name]
            weights = module.weight.numel()
            bias = module.bias.numel() if getattr(module, "bias", None) is not None else 0
            if name in self.layers:
                layer = self.layers[name]
                bits = layer.storage_bits()
                errs = self.layer_errors.get(name) or layer.errors(module.weight)
                row = {"method": layer.method, "shape": "x".join(map(str, layer.shape)), "weights": weights,
                       "d": layer.d, "k": layer.k, "n": layer.n, "m": layer.m, "density": layer.density,
                       "iterations": layer.iterations_run, **errs, **bits}
            else:
                bits = {"codes": 0, "mask": 0, "codebook": 0, "dense": weights * self.config.dense_bits,
                        "bias": bias * self.config.bias_bits}
                row = {"method": "dense", "shape": "x".join(map(str, module.weight.shape)), "weights": weights,
                       "d": 0, "k": 0, "n": 1, "m": 1, "density": 1.0, "iterations": 0, "rel_err_kept": 0.0,
                       "rel_err_all": 0.0, **bits}
            weight_bits = bits["codes"] + bits["mask"] + bits["codebook"] + bits["dense"]
            row.update(weight_bits=weight_bits, ratio=32 * weights / max(weight_bits, 1), reason=plan.reason)
            rows.append({"layer": name, **row})
        return pd.DataFrame(rows).set_index("layer")

    # ---- whole model -------------------------------------------------------------------------
    def _other_params(self) -> int:
        modules = dict(self.model.named_modules())
        owned: set[int] = set()
        for name in self.plans:
            owned.add(id(modules[name].weight))
            if getattr(modules[name], "bias", None) is not None:
                owned.add(id(modules[name].bias))
        return _other_param_count(self.model, owned, self.config)

    def storage_bits(self) -> dict[str, int]:
        """Total model size in bits by part: codes, mask, codebook, dense (uncompressed conv/linear
        weights), bias, other (BN etc.), and total."""
        frame = self.stats()
        parts = {part: int(frame[part].sum()) for part in ("codes", "mask", "codebook", "dense", "bias")}
        parts["other"] = self._other_params() * self.config.other_bits
        parts["total"] = sum(parts.values())
        return parts

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def compression_ratio(self) -> float:
        """32 x #parameters / compressed size, as PQF reports it."""
        return 32 * self.n_params / self.storage_bits()["total"]

    def apply(self) -> nn.Module:
        """A deep copy of the model with every compressed weight replaced by its reconstruction."""
        clone = copy.deepcopy(self.model)
        modules = dict(clone.named_modules())
        with torch.no_grad():
            for name, layer in self.layers.items():
                weight = modules[name].weight
                weight.copy_(layer.reconstruct().to(weight.device, weight.dtype))
        return clone

    def traces(self, network) -> list:
        """Per-layer `Trace`s for ``network`` (see `compress.traces.traces_from_compressed`)."""
        from compress.traces import traces_from_compressed

        return traces_from_compressed(self, network)


def compress_model(model: nn.Module, config: CompressionConfig | None = None, example_input: Any = None, *,
                   progress: bool = True) -> CompressedModel:
    """Compress every eligible conv/linear layer of ``model`` (which is left untouched)."""
    config = config or CompressionConfig()
    unclustered = {config.method, config.linear_method or config.method} - set(COMPRESSORS)
    if unclustered:
        raise ArchsimInputError(
            f"compress_model clusters with {', '.join(sorted(COMPRESSORS))}; method {sorted(unclustered)[0]!r} "
            f"(unstructured magnitude pruning) has no codebook to build: prune each layer with "
            f"compress.unstructured.prune_layer (weights + a sparse Trace), or let archsim derive structural "
            f"sparse traces (CompressionConfig(method='sparse', density=...) with compress.traces.structural_traces)")
    plans = plan_model(model, config, example_input)
    modules = dict(model.named_modules())
    layers: dict[str, CompressedLayer] = {}
    errors: dict[str, dict[str, float]] = {}
    todo = [plan for plan in plans if plan.compressed]
    from tqdm.auto import tqdm

    for plan in tqdm(todo, desc=f"compress ({config.method})", unit="layer", disable=not progress or not todo):
        module = modules[plan.name]
        bias = module.bias.numel() if getattr(module, "bias", None) is not None else 0
        layer = COMPRESSORS[plan.method](module.weight, config, name=plan.name, kind=plan.kind,
                                         groups=getattr(module, "groups", 1), bias_numel=bias)
        assert (layer.d, layer.k) == (plan.d, plan.k), "compressor and policy disagree on the geometry"
        layers[plan.name] = layer
        errors[plan.name] = layer.errors(module.weight)
    return CompressedModel(model=model, config=config, layers=layers, plans={p.name: p for p in plans},
                           layer_errors=errors)


def params_of(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())





def structural_storage_bits(model: nn.Module, config: CompressionConfig, example_input: Any = None) -> dict[str, int]:
    """The model-size accounting of `CompressedModel.storage_bits` from the shapes alone (no clustering).

    Exact, because no stored size depends on weight values; the tests check it against real runs.
    """
    modules = dict(model.named_modules())
    parts = dict.fromkeys(("codes", "mask", "codebook", "dense", "bias"), 0)
    owned: set[int] = set()
    for plan in plan_model(model, config, example_input):
        module = modules[plan.name]
        for part, bits in plan.expected_bits(config).items():
            parts[part] += bits
        owned.add(id(module.weight))
        if getattr(module, "bias", None) is not None:
            parts["bias"] += module.bias.numel() * config.bias_bits
            owned.add(id(module.bias))
    parts["other"] = _other_param_count(model, owned, config) * config.other_bits
    parts["total"] = sum(parts.values())
    return parts


def structural_compression_ratio(model: nn.Module, config: CompressionConfig, example_input: Any = None) -> float:
    """PQF's ratio ``32 * #params / size_bits`` from the shapes alone."""
    return 32 * params_of(model) / structural_storage_bits(model, config, example_input)["total"]


def _other_param_count(model: nn.Module, owned: set[int], config: CompressionConfig) -> int:
    """Parameters that are not conv/linear weights or biases (BN affine, ...), plus BN running stats
    when ``config.count_bn_running_stats``."""
    other = sum(p.numel() for p in model.parameters() if id(p) not in owned)
    if config.count_bn_running_stats:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                other += module.running_mean.numel() + module.running_var.numel()
    return other


__all__ = ["compress_model", "CompressedModel", "plan_model", "weight_modules", "params_of", "structural_storage_bits",
           "structural_compression_ratio"]
