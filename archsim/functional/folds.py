"""Row folds for functional execution: the same reduction blocks the timing mappers pin in the array.

* Dense arrays (``array.pe = dense``): the folds come from the design's own mapper
  (``row_folds`` of ``ws`` / ``ews``; a compressed-weight dataflow such as ``ews_compressed``
  wraps a dense mapper, named by its ``base``, whose folds it keeps — `archsim.mapping.compressed`).
  WS pins ``rows`` consecutive reduction elements per fold, EWS ``rows · g · S`` with several
  weights per PE. Functional mode therefore walks exactly the folds whose cycles and events the
  timing model counts.
* The N:M sparse array (``array.pe = nm_sparse``, built for ``Na:Ma``): every window of ``Ma``
  consecutive reduction positions occupies ``Na`` PE rows (one per kept weight, each PE with an
  Ma:1 activation mux), so a d-dim subvector occupies Q = (Na/Ma)·d rows (reference/mvq.md §3.2)
  and one physical row covers Ma/Na reduction positions (``ArrayConfig.logical_rows_per_row``).
  As in `archsim.mapping.compressed`, the folds are those of the (wrapped) dense mapper on a
  *logical* array of ``rows·Ma/Na`` rows whose weight-load rate is scaled by ``Ma/Na`` (so EWS picks
  the same weights-per-PE mapping the timing model picks); ``rows_used`` is converted back to
  physical rows. A subvector that straddles two folds has its codeword looked up by both.
"""

from __future__ import annotations

from archsim.design import Design
from archsim.mapping import get_mapper
from archsim.mapping.base import RowFold
from archsim.mapping.geometry import Geometry
from workloads.errors import ArchsimInputError
from workloads.layer import Layer

def fold_mapper(design: Design):
    """The mapper whose row folds the design runs: its own, or the dense one a compressed dataflow wraps."""
    mapper = get_mapper(design.dataflow)
    base = getattr(mapper, "base", None)
    if getattr(mapper, "row_folds", None) is None and isinstance(base, str):
        mapper = get_mapper(base)
    if getattr(mapper, "row_folds", None) is None:
        raise ArchsimInputError(f"design {design.name!r}: functional mode needs a weight-stationary mapper with row "
                                f"folds; dataflow {design.dataflow!r} has none (use ws, ews or ews_compressed)")
    return mapper


def dense_row_folds(layer: Layer, design: Design) -> list[RowFold]:
    """The design mapper's row folds (K ranges in the mapper's reduction order)."""
    return list(fold_mapper(design).row_folds(Geometry.of(layer, design.precision.psum_bits), design))


def logical_sparse_design(design: Design, array_n: int, array_m: int) -> Design:
    """The dense array the wrapped mapper sees for a layer running sparse: ``rows·Ma/Na`` rows, weight
    load ``Ma/Na`` times wider per logical row (the physical load rate is unchanged)."""
    if design.array.rows % array_n:
        raise ArchsimInputError(f"array.rows ({design.array.rows}) must be a multiple of array.sparse_n ({array_n})")
    arr = design.array.model_copy(update={"rows": design.array.rows // array_n * array_m})
    ews = design.ews.model_copy(update={"weight_load_words_per_cycle":
                                        design.ews.weight_load_words_per_cycle * array_m // array_n})
    return design.model_copy(update={"array": arr, "ews": ews})


def sparse_row_folds(layer: Layer, design: Design, array_n: int, array_m: int) -> list[RowFold]:
    """Folds of the layer on the ``array_n:array_m`` sparse array (``k0, k1`` in reduction positions,
    ``rows_used`` in physical PE rows)."""
    logical = logical_sparse_design(design, array_n, array_m)
    folds = fold_mapper(design).row_folds(Geometry.of(layer, design.precision.psum_bits), logical)
    out = []
    for rf in folds:
        if rf.k0 % array_m:
            raise AssertionError(f"sparse fold starts at reduction position {rf.k0}, inside an {array_m}-window")
        out.append(RowFold(k0=rf.k0, k1=rf.k1, rows_used=-(-rf.rows_used * array_n // array_m), per_pe=rf.per_pe))
    return out
