"""Converter: compress's per-layer output -> the accelerator-facing formats of `archsim.functional.weights`.

Reads a `compress.layer.CompressedLayer` (or anything with the same attributes) *by duck typing*
and turns its tensors into numpy with ``np.asarray`` — so archsim still never imports torch
or compress; the data only flows forward (compress -> archsim). Needs CPU tensors without grad
(what the compressors return).

=============  ==========================================================================
method         accelerator-facing form
=============  ==========================================================================
``mvq``        `MVQWeights`: ``codebook_int`` [k, d], ``codes``, bitmap ``mask``, N, M
``prune_vq``   `MVQWeights` too (same storage; only the clustering differed)
``vq``         `VQWeights`: ``codebook_int``, ``codes``
``nm``         `NMWeights`: per M-group the N kept ints of ``values_int`` and their positions
=============  ==========================================================================
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from archsim.functional.weights import MVQWeights, NMWeights, VQWeights, Weights
from workloads.errors import ArchsimInputError


def _np(tensor: Any) -> np.ndarray:
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu()
    return np.asarray(tensor)


def from_compressed(layer: Any) -> Weights:
    """The accelerator-facing weights of one compressed layer (see the module docstring)."""
    method = getattr(layer, "method", None)
    shape = tuple(int(s) for s in getattr(layer, "shape", ()))
    layout = getattr(layer, "layout", "input_channel")
    scale = float(getattr(layer, "scale", 1.0))
    name = getattr(layer, "name", "?")
    if method in ("mvq", "prune_vq", "vq"):
        if getattr(layer, "codebook_int", None) is None or getattr(layer, "codes", None) is None:
            raise ArchsimInputError(f"compressed layer {name!r} ({method}) has no integer codebook / codes")
        book = _np(layer.codebook_int)
        if not np.issubdtype(book.dtype, np.integer):
            raise ArchsimInputError(f"compressed layer {name!r}: the codebook is not integer (codebook_bits = 32?); "
                                    f"compress with codebook_bits=8 for the int8 datapath")
        codes = _np(layer.codes).reshape(-1)
        if method == "vq":
            return VQWeights(codebook=book, codes=codes, shape=shape, layout=layout, scale=scale)
        return MVQWeights(codebook=book, codes=codes, mask=_np(layer.mask).astype(bool), n=int(layer.n),
                          m=int(layer.m), shape=shape, layout=layout, scale=scale)
    if method == "nm":
        values = getattr(layer, "values_int", None)
        if values is None or getattr(layer, "mask", None) is None:
            raise ArchsimInputError(f"compressed layer {name!r} (nm) has no integer values / mask")
        vals, mask = _np(values), _np(layer.mask).astype(bool)
        if not np.issubdtype(vals.dtype, np.integer):
            raise ArchsimInputError(f"compressed layer {name!r}: kept values are not integer (value_bits = 32?); "
                                    f"compress with value_bits=8 for the int8 datapath")
        n, m = int(layer.n), int(layer.m)
        groups = mask.reshape(-1, m)
        if (groups.sum(axis=1) != n).any():
            raise ArchsimInputError(f"compressed layer {name!r}: the mask is not an exact {n}:{m} pattern")
        positions = np.nonzero(groups)[1].reshape(-1, n)               # increasing within each group
        kept = np.take_along_axis(vals.reshape(-1, m).astype(np.int64), positions, axis=1)
        return NMWeights(values=kept, positions=positions, n=n, m=m, shape=shape, layout=layout, scale=scale)
    raise ArchsimInputError(f"compressed layer {name!r}: unknown method {method!r}; expected mvq, prune_vq, vq or nm")


def from_compressed_model(model: Any) -> dict[str, Weights]:
    """``{layer name: weights}`` for every compressed layer of a `compress.model.CompressedModel`
    (dense layers are absent: quantise their weights and wrap them in `DenseWeights`)."""
    layers: Mapping[str, Any] = getattr(model, "layers", None)
    if not isinstance(layers, Mapping):
        raise ArchsimInputError(f"expected a CompressedModel (with .layers), got {type(model).__name__}")
    return {name: from_compressed(layer) for name, layer in layers.items()}
