"""Accelerator-facing weight formats: what the weight loader of each design reads, as numpy integers.

Four formats, one per family of designs (all integer, all in the layer's weight shape
``(out, in/groups, kh, kw)`` for a conv — ``(out, in/groups, kw)`` is accepted when ``kh == 1`` —
or ``(out, in)`` for a linear layer):

``DenseWeights``  int weights (WS / EWS baseline; also any compressed weight decoded offline).
``VQWeights``     plain VQ (BGD/PQF, "EWS-C"): an int codebook ``[k, d]`` and one code per
                  subvector; the loader rebuilds ``codebook[code]``.
``MVQWeights``    masked VQ ("EWS-CM" on a dense array, "EWS-CMS" on the N:M sparse array): the
                  int codebook ``[k, d]``, one code per subvector and a bitmap mask ``[n_sub, d]``
                  with exactly N ones in every group of M consecutive positions.
``NMWeights``     S2TA-like N:M: per group of M consecutive weights, the N kept int values and
                  their positions in the group (``index`` encoding; no codebook).

How MVQ stores codewords (decided from reference/mvq.md §1.4 and §3.2)
----------------------------------------------------------------------
Codewords are **full length d**: ``c_j ∈ Z^d``. Masked k-means fits every coordinate of a
codeword on the kept weights of *all* subvectors assigned to it, and those subvectors have
different masks, so no single set of (N/M)·d positions could serve them all. The reconstruction is
``ŵ_i = m_i ⊙ c_{a_i}``: the loader reads codeword ``c_{a_i}`` from the codebook register file,
turns the bitmap ``m_i`` into positions with the leading-zero-count decoder and forwards only
the kept coordinates ``c_{a_i}[p]`` to the (N/M)·d PEs of the subvector, each with its mux
select ``p mod M``. This is also what the model-size accounting charges (``k·d`` codebook values,
`compress.trace`), and it is what `compress.layer.CompressedLayer` holds.

Subvector order (``layout``, as in `compress.layout`)
-----------------------------------------------------
``input_channel``: the weight is permuted to ``(out, kh, kw, in/groups)`` and every run of ``d``
consecutive input channels is one subvector — so subvectors (and their N:M groups) are
contiguous along a reduction order with the channel innermost. ``kernel``: each filter's
``(in/groups, kh, kw)`` row is flattened in PyTorch order and cut into blocks of ``d``.
For `NMWeights` a "subvector" is one M-group (``d = M``), exactly as `compress` plans its ``nm`` method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import numpy as np

from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind

LAYOUTS = ("input_channel", "kernel")


def expected_weight_shape(layer: Layer) -> tuple[int, ...]:
    """The PyTorch weight shape of ``layer`` (conv: 4-D; linear: 2-D)."""
    if layer.kind is LayerKind.CONV:
        return (layer.out_channels, layer.in_channels // layer.groups, layer.kernel_h, layer.kernel_w)
    if layer.kind is LayerKind.LINEAR:
        return (layer.out_channels, layer.in_channels)
    raise ArchsimInputError(f"layer {layer.name!r}: functional mode runs conv and linear layers, not "
                            f"kind={layer.kind.value!r} (a matmul's right operand is an activation, not a stored "
                            f"weight); simulate it in timing mode only")


def normalise_shape(shape: tuple[int, ...], layer: Layer, what: str) -> tuple[int, ...]:
    """``shape`` as the 4-D/2-D weight shape of ``layer``; raises a clear error when it does not match."""
    shape = tuple(int(s) for s in shape)
    want = expected_weight_shape(layer)
    if shape == want:
        return want
    if layer.kind is LayerKind.CONV and layer.kernel_h == 1 and shape == (want[0], want[1], want[3]):
        return want  # a Conv1d weight (out, in/groups, kw)
    raise ArchsimInputError(f"layer {layer.name!r}: weight shape {shape} of {what} does not match the layer's {want} "
                            f"(out_channels, in_channels/groups{', kh, kw' if len(want) == 4 else ''}); "
                            f"compress the weight of this very layer")


def _int_array(x: object, what: str) -> np.ndarray:
    """``x`` as an int64 array; floats are accepted only when they hold integers exactly."""
    arr = np.asarray(x)
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating) and arr.size and np.all(np.isfinite(arr)) \
            and np.array_equal(arr, np.round(arr)):
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating) and not arr.size:
        return arr.astype(np.int64)
    raise ArchsimInputError(f"{what} must hold integers (the accelerator's int datapath), got dtype {arr.dtype}; "
                            f"quantise first (e.g. the int codebook `codebook_int` of a CompressedLayer)")


def check_range(values: np.ndarray, bits: int, what: str, field: str) -> None:
    """Signed ``bits``-bit range check (symmetric quantisers give ±(2^(b-1) - 1), which fits)."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if values.size and (values.min() < lo or values.max() > hi):
        raise ArchsimInputError(f"{what} span [{values.min()}, {values.max()}] but the design's {field} = {bits} "
                                f"allows [{lo}, {hi}]; quantise to {bits} bits or widen {field}")


