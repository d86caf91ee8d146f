"""`CompressionConfig`: every knob of the compressors in one frozen, validated dataclass.

Why one object: the whole-model driver (`compress.model.compress_model`) and the clustering-free
`compress.traces.structural_traces` must apply the *same* eligibility / geometry policy
(`compress.policy.plan_layer`), so both take this config and nothing else.

Methods
-------
``mvq``       N:M prune, then masked k-means on the kept weights (MVQ, mvq.md §1.2-1.4).
``vq``        plain k-means VQ (BGD / PQF style), no mask.
``prune_vq``  the ablation MVQ must beat: N:M prune, *unmasked* k-means, mask applied after
              clustering (the reconstruction is ``mask * codebook[codes]``).
``nm``        N:M pruning only; kept values quantised to ``value_bits``.
``sparse``    unstructured magnitude pruning to ``density`` (a bitmap + the kept values, SparTen's
              format). Structural traces only (`compress.traces.structural_traces`); real pruning of
              weights is `compress.unstructured` (numpy), not `compress_model`.

Subvector layouts (``layout``)
------------------------------
``input_channel``  (default, MVQ) conv weight K x C x R x S -> one ``d``-vector along C for each
                   (k, r, s); linear K x C -> along the input features. N:M groups lie inside each
                   subvector, along the reduction axis a systolic array sums over (mvq.md §1.3).
``kernel``         BGD/PQF: the row (C, R, S) of each filter is flattened and cut into consecutive
                   blocks; a conv with an R x S > 1 kernel uses ``kernel_blocks * R * S`` (9 or 18 for
                   3x3), a 1x1 conv uses ``d`` (4 in BGD/PQF "small blocks"), linear layers use
                   ``linear_d`` (or ``d``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Union

from workloads.errors import ArchsimInputError

METHODS = ("mvq", "vq", "prune_vq", "nm", "sparse")
LAYOUTS = ("input_channel", "kernel")
INITS = ("pqf", "kmeans++")
MASK_ENCODINGS = ("bitmap", "combinatorial", "index")
PRUNE_VQ_INPUTS = ("pruned", "dense")

#: Rows of the n_sub x k distance matrix computed at once. 8,192 x 256 float32 = 8 MiB: bounded
#: memory on whole models, and on CPU faster than larger chunks (the block stays in cache and the
#: buffer is reused): 20 masked iterations on 2.36M weights (d=16, k=256) took 1.0 s with 8,192 rows
#: vs 2.5 s with 65,536 on the 2-core dev machine.
DEFAULT_CHUNK_SIZE = 8_192

Importance = Union[str, Callable[..., Any]]


def normalise_method(method: str) -> str:
    """Accept the CLI spelling ``prune-vq`` for ``prune_vq``."""
    return method.replace("-", "_").lower() if isinstance(method, str) else method


@dataclass(frozen=True)
class CompressionConfig:
    """How to compress a model. Defaults are the MVQ reproduction defaults of mvq.md §6 (all [I]).

    Fields
    ------
    method, n, m, d, k: see the module docstring. ``k`` is the nominal codebook size; a layer with
        fewer subvectors than ``k`` gets ``k = n_subvectors`` (more entries could never be used), and
        with ``clamp_centroids`` the PQF/BGD rule ``min(k, pow2_floor(n_subvectors / 4))`` applies.
    codebook_bits: bits per codebook value (int symmetric per layer; 32 = keep float32 unquantised).
        8 for MVQ [S1], 16 to count the fp16 codebooks of the PQF reproduction.
    value_bits: bits per kept value of the ``nm`` method (int symmetric per layer; 32 = float).
    density: kept fraction of the weights under the ``sparse`` method (unstructured magnitude pruning),
        in (0, 1]; ignored by the other methods.
    mask_encoding: ``bitmap`` (M bits per group), ``combinatorial`` (ceil log2 C(M,N) bits per
        group) or ``index`` (N ceil log2 M bits per group); see `compress.trace.mask_bits_per_group`.
    init: ``pqf`` (k random distinct subvectors + N(0, ``pqf_noise``) noise, as PQF) or ``kmeans++``.
    iterations: maximum Lloyd iterations (stops early when assignments no longer change).
    seed: seeds a `torch.Generator`; the same seed gives bit-identical results on one device.
    layout, kernel_blocks: see the module docstring.
    linear_d, linear_k, linear_method: overrides for fully connected layers (PQF uses d=4,
        k=2048 for the ResNet-18 FC; mvq.md §6 suggests an unmasked FC). ``None`` = same as convs.
    clamp_centroids: apply PQF's ``get_num_centroids`` clamp (used for the PQF/BGD reproduction).
    exclude_first_conv, exclude_depthwise: leave these dense (BGD/PQF/MVQ all keep conv1 dense;
        MVQ does not compress depthwise convs [S1]).
    exclude: layer names (fnmatch patterns allowed, e.g. ``"fc"`` or ``"layer4.*"``) kept dense.
    chunk_size: rows of the distance matrix computed at once (memory bound).
    device: ``cpu`` or ``cuda`` (or ``cuda:N``) for the clustering.
    importance: N:M score — a name from `compress.nm.IMPORTANCE_SCORES` or a callable
        ``f(subvectors[n_sub, d]) -> scores[n_sub, d]`` (higher = keep).
    prune_vq_input: what the prune_vq ablation clusters: ``pruned`` weights (zeros at pruned
        positions, i.e. "prune, then plain VQ") or the ``dense`` original weights.
    pqf_noise: std of the noise PQF adds to its initial codewords (PQF kmeans.py: 1e-5).
    dense_bits, bias_bits, other_bits: bits per value of uncompressed weight tensors, biases and
        other parameters (BatchNorm affine, ...) in the model-size accounting. 32 = PQF's fp32.
    count_bn_running_stats: PQF's `_compress_state_dict` folds each BatchNorm into two vectors,
        so running mean/var are *not* counted (default). Set True to count them as well.
    """

    method: str = "mvq"
    n: int = 1
    m: int = 4
    d: int = 16
    k: int = 256
    codebook_bits: int = 8
    value_bits: int = 8
    density: float = 0.25
    mask_encoding: str = "bitmap"
    init: str = "pqf"
    iterations: int = 20
    seed: int = 0
    layout: str = "input_channel"
    kernel_blocks: int = 1
    linear_d: int | None = None
    linear_k: int | None = None
    linear_method: str | None = None
    clamp_centroids: bool = False
    exclude_first_conv: bool = True
    exclude_depthwise: bool = True
    exclude: tuple[str, ...] = ()
    chunk_size: int = DEFAULT_CHUNK_SIZE
    device: str = "cpu"
    importance: Importance = "magnitude"
    prune_vq_input: str = "pruned"
    pqf_noise: float = 1e-5
    dense_bits: int = 32
    bias_bits: int = 32
    other_bits: int = 32
    count_bn_running_stats: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", normalise_method(self.method))
        if self.linear_method is not None:
            object.__setattr__(self, "linear_method", normalise_method(self.linear_method))
        if isinstance(self.exclude, str):
            object.__setattr__(self, "exclude", (self.exclude,))
        else:
            object.__setattr__(self, "exclude", tuple(self.exclude))
        for name, allowed in (("method", METHODS), ("layout", LAYOUTS), ("init", INITS),
                              ("mask_encoding", MASK_ENCODINGS), ("prune_vq_input", PRUNE_VQ_INPUTS)):
            value = getattr(self, name)
            if value not in allowed:
                raise ArchsimInputError(f"compression config: {name} must be one of {', '.join(allowed)}; "
                                        f"got {value!r}")
        if self.linear_method is not None and self.linear_method not in METHODS:
            raise ArchsimInputError(f"compression config: linear_method must be one of {', '.join(METHODS)} "
                                    f"or None; got {self.linear_method!r}")
        for name in ("n", "m", "d", "k", "codebook_bits", "value_bits", "kernel_blocks", "chunk_size",
                     "dense_bits", "bias_bits", "other_bits"):
            _positive_int(name, getattr(self, name))
        for name in ("linear_d", "linear_k"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        for name in ("iterations", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ArchsimInputError(f"compression config: {name} must be a non-negative integer, got {value!r}")
        if not (2 <= self.codebook_bits <= 16 or self.codebook_bits == 32):
            raise ArchsimInputError(f"compression config: codebook_bits must be 2..16 (int) or 32 (float), "
                                    f"got {self.codebook_bits}")
        if not (2 <= self.value_bits <= 16 or self.value_bits == 32):
            raise ArchsimInputError(f"compression config: value_bits must be 2..16 (int) or 32 (float), "
                                    f"got {self.value_bits}")
        if isinstance(self.density, bool) or not isinstance(self.density, (int, float)) \
                or not 0.0 < self.density <= 1.0:
            raise ArchsimInputError(f"compression config: density must be in (0, 1] (the kept fraction of the weights "
                                    f"under unstructured pruning, e.g. 0.25), got {self.density!r}")
        if not (isinstance(self.pqf_noise, (int, float)) and self.pqf_noise >= 0 and math.isfinite(self.pqf_noise)):
            raise ArchsimInputError(f"compression config: pqf_noise must be a finite number >= 0, got {self.pqf_noise!r}")
        if not (isinstance(self.importance, str) or callable(self.importance)):
            raise ArchsimInputError("compression config: importance must be a score name or a callable "
                                    f"f(subvectors) -> scores; got {type(self.importance).__name__}")
        # "magnitude" is built into compress.nm; checking other names needs the registry, which imports
        # torch — skipped for the default so structural traces (archsim) stay torch-free and fast.
        if isinstance(self.importance, str) and self.importance != "magnitude":
            from compress.nm import IMPORTANCE_SCORES

            if self.importance not in IMPORTANCE_SCORES:
                raise ArchsimInputError(f"compression config: importance must be one of "
                                        f"{', '.join(IMPORTANCE_SCORES)} or a callable; got {self.importance!r}")
        if not isinstance(self.device, str) or not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ArchsimInputError(f"compression config: device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        self._check_nm()

    def _check_nm(self) -> None:
        """N:M constraints that hold for every layer (per-layer shape fits are checked by the policy)."""
        masked = {self.method, self.linear_method or self.method} & {"mvq", "prune_vq", "nm"}
        if not masked:
            return
        if self.n >= self.m:
            raise ArchsimInputError(f"compression config: N:M pruning needs N < M, got N={self.n}, M={self.m}; "
                                    f"e.g. --n 1 --m 4 (or use --method vq for no pruning)")
        if self.method in ("mvq", "prune_vq") and self.d % self.m:
            raise ArchsimInputError(f"compression config: M={self.m} must divide d={self.d} (the N:M groups lie "
                                    f"inside each d-dim subvector); pick d as a multiple of M, e.g. d={4 * self.m}")
        if self.linear_d is not None and (self.linear_method or self.method) in ("mvq", "prune_vq") \
                and self.linear_d % self.m:
            raise ArchsimInputError(f"compression config: M={self.m} must divide linear_d={self.linear_d}; "
                                    f"pick linear_d as a multiple of M or set linear_method='vq'")

    @property
    def masked(self) -> bool:
        """True when the (conv) method stores an N:M mask."""
        return self.method in ("mvq", "prune_vq", "nm")

    def replace(self, **changes: Any) -> "CompressionConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (a callable importance is written by its name)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if callable(value):
                value = getattr(value, "__name__", repr(value))
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ArchsimInputError(f"compression config: {name} must be a positive integer, got {value!r}")


__all__ = ["CompressionConfig", "METHODS", "LAYOUTS", "INITS", "MASK_ENCODINGS", "DEFAULT_CHUNK_SIZE",
           "normalise_method"]
