"""Per-layer compressors and the `CompressedLayer` they return.

A `CompressedLayer` holds what a compressed weight *is*: integer codebook + scale (and its
dequantised float copy), one code per subvector, the N:M mask, and the geometry (shape, layout,
d). `reconstruct()` rebuilds the weight; passing a ``codebook`` tensor rebuilds it differentiably
(``W = from_subvectors(mask * codebook[codes])``), which is the hook masked-gradient fine-tuning
needs: gradients reach only the codewords, and only through kept positions.

Compressors (all take a weight tensor and a `CompressionConfig`; the geometry comes from
`compress.policy.plan_layer`, the same rule the structural traces use):

* `compress_weight_mvq`      N:M mask -> masked k-means on kept weights -> int codebook.
* `compress_weight_vq`       plain k-means (BGD/PQF), no mask.
* `compress_weight_prune_vq` N:M mask -> *unmasked* k-means (on the pruned, zero-filled weights, or
                             on the dense ones) -> mask applied to the reconstruction.
* `compress_weight_nm`       N:M mask, kept values quantised to ``value_bits``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from compress.config import CompressionConfig
from compress.kmeans import kmeans
from compress.layout import from_subvectors, to_subvectors
from compress.nm import nm_mask
from compress.policy import LayerPlan, plan_layer
from compress.quantize import dequantize, quantize_symmetric
from compress.trace import code_bits_for, mask_bits_per_group
from workloads.errors import ArchsimInputError


@dataclass
class CompressedLayer:
    """One compressed weight tensor.

    ``codebook`` is the dequantised float codebook ``[k, d]`` (``codebook_int * scale``); ``codes``
    the LongTensor ``[n_sub]`` of codeword indices; ``mask`` a BoolTensor ``[n_sub, d]`` (True =
    kept) or None. For the ``nm`` method there is no codebook: ``values`` ``[n_sub, d]`` holds the
    dequantised kept values (zeros elsewhere) and ``values_int`` their integers.
    """

    name: str
    shape: tuple[int, ...]
    codebook: torch.Tensor | None
    codebook_int: torch.Tensor | None
    scale: float
    codes: torch.Tensor | None
    mask: torch.Tensor | None
    config: CompressionConfig
    layout: str
    method: str = "mvq"
    d: int = 16
    kind: str = "conv"
    bias_numel: int = 0
    values: torch.Tensor | None = None
    values_int: torch.Tensor | None = None
    inertia: float = float("nan")
    iterations_run: int = 0

    # ---- geometry ----------------------------------------------------------------------------
    @property
    def k(self) -> int:
        return int(self.codebook.shape[0]) if self.codebook is not None else 0

    @property
    def n(self) -> int:
        return self.config.n if self.mask is not None else 1

    @property
    def m(self) -> int:
        return self.config.m if self.mask is not None else 1

    @property
    def n_subvectors(self) -> int:
        return math.prod(self.shape) // self.d

    @property
    def weights(self) -> int:
        return math.prod(self.shape)

    @property
    def density(self) -> float:
        """Fraction of weights kept (measured on the mask)."""
        return int(self.mask.sum()) / self.mask.numel() if self.mask is not None else 1.0

    # ---- rebuild -----------------------------------------------------------------------------
    def subvectors(self, codebook: torch.Tensor | None = None) -> torch.Tensor:
        """``[n_sub, d]`` reconstructed subvectors; differentiable in ``codebook`` if given."""
        if self.method == "nm":
            return self.values * self.mask
        book = self.codebook if codebook is None else codebook
        sub = book[self.codes.to(book.device)]
        if self.mask is not None:
            sub = sub * self.mask.to(book.device)
        return sub

    def reconstruct(self, codebook: torch.Tensor | None = None) -> torch.Tensor:
        """The weight in its original shape: ``mask * codebook[codes]`` laid back out."""
        return from_subvectors(self.subvectors(codebook), self.shape, self.layout)

    def reconstruct_int(self) -> torch.Tensor:
        """The weight as the accelerator sees it, in integers (int64, original shape):
        ``mask * codebook_int[codes]``, or the ``nm`` method's kept integers. Scaling by ``scale`` gives
        `reconstruct`; a functional check compares integer arithmetic against this."""
        if self.method == "nm":
            sub = self.values_int.long() * self.mask
        else:
            sub = self.codebook_int.long()[self.codes]
            if self.mask is not None:
                sub = sub * self.mask
        return from_subvectors(sub, self.shape, self.layout)

    # ---- storage -----------------------------------------------------------------------------
    def storage_bits(self) -> dict[str, int]:
        """Bits of each stored part, counted from the tensors themselves.

        ``codes``: one ceil(log2 k)-bit index per code; ``mask``: (mask elements / M) groups x the
        encoding's bits per group; ``codebook``: k x d x ``codebook_bits``; ``dense``: kept values of
        the ``nm`` method at ``value_bits``; ``bias``: bias elements x ``bias_bits``.
        """
        cfg = self.config
        codes = self.codes.numel() * code_bits_for(self.k) if self.codes is not None else 0
        mask = 0
        if self.mask is not None:
            mask = (self.mask.numel() // cfg.m) * mask_bits_per_group(cfg.n, cfg.m, cfg.mask_encoding)
        codebook = self.codebook.numel() * cfg.codebook_bits if self.codebook is not None else 0
        dense = int(self.mask.sum()) * cfg.value_bits if self.method == "nm" else 0
        return {"codes": codes, "mask": mask, "codebook": codebook, "dense": dense,
                "bias": self.bias_numel * cfg.bias_bits}

    def weight_bits(self) -> int:
        """Everything but the bias."""
        bits = self.storage_bits()
        return bits["codes"] + bits["mask"] + bits["codebook"] + bits["dense"]

    # ---- quality -----------------------------------------------------------------------------
    @torch.no_grad()
    def errors(self, weight: torch.Tensor) -> dict[str, float]:
        """Relative reconstruction error ||W - W_hat|| / ||W||, on kept weights and on all weights."""
        w = weight.detach().float().cpu()
        w_hat = self.reconstruct().detach().float().cpu()
        if self.mask is not None:
            keep = from_subvectors(self.mask.cpu(), self.shape, self.layout)
        else:
            keep = torch.ones_like(w, dtype=torch.bool)
        return {"rel_err_kept": _rel(w_hat[keep], w[keep]), "rel_err_all": _rel(w_hat, w)}

    def plan(self) -> LayerPlan:
        return LayerPlan(name=self.name, kind=self.kind, shape=self.shape, method=self.method, layout=self.layout,
                         d=self.d, k=self.k, n=self.n, m=self.m)


def _rel(estimate: torch.Tensor, target: torch.Tensor) -> float:
    norm = float(target.norm())
    return float((estimate - target).norm()) / norm if norm > 0 else float((estimate - target).norm())


# ---- compressors ---------------------------------------------------------------------------------
def _kind_of(weight: torch.Tensor, kind: str | None) -> str:
    if kind is not None:
        return kind
    if weight.dim() == 2:
        return "linear"
    if weight.dim() >= 3:
        return "conv"
    raise ArchsimInputError(f"cannot compress a weight of shape {tuple(weight.shape)}: need (out, in[, kernel...])")


def _plan(weight: torch.Tensor, config: CompressionConfig, method: str, name: str, kind: str | None,
          groups: int) -> LayerPlan:
    """The policy's plan for this weight with ``method`` forced (exclusions do not apply here)."""
    if weight.is_floating_point() and not bool(torch.isfinite(weight).all()):
        bad = int((~torch.isfinite(weight)).sum())
        raise ArchsimInputError(f"layer {name!r}: the weight holds {bad} NaN/Inf value(s) of {weight.numel()}; "
                                f"compression needs finite weights (check the checkpoint or the training run, or "
                                f"exclude the layer)")
    forced = config.replace(method=method, linear_method=None, exclude=(), exclude_first_conv=False,
                            exclude_depthwise=False)
    plan = plan_layer(name, tuple(weight.shape), _kind_of(weight, kind), forced, groups=groups)
    if not plan.compressed:
        raise ArchsimInputError(f"layer {name!r} (shape {tuple(weight.shape)}) cannot be compressed with "
                                f"{method}: {plan.reason}")
    return plan


