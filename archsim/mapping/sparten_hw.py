"""Prices and areas of SparTen's own hardware units, registered with `archsim.cost` at import.

`archsim.cost.CostModel` imports this module (`archsim.cost.UNIT_MODULES`), so the pricers exist before
any cost model is built. The CU's MAC, psum file and filter-chunk buffer
are the cost model's own rows (``pe_array``, ``psum_rf``, ``weight_rf`` from ``register_files``); this
module adds what SparTen has and a systolic array does not. Every composition rule is an assumption
[A] built only from the technology table's entries (no new numbers):

=====================  ============================================================================
event                  energy per event
=====================  ============================================================================
sparten_join join      AND of two ``chunk``-bit masks (``chunk`` two-input gates, priced as a 2:1 mux
                       per bit with the table's activity) + two prefix sums over ``chunk`` bits (one
                       per operand mask, to index the packed values), each a Brent–Kung network of
                       `brent_kung_adder_bits` full-adder bits at the table's 1-bit adder energy
                       (``adder(1)``: int8 add / 8)
sparten_join select    per matched pair: a priority encoder over the ``chunk``-bit AND word (the table's
                       LZC-decoder rule at ``chunk`` bits x the table's ``mux_activity``: successive
                       evaluations differ by the one bit just consumed, unlike an LZC decoder that sees a
                       fresh mask each time) + two prefix-count selects and one activation
                       select, each ``ceil(log2 chunk)`` mux2 levels x its width (the read-path rule of
                       `archsim.access_convention` / energy_tables.md §4 crf rule)
sparten_act_chunk      the cluster's activation-chunk register (one chunk: ``chunk`` mask bits + ``chunk``
                       values): writes at the flop price, reads by the access convention (depth 1)
sparten_encoder        per output value: a zero detect (``act_bits`` gates as mux2 bits) + its share
encode                 (1/``chunk``) of one prefix sum over a ``chunk``-bit output mask (to pack it)
=====================  ============================================================================

Area rows (``sparten_join``, ``sparten_act_chunk``, ``sparten_encoder``, ``sparten_extra_mults``): per CU
one join unit (AND + two prefix networks + priority encoder + three selects, at the table's mux2 and
1-bit adder areas); per cluster one activation-chunk register (flops) and one output encoder; extra
multipliers when ``sparten.multipliers_per_cu > 1`` (the ``pe_array`` row holds one MAC per CU).
"""

from __future__ import annotations

import math
from typing import Any

from archsim.access_convention import Price
from archsim.cost import AREA_ROWS, CATEGORY, EVENT_PRICERS, CostModel
from archsim.mapping.sparten_model import brent_kung_adder_bits, index_bits

COMPONENTS = ("sparten_join", "sparten_act_chunk", "sparten_encoder", "sparten_extra_mults")


def _derived(value: float, source: str, unit: str = "pJ") -> Price:
    """A derived price (value in pJ or um2 with its rule): `archsim.access_convention.Price`, value as float."""
    return Price(float(value), source, unit)


def _is_sparten(cm: CostModel) -> bool:
    return cm.design.dataflow.strip().lower() == "sparten"


def _levels(n: int) -> int:
    return max(1, math.ceil(math.log2(n)))


def join_price(cm: CostModel) -> Price:
    t, n = cm.tech, cm.design.sparten.chunk
    and_ = t.mux(2, n)
    bk = brent_kung_adder_bits(n)
    add1 = t.adder(1)
    return _derived(and_.value + 2 * bk * add1.value,
                  f"[A] AND of 2x{n}-bit masks as {n} mux2 bits [{and_.source}] + 2 prefix sums x {bk} Brent-Kung "
                  f"adder bits x adder(1) {add1.value:.4g} pJ [{add1.source}]")


def select_price(cm: CostModel) -> Price:
    d, t = cm.design, cm.tech
    n = d.sparten.chunk
    lzc = t.lzc_decoder(n)
    activity = t.mux(2, 1).value / t.mux(2, 1, activity=1.0).value      # the table's compute.mux_activity
    mux2 = t.mux(2, 1, activity=1.0)
    ib = index_bits(n)
    path_bits = 2 * ib + d.precision.act_bits
    sel = _levels(n) * path_bits * mux2.value
    return _derived(lzc.value * activity + sel, f"[A] priority encoder = LZC rule at {n} bits [{lzc.source}] x activity "
                                              f"{activity:g} + {_levels(n)} mux2 "
                                   f"levels x (2 x {ib}-bit prefix counts + {d.precision.act_bits}-bit activation) "
                                   f"x {mux2.value:.4g} pJ/bit [{mux2.source}]")


