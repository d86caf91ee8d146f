"""The one sizing rule: how a named design (preset or YAML file) and an array size become a `Design`.

`archsim run`, `archsim.api.simulate`, `archsim compare` and `archsim sweep` all size a design by
name through `size_design` / `prepare` here, under one *iso* condition (`ISO_MODES`), so one design
name gives one answer everywhere (issue 13.1). The default is ``throughput`` everywhere.

The rule, stated once
---------------------
* A design given by **name** (a preset such as ``mvq``, or a ``.yaml`` path) has its array size
  (``array.rows x array.cols``, or ``--rows/--cols`` / the ``array.rows``/``array.cols`` overrides)
  read under the iso condition: ``iso="throughput"`` (default) reads ``rows`` as the
  *dense-equivalent* reduction length, ``iso="pes"`` as *physical* PE rows (the presets' own YAML
  convention). So ``simulate("resnet18", "mvq")`` is the 64x64 dense-equivalent MVQ array (16x64
  physical PEs at 1:4), exactly what ``archsim compare`` calls "mvq"; ``iso="pes"`` gives the
  64x64-physical-PE array (256x64 dense-equivalent). Dense designs are the same either way.
* ``iso="area"`` fits each design's array to a *baseline's* total area, so it needs several designs:
  it is `archsim compare`-only; `size_design` refuses it with an input error.
* A YAML file keeps the weight-path sizing its author wrote (codebook store, mask decoders); only
  presets get those resized to the compression parameters (see `prepare`), as in compare.
* A `Design` *object* is a built design: its ``array.rows`` counts physical PE rows and it is
  simulated as is (iso ``"as-built"``); that is how compare and sweep pass their prepared designs.

Every result states the physical array, the dense-equivalent array and the iso condition
(`ArraySizing`, carried by `archsim.results.NetworkResult`).

Array size convention
---------------------
By default ``rows`` is the **dense-equivalent reduction length** the array covers per cycle and
``cols`` the output channels, so ``rows x cols`` is the peak of dense-equivalent MACs per cycle. For
a dense array that is also the PE count. An N:M sparse array (MVQ's sparse systolic array, the
S2TA-like array) built for the same ``rows`` replaces the ``d`` PEs of each ``d``-long reduction
segment by ``Q = (N/M)·d`` PEs, each with an M:1 activation mux (mvq.md §3.2 [S1]): it has
``rows·N/M`` physical PE rows (``array.rows`` in `archsim.design`, which counts physical rows),
``(N/M)·rows·cols`` multipliers, and the same peak dense-equivalent MACs per cycle — on layers that
really are N:M sparse (a dense layer, e.g. the first conv, runs one reduction row per PE row).
``rows_are="physical"`` reads ``rows`` as physical PE rows instead: the presets' own convention
(mvq.yaml's "64x64" is 64 physical rows covering 256 reduction rows at 1:4).

SparTen (``dataflow: sparten``; unstructured sparsity, no N:M array) follows the same weight-side rule
[A]: its weights are pruned to density N/M (``weights.density``: every sparse design keeps as many
weights), and it gets ``rows·N/M`` CUs per cluster (``array.rows``) x ``cols`` clusters — the
multipliers of the N:M arrays, i.e. the same peak dense-equivalent MACs per cycle *counting weight
sparsity only*. Its activation sparsity (like S2TA's) is data-dependent and comes on top.

S2TA and its baseline follow the weight-side rule too [A]: iso-throughput is defined on the
dense-equivalent *weight* side only, because activation sparsity is data-dependent (it is measured per
run, `compress.activations`) and never resizes an array. ``s2ta`` (the ``s2ta-w`` array plus run-time
activation DBB) gets ``rows·N/M`` physical rows exactly like ``s2ta-w``; ``sa-zvcg`` (dense array,
zero-value clock gating) gets ``rows`` like every dense design. What activation sparsity buys then
shows up as fewer cycles (s2ta) or clock-gated MACs (sa-zvcg), not as a different array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from archsim.design import Design, list_presets, load_design
from workloads.errors import ArchsimInputError

#: Iso conditions: ``throughput`` (same dense-equivalent array; the default everywhere), ``area`` (same total
#: area as a baseline; compare only), ``pes`` (same physical PEs). See `archsim.report.compare`.
ISO_MODES = ("throughput", "area", "pes")
#: The iso condition `run`, `simulate` and `compare` use when none is given.
DEFAULT_ISO = "throughput"
#: The iso label of a `Design` object simulated as is (array.rows = physical PE rows).
AS_BUILT = "as-built"


@dataclass(frozen=True)
class CompressionParams:
    """N:M pattern, subvector length d and codebook size k shared by every design of a comparison.

    Designs that do not use a parameter ignore it (ws/ews use none, ews-c uses d and k, s2ta N:M).
    Defaults are the reproduction defaults of mvq.md §6 [I]: 1:4, d = 16, k = 256.
    """

    n: int = 1
    m: int = 4
    d: int = 16
    k: int = 256

    def __post_init__(self) -> None:
        for name in ("n", "m", "d", "k"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ArchsimInputError(f"--{name} must be a positive integer, got {value!r}")
        if self.n >= self.m:
            raise ArchsimInputError(f"--n/--m: N:M sparsity needs N < M, got {self.n}:{self.m}; e.g. --n 1 --m 4")
        if self.d % self.m:
            raise ArchsimInputError(f"--d {self.d}: M={self.m} must divide d (the N:M groups lie inside each "
                                    f"d-dim subvector, mvq.md §1.3); e.g. --d {4 * self.m}")

    def label(self) -> str:
        return f"N:M={self.n}:{self.m}, d={self.d}, k={self.k}"



@dataclass(frozen=True)
class Prepared:
    """One design of a comparison, ready to simulate: ``simulate(network, design)`` derives the
    structural traces from ``design.weights`` (`archsim.api.compression_traces`)."""

    name: str
    design: Design
    physical_rows: int
    dense_equivalent_rows: int


@lru_cache(maxsize=64)
def _preset(name: str) -> Design:
    """Presets are frozen pydantic models: parse each YAML once per process (area searches call
    `prepare` dozens of times)."""
    return load_design(name)


#: How ``rows`` is read by `prepare`: the dense-equivalent reduction length (iso-throughput) or the
#: physical PE rows (the presets' own convention: mvq.yaml's 64x64 is 64 physical rows covering 256).
ROW_MEANINGS = ("dense_equivalent", "physical")


def prepare(name: str, params: CompressionParams, rows: int | None = None, cols: int | None = None, *,
            rows_are: str = "dense_equivalent") -> Prepared:
    """The preset ``name`` rebuilt for ``params`` and an array of ``rows x cols``.

    What changes, and why (each rule reproduces the sizing rule stated in the presets' comments, so
    that at the presets' own parameters the design is exactly the preset):

    * ``weights.n/m`` (nm, mvq formats) and ``weights.d/k`` (vq, mvq): the compression the weight path
      decodes; `archsim.api.simulate` derives the structural traces from them.
    * ``array.sparse_n/m`` of an N:M sparse array = ``n:m`` (the array is built for the pattern it runs).
    * ``array.rows``: ``rows·n/m`` physical rows on a sparse array when ``rows_are="dense_equivalent"``
      (must be a whole number), ``rows`` otherwise.
    * weight buffer: an array with more physical PEs than the preset gets the preset's weight-buffer bytes
      per PE (capacity x PEs / preset PEs, rounded up to 1 KiB) [A], so a fold of a larger array still fits;
      smaller arrays keep the preset's buffer (input/output buffers never change).
    * codebook store sized to one codebook: ``k·d·codebook_bits/8`` bytes (x2 if double buffered), fill
      port one codeword (``d·codebook_bits`` bits), and ``read_ports = ceil(cols·w / (d·s))`` codeword
      lookups per cycle with ``w`` = ``ews.weight_load_words_per_cycle`` and ``s`` = kept fraction per
      codeword on a sparse array (n/m), 1 on a dense one: decode keeps up with the array's weight load
      (ews-c: 64/16 = 4, mvq: 64/(16/4) = 16, as in the presets).
    * ``decoder.mask_decoders = ceil(cols·w / n)`` on a sparse array, ``ceil(cols·w / m)`` on a dense one
      (mvq: 64, ews-cm: 16, as in the presets) when the design decodes bitmap masks.

    The codebook-store and mask-decoder rules apply to built-in presets only: a design given as a YAML
    file keeps the weight-path sizing its author wrote (a store too small for the requested k and d is
    then an input error, never a silent resize).
    """
    if rows_are not in ROW_MEANINGS:
        raise ValueError(f"rows_are must be one of {ROW_MEANINGS}")
    design = _preset(name)
    w, arr = design.weights, design.array
    sparten = design.dataflow.strip().lower() == "sparten"
    sparse = arr.pe == "nm_sparse" or sparten      # rows scale by N/M (see the module docstring)
    rows = rows if rows is not None else arr.rows
    cols = cols if cols is not None else arr.cols
    o: dict[str, Any] = {"array.cols": cols}
    if w.format in ("nm", "mvq"):
        o["weights.n"], o["weights.m"] = params.n, params.m
    if w.format in ("vq", "mvq"):
        o["weights.d"], o["weights.k"] = params.d, params.k
    if sparse and not sparten:
        o["array.sparse_n"], o["array.sparse_m"] = params.n, params.m
    if w.format == "sparse":
        o["weights.density"] = params.n / params.m
    if not sparse:
        physical = dense_eq = rows
    elif rows_are == "dense_equivalent":
        if rows % params.m:
            raise ArchsimInputError(f"--rows {rows}: design {name!r} is an {params.n}:{params.m} sparse array, which "
                                    f"covers each {params.m} reduction rows with {params.n} PE row(s); pick rows "
                                    f"as a multiple of {params.m}")
        physical, dense_eq = rows * params.n // params.m, rows
    else:
        if rows % params.n:
            raise ArchsimInputError(f"--rows {rows}: an {params.n}:{params.m} sparse array needs physical rows "
                                    f"that are a multiple of N={params.n}")
        physical, dense_eq = rows, rows * params.m // params.n
    o["array.rows"] = physical
    growth = physical * cols / (arr.rows * arr.cols)
    if growth > 1:   # a design built for a bigger array keeps (at least) the preset's weight-buffer bytes per PE
        cap = design.buffers.weight.capacity_bytes
        o["buffers.weight.capacity_bytes"] = math.ceil(cap * growth / 1024) * 1024
    wl = design.ews.weight_load_words_per_cycle
    cb = design.buffers.codebook
    resize_weight_path = name in list_presets()
    if resize_weight_path and cb is not None and w.format in ("vq", "mvq"):
        bits = w.codebook_bits
        kept = Fraction(params.n, params.m) if (sparse and w.format == "mvq") else Fraction(1)
        o["buffers.codebook.capacity_bytes"] = max(64, math.ceil(params.k * params.d * bits / 8)
                                                   * cb.halves)
        o["buffers.codebook.port_bits"] = min(4096, max(8, params.d * bits))
        o["buffers.codebook.read_ports"] = min(256, max(1, math.ceil(cols * wl / (params.d * kept))))
    if resize_weight_path and w.format in ("nm", "mvq") and w.mask_encoding == "bitmap":
        o["decoder.mask_decoders"] = min(4096, max(1, math.ceil(cols * wl / (params.n if sparse else params.m))))
    design = design.with_overrides(**o)
    return Prepared(name, design, physical, dense_eq)


def rows_are_for(iso: str) -> str:
    """How `prepare` reads ``rows`` under ``iso``: physical PE rows for iso-PE, dense-equivalent otherwise."""
    if iso not in ISO_MODES:
        raise ArchsimInputError(f"iso must be one of {', '.join(ISO_MODES)}, got {iso!r}")
    return "physical" if iso == "pes" else "dense_equivalent"


def dense_equivalent_rows(design: Design) -> int:
    """Reduction rows the array covers per cycle on layers that really are sparse at the design's pattern:
    ``rows·M/N`` on an N:M sparse array, ``rows/density`` for SparTen, ``rows`` for a dense array."""
    arr = design.array
    if arr.pe == "nm_sparse" and arr.sparse_n and arr.sparse_m:
        return round(Fraction(arr.rows * arr.sparse_m, arr.sparse_n))
    if design.dataflow.strip().lower() == "sparten" and design.weights.density < 1.0:
        return round(arr.rows / design.weights.density)
    return arr.rows


@dataclass(frozen=True)
class ArraySizing:
    """The array a result was simulated on, and under which iso condition it was sized."""

    physical_rows: int
    cols: int
    dense_equivalent_rows: int
    iso: str

    @property
    def physical_array(self) -> str:
        return f"{self.physical_rows}x{self.cols}"

    @property
    def dense_equivalent_array(self) -> str:
        return f"{self.dense_equivalent_rows}x{self.cols}"

    def statement(self) -> str:
        """One line for headers: physical array, dense-equivalent array, iso condition."""
        how = {"throughput": "iso-throughput: the named size is the dense-equivalent array",
               "pes": "iso-PE: the named size is the physical array",
               "area": "iso-area: array fitted to the baseline's total area",
               AS_BUILT: "as built: a Design object, array.rows = physical PE rows"}.get(self.iso, self.iso)
        return (f"array {self.physical_array} physical PEs, {self.dense_equivalent_array} dense-equivalent "
                f"({how})")

    def to_dict(self) -> dict[str, Any]:
        return {"physical_array": self.physical_array, "dense_equivalent_array": self.dense_equivalent_array,
                "physical_rows": self.physical_rows, "dense_equivalent_rows": self.dense_equivalent_rows,
                "cols": self.cols, "iso": self.iso}


def sizing_of(design: Design, iso: str = AS_BUILT) -> ArraySizing:
    """The `ArraySizing` of a built design (its array.rows counts physical PE rows)."""
    return ArraySizing(design.array.rows, design.array.cols, dense_equivalent_rows(design), iso)


def params_for(name: str | Path) -> CompressionParams:
    """The `CompressionParams` a named design is sized with: its own ``weights`` (n, m for N:M formats, d, k for
    VQ formats; the reproduction defaults for what its format does not use), so that at its own parameters
    `prepare` rebuilds exactly the preset. (`archsim run`'s --n/--m/--d/--k change the structural traces only,
    not the array; `archsim compare`'s rebuild every design for them.)"""
    w = _preset(str(name)).weights
    base = CompressionParams()
    values = {"n": base.n, "m": base.m, "d": base.d, "k": base.k}
    if w.format in ("nm", "mvq"):
        values.update(n=w.n, m=w.m)
    if w.format in ("vq", "mvq"):
        values.update(d=w.d, k=w.k)
    return CompressionParams(**values)


def size_design(name: str | Path, *, iso: str = DEFAULT_ISO,
                overrides: Mapping[str, Any] | None = None) -> tuple[Design, ArraySizing]:
    """A named design sized under ``iso`` (the rule in the module docstring), then ``overrides`` applied.

    ``overrides["array.rows"]`` / ``["array.cols"]`` (``--rows/--cols``) are the array size read under
    ``iso``, like compare's ``--rows/--cols``; every other override edits the sized design."""
    if iso == "area":
        raise ArchsimInputError("iso='area' fits each design's array to a baseline design's area, so it needs "
                                "several designs: use `archsim compare --iso area`; run/simulate take iso "
                                "'throughput' (default) or 'pes'")
    rows_are = rows_are_for(iso)
    rest = dict(overrides or {})
    rows, cols = rest.pop("array.rows", None), rest.pop("array.cols", None)
    for field_name, v in (("array.rows", rows), ("array.cols", cols)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ArchsimInputError(f"{field_name} must be a positive integer, got {v!r}")
    prepared = prepare(str(name), params_for(name), rows, cols, rows_are=rows_are)
    design = prepared.design.with_overrides(**rest) if rest else prepared.design
    if rest:
        return design, sizing_of(design, iso)
    return design, ArraySizing(prepared.physical_rows, design.array.cols, prepared.dense_equivalent_rows, iso)


__all__ = ["AS_BUILT", "ArraySizing", "CompressionParams", "DEFAULT_ISO", "ISO_MODES", "Prepared", "ROW_MEANINGS",
           "dense_equivalent_rows", "params_for", "prepare", "rows_are_for", "size_design", "sizing_of"]