def _mask(sub: torch.Tensor, config: CompressionConfig) -> torch.Tensor:
    return nm_mask(sub, config.n, config.m, config.importance)


def _cluster(sub: torch.Tensor, plan: LayerPlan, config: CompressionConfig, mask: torch.Tensor | None):
    return kmeans(sub, plan.k, mask=mask, iterations=config.iterations, init=config.init, seed=config.seed,
                  chunk_size=config.chunk_size, device=config.device, pqf_noise=config.pqf_noise)


def _build(name: str, weight: torch.Tensor, plan: LayerPlan, config: CompressionConfig, result,
           mask: torch.Tensor | None, bias_numel: int) -> CompressedLayer:
    q = quantize_symmetric(result.codebook.float().cpu(), config.codebook_bits)
    return CompressedLayer(name=name, shape=tuple(weight.shape), codebook=q.dequantize(), codebook_int=q.values,
                           scale=q.scale, codes=result.assignments.cpu().long(),
                           mask=None if mask is None else mask.cpu(), config=config, layout=plan.layout,
                           method=plan.method, d=plan.d, kind=plan.kind, bias_numel=bias_numel,
                           inertia=result.inertia, iterations_run=result.iterations_run)


@torch.no_grad()
def compress_weight_mvq(weight: torch.Tensor, config: CompressionConfig, *, name: str = "weight",
                        kind: str | None = None, groups: int = 1, bias_numel: int = 0) -> CompressedLayer:
    """MVQ: N:M prune by importance, then masked k-means on the kept coordinates only."""
    plan = _plan(weight, config, "mvq", name, kind, groups)
    sub = to_subvectors(weight.detach().float(), plan.d, plan.layout)
    mask = _mask(sub, config)
    return _build(name, weight, plan, config, _cluster(sub, plan, config, mask), mask, bias_numel)