def encode_price(cm: CostModel) -> Price:
    d, t = cm.design, cm.tech
    n = d.sparten.chunk
    zero = t.mux(2, d.precision.act_bits)
    bk = brent_kung_adder_bits(n)
    add1 = t.adder(1)
    return _derived(zero.value + bk * add1.value / n,
                  f"[A] zero detect of a {d.precision.act_bits}-bit output as mux2 bits [{zero.source}] + 1/{n} of a "
                  f"{bk}-adder-bit prefix sum x {add1.value:.4g} pJ [{add1.source}]")


def _price(cm: CostModel, component: str, action: str) -> Any:
    a_bits = cm.design.precision.act_bits
    if component == "sparten_join" and action == "join":
        return join_price(cm)
    if component == "sparten_join" and action == "select":
        return select_price(cm)
    if component == "sparten_act_chunk" and action == "write_bytes":
        return cm.access.write_per_byte(1, a_bits)
    if component == "sparten_act_chunk" and action == "read_bytes":
        return cm.access.read_per_byte(1, a_bits)
    if component == "sparten_encoder" and action == "encode":
        return encode_price(cm)
    raise ValueError(f"no price for SparTen event ({component!r}, {action!r}); known: sparten_join join/select, "
                     f"sparten_act_chunk write_bytes/read_bytes, sparten_encoder encode")


def area_rows(cm: CostModel) -> list[tuple[str, float, str]]:
    if not _is_sparten(cm):
        return []
    d, t = cm.design, cm.tech
    sp, p = d.sparten, d.precision
    n, cus, clusters = sp.chunk, d.array.rows * d.array.cols, d.array.cols
    bk = brent_kung_adder_bits(n)
    ib = index_bits(n)
    and_a = t.mux_area(2, n).value
    prefix_a = 2 * bk * t.adder_area(1).value
    lzc_a = t.lzc_decoder_area(n).value
    sel_a = 2 * t.mux_area(n, ib).value + t.mux_area(n, p.act_bits).value
    join = and_a + prefix_a + lzc_a + sel_a
    rows = [("sparten_join", cus * join,
             f"[A] {cus} CUs x (AND {and_a:.0f} + 2 prefix nets {prefix_a:.0f} + priority encoder {lzc_a:.0f} + "
             f"{n}:1 selects {sel_a:.0f}) um2 from compute.mux2_area_per_bit / adder areas")]
    reg_bits = n * (1 + p.act_bits)
    reg = t.register_area(reg_bits)
    rows.append(("sparten_act_chunk", clusters * reg.value,
                 f"[A] {clusters} clusters x {reg_bits}-bit activation-chunk register [{reg.source}]"))
    enc = t.mux_area(2, n * p.act_bits).value + bk * t.adder_area(1).value
    rows.append(("sparten_encoder", clusters * enc,
                 f"[A] {clusters} clusters x output encoder ({n} x {p.act_bits}-bit zero detect + {bk}-adder-bit "
                 f"prefix net)"))
    if sp.multipliers_per_cu > 1:
        mac = t.mac_area(p.weight_bits, p.act_bits, p.psum_bits)
        rows.append(("sparten_extra_mults", cus * (sp.multipliers_per_cu - 1) * mac.value,
                     f"{cus} CUs x {sp.multipliers_per_cu - 1} extra MAC(s) [{mac.source}]"))
    return rows


def _register() -> None:
    for comp in ("sparten_join", "sparten_act_chunk", "sparten_encoder"):
        EVENT_PRICERS[comp] = lambda cm, action, _c=comp: _price(cm, _c, action)
    CATEGORY.setdefault("sparten_join", "muxes/decoder")
    CATEGORY.setdefault("sparten_encoder", "muxes/decoder")
    CATEGORY.setdefault("sparten_act_chunk", "register files")
    CATEGORY.setdefault("sparten_extra_mults", "MACs")
    if area_rows not in AREA_ROWS:
        AREA_ROWS.append(area_rows)


_register()

__all__ = ["COMPONENTS", "area_rows", "encode_price", "join_price", "select_price"]
