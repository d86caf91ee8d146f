"""`run_functional(layer, weights, activations, design) -> FunctionalResult` (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archsim.design import Design, load_design, nm_support_problem
from archsim.functional.decode import WeightLoader
from archsim.functional.engine import FoldRecord, FunctionalCounts, execute
from archsim.functional.folds import dense_row_folds, sparse_row_folds
from archsim.functional.lowering import assemble_output, check_activations, im2col, k_order_for_layout, k_permutation
from archsim.functional.weights import (DenseWeights, MVQWeights, NMWeights, Weights, check_range,
                                        validate)
from workloads.errors import ArchsimInputError
from workloads.layer import Layer


@dataclass(frozen=True, eq=False)
class FunctionalResult:
    """What one functional run produced.

    ``outputs``: the raw accumulations in ``layer.output_shape`` (int32 for 32-bit psums; no bias, no
    requantisation — those follow the array in the hardware and are outside this model).
    ``counts``: MACs, mux selects, decodes, ... (`archsim.functional.engine`). ``folds``: every
    executed fold in order. ``k_order``: the reduction order along the PE rows. ``psum_overflow``:
    True when some psum wrapped at ``design.precision.psum_bits`` (the outputs then differ from exact
    integer arithmetic, as they would in the hardware).
    """

    layer: Layer
    design_name: str
    weight_format: str
    sparse_array: bool
    k_order: str
    outputs: np.ndarray
    counts: FunctionalCounts
    folds: tuple[FoldRecord, ...]
    psum_overflow: bool
    #: the output positions (rows of the im2col matrix, ``batch·out_h·out_w`` or ``batch·rows``) that were
    #: computed, sorted; None = all of them. With positions, ``outputs`` is ``[len(positions), out_channels]``
    #: and the per-pixel counters (MACs, mux selects, input reads, psum traffic) count those positions only.
    positions: np.ndarray | None = None

    @property
    def macs(self) -> int:
        return self.counts.macs


def _design(design: Design | str | Path) -> Design:
    if isinstance(design, Design):
        return design
    if isinstance(design, (str, Path)):
        return load_design(design)
    raise ArchsimInputError(f"design must be a Design, a preset name or a YAML path, got {type(design).__name__}")


def _check_array_supports(weights: Weights, design: Design) -> tuple[int, int] | None:
    """The sparse array's ``(Na, Ma)``, or None for a dense array; raises when the weights cannot run on it."""
    arr = design.array
    if arr.pe != "nm_sparse":
        return None
    if not isinstance(weights, (MVQWeights, NMWeights)):
        raise ArchsimInputError(f"design {design.name!r} has an N:M sparse array (array.pe = nm_sparse, "
                                f"{arr.sparse_n}:{arr.sparse_m}) which runs only N:M weights; got {weights.format} "
                                f"weights — compress the layer with {arr.sparse_n}:{arr.sparse_m} (mvq or nm) or run "
                                f"it on a dense design")
    problem = nm_support_problem(weights.n, weights.m, arr.sparse_n, arr.sparse_m)
    if problem:
        raise ArchsimInputError(f"design {design.name!r} (array.sparse_n:sparse_m = {arr.sparse_n}:{arr.sparse_m}) "
                                f"cannot run {weights.n}:{weights.m} weights: {problem}")
    return arr.sparse_n, arr.sparse_m


def _weight_values(weights: Weights) -> np.ndarray:
    """The integers that reach the PEs (for the weight-width check)."""
    if isinstance(weights, (DenseWeights, NMWeights)):
        return weights.values
    return weights.codebook


def run_functional(layer: Layer, weights: Weights, activations: object, design: Design | str | Path,
                   positions: np.ndarray | None = None) -> FunctionalResult:
    """Push ``activations`` through ``layer`` with ``weights`` on ``design``'s array, fold by fold.

    ``positions`` (sorted output-position indices, see `FunctionalResult.positions`) streams only those
    pixels through every fold: each output position is an independent row of the im2col product, so a
    sample checks its outputs exactly and costs ``len(positions) / all`` of the full run (functional
    check's per-layer budget, `archsim.functional.check`). Weight-side work (decode, folds) is unchanged."""
    if not isinstance(layer, Layer):
        raise ArchsimInputError(f"layer must be a workloads Layer, got {type(layer).__name__}")
    design = _design(design)
    shape = validate(weights, layer)
    sparse = _check_array_supports(weights, design)
    prec = design.precision
    check_range(_weight_values(weights), prec.weight_bits, f"layer {layer.name!r}: weight values",
                "precision.weight_bits")
    x = check_activations(layer, activations)
    check_range(x, prec.act_bits, f"layer {layer.name!r}: activations", "precision.act_bits")

    if sparse is not None:
        order = k_order_for_layout(weights.layout)
        folds = sparse_row_folds(layer, design, *sparse)
    else:
        order = "pytorch"                    # the WS/EWS mappers' reduction order
        folds = dense_row_folds(layer, design)
    loader = WeightLoader(layer, weights, shape, order)
    cols = im2col(layer, x)
    if positions is not None:
        positions = np.asarray(positions, dtype=np.int64)
        if positions.ndim != 1 or not positions.size or positions.min() < 0 or positions.max() >= cols.shape[1] \
                or np.any(np.diff(positions) <= 0):
            raise ArchsimInputError(f"layer {layer.name!r}: positions must be sorted, distinct output positions in "
                                    f"[0, {cols.shape[1]})")
        cols = cols[:, positions]
    cols = cols[:, :, k_permutation(layer, order)]
    acc, counts, records, overflow = execute(cols, loader, folds, design.array.cols, sparse, prec.psum_bits)
    if positions is not None:    # [repeats, P, N] -> [P, out_channels] (channel = g·N + j, as assemble_output)
        out = acc.transpose(1, 0, 2).reshape(acc.shape[1], -1)
    else:
        out = assemble_output(layer, acc)
    if prec.psum_bits <= 32:
        out = out.astype(np.int32)
    return FunctionalResult(layer=layer, design_name=design.name, weight_format=weights.format,
                            sparse_array=sparse is not None,
                            k_order=order, outputs=out, counts=counts, folds=tuple(records), psum_overflow=overflow,
                            positions=positions)
