"""Prices and areas of the activation-sparsity hardware (`archsim.mapping.activation_sparsity`).

Registered with `archsim.cost`'s extension points at import (`archsim.cost.UNIT_MODULES` lists this module):

``dbbizer block``              one top-N over a block of M = ``activations.dbb_m`` activations. Bounded by
                               a full M-input sorting network [A] — Batcher's odd-even merge sort,
                               ``(p² − p + 4)·2^(p−2) − 1`` compare-exchanges for ``p = ceil(log2 M)``
                               (5, 19, 63 for M = 4, 8, 16; Knuth TAOCP vol. 3 §5.3.4 [M]); a
                               compare-exchange = one act-bits magnitude comparator, priced as an adder of
                               that width (comparator ≈ int8 adder [A], energy_tables.md §3.1 adder rows),
                               plus two 2:1 muxes of ``act_bits + log2 M`` bits (value and its index).
                               Registers between network stages and the abs() of signed inputs are not
                               charged (post-ReLU activations are non-negative).
``dbbizer`` area               ``activations.dbbizers`` such networks (one block per cycle each).
``activation_index``           the log2(M)-bit index stored with every ARF entry of a DBB-streaming PE:
                               written with the entry, read with it per MAC step; priced like the ARF
                               under the design's access convention (an index register per ARF entry).
"""

from __future__ import annotations

import math
from typing import Any

from archsim import cost as _cost
from archsim.tech.table import Cost
from archsim.cost import index_bits


def sorter_compare_exchanges(m: int) -> int:
    """Compare-exchanges of Batcher's odd-even merge sort on ``m`` inputs (rounded up to a power of two)."""
    if m < 2:
        return 0
    p = math.ceil(math.log2(m))
    return (p * p - p + 4) * 2 ** (p - 2) - 1 if p >= 2 else 1


def _uses_dbb(design: Any) -> bool:
    return getattr(getattr(design, "activations", None), "sparsity", "none") == "dbb"


def _arf_entries(cm: Any) -> int:
    """ARF entries of one physical PE (the index register file has one index per entry)."""
    geometry = getattr(cm, "rf_geometry", None)
    if geometry is not None:
        return int(geometry()["activation_rf"][0])
    return int(cm.design.register_files.activation_depth)


def _price(value: float, source: str) -> Cost:
    return Cost(value, "pJ", source)


def dbbizer_block_price(cm: Any) -> Any:
    d, t = cm.design, cm.tech
    m, bits = d.activations.dbb_m, d.precision.act_bits
    width = bits + index_bits(m)
    n_cx = sorter_compare_exchanges(m)
    cmp_e, cmp_src = float(t.adder(bits).value), t.adder(bits).source
    mux = t.mux(2, width)
    value = n_cx * (cmp_e + 2 * float(mux.value))
    return _price(value, f"[A] top-N bounded by a {m}-input odd-even merge sort: {n_cx} compare-exchanges x "
                         f"(comparator = {bits}-b adder {cmp_e:.4g} pJ [{cmp_src}] + 2 x 2:1 mux of {width} b "
                         f"{float(mux.value):.4g} pJ [{mux.source}])")


def price(cm: Any, component: str, action: str) -> Any:
    d = cm.design
    if component == "dbbizer" and action == "block":
        return dbbizer_block_price(cm)
    if component == "activation_index" and action in ("write_bytes", "read_bytes"):
        width = index_bits(d.activations.dbb_m)
        access = getattr(cm, "access", None)
        if access is None:      # an older cost model without the access convention: a flop per byte
            return cm.tech.register_access(1)
        if action == "write_bytes":
            return access.write_per_byte(_arf_entries(cm), width)
        return access.read_per_byte(d.register_files.activation_depth, width)
    raise ValueError(f"no price for event ({component!r}, {action!r}); known: dbbizer block, "
                     f"activation_index read_bytes/write_bytes")


def area_rows(cm: Any) -> list[tuple[str, float, str]]:
    d, t = cm.design, cm.tech
    if not _uses_dbb(d):
        return []
    m, bits = d.activations.dbb_m, d.precision.act_bits
    width = bits + index_bits(m)
    n_cx = sorter_compare_exchanges(m)
    units = d.activations.dbbizers
    cmp_a, mux_a = float(t.adder_area(bits).value), float(t.mux_area(2, width).value)
    rows = [("dbbizer", units * n_cx * (cmp_a + 2 * mux_a),
             f"[A] {units} DBB-izer(s) (activations.dbbizers) x {n_cx} compare-exchanges x ({bits}-b comparator "
             f"as adder {cmp_a:.4g} um2 + 2 x 2:1 x {width} b mux {mux_a:.4g} um2)")]
    pes = d.array.rows * d.array.cols
    entries = _arf_entries(cm)
    idx_bits = entries * index_bits(m)
    a = t.register_file_area(idx_bits) if entries > 1 else t.register_area(idx_bits)
    rows.append(("activation_index", pes * float(a.value),
                 f"{pes} PEs x {entries} x {index_bits(m)} b activation index (one per ARF entry) [{a.source}]"))
    return rows


def storage_capacity(cm: Any) -> dict[str, tuple[str, int]]:
    """Per physical PE: the activation-index register file (area row ``activation_index``) — one
    log2(M)-bit index per ARF entry — on designs with a DBB stream."""
    d = cm.design
    if not _uses_dbb(d):
        return {}
    return {"activation_index": ("activation_index", _arf_entries(cm) * index_bits(d.activations.dbb_m))}


def register() -> None:
    """Install the prices, the area rows and the energy categories (idempotent)."""
    for component in ("dbbizer", "activation_index"):
        _cost.EVENT_PRICERS[component] = lambda cm, action, c=component: price(cm, c, action)
    _cost.CATEGORY.setdefault("dbbizer", "muxes/decoder")
    _cost.CATEGORY.setdefault("activation_index", "register files")
    if area_rows not in _cost.AREA_ROWS:
        _cost.AREA_ROWS.append(area_rows)
    capacity = getattr(_cost, "STORAGE_CAPACITY", None)
    if capacity is not None and storage_capacity not in capacity:
        capacity.append(storage_capacity)


register()

__all__ = ["area_rows", "dbbizer_block_price", "price", "register", "sorter_compare_exchanges", "storage_capacity"]
