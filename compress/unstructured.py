"""Unstructured magnitude pruning of real weights, and the `Trace` it produces (numpy only, no torch).

Why a separate, numpy-only path: SparTen-style designs (`archsim.mapping.sparten`) store weights as a
bitmap plus the kept values and balance their compute units by *per-filter* density, which depends on
the weight values. `compress.trace.structural_trace(layer, "sparse", density=...)` gives the exact
sizes without values; this module prunes actual weights (a trained model's, or seeded random ones as
archsim's functional mode does) and records how the kept weights spread over the filters
(``Trace.filter_density``).

Pruning rule (stated, the usual one): one layer-wise magnitude threshold — keep the
``max(1, round(W x density))`` weights of largest ``|w|``; ties are broken by flat index (lower first),
so the result is deterministic. Zero-valued weights are never preferred over non-zero ones.
"""

from __future__ import annotations

import numpy as np

from compress.trace import Trace, WeightFormat
from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind


def weight_shape(layer: Layer) -> tuple[int, ...]:
    """The torch weight shape of a conv (K x C/groups x R x S) or linear (K x C) layer."""
    if layer.kind is LayerKind.CONV:
        return (layer.out_channels, layer.in_channels // layer.groups, layer.kernel_h, layer.kernel_w)
    if layer.kind is LayerKind.LINEAR:
        return (layer.out_channels, layer.in_channels)
    raise ArchsimInputError(f"layer {layer.name!r}: a {layer.kind.value} layer has no stored weight to prune")


def check_density(density: object, what: str = "density") -> float:
    """A kept fraction in (0, 1], or one clear error."""
    if isinstance(density, bool) or not isinstance(density, (int, float, np.floating)) or not 0.0 < density <= 1.0:
        raise ArchsimInputError(f"{what} must be in (0, 1] (the kept fraction of the weights, e.g. 0.25), "
                                f"got {density!r}")
    return float(density)


def magnitude_mask(weight: np.ndarray, density: float) -> np.ndarray:
    """Boolean mask keeping the ``max(1, round(W x density))`` largest-magnitude weights (layer-wise)."""
    density = check_density(density)
    w = np.asarray(weight)
    if w.size == 0:
        raise ArchsimInputError("cannot prune an empty weight tensor")
    keep = max(1, round(w.size * density))
    order = np.lexsort((np.arange(w.size), -np.abs(w.reshape(-1)).astype(np.float64)))
    mask = np.zeros(w.size, dtype=bool)
    mask[order[:keep]] = True
    return mask.reshape(w.shape)


def filter_densities(mask: np.ndarray) -> tuple[float, ...]:
    """Kept fraction of each output channel (axis 0) of a weight mask."""
    m = np.asarray(mask, dtype=bool)
    return tuple(float(v) for v in m.reshape(m.shape[0], -1).mean(axis=1))


def sparse_trace(layer: Layer, mask: np.ndarray, *, bias_bits: int | None = None) -> Trace:
    """The `Trace` of ``layer`` stored as SparTen does: a bitmap of W bits + the kept values at the
    layer's weight precision, with the exact per-filter densities of ``mask`` (True = kept)."""
    m = np.asarray(mask, dtype=bool)
    shape = weight_shape(layer)
    if m.shape != shape:
        raise ArchsimInputError(f"layer {layer.name!r}: the mask has shape {m.shape}, the layer's weight is {shape}")
    kept = int(m.sum())
    if kept == 0:
        raise ArchsimInputError(f"layer {layer.name!r}: the mask keeps no weight; a sparse trace needs density > 0")
    biases = layer.biases * layer.precision.psum_bits if bias_bits is None else bias_bits
    return Trace(layer=layer, format=WeightFormat.SPARSE, density=kept / m.size, mask_encoding="bitmap",
                 mask_bits=m.size, value_bits=kept * layer.precision.weight_bits, bias_bits=biases,
                 filter_density=filter_densities(m))


def prune_layer(layer: Layer, weight: np.ndarray, density: float) -> tuple[np.ndarray, Trace]:
    """(pruned weight, trace): magnitude-prune ``weight`` of ``layer`` to ``density`` (see the module docstring)."""
    w = np.asarray(weight)
    if w.shape != weight_shape(layer):
        raise ArchsimInputError(f"layer {layer.name!r}: weight has shape {w.shape}, expected {weight_shape(layer)}")
    mask = magnitude_mask(w, density)
    return np.where(mask, w, 0), sparse_trace(layer, mask)


__all__ = ["check_density", "filter_densities", "magnitude_mask", "prune_layer", "sparse_trace", "weight_shape"]
