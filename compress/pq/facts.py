"""`PqLayerFacts`: what a product-quantization accelerator must know about one layer (torch-free).

This is the PQ-specific contract between ``compress.pq`` (which learns prototypes and lookup
tables) and ``archsim.pqa`` (which times and sizes the hardware). It is plain data so that archsim
can import it without torch, and so a user can write one by hand for a layer that was never
trained. The general `compress.trace.Trace` belongs to the weight-compression flow and is not used
here because PQ compresses *activations*: its run-time state (prototypes, LUTs) is not a weight
format.

Geometry (reference pq_permdnn.md §A.1): a conv is lowered with im2col to ``cols`` input columns of
length ``reduction`` (= C/groups * kh * kw). Each column is cut into ``ns`` subvectors of length
``ls``; each subvector is replaced by the index of its nearest of ``np`` prototypes; the output is
``y_k = sum_s LUT[s][idx_s][k]`` with ``k`` in ``0..out_channels-1``.

Padding rule (`from_layer`): ``ls`` must divide ``reduction`` unless ``pad=True``, in which case
the reduction axis is zero-padded to ``ns * ls`` with ``ns = ceil(reduction / ls)``: padded input
coordinates are 0 and the padded weight rows are 0, so the padded coordinates add nothing to any
LUT entry (they only make the last subspace's nearest-prototype search see zeros there).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind

Distance = Literal["l2", "l1"]
DISTANCES: tuple[str, ...] = ("l2", "l1")


@dataclass(frozen=True)
class PqLayerFacts:
    """Per-layer PQ geometry and table widths: everything the PQA model needs."""

    name: str
    cols: int  # im2col columns to encode (batch * out_h * out_w)
    reduction: int  # unpadded length of one column (C/groups * kh * kw)
    ls: int  # subvector length L_s
    np: int  # prototypes per codebook N_p
    k: int  # output channels (LUT entries per (subspace, prototype))
    proto_bits: int = 8  # bits per stored prototype element (paper default, §A.1)
    lut_bits: int = 16  # bits per LUT entry (paper default, §A.1)
    shared_codebook: bool = False  # one codebook for all subspaces (released kernel) vs one per subspace
    distance: Distance = "l2"
    # Layer geometry the conventional (DLA) baseline needs; unused by PQA itself.
    in_channels: int = 0
    kernel_h: int = 1
    kernel_w: int = 1
    out_h: int = 1
    out_w: int = 1
    batch: int = 1

    def __post_init__(self) -> None:
        for field in ("cols", "reduction", "ls", "np", "k", "proto_bits", "lut_bits", "kernel_h", "kernel_w",
                      "out_h", "out_w", "batch"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ArchsimInputError(f"PQ layer {self.name!r}: {field} must be a positive integer, got {value!r}")
        if self.distance not in DISTANCES:
            raise ArchsimInputError(f"PQ layer {self.name!r}: distance must be one of {', '.join(DISTANCES)}, "
                                    f"got {self.distance!r}")
        if self.ls > self.reduction:
            raise ArchsimInputError(f"PQ layer {self.name!r}: ls={self.ls} is longer than the reduction length "
                                    f"{self.reduction}; choose ls <= {self.reduction}")

    @property
    def ns(self) -> int:
        """Subspaces: ceil(reduction / ls) (the last is zero-padded when ls does not divide it)."""
        return math.ceil(self.reduction / self.ls)

    @property
    def padded(self) -> bool:
        return self.ns * self.ls != self.reduction

    @property
    def lut_entries(self) -> int:
        """Ns * Np * K (`PQ_TABLE_SIZE` of the reference model)."""
        return self.ns * self.np * self.k

    @property
    def proto_entries(self) -> int:
        """Stored prototype elements: Ns*Np*Ls per-subspace, Np*Ls when one codebook is shared."""
        return (1 if self.shared_codebook else self.ns) * self.np * self.ls

    @property
    def lut_table_bits(self) -> int:
        return self.lut_entries * self.lut_bits

    @property
    def proto_table_bits(self) -> int:
        return self.proto_entries * self.proto_bits

    @property
    def table_bits(self) -> int:
        """Bits loaded from external memory per layer (prototypes + LUT)."""
        return self.lut_table_bits + self.proto_table_bits

    @property
    def index_bits(self) -> int:
        """Bits of one encoded index: ceil(log2 Np) (the released kernel stores int8)."""
        return max(1, math.ceil(math.log2(self.np)))

    @property
    def dense_weight_count(self) -> int:
        return self.reduction * self.k

    @property
    def macs(self) -> int:
        """MACs of the dense layer PQ replaces (for utilisation figures)."""
        return self.cols * self.reduction * self.k

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(ns=self.ns, lut_entries=self.lut_entries, proto_entries=self.proto_entries,
                 table_bits=self.table_bits, padded=self.padded)
        return d


def from_layer(layer: Layer, ls: int, np: int, *, proto_bits: int = 8, lut_bits: int = 16,
               shared_codebook: bool = False, distance: Distance = "l2", pad: bool = False) -> PqLayerFacts:
    """Facts for a `workloads.Layer` (conv or linear, ungrouped) at (ls, np).

    ``pad=False`` (default) rejects an ``ls`` that does not divide the reduction length with one
    `ArchsimInputError`; ``pad=True`` accepts it and zero-pads (see module docstring).
    """
    if layer.kind not in (LayerKind.CONV, LayerKind.LINEAR):
        raise ArchsimInputError(f"layer {layer.name!r}: PQ covers conv and linear layers, not {layer.kind.value}")
    if layer.groups != 1:
        raise ArchsimInputError(f"layer {layer.name!r}: PQ needs an ungrouped layer (groups={layer.groups}); "
                                f"exclude grouped/depthwise layers from PQ")
    for name, value in (("ls", ls), ("np", np)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ArchsimInputError(f"layer {layer.name!r}: {name} must be a positive integer, got {value!r}")
    reduction = layer.reduction_size
    if reduction % ls and not pad:
        raise ArchsimInputError(f"layer {layer.name!r}: ls={ls} does not divide the reduction length {reduction} "
                                f"(C*kh*kw); choose an ls that divides it, or zero-pad to "
                                f"{math.ceil(reduction / ls) * ls} (`archsim pqa --pad`; Python: pad=True)")
    return PqLayerFacts(name=layer.name, cols=layer.batch * layer.out_h * layer.out_w, reduction=reduction,
                        ls=ls, np=np, k=layer.out_channels, proto_bits=proto_bits, lut_bits=lut_bits,
                        shared_codebook=shared_codebook, distance=distance, in_channels=layer.in_channels,
                        kernel_h=layer.kernel_h, kernel_w=layer.kernel_w, out_h=layer.out_h, out_w=layer.out_w,
                        batch=layer.batch)