def _check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ArchsimInputError(f"weights layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return layout


def layout_axis(shape: tuple[int, ...], layout: str) -> int:
    """Length of the axis the layout cuts into subvectors: in/groups, or in/groups·kh·kw."""
    return shape[1] if layout == "input_channel" else math.prod(shape[1:])


@dataclass(frozen=True, eq=False)
class DenseWeights:
    """Plain int weights in the layer's weight shape."""

    values: np.ndarray
    format = "dense"

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _int_array(self.values, "DenseWeights.values"))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)


class _CodebookGeometry:
    """``d`` and ``k`` read off a ``codebook`` array ``[k, d]`` (shared by the VQ and MVQ formats)."""

    codebook: np.ndarray

    @property
    def d(self) -> int:
        return int(self.codebook.shape[1])

    @property
    def k(self) -> int:
        return int(self.codebook.shape[0])


@dataclass(frozen=True, eq=False)
class VQWeights(_CodebookGeometry):
    """Plain VQ: ``codebook[codes]`` laid out by ``layout`` is the weight."""

    codebook: np.ndarray          # [k, d] int
    codes: np.ndarray             # [n_sub] int in [0, k)
    shape: tuple[int, ...]
    layout: str = "input_channel"
    scale: float = 1.0            # dequantisation scale of the codebook (informative; the datapath is integer)
    format = "vq"

    def __post_init__(self) -> None:
        _init_codebook(self, "VQWeights")


@dataclass(frozen=True, eq=False)
class MVQWeights(_CodebookGeometry):
    """Masked VQ: ``mask ⊙ codebook[codes]``; full-length-d codewords (see the module docstring)."""

    codebook: np.ndarray          # [k, d] int
    codes: np.ndarray             # [n_sub] int in [0, k)
    mask: np.ndarray              # [n_sub, d] bool bitmap, N ones per M-group
    n: int
    m: int
    shape: tuple[int, ...]
    layout: str = "input_channel"
    scale: float = 1.0
    format = "mvq"

    def __post_init__(self) -> None:
        _init_codebook(self, "MVQWeights")
        mask = np.asarray(self.mask)
        if mask.dtype != bool:
            if not np.isin(mask, (0, 1)).all():
                raise ArchsimInputError("MVQWeights.mask must be a 0/1 bitmap (1 = kept)")
            mask = mask.astype(bool)
        object.__setattr__(self, "mask", mask)
        _check_nm(self.n, self.m, "MVQWeights")
        if self.mask.shape != (self.codes.shape[0], self.d):
            raise ArchsimInputError(f"MVQWeights.mask has shape {self.mask.shape}, expected (n_sub, d) = "
                                    f"({self.codes.shape[0]}, {self.d})")
        if self.d % self.m:
            raise ArchsimInputError(f"MVQWeights: M={self.m} must divide the subvector size d={self.d} (the N:M "
                                    f"groups lie inside each subvector); pick d as a multiple of M")


