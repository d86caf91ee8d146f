"""Energy and area from simulation counters and a technology table.

Energy = Σ counters × per-action energy + leakage power × runtime; area = Σ components. Every
row carries the count, the price per event and the price's source, so a number can be traced to its
table entry. Results are pandas frames:

* energy: index ``(layer, component, action)``, columns ``count``, ``pj_per_event``, ``energy_pj``,
  ``unit`` (what one count is), ``source``;
* area: index ``component``, columns ``area_um2``, ``source``.

How each counter is priced (reference/energy_tables.md §4, "How to use it"):

=====================  =====================================================================
DRAM                   bits × pJ/bit of the design's DRAM kind (per operand, read or write)
SRAM buffers           accesses × ``sram_access(macro bytes, port bits, op)``; one macro is one
                       bank of one half (`CostOptions.sram_macro_per_bank_half`)
register files         ``design.accounting.register_convention`` (`archsim.access_convention`):
                       ``switching`` (default) — write = flop write per byte; a depth-1 read and a
                       stationary read are free; an RF read = ceil(log2 depth) mux2 levels per bit;
                       ``legacy`` — read = write = flop (depth 1) or the small/large-RF per-byte price
N:M sparse PEs         each WRF entry carries a log2(M)-bit mux-select index (``weight_index``:
                       written with the weight, read per mux select, priced as an RF of the WRF's
                       depth); the ARF holds the windows of all M/N candidate rows a PE selects from
MACs                   MACs × ``mac(weight, act, psum bits)``; clock-gated MACs and idle PE
                       cycles cost 0 dynamic (kept as rows with their counts) [A]
muxes / decoder        selects × ``mux(M, act bits)``; decodes × ``lzc_decoder(M)`` (M of ``weights``)
codebook lookups       ``buffers.codebook.kind`` rf (MVQ's CRF): codeword bytes × the RF read price of
                       its depth under the convention (legacy: flop read + log2(entries) × 8 mux2
                       bits, the energy_tables.md §4 ``crf_flop_lookup_per_byte`` rule [C]);
                       sram: ``sram_access(codebook macro, port, read)`` per port-width read
codebook fill          rf: bytes × flop write; sram: accesses × SRAM write × read_ports (replicas)
clock / control        (dynamic on-chip energy) × (``meta.dynamic_overhead`` − 1)
leakage                cycles × (logic area × density + Σ SRAM leakage) / clock
=====================  =====================================================================
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import pandas as pd

from archsim.access_convention import AccessPricer
from archsim.access_convention import Price as _Priced
from archsim.design import BufferConfig, Design
from archsim.sim.engine import LayerCounters

ENERGY_INDEX = ["layer", "component", "action"]
ENERGY_COLUMNS = ["count", "pj_per_event", "energy_pj", "unit", "source"]

#: Energy categories used by reports and plots (component -> category).
CATEGORY: dict[str, str] = {
    "dram": "DRAM",
    "weight_buffer": "weight buffer",
    "input_buffer": "input buffer",
    "output_buffer": "output buffer",
    "codebook": "codebook",
    "weight_rf": "register files",
    "activation_rf": "register files",
    "psum_rf": "register files",
    "pe_array": "MACs",
    "mux": "muxes/decoder",
    "activation_forwarding": "register files",
    "weight_index": "register files",
    "decoder": "muxes/decoder",
    "control": "clock/control",
    "leakage": "leakage",
}
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(CATEGORY.values()))

#: Extension points for designs with units of their own (S2TA's DBB-izer, SparTen's inner join, ...).
#: A module that introduces an event component registers, at import time:
#:   ``EVENT_PRICERS[component] = fn(cost_model, action) -> Cost`` (priced like the built-in events) and
#:   ``AREA_ROWS.append(fn(cost_model) -> list[(component, area_um2, source)])`` (rows for its hardware;
#:   return [] when the design does not have it), and adds ``CATEGORY[component] = "<category>"``.
#: A unit that adds PE-local storage (a mapper declares it in `LayerSchedule.storage_bits_per_pe`) also
#: registers ``STORAGE_CAPACITY.append(fn(cost_model) -> {component: (area row, capacity bits per PE)})``
#: so the area-consistency test (tests/core/test_area_consistency.py) can check the area holds it.
EVENT_PRICERS: dict[str, Callable[["CostModel", str], Any]] = {}
AREA_ROWS: list[Callable[["CostModel"], list[tuple[str, float, str]]]] = []
STORAGE_CAPACITY: list[Callable[["CostModel"], dict[str, tuple[str, int]]]] = []
#: Modules that register hardware units through the extension points above; imported by the first
#: `CostModel` (lazily: they import this module), so pricing never depends on which module ran first.
UNIT_MODULES: tuple[str, ...] = ("archsim.mapping.activation_cost", "archsim.mapping.sparten_hw")


def _load_units() -> None:
    import importlib

    for name in UNIT_MODULES:
        importlib.import_module(name)

_BUFFERS = {"weight_buffer": "weight", "input_buffer": "input", "output_buffer": "output", "codebook": "codebook"}
_RF = {"weight_rf": ("weight_depth", "weight_bits"), "activation_rf": ("activation_depth", "act_bits"),
       "psum_rf": ("psum_depth", "psum_bits")}
#: PE-local storages and the area row that holds a depth-1 instance of them (the PE's pipeline registers)
_PIPELINE_ROW = "pe_array"


@dataclass(frozen=True)
class CostOptions:
    """Cost-model choices that no table fixes [A]; named so studies can vary them."""

    #: price an SRAM access at the size of one bank of one half (the macro actually accessed)
    sram_macro_per_bank_half: bool = True
    #: control logic (FSM, address generators) area as a fraction of the datapath logic area
    control_area_fraction: float = 0.05
    #: extra flop bits per N:M sparse PE to forward the M-activation group along the row: (M-1) x act bits [A]
    sparse_forwarding_regs: bool = True


def _val(cost: Any) -> tuple[float, str, str]:
    """(value, unit, source) of a tech-table `Cost`; a bare number is a derived price whose caller
    states the source."""
    if isinstance(cost, (int, float)):
        return float(cost), "pJ", "derived"
    return float(cost.value), str(getattr(cost, "unit", "")), str(getattr(cost, "source", ""))


def _macro(cfg: BufferConfig, options: CostOptions) -> tuple[int, int]:
    """(bytes per macro, number of macros) of a buffer."""
    if not options.sram_macro_per_bank_half:
        return cfg.capacity_bytes, 1
    n = cfg.banks * cfg.halves
    return max(1, cfg.capacity_bytes // n), n


class CostModel:
    """Prices counters for one design on one technology table."""

    def __init__(self, design: Design, tech: Any, options: CostOptions | None = None) -> None:
        self.design = design
        self.tech = tech
        self.options = options or CostOptions()
        _load_units()
        self.access = AccessPricer(tech, design.accounting.register_convention)
        self._area = self._build_area()

    # ---- area --------------------------------------------------------------------------------
    def _build_area(self) -> pd.DataFrame:
        d, t = self.design, self.tech
        pes = d.array.rows * d.array.cols
        p = d.precision
        rows: list[tuple[str, float, str]] = []
        mac_a, _, mac_src = _val(t.mac_area(p.weight_bits, p.act_bits, p.psum_bits))
        reg_a, _, reg_src = _val(t.register_area(p.weight_bits + p.act_bits + p.psum_bits))
        rows.append(("pe_array", pes * (mac_a + reg_a),
                     f"{pes} PEs x (MAC {mac_a:.4g} um2 [{mac_src}] + pipeline regs "
                     f"{p.weight_bits + p.act_bits + p.psum_bits} b {reg_a:.4g} um2 [{reg_src}])"))
        if d.array.pe == "nm_sparse" and self.options.sparse_forwarding_regs:
            fwd_bits = (d.array.sparse_m - 1) * p.act_bits
            a, _, src = _val(t.register_area(fwd_bits))
            rows.append(("activation_forwarding", pes * a,
                         f"[A] {pes} PEs x ({d.array.sparse_m}-1) x {p.act_bits} b registers forwarding the "
                         f"{d.array.sparse_m}-activation group along the row [{src}]"))
        for comp, (entries, width) in self.rf_geometry().items():
            if entries > 1 or comp == "weight_index":
                bits = entries * width
                a, _, src = _val(t.register_file_area(bits) if entries > 1 else t.register_area(bits))
                rows.append((comp, pes * a, f"{pes} PEs x {entries}x{width} b {'RF' if entries > 1 else 'register'}"
                                            f"{self._rf_note(comp)} [{src}]"))
        for comp, attr in _BUFFERS.items():
            cfg = getattr(d.buffers, attr)
            if cfg is None:
                continue
            if comp == "codebook":
                rows.append(("codebook", *self._codebook_area()))
                continue
            macro, n = _macro(cfg, self.options)
            a, _, src = _val(t.sram_area(macro, cfg.port_bits))
            rows.append((comp, n * a, f"{n} x {macro} B macro [{src}]"))
        if d.array.pe == "nm_sparse":
            a, _, src = _val(t.mux_area(d.array.sparse_m, p.act_bits))
            rows.append(("mux", pes * a, f"{pes} x {d.array.sparse_m}:1 x {p.act_bits} b mux [{src}]"))
        if self.has_mask_decoders:
            n = d.decoder.mask_decoders
            a, _, src = _val(t.lzc_decoder_area(d.weights.m))
            rows.append(("decoder", n * a, f"{n} LZC mask decoders (decoder.mask_decoders, M={d.weights.m}) [{src}]"))
        for extra in AREA_ROWS:
            rows.extend(extra(self))
        logic = sum(a for c, a, _ in rows if c not in self.sram_components)
        rows.append(("control", logic * self.options.control_area_fraction,
                     f"[A] {self.options.control_area_fraction:g} x datapath logic area"))
        frame = pd.DataFrame(rows, columns=["component", "area_um2", "source"]).set_index("component")
        return frame

    @functools.cached_property
    def _rf_geometry(self) -> dict[str, tuple[int, int]]:
        return self.rf_geometry()

    def rf_geometry(self) -> dict[str, tuple[int, int]]:
        """(entries, bits per entry) of each PE-local storage of one *physical* PE.

        Depths are the design's ``register_files``; an N:M sparse PE (``array.pe: nm_sparse``, built
        for Na:Ma) additionally needs (a) an ARF holding the windows of the Ma/Na logical reduction rows
        it selects from — the events write every candidate row's window, so the ARF has
        ``activation_depth x Ma/Na`` entries (depth 1 stays the forwarding register, whose Ma-1 extra
        copies are `activation_forwarding`) — and (b) a log2(Ma)-bit mux-select index per WRF entry
        (``weight_index``), without which the kept weight could not pick its activation."""
        d = self.design
        rf, p = d.register_files, d.precision
        geo = {"weight_rf": (rf.weight_depth, p.weight_bits), "activation_rf": (rf.activation_depth, p.act_bits),
               "psum_rf": (rf.psum_depth, p.psum_bits)}
        if d.array.pe == "nm_sparse":
            if rf.activation_depth > 1:
                entries = math.ceil(rf.activation_depth * d.array.sparse_m / d.array.sparse_n)
                geo["activation_rf"] = (entries, p.act_bits)
            geo["weight_index"] = (rf.weight_depth, index_bits(d.array.sparse_m))
        return geo

    def _rf_note(self, comp: str) -> str:
        d = self.design
        if d.array.pe != "nm_sparse":
            return ""
        if comp == "activation_rf":
            return (f" (activation_depth {d.register_files.activation_depth} x {d.array.sparse_m}/{d.array.sparse_n} "
                    f"candidate rows per sparse PE)")
        if comp == "weight_index":
            return f" (log2({d.array.sparse_m})-bit mux-select index per WRF entry)"
        return ""

    def storage_capacity_bits(self) -> dict[str, tuple[str, int]]:
        """Per physical PE: storage component -> (area row holding it, capacity in bits).

        A depth-1 storage is the PE's pipeline register, whose area is part of ``pe_array``; deeper
        ones (and the sparse PE's index) have their own area rows. The area-consistency test compares
        this with what each mapper declares it uses (`LayerSchedule.storage_bits_per_pe`)."""
        out: dict[str, tuple[str, int]] = {}
        for comp, (entries, width) in self.rf_geometry().items():
            row = comp if (entries > 1 or comp == "weight_index") else _PIPELINE_ROW
            out[comp] = (row, entries * width)
        for extra in STORAGE_CAPACITY:
            out.update(extra(self))
        return out

    # ---- codebook store and mask decoders -------------------------------------------------------
    @property
    def has_mask_decoders(self) -> bool:
        """LZC decoders exist when the weight format carries bitmap/combinatorial masks."""
        w = self.design.weights
        return w.format in ("nm", "mvq") and w.mask_encoding != "index"

    @property
    def sram_components(self) -> tuple[str, ...]:
        """Buffers built as SRAM macros (leak as SRAM); a flop codebook RF is logic."""
        cb = self.design.buffers.codebook
        return tuple(c for c in _BUFFERS if c != "codebook" or (cb is not None and cb.kind == "sram"))

    def _codeword(self) -> tuple[int, int]:
        """(bits per codeword, entries) of the codebook store, from the design's ``weights`` format."""
        d = self.design
        word_bits = d.weights.d * d.weights.codebook_bits
        entries = max(1, d.buffers.codebook.capacity_bytes * 8 // word_bits)
        return word_bits, entries

    def _codebook_area(self) -> tuple[float, str]:
        t, cb = self.tech, self.design.buffers.codebook
        if cb.kind == "sram":
            macro, n = _macro(cb, self.options)
            a, _, src = _val(t.sram_area(macro, cb.port_bits))
            return (n * cb.read_ports * a, f"[A] {cb.read_ports} read port(s) = {cb.read_ports} replica(s) of "
                                           f"{n} x {macro} B SRAM macro [{src}]")
        bits = cb.capacity_bytes * 8
        a, _, src = _val(t.register_file_area(bits))
        word_bits, entries = self._codeword()
        extra = cb.read_ports - 1
        mux_a, _, mux_src = _val(t.mux_area(entries, word_bits)) if extra else (0.0, "", "")
        return (a + extra * mux_a, f"flop RF {bits} b [{src}]" + (
            f" + [C] {extra} extra read port(s) x {entries}:1 x {word_bits} b read mux [{mux_src}]" if extra else ""))

    def codebook_lookup_price(self) -> Any:
        """Energy of one codeword lookup (see the module table)."""
        t, cb = self.tech, self.design.buffers.codebook
        word_bits, entries = self._codeword()
        if cb.kind == "sram":
            macro, _ = _macro(cb, self.options)
            reads = math.ceil(word_bits / cb.port_bits)
            e, _, src = _val(t.sram_access(macro, cb.port_bits, "read"))
            return _Priced(e * reads, f"{reads} x SRAM read of a {macro} B macro at {cb.port_bits} b [{src}]")
        per_byte = self.access.lookup_per_byte(entries)
        return _Priced(per_byte.value * word_bits / 8, f"{word_bits // 8} B x {per_byte.source}")

    @property
    def area(self) -> pd.DataFrame:
        return self._area.copy()

    @property
    def logic_area_um2(self) -> float:
        sram = self.sram_components
        return float(self._area.loc[[c for c in self._area.index if c not in sram], "area_um2"].sum())

    def leakage_uw(self) -> tuple[float, str, float, str]:
        """(logic µW, source, SRAM µW, source)."""
        logic, _, lsrc = _val(self.tech.logic_leakage(self.logic_area_um2))
        sram, srcs = 0.0, set()
        for comp in self.sram_components:
            cfg = getattr(self.design.buffers, _BUFFERS[comp])
            if cfg is None:
                continue
            macro, n = _macro(cfg, self.options)
            if comp == "codebook":
                n *= cfg.read_ports
            v, _, src = _val(self.tech.sram_leakage(macro))
            sram += n * v
            srcs.add(src)
        return logic, lsrc, sram, "; ".join(sorted(srcs))

    # ---- energy ------------------------------------------------------------------------------
    def energy(self, counters: LayerCounters) -> pd.DataFrame:
        """The energy frame of one simulated layer."""
        d, t = self.design, self.tech
        layer = counters.layer_name
        rows: list[tuple] = []

        def add(component: str, action: str, count: float, cost: Any, unit: str = "", source: str = "") -> None:
            value, cunit, src = _val(cost)
            src = source or src
            if count < 0 or value < 0:
                raise ValueError(f"negative energy term for ({component}, {action}): {count} x {value}")
            rows.append((layer, component, action, float(count), value, float(count) * value, unit or cunit, src))

        pj_bit = t.dram_energy_per_bit(d.dram.kind)
        for operand, nbytes in sorted(counters.dram_read_bytes.items()):
            add("dram", f"read_{operand}", nbytes * 8, pj_bit, "bit")
        for operand, nbytes in sorted(counters.dram_write_bytes.items()):
            add("dram", f"write_{operand}", nbytes * 8, pj_bit, "bit")

        for comp, b in counters.buffers.items():
            cfg = getattr(d.buffers, _BUFFERS[comp])
            macro, _ = _macro(cfg, self.options)
            if comp == "codebook":
                self._codebook_fill(add, b, cfg, macro)
                continue
            if b.read_accesses:
                add(comp, "read", b.read_accesses, t.sram_access(macro, cfg.port_bits, "read"), "access")
            if b.write_accesses:
                add(comp, "write", b.write_accesses, t.sram_access(macro, cfg.port_bits, "write"), "access")

        for (comp, action), count in sorted(counters.events.items()):
            if count == 0:
                continue
            add(comp, action, count, self._event_price(comp, action), self._event_unit(action))

        dynamic = math.fsum(r[5] for r in rows if r[1] != "dram")
        overhead = float(getattr(t.meta, "dynamic_overhead", 1.0))
        if overhead > 1.0 and dynamic > 0:
            rows.append((layer, "control", "clock_tree_and_control", dynamic, overhead - 1.0,
                         dynamic * (overhead - 1.0), "pJ of on-chip dynamic energy",
                         f"tech meta.dynamic_overhead = {overhead:g} [A]"))

        logic_uw, lsrc, sram_uw, ssrc = self.leakage_uw()
        per_cycle = 1e6 / d.clock_hz  # µW x (1/clock s) -> pJ
        add("leakage", "logic", counters.cycles, logic_uw * per_cycle, "cycle",
            f"{logic_uw:.4g} uW for {self.logic_area_um2:.4g} um2 logic [{lsrc}]")
        add("leakage", "sram", counters.cycles, sram_uw * per_cycle, "cycle",
            f"{sram_uw:.4g} uW of SRAM macros [{ssrc}]")
        return _frame(rows)

    def _codebook_fill(self, add: Any, b: Any, cfg: Any, macro: int) -> None:
        """Codebook store traffic from DRAM fills (lookups are events, priced per lookup)."""
        t = self.tech
        if cfg.kind == "rf":
            word_bits, entries = self._codeword()
            if b.write_bytes:
                add("codebook", "write_bytes", b.write_bytes, self.access.write_per_byte(1, 8), "byte")
            if b.read_bytes:
                add("codebook", "read_bytes", b.read_bytes, self.access.read_per_byte(entries, word_bits)
                    if self.access.convention == "switching" else t.register_access(1), "byte")
            return
        if b.write_accesses:
            e, _, src = _val(t.sram_access(macro, cfg.port_bits, "write"))
            add("codebook", "write", b.write_accesses, _Priced(e * cfg.read_ports, f"{cfg.read_ports} replica(s) x "
                                                                                  f"[{src}]"), "access")
        if b.read_accesses:
            add("codebook", "read", b.read_accesses, t.sram_access(macro, cfg.port_bits, "read"), "access")

    def _event_price(self, comp: str, action: str) -> Any:
        d, t = self.design, self.tech
        p = d.precision
        if comp == "pe_array" and action == "mac":
            return t.mac(p.weight_bits, p.act_bits, p.psum_bits)
        if comp == "pe_array" and action == "gated_mac":
            return _Zero("[A] clock-gated MAC: no dynamic energy, leakage still charged")
        if comp == "pe_array" and action == "idle_pe_cycles":
            return _Zero("[A] idle PE cycles are clock-gated: no dynamic energy, leakage charged separately")
        if comp == "psum_rf" and action in ("acc_read_bytes", "acc_write_bytes"):
            # the MAC's own accumulator register: a depth-1 flop, like WS's psum register
            if action == "acc_read_bytes":
                return self.access.read_per_byte(1, p.psum_bits)
            return self.access.write_per_byte(1, p.psum_bits)
        geometry = self._rf_geometry
        if comp in geometry and action in ("read_bytes", "write_bytes", "stationary_read_bytes"):
            entries, width = geometry[comp]
            if comp == "activation_rf":   # the read mux selects within one logical window of the design's depth
                entries = self.design.register_files.activation_depth if action != "write_bytes" else entries
            if action == "write_bytes":
                return self.access.write_per_byte(entries, width)
            if action == "stationary_read_bytes":
                return self.access.stationary_read_per_byte(entries, width)
            return self.access.read_per_byte(entries, width)
        if comp == "mux" and action == "mux_select":
            if not d.array.sparse_m:
                raise ValueError("mux_select events need array.sparse_m (the mux width)")
            return t.mux(d.array.sparse_m, p.act_bits)
        if comp == "decoder" and action == "decode":
            return t.lzc_decoder(max(d.weights.m, 2))
        if comp == "codebook" and action == "lookup":
            if d.buffers.codebook is None:
                raise ValueError("codebook lookups on a design without buffers.codebook")
            return self.codebook_lookup_price()
        if comp in EVENT_PRICERS:
            return EVENT_PRICERS[comp](self, action)
        raise ValueError(f"no price for event ({comp!r}, {action!r}); known: pe_array mac/gated_mac, "
                         f"<rf> read_bytes/write_bytes/stationary_read_bytes, psum_rf acc_read_bytes/acc_write_bytes, mux mux_select, decoder decode, codebook lookup, "
                         f"<buffer> read_bytes/write_bytes")

    @staticmethod
    def _event_unit(action: str) -> str:
        return "byte" if action.endswith("_bytes") else action


@dataclass(frozen=True)
class _Zero:
    source: str
    value: float = 0.0
    unit: str = "pJ"


def index_bits(m: int) -> int:
    """Bits of a mux-select (or position) index among ``m`` candidates: ceil(log2 m), the same count as a
    codeword index (`compress.trace.code_bits_for`, not imported: archsim's functional mode stays free of
    compress)."""
    return math.ceil(math.log2(m)) if m > 1 else 0


def _frame(rows: Iterable[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=ENERGY_INDEX + ENERGY_COLUMNS)
    return frame.set_index(ENERGY_INDEX)


def empty_energy() -> pd.DataFrame:
    return _frame([])


def by_category(energy: pd.DataFrame) -> dict[str, float]:
    """Energy (pJ) per category in `CATEGORIES` order; every category present (0 when unused)."""
    comps = energy.index.get_level_values("component")
    sums = energy["energy_pj"].groupby(comps.map(lambda c: CATEGORY.get(c, c))).sum()
    out = {c: float(sums.get(c, 0.0)) for c in CATEGORIES}
    for extra in sums.index:
        if extra not in out:
            out[extra] = float(sums[extra])
    return out


def by_component(energy: pd.DataFrame) -> dict[str, float]:
    sums = energy["energy_pj"].groupby(level="component", sort=False).sum()
    return {str(k): float(v) for k, v in sums.items()}