@torch.no_grad()
def compress_weight_vq(weight: torch.Tensor, config: CompressionConfig, *, name: str = "weight",
                       kind: str | None = None, groups: int = 1, bias_numel: int = 0) -> CompressedLayer:
    """Plain VQ (BGD/PQF): unmasked k-means on all subvectors."""
    plan = _plan(weight, config, "vq", name, kind, groups)
    sub = to_subvectors(weight.detach().float(), plan.d, plan.layout)
    return _build(name, weight, plan, config, _cluster(sub, plan, config, None), None, bias_numel)


@torch.no_grad()
def compress_weight_prune_vq(weight: torch.Tensor, config: CompressionConfig, *, name: str = "weight",
                             kind: str | None = None, groups: int = 1, bias_numel: int = 0) -> CompressedLayer:
    """Ablation: N:M prune, plain (unmasked) k-means, then the mask applied to the reconstruction.

    With ``prune_vq_input='pruned'`` k-means sees the pruned weights (zeros at pruned positions) —
    "prune, then plain VQ"; with ``'dense'`` it sees the original weights. Either way the codebook
    is fitted to values that are never reconstructed, which is what masked k-means avoids.
    """
    plan = _plan(weight, config, "prune_vq", name, kind, groups)
    sub = to_subvectors(weight.detach().float(), plan.d, plan.layout)
    mask = _mask(sub, config)
    data = sub * mask if config.prune_vq_input == "pruned" else sub
    return _build(name, weight, plan, config, _cluster(data, plan, config, None), mask, bias_numel)


@torch.no_grad()
def compress_weight_nm(weight: torch.Tensor, config: CompressionConfig, *, name: str = "weight",
                       kind: str | None = None, groups: int = 1, bias_numel: int = 0) -> CompressedLayer:
    """N:M pruning only; kept values quantised symmetrically to ``value_bits`` per layer."""
    plan = _plan(weight, config, "nm", name, kind, groups)
    sub = to_subvectors(weight.detach().float().cpu(), plan.d, plan.layout)
    mask = _mask(sub, config)
    q = quantize_symmetric(sub * mask, config.value_bits)
    return CompressedLayer(name=name, shape=tuple(weight.shape), codebook=None, codebook_int=None, scale=q.scale,
                           codes=None, mask=mask, config=config, layout=plan.layout, method="nm", d=plan.d,
                           kind=plan.kind, bias_numel=bias_numel, values=dequantize(q.values, q.scale),
                           values_int=q.values)


COMPRESSORS: dict[str, Callable[..., CompressedLayer]] = {
    "mvq": compress_weight_mvq, "vq": compress_weight_vq, "prune_vq": compress_weight_prune_vq,
    "nm": compress_weight_nm,
}


def compress_weight(weight: torch.Tensor, config: CompressionConfig, method: str | None = None,
                    **kwargs) -> CompressedLayer:
    """Dispatch on ``method`` (default ``config.method``)."""
    method = method or config.method
    if method not in COMPRESSORS:
        raise ArchsimInputError(f"unknown compression method {method!r}; use one of {', '.join(COMPRESSORS)}")
    return COMPRESSORS[method](weight, config, **kwargs)