@dataclass(frozen=True, eq=False)
class NMWeights:
    """S2TA-like N:M: ``values[g]`` are the N kept weights of M-group ``g`` at ``positions[g]``."""

    values: np.ndarray            # [n_groups, N] int
    positions: np.ndarray         # [n_groups, N] int in [0, M), distinct within a group
    n: int
    m: int
    shape: tuple[int, ...]
    layout: str = "input_channel"
    scale: float = 1.0
    format = "nm"

    def __post_init__(self) -> None:
        _check_nm(self.n, self.m, "NMWeights")
        object.__setattr__(self, "values", _int_array(self.values, "NMWeights.values"))
        object.__setattr__(self, "positions", _int_array(self.positions, "NMWeights.positions"))
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        _check_layout(self.layout)
        if self.values.ndim != 2 or self.values.shape[1] != self.n or self.positions.shape != self.values.shape:
            raise ArchsimInputError(f"NMWeights: values and positions must both have shape (n_groups, N={self.n}), "
                                    f"got {self.values.shape} and {self.positions.shape}")
        if self.positions.size and (self.positions.min() < 0 or self.positions.max() >= self.m):
            raise ArchsimInputError(f"NMWeights.positions must lie in [0, M={self.m}), got "
                                    f"[{self.positions.min()}, {self.positions.max()}]")
        srt = np.sort(self.positions, axis=1)
        if self.n > 1 and (np.diff(srt, axis=1) == 0).any():
            bad = int(np.nonzero((np.diff(srt, axis=1) == 0).any(axis=1))[0][0])
            raise ArchsimInputError(f"NMWeights.positions of group {bad} repeat a position ({self.positions[bad]}); "
                                    f"each of the N kept weights needs its own position in the M-group")

    @property
    def d(self) -> int:
        return self.m


Weights = Union[DenseWeights, VQWeights, MVQWeights, NMWeights]


def _check_nm(n: int, m: int, who: str) -> None:
    if not (isinstance(n, (int, np.integer)) and isinstance(m, (int, np.integer)) and 1 <= n < m):
        raise ArchsimInputError(f"{who}: N:M needs integers 1 <= N < M, got N={n!r}, M={m!r}")


def _init_codebook(obj: VQWeights | MVQWeights, who: str) -> None:
    book = _int_array(obj.codebook, f"{who}.codebook")
    codes = _int_array(obj.codes, f"{who}.codes").reshape(-1)
    if book.ndim != 2 or book.shape[0] < 1 or book.shape[1] < 1:
        raise ArchsimInputError(f"{who}.codebook must have shape (k, d) with k, d >= 1, got {book.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= book.shape[0]):
        raise ArchsimInputError(f"{who}.codes must index the {book.shape[0]}-entry codebook (0..{book.shape[0] - 1}), "
                                f"got codes in [{codes.min()}, {codes.max()}]")
    object.__setattr__(obj, "codebook", book)
    object.__setattr__(obj, "codes", codes)
    object.__setattr__(obj, "shape", tuple(int(s) for s in obj.shape))
    _check_layout(obj.layout)


def validate(weights: Weights, layer: Layer) -> tuple[int, ...]:
    """Check ``weights`` against ``layer``; returns the normalised (4-D / 2-D) weight shape."""
    if not isinstance(weights, (DenseWeights, VQWeights, MVQWeights, NMWeights)):
        raise ArchsimInputError(f"weights must be DenseWeights, VQWeights, MVQWeights or NMWeights "
                                f"(archsim.functional.weights; `from_compressed` converts compress output), "
                                f"got {type(weights).__name__}")
    shape = normalise_shape(weights.shape, layer, f"the {weights.format} weights")
    if isinstance(weights, DenseWeights):
        return shape
    d = weights.d
    axis = layout_axis(shape, weights.layout)
    if axis % d:
        raise ArchsimInputError(f"layer {layer.name!r}: subvector size d={d} does not divide the {weights.layout!r} "
                                f"axis ({axis}) of weight shape {shape}")
    n_sub = math.prod(shape) // d
    have = weights.values.shape[0] if isinstance(weights, NMWeights) else weights.codes.shape[0]
    if have != n_sub:
        what = "M-groups" if isinstance(weights, NMWeights) else "codes"
        raise ArchsimInputError(f"layer {layer.name!r}: the {weights.format} weights hold {have} {what} but weight "
                                f"shape {shape} cut into d={d} has {n_sub}; compress the weight of this very layer")
    if isinstance(weights, MVQWeights):
        kept = weights.mask.reshape(n_sub, d // weights.m, weights.m).sum(axis=-1)
        if (kept != weights.n).any():
            sub, grp = (int(i[0]) for i in np.nonzero(kept != weights.n))
            raise ArchsimInputError(f"layer {layer.name!r}: MVQ mask group {grp} of subvector {sub} keeps "
                                    f"{int(kept[sub, grp])} of M={weights.m} weights, not N={weights.n}; the mask "
                                    f"must be an exact N:M pattern")
    return shape


__all__ = ["DenseWeights", "VQWeights", "MVQWeights", "NMWeights", "Weights", "validate", "expected_weight_shape",
           "check_range", "LAYOUTS"]
