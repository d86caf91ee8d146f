"""Whole-model PQ: collect real activations with forward hooks, learn prototypes, swap layers,
measure layer-output error, fine-tune with the soft assignment.

Layer choice (`default_pq_layers`) follows the paper's ResNet-20 study (reference §A.1, §A.6):
every ungrouped ``nn.Conv2d`` except the first one (the stem) is product-quantized; linear layers
stay dense. Prototypes of every layer are learned from the *original* model's activations in one
calibration pass ("frozen" in the MSE study, reference §A.1).
"""

from __future__ import annotations

import copy
from typing import Iterable, Sequence

import torch
from torch import nn

from compress.pq.quantizer import PQConv, PQSettings, im2col, learn_prototypes
from workloads.errors import ArchsimInputError


def default_pq_layers(model: nn.Module) -> list[str]:
    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.groups == 1]
    return convs[1:]


@torch.no_grad()
def collect_inputs(model: nn.Module, names: Sequence[str], x: torch.Tensor, batch_size: int = 256
                   ) -> dict[str, torch.Tensor]:
    """Inputs that each named module receives when ``model`` runs on ``x`` (forward pre-hooks)."""
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ArchsimInputError(f"unknown layer name(s) {missing}; modules: {[n for n in modules if n][:20]}")
    seen: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    hooks = [modules[n].register_forward_pre_hook(lambda m, inp, n=n: seen[n].append(inp[0].detach()))
             for n in names]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, x.shape[0], batch_size):
            model(x[start:start + batch_size])
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {n: torch.cat(v) for n, v in seen.items()}


def _set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, leaf, new)


def pq_convert(model: nn.Module, calib_x: torch.Tensor, settings: PQSettings,
               layers: Sequence[str] | None = None) -> tuple[nn.Module, dict[str, PQConv]]:
    """A copy of ``model`` whose ``layers`` (default `default_pq_layers`) are `PQConv`s with
    prototypes learned on the activations ``calib_x`` produces. The original is not modified."""
    names = list(layers) if layers is not None else default_pq_layers(model)
    if not names:
        raise ArchsimInputError("no layer to product-quantize (the model has no eligible conv after the first)")
    inputs = collect_inputs(model, names, calib_x)
    new = copy.deepcopy(model)
    converted: dict[str, PQConv] = {}
    for i, name in enumerate(names):
        module = new.get_submodule(name)
        cols = im2col(inputs[name], module)
        protos = learn_prototypes(cols, settings.with_(seed=settings.seed + 1000 * i))
        converted[name] = PQConv(module, protos, settings)
        _set_module(new, name, converted[name])
    return new.eval(), converted


@torch.no_grad()
def layer_output_mse(original: nn.Module, pq_model: nn.Module, x: torch.Tensor,
                     names: Iterable[str]) -> dict[str, dict[str, float]]:
    """Per layer: MSE between the dense layer's and the PQ layer's outputs on the *same* inputs (the
    original model's activations), and that MSE relative to the dense output's mean square."""
    names = list(names)
    inputs = collect_inputs(original, names, x)
    out = {}
    for name in names:
        dense = original.get_submodule(name)
        pq = pq_model.get_submodule(name)
        was = pq.training
        pq.eval()
        y_ref, y_pq = dense(inputs[name]), pq(inputs[name])
        pq.train(was)
        mse = float(((y_ref - y_pq) ** 2).mean())
        out[name] = {"mse": mse, "relative_mse": mse / max(float((y_ref ** 2).mean()), 1e-30)}
    return out


def finetune_pq(model: nn.Module, loader: Iterable, *, epochs: int = 5, lr: float = 1e-2, tau: float = 1.0,
                train: str = "all", seed: int = 0) -> nn.Module:
    """End-to-end fine-tuning of the PQ layers with the soft assignment (temperature ``tau``).

    ``train``: ``'lut'`` (tables only: the study's ``fintune_w``), ``'proto'`` (prototypes only;
    the LUT is rebuilt from the weights after every step so it stays consistent), or ``'all'``
    (both, independent). Everything else in the model is frozen (BatchNorm in eval mode).
    """
    if train not in ("lut", "proto", "all"):
        raise ArchsimInputError(f"finetune_pq: train must be 'lut', 'proto' or 'all', got {train!r}")
    if not tau > 0:
        raise ArchsimInputError(f"finetune_pq: tau must be > 0, got {tau!r}")
    pq_layers = [m for m in model.modules() if isinstance(m, PQConv)]
    if not pq_layers:
        raise ArchsimInputError("finetune_pq: the model has no PQConv layer; run pq_convert first")
    torch.manual_seed(seed)
    for p in model.parameters():
        p.requires_grad_(False)
    params = []
    for m in pq_layers:
        m.soft, m.tau = True, tau
        if train in ("lut", "all"):
            params.append(m.lut)
        if train in ("proto", "all"):
            params.append(m.prototypes)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    model.eval()  # BN statistics frozen
    for m in pq_layers:
        m.train()  # soft assignment active
    for _ in range(epochs):
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if train == "proto":
                for m in pq_layers:
                    m.rebuild_lut()
    for m in pq_layers:
        m.soft = False
        m.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def finetune_layerwise(original: nn.Module, pq_model: nn.Module, x: torch.Tensor, *, epochs: int = 20,
                       lr: float = 1e-2, tau: float = 1.0, train: str = "all", batch_size: int = 256,
                       seed: int = 0) -> nn.Module:
    """Layer-wise fine-tuning (the MSE study's ``fintune_w / fintune_p / fintune_all``): each PQ
    layer is trained, on the original model's activations, to reproduce the dense layer's output
    (MSE loss) through the soft assignment with temperature ``tau``. No labels needed."""
    if train not in ("lut", "proto", "all"):
        raise ArchsimInputError(f"finetune_layerwise: train must be 'lut', 'proto' or 'all', got {train!r}")
    if not tau > 0:
        raise ArchsimInputError(f"finetune_layerwise: tau must be > 0, got {tau!r}")
    names = [n for n, m in pq_model.named_modules() if isinstance(m, PQConv)]
    if not names:
        raise ArchsimInputError("finetune_layerwise: the model has no PQConv layer; run pq_convert first")
    inputs = collect_inputs(original, names, x)
    gen = torch.Generator().manual_seed(seed)
    for name in names:
        dense, pq = original.get_submodule(name), pq_model.get_submodule(name)
        with torch.no_grad():
            target = dense(inputs[name])
        params = ([pq.lut] if train in ("lut", "all") else []) + ([pq.prototypes] if train in ("proto", "all") else [])
        for p in pq.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=lr)
        pq.soft, pq.tau = True, tau
        pq.train()
        n = inputs[name].shape[0]
        for _ in range(epochs):
            for idx in torch.randperm(n, generator=gen).split(batch_size):
                loss = ((pq(inputs[name][idx]) - target[idx]) ** 2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if train == "proto":
                    pq.rebuild_lut()
        pq.soft = False
        pq.eval()
        for p in params:
            p.requires_grad_(False)
    return pq_model.eval()
