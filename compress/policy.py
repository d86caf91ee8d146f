"""Which layers are compressed, and with what geometry — one rule for real and structural runs.

`plan_layer` decides, from a layer's *shape* alone, whether it is compressed and with which
method, subvector size ``d``, codebook size ``k`` and layout. `compress.model.compress_model`
(real clustering on an ``nn.Module``) and `compress.traces.structural_traces` (sizes only, on a
`workloads.Network`) both call it, so a structural trace is exact by construction of the policy,
and the tests check the sizes the clustering really produced against it.

Order of the rules (first match wins; the reason is kept for tables):
1. name matches ``config.exclude`` (fnmatch)          -> dense, "excluded"
2. first conv and ``exclude_first_conv``              -> dense, "first conv"
3. depthwise conv and ``exclude_depthwise``           -> dense, "depthwise"
4. subvector size does not tile the layout's axis     -> dense, "d=... does not divide ..."
5. masked VQ and M does not divide d                  -> dense, "M does not divide d"
6. otherwise compressed; ``k_eff = min(k, n_sub)`` (more codewords than subvectors can never be
   used), and with ``clamp_centroids`` PQF's ``min(k, pow2_floor(n_sub / 4))`` (coding.py
   `get_num_centroids`: "we clamp the number of centroids to min(k, C_out x m / 4) for stability").
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from typing import Sequence

from compress.config import CompressionConfig
from compress.trace import code_bits_for, mask_bits_per_group
from workloads.errors import ArchsimInputError

DENSE = "dense"


@dataclass(frozen=True)
class LayerPlan:
    """The decision for one layer: ``method`` is ``dense`` or one of the config methods."""

    name: str
    kind: str  # "conv" | "linear"
    shape: tuple[int, ...]
    method: str
    layout: str = "input_channel"
    d: int = 0
    k: int = 0
    n: int = 1
    m: int = 1
    reason: str = ""

    @property
    def compressed(self) -> bool:
        return self.method != DENSE

    @property
    def masked(self) -> bool:
        return self.method in ("mvq", "prune_vq", "nm")

    @property
    def weights(self) -> int:
        return math.prod(self.shape)

    @property
    def n_subvectors(self) -> int:
        return self.weights // self.d if self.compressed else 0

    @property
    def density(self) -> float:
        return self.n / self.m if self.masked else 1.0

    def expected_bits(self, config: CompressionConfig) -> dict[str, int]:
        """Storage of the compressed weights from the shape alone (exact: no value enters it)."""
        if not self.compressed:
            return {"codes": 0, "mask": 0, "codebook": 0, "dense": self.weights * config.dense_bits}
        groups = self.weights // self.m if self.masked else 0
        mask = groups * mask_bits_per_group(self.n, self.m, config.mask_encoding) if self.masked else 0
        if self.method == "nm":
            return {"codes": 0, "mask": mask, "codebook": 0, "dense": groups * self.n * config.value_bits}
        return {"codes": self.n_subvectors * code_bits_for(self.k), "mask": mask,
                "codebook": self.k * self.d * config.codebook_bits, "dense": 0}


def pow2_floor(x: float) -> int:
    """Largest power of two <= x (at least 1)."""
    return 1 << max(0, math.floor(math.log2(x))) if x >= 1 else 1


def is_depthwise(shape: Sequence[int], groups: int) -> bool:
    """A conv whose every filter sees one input channel of its own."""
    return len(shape) > 2 and groups > 1 and shape[1] == 1


def layer_d(shape: Sequence[int], kind: str, config: CompressionConfig) -> int:
    """Subvector size of a layer under ``config`` (see `compress.config` for the layouts)."""
    if kind == "linear":
        return config.linear_d or config.d
    kernel_area = math.prod(shape[2:]) if len(shape) > 2 else 1
    if config.layout == "kernel" and kernel_area > 1:
        return config.kernel_blocks * kernel_area
    return config.d


def check_exclusions(config: CompressionConfig, names: Sequence[str], where: str = "the model") -> None:
    """Refuse an exclusion pattern that matches no conv/linear layer name: a typo there would silently
    compress a layer the user meant to keep dense (and change every size and accuracy figure)."""
    unknown = [p for p in config.exclude if not any(fnmatch.fnmatchcase(n, p) for n in names)]
    if unknown:
        sample = ", ".join(list(names)[:8]) + (" ..." if len(names) > 8 else "")
        raise ArchsimInputError(f"compression config: exclude pattern(s) {unknown} match no conv/linear layer of "
                                f"{where}; use the layer names (fnmatch patterns allowed), e.g. {sample}")


def plan_layer(name: str, shape: Sequence[int], kind: str, config: CompressionConfig, *, groups: int = 1,
               is_first_conv: bool = False) -> LayerPlan:
    """Decide how ``name`` (weight ``shape``: K x C/groups [x R x S]) is compressed under ``config``."""
    shape = tuple(int(s) for s in shape)
    method = (config.linear_method or config.method) if kind == "linear" else config.method
    base = dict(name=name, kind=kind, shape=shape, layout=config.layout)

    def dense(reason: str) -> LayerPlan:
        return LayerPlan(method=DENSE, reason=reason, **base)

    if any(fnmatch.fnmatchcase(name, pattern) for pattern in config.exclude):
        return dense("excluded by config")
    if kind == "conv" and is_first_conv and config.exclude_first_conv:
        return dense("first conv (exclude_first_conv)")
    if kind == "conv" and is_depthwise(shape, groups) and config.exclude_depthwise:
        return dense("depthwise (exclude_depthwise)")

    if method == "sparse":   # unstructured pruning: no subvectors, no groups, so any shape fits
        return LayerPlan(method=method, d=1, k=0, **base)
    masked = method in ("mvq", "prune_vq", "nm")
    n, m = (config.n, config.m) if masked else (1, 1)
    d = config.m if method == "nm" else layer_d(shape, kind, config)
    axis = shape[1] if (config.layout == "input_channel" or kind == "linear") else math.prod(shape[1:])
    if axis % d:
        what = "in_channels/groups" if config.layout == "input_channel" or kind == "linear" else "C*R*S"
        label = "M" if method == "nm" else "d"
        return dense(f"{label}={d} does not divide {what}={axis}")
    if method in ("mvq", "prune_vq") and d % config.m:
        return dense(f"M={config.m} does not divide d={d}")
    if method == "nm":
        return LayerPlan(method=method, d=d, k=0, n=n, m=m, **base)
    n_sub = math.prod(shape) // d
    k_nominal = (config.linear_k or config.k) if kind == "linear" else config.k
    k = min(k_nominal, n_sub)
    if config.clamp_centroids:
        k = min(k_nominal, pow2_floor(n_sub / 4))
    return LayerPlan(method=method, d=d, k=k, n=n, m=m, **base)
