"""Product quantization of a layer's inputs with lookup tables built from its weights.

The layer (conv or linear) is viewed as a GEMM over im2col columns (reference pq_permdnn.md §A.1).
Each column of length R = C*kh*kw is cut into Ns = R/Ls subvectors; each subvector is replaced by
its nearest of Np prototypes; the output is a sum of table lookups:

    LUT[s, p, k] = < prototype[s, p], W[k, s-th slice] >         (built offline, Ns*Np*K entries)
    y[k]         = sum_s LUT[s, idx_s, k] + bias[k]

so ``y == reconstructed_input @ W.T + bias`` exactly when the LUT is kept in float — the identity the
tests check. Knobs (`PQSettings`):

* ``proto_bits`` / ``lut_bits``: symmetric uniform quantisation, one scale per tensor, round to
  nearest (``None`` = keep float). Prototypes are quantised first and the LUT is built from the
  quantised prototypes, so the identity above holds with the quantised prototypes.
* ``shared_codebook``: one codebook for all subspaces (the released OpenCL kernel) instead of one
  per subspace (the analytical model and the MSE study).
* ``distance``: ``l2`` (squared Euclidean; prototypes by k-means, `compress.kmeans`) or ``l1``
  (prototypes by k-medians: the same Lloyd loop with a per-coordinate median update, because the
  median minimises the L1 error as the mean minimises the L2 one).
* ``pad``: Ls must divide R (else one `ArchsimInputError`), unless ``pad=True``: the column is
  zero-padded to Ns*Ls and the LUT's padded weight rows are 0.

Fine-tuning (`PQConv.soft`): the hard argmin has no gradient, so training uses the differentiable
soft assignment ``a = softmax(-d / tau)`` over prototypes (PECAN / LUT-NN style), with a
straight-through estimator: the forward value is the hard lookup, the gradient is the soft one's.
Prototypes and the LUT are trainable parameters; quantisation is fake-quant with straight-through
rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from compress.kmeans import kmeans
from compress.pq.facts import DISTANCES, PqLayerFacts
from workloads.errors import ArchsimInputError


@dataclass(frozen=True)
class PQSettings:
    """All knobs of one PQ layer; see the module docstring."""

    ls: int = 9
    np: int = 16
    proto_bits: int | None = 8
    lut_bits: int | None = 16
    shared_codebook: bool = False
    distance: Literal["l2", "l1"] = "l2"
    pad: bool = False
    kmeans_iterations: int = 25
    max_samples: int = 20000  # columns used to learn prototypes (random subset; bounds memory/time)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("ls", "np", "kmeans_iterations", "max_samples"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if name == "kmeans_iterations" else 1):
                raise ArchsimInputError(f"PQSettings.{name} must be a positive integer, got {v!r}")
        for name in ("proto_bits", "lut_bits"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or not 2 <= v <= 32):
                raise ArchsimInputError(f"PQSettings.{name} must be None (float) or an integer in 2..32, got {v!r}")
        if self.distance not in DISTANCES:
            raise ArchsimInputError(f"PQSettings.distance must be one of {', '.join(DISTANCES)}, got {self.distance!r}")

    def with_(self, **changes) -> "PQSettings":
        return replace(self, **changes)


# ------------------------------------------------------------------------------------ geometry


def _check_module(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        if module.groups != 1:
            raise ArchsimInputError(f"PQ needs an ungrouped conv (groups={module.groups}); exclude it from PQ")
        if module.padding_mode != "zeros":
            raise ArchsimInputError(f"PQ supports zero padding only (padding_mode={module.padding_mode!r})")
        if isinstance(module.padding, str):
            raise ArchsimInputError("PQ needs explicit integer padding (got a string padding mode)")
    elif not isinstance(module, nn.Linear):
        raise ArchsimInputError(f"PQ covers nn.Conv2d and nn.Linear, not {type(module).__name__}")


def im2col(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """Input columns ``[B*L, R]`` of a conv (R ordered C, kh, kw like ``weight.reshape(K, -1)``) or
    the rows ``[B, C]`` of a linear layer."""
    _check_module(module)
    if isinstance(module, nn.Linear):
        return x.reshape(-1, module.in_features)
    cols = F.unfold(x, module.kernel_size, dilation=module.dilation, padding=module.padding, stride=module.stride)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


def num_subspaces(reduction: int, ls: int, pad: bool) -> int:
    if ls > reduction:
        raise ArchsimInputError(f"ls={ls} is longer than the reduction length {reduction}; choose ls <= {reduction}")
    if reduction % ls and not pad:
        raise ArchsimInputError(f"ls={ls} does not divide the reduction length {reduction} (C*kh*kw); choose a "
                                f"divisor of {reduction} or set pad=True to zero-pad to "
                                f"{math.ceil(reduction / ls) * ls}")
    return math.ceil(reduction / ls)


def split(cols: torch.Tensor, ls: int, pad: bool) -> torch.Tensor:
    """``[n, R] -> [n, Ns, Ls]``, zero-padding the tail when ``pad``."""
    ns = num_subspaces(cols.shape[1], ls, pad)
    extra = ns * ls - cols.shape[1]
    if extra:
        cols = F.pad(cols, (0, extra))
    return cols.reshape(cols.shape[0], ns, ls)


def weight_slices(weight: torch.Tensor, ls: int, pad: bool) -> torch.Tensor:
    """``[K, ...] -> [K, Ns, Ls]`` with zero rows for the padding."""
    w = weight.reshape(weight.shape[0], -1)
    return split(w, ls, pad)


# ------------------------------------------------------------------------------------ learning


def quantize_symmetric(t: torch.Tensor, bits: int | None) -> torch.Tensor:
    """Fake-quantise to ``bits`` (symmetric, one scale per tensor), straight-through gradient."""
    if bits is None:
        return t
    qmax = 2 ** (bits - 1) - 1
    scale = t.detach().abs().max().clamp_min(1e-12) / qmax
    q = torch.round(t / scale).clamp(-qmax, qmax) * scale
    return t + (q - t).detach()


def quant_step(t: torch.Tensor, bits: int | None) -> float:
    """The quantisation step `quantize_symmetric` uses for ``t`` (0 for float)."""
    if bits is None:
        return 0.0
    return float(t.detach().abs().max().clamp_min(1e-12) / (2 ** (bits - 1) - 1))


def _kmedians(x: torch.Tensor, k: int, iterations: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    centres = x[torch.randperm(x.shape[0], generator=gen)[:k]].clone()
    for _ in range(iterations):
        idx = torch.cdist(x, centres, p=1).argmin(1)
        new = centres.clone()
        for j in range(k):
            members = x[idx == j]
            if members.shape[0]:
                new[j] = members.median(dim=0).values
        if torch.equal(new, centres):
            break
        centres = new
    return centres


@torch.no_grad()
def learn_prototypes(cols: torch.Tensor, settings: PQSettings) -> torch.Tensor:
    """Prototypes ``[Ns, Np, Ls]`` from input columns ``[n, R]`` (a shared codebook is repeated Ns times)."""
    sub = split(cols.detach().float(), settings.ls, settings.pad)
    n, ns, ls = sub.shape
    if settings.max_samples < n:
        gen = torch.Generator().manual_seed(settings.seed)
        sub = sub[torch.randperm(n, generator=gen)[: settings.max_samples]]
    groups = [sub.reshape(-1, ls)] if settings.shared_codebook else [sub[:, s] for s in range(ns)]
    books = []
    for g, data in enumerate(groups):
        if data.shape[0] < settings.np:
            raise ArchsimInputError(f"np={settings.np} prototypes but only {data.shape[0]} calibration subvectors; "
                                    f"give more calibration data or lower np")
        seed = settings.seed + g
        if settings.distance == "l2":
            books.append(kmeans(data, settings.np, iterations=settings.kmeans_iterations, seed=seed).codebook)
        else:
            books.append(_kmedians(data, settings.np, settings.kmeans_iterations, seed))
    protos = torch.stack(books)
    return protos.expand(ns, -1, -1).clone() if settings.shared_codebook else protos


def build_lut(prototypes: torch.Tensor, weight: torch.Tensor, ls: int, pad: bool) -> torch.Tensor:
    """``LUT[s, p, k] = <prototypes[s, p], W[k, s]>`` — ``[Ns, Np, K]``."""
    return torch.einsum("spl,ksl->spk", prototypes, weight_slices(weight, ls, pad))


def distances(sub: torch.Tensor, prototypes: torch.Tensor, distance: str) -> torch.Tensor:
    """``[n, Ns, Ls] x [Ns, Np, Ls] -> [n, Ns, Np]``: squared L2 or L1."""
    if distance == "l2":
        x2 = (sub * sub).sum(-1, keepdim=True)
        p2 = (prototypes * prototypes).sum(-1)
        return (x2 - 2 * torch.einsum("nsl,spl->nsp", sub, prototypes) + p2).clamp_min(0)
    return torch.cdist(sub.transpose(0, 1), prototypes, p=1).transpose(0, 1)


# ------------------------------------------------------------------------------------ the layer


class PQConv(nn.Module):
    """A conv / linear layer executed as PQ encode + table lookup (drop-in replacement)."""

    def __init__(self, module: nn.Module, prototypes: torch.Tensor, settings: PQSettings) -> None:
        super().__init__()
        _check_module(module)
        self.settings = settings
        self.is_linear = isinstance(module, nn.Linear)
        if not self.is_linear:
            self.kernel_size, self.stride = module.kernel_size, module.stride
            self.padding, self.dilation = module.padding, module.dilation
        self.out_channels = module.weight.shape[0]
        self.reduction = module.weight[0].numel()
        self.ns = num_subspaces(self.reduction, settings.ls, settings.pad)
        if tuple(prototypes.shape) != (self.ns, settings.np, settings.ls):
            raise ArchsimInputError(f"prototypes have shape {tuple(prototypes.shape)}, expected "
                                    f"{(self.ns, settings.np, settings.ls)} (Ns, Np, Ls)")
        self.register_buffer("weight", module.weight.detach().clone())
        self.bias = None if module.bias is None else nn.Parameter(module.bias.detach().clone())
        self.prototypes = nn.Parameter(prototypes.detach().clone().float())
        self.lut = nn.Parameter(build_lut(self.quantized_prototypes().detach(), self.weight, settings.ls, settings.pad))
        self.soft = False
        self.tau = 1.0
        self._in_hw: tuple[int, int] | None = None

    # -- quantised tables
    def quantized_prototypes(self) -> torch.Tensor:
        p = self.prototypes
        if self.settings.shared_codebook:  # keep the shared codebook shared while training
            p = p.mean(0, keepdim=True).expand_as(p)
        return quantize_symmetric(p, self.settings.proto_bits)

    def quantized_lut(self) -> torch.Tensor:
        return quantize_symmetric(self.lut, self.settings.lut_bits)

    @torch.no_grad()
    def rebuild_lut(self) -> None:
        """Rebuild the LUT from the (current, quantised) prototypes and the layer's weights."""
        self.lut.copy_(build_lut(self.quantized_prototypes(), self.weight, self.settings.ls, self.settings.pad))

    # -- encode / lookup
    def columns(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_linear:
            return x.reshape(-1, self.reduction)
        return F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding,
                        stride=self.stride).transpose(1, 2).reshape(-1, self.reduction)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Nearest-prototype indices ``[n, Ns]`` of the input's columns."""
        sub = split(self.columns(x), self.settings.ls, self.settings.pad)
        return distances(sub, self.quantized_prototypes(), self.settings.distance).argmin(-1)

    def reconstruct_input(self, x: torch.Tensor) -> torch.Tensor:
        """Columns ``[n, R]`` rebuilt from the chosen (quantised) prototypes (padding dropped)."""
        idx = self.encode(x)
        protos = self.quantized_prototypes()
        rec = protos[torch.arange(self.ns).unsqueeze(0), idx]  # [n, Ns, Ls]
        return rec.reshape(rec.shape[0], -1)[:, : self.reduction]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        sub = split(self.columns(x), self.settings.ls, self.settings.pad)
        protos = self.quantized_prototypes()
        lut = self.quantized_lut()
        d = distances(sub, protos, self.settings.distance)
        idx = d.argmin(-1)
        hard = lut[torch.arange(self.ns).unsqueeze(0), idx].sum(1)  # [n, K]
        if self.soft and self.training:
            a = torch.softmax(-d / self.tau, dim=-1)
            soft = torch.einsum("nsp,spk->nk", a, lut)
            y = soft + (hard - soft).detach()
        else:
            y = hard
        if self.bias is not None:
            y = y + self.bias
        if self.is_linear:
            return y.reshape(*x.shape[:-1], self.out_channels)
        oh, ow = self._out_hw(x)
        return y.reshape(batch, oh, ow, self.out_channels).permute(0, 3, 1, 2)

    def _out_hw(self, x: torch.Tensor) -> tuple[int, int]:
        h, w = x.shape[-2:]
        out = []
        for size, k, s, p, d in zip((h, w), self.kernel_size, self.stride, self.padding, self.dilation):
            out.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
        return out[0], out[1]

    # -- accounting
    def storage_bits(self) -> dict[str, int]:
        """Bits of the run-time state: LUT (Ns*Np*K x lut_bits), prototypes, and the dense weights it replaces."""
        lut_w = self.settings.lut_bits or 32
        proto_w = self.settings.proto_bits or 32
        books = 1 if self.settings.shared_codebook else self.ns
        return {"lut": self.ns * self.settings.np * self.out_channels * lut_w,
                "prototypes": books * self.settings.np * self.settings.ls * proto_w,
                "dense_weights_fp32": self.reduction * self.out_channels * 32}

    def facts(self, name: str, cols: int, in_channels: int, out_hw: tuple[int, int], batch: int = 1) -> PqLayerFacts:
        """The accelerator-facing numbers of this layer (`PqLayerFacts`)."""
        kh, kw = (1, 1) if self.is_linear else self.kernel_size
        return PqLayerFacts(name=name, cols=cols, reduction=self.reduction, ls=self.settings.ls, np=self.settings.np,
                            k=self.out_channels, proto_bits=self.settings.proto_bits or 32,
                            lut_bits=self.settings.lut_bits or 32, shared_codebook=self.settings.shared_codebook,
                            distance=self.settings.distance, in_channels=in_channels, kernel_h=kh, kernel_w=kw,
                            out_h=out_hw[0], out_w=out_hw[1], batch=batch)
