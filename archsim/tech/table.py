"""Typed lookups over a validated technology table: every answer is a `Cost` with provenance.

The cost model multiplies event counts by these per-event numbers. Each lookup returns the number,
its unit and a `source` string that says which table entries were used and how they were combined
(interpolation, width scaling, extrapolation beyond the fitted range), so reports can show *why*
an energy is what it is.

Model choices made here (each one documented where it is implemented):

* SRAM energy per access: power-law fits ``a * KiB^b`` per port width (CACTI 7). Other widths:
  log-log interpolation between the two nearest fitted widths; narrower than the narrowest fit
  costs as the narrowest (CACTI and Accelergy round narrow ports up); wider than the widest fit
  is built from ``w / w_max`` side-by-side macros of the widest width, each holding
  ``capacity / (w / w_max)``. A wider port never costs less than a narrower one at the same
  capacity (enforced). Capacities outside the fitted range are extrapolated and say so.
* Multipliers scale with the product of operand widths, adders linearly with width
  (Accelergy's Aladdin width rules, energy_tables.md §3.2).
* Lookups return raw per-event dynamic energies; ``meta.dynamic_overhead`` is for the cost model
  to apply to its dynamic total (so a report can show it as its own line).

Supply-voltage corner (``supply_voltage_v``, a design field; off by default)
---------------------------------------------------------------------------
A table loaded for a supply ``V`` multiplies every *energy* of the sections in
``meta.vdd_scaling.applies_to`` (compute: MACs, multipliers, adders, muxes, LZC decoders;
registers: flops, register files, the flop codebook) by ``(V / V_char)^2``, where ``V_char`` =
``meta.vdd_char`` is the supply those numbers are characterised at (Horowitz 45 nm / Aladdin:
0.9 V). Rule: dynamic energy = C·V² per transition (energy_tables.md §3.3 "dynamic energy ∝ V²")
[C]. Not scaled, because no sourced rule is in the reference: SRAM energies (CACTI fits at CACTI's
own nominal corner; energy_tables.md §3.3 says not to scale SRAM numbers), SRAM leakage, DRAM
(does not scale with the logic node), areas, and the clock (a design at a lower supply may not
close timing at the same clock; set ``clock_hz`` yourself). Logic leakage power scales as
``(V / V_char)^LEAKAGE_VOLTAGE_EXPONENT`` (= V¹: leakage current held constant) [A].
The corner replaces the older on/off ``meta.vdd_scaling`` flag (a fixed factor, (0.99/0.9)² at
40 nm); asking for both is one input error instead of scaling twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ValidationError

from archsim.tech.schema import Entry, PowerLawFit, TechTableModel
from archsim.validation import read_text_file, reject_non_finite
from workloads.errors import ArchsimInputError

TABLE_DIR = Path(__file__).resolve().parent.parent / "tables"

Op = Literal["read", "write"]

#: Supplies a corner may ask for, in V [A]: below ~0.5 V 28-40 nm logic is near threshold (energy no
#: longer follows C·V², delay explodes) and above ~1.5 V it is past any nominal/overdrive corner of
#: these nodes, so the quadratic rule on 0.9 V numbers is not trusted outside this range.
SUPPLY_VOLTAGE_RANGE_V: tuple[float, float] = (0.5, 1.5)
#: Logic leakage power ∝ (V / V_char)^this [A]: P = V·I_leak with I_leak held constant. DIBL makes
#: I_leak grow with V, so this understates the change; no sourced rule in energy_tables.md.
LEAKAGE_VOLTAGE_EXPONENT: float = 1.0


def check_supply_voltage(value: object, field: str = "supply_voltage_v") -> float | None:
    """``value`` as volts (None = no corner), or one `ArchsimInputError` naming ``field`` and the range."""
    if value is None:
        return None
    lo, hi = SUPPLY_VOLTAGE_RANGE_V
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
          and math.isfinite(value) and value > 0)
    if not ok or not lo <= float(value) <= hi:
        raise ArchsimInputError(f"{field} must be a supply voltage in volts between {lo:g} and {hi:g} (got {value!r}); "
                                f"leave it unset (null) for the tech table's characterised corner")
    return float(value)


@dataclass(frozen=True)
class Cost:
    """One per-event cost: ``value`` in ``unit``, with the provenance of how it was obtained."""

    value: float
    unit: str
    source: str

    def __mul__(self, factor: float) -> "Cost":
        return Cost(self.value * float(factor), self.unit, self.source)

    __rmul__ = __mul__

    def __add__(self, other: "Cost") -> "Cost":
        if not isinstance(other, Cost):
            return NotImplemented
        if other.unit != self.unit:
            raise ValueError(f"cannot add {self.unit} and {other.unit}")
        return Cost(self.value + other.value, self.unit, f"({self.source}) + ({other.source})")


@dataclass(frozen=True)
class DramSpec:
    """One DRAM kind: energy per bit transferred, default bandwidth and access latency."""

    kind: str
    pj_per_bit: float
    bandwidth_bytes_per_s: float
    latency_ns: float
    source: str


@dataclass(frozen=True)
class TechMeta:
    node_nm: int
    vdd: float
    clock_hz: float
    dynamic_overhead: float
    vdd_scaling: bool
    vdd_scaling_factor: float
    sram_flavour: str
    description: str
    #: supply the logic energies are characterised at (meta.vdd_char; None if the table does not say)
    vdd_char: float | None = None
    #: the supply-voltage corner this table was loaded for (None = none)
    supply_voltage_v: float | None = None
    #: (supply_voltage_v / vdd_char)^2 on compute/registers energies (1.0 without a corner)
    supply_energy_factor: float = 1.0
    #: (supply_voltage_v / vdd_char)^LEAKAGE_VOLTAGE_EXPONENT on logic leakage (1.0 without a corner)
    supply_leakage_factor: float = 1.0


def _fmt(x: float) -> str:
    return f"{x:.4g}"


class TechTable:
    """Lookups over one technology node. Build it with `load_tech_table`.

    Units of the answers: energies in pJ (per access / event / selection as each method says),
    areas in um2, leakage in uW, bandwidth in B/s, latency in ns.
    """

    def __init__(self, model: TechTableModel, origin: str, *, vdd_scaling: bool | None = None,
                 sram_flavour: str | None = None, supply_voltage_v: float | None = None) -> None:
        self._m = model
        self.origin = origin
        self._vdd_on = model.meta.vdd_scaling.enabled if vdd_scaling is None else bool(vdd_scaling)
        self._supply_v, self._supply_e, self._supply_leak = self._supply_corner(supply_voltage_v)
        flavour = model.sram.flavour if sram_flavour is None else sram_flavour
        if flavour not in model.sram.fits:
            raise ArchsimInputError(f"{origin}: unknown SRAM flavour {flavour!r}; this table has "
                                    f"{', '.join(model.sram.fits)}")
        self._flavour = flavour

    def _supply_corner(self, supply_voltage_v: float | None) -> tuple[float | None, float, float]:
        """(V, energy factor, leakage factor) of the supply-voltage corner; see the module docstring."""
        v = check_supply_voltage(supply_voltage_v)
        if v is None:
            return None, 1.0, 1.0
        if self._vdd_on:
            raise ArchsimInputError(
                f"{self.origin}: supply_voltage_v={v:g} and meta.vdd_scaling (enabled) both correct logic energy "
                f"for the supply; use one: leave supply_voltage_v unset, or turn vdd_scaling off "
                f"(supply_voltage_v={self._m.meta.vdd.canonical:g} reproduces it from meta.vdd_char)")
        char = self._m.meta.vdd_char
        if char is None:
            raise ArchsimInputError(f"{self.origin}: supply_voltage_v={v:g} needs meta.vdd_char (the supply the "
                                    f"compute/registers energies are characterised at, with its source); add it "
                                    f"(format: archsim/tables/README.md) or leave supply_voltage_v unset")
        ratio = v / char.canonical
        return v, ratio ** 2, ratio ** LEAKAGE_VOLTAGE_EXPONENT

    # ------------------------------------------------------------------------------------ plumbing
    @property
    def model(self) -> TechTableModel:
        """The validated raw table (read-only)."""
        return self._m

    @property
    def meta(self) -> TechMeta:
        m = self._m.meta
        return TechMeta(node_nm=m.node_nm, vdd=m.vdd.canonical, clock_hz=m.clock_hz.canonical,
                        dynamic_overhead=m.dynamic_overhead.canonical, vdd_scaling=self._vdd_on,
                        vdd_scaling_factor=m.vdd_scaling.factor.canonical if self._vdd_on else 1.0,
                        sram_flavour=self._flavour, description=m.description,
                        vdd_char=None if m.vdd_char is None else m.vdd_char.canonical,
                        supply_voltage_v=self._supply_v, supply_energy_factor=self._supply_e,
                        supply_leakage_factor=self._supply_leak)

    def __repr__(self) -> str:
        corner = "" if self._supply_v is None else f", supply_voltage_v={self._supply_v:g}"
        return f"TechTable({self.meta.node_nm} nm from {self.origin!r}, vdd_scaling={self._vdd_on}{corner})"

    def _logic(self, section: str, name: str) -> tuple[float, str]:
        """Canonical value of a compute/register energy entry, with the optional vdd correction."""
        entry: Entry = getattr(getattr(self._m, section), name)
        value, note = entry.canonical, f"{section}.{name}={_fmt(entry.canonical)} {entry.canonical_unit}"
        vs = self._m.meta.vdd_scaling
        if self._vdd_on and section in vs.applies_to and entry.kind.startswith("energy"):
            value *= vs.factor.canonical
            note += f" x{_fmt(vs.factor.canonical)} vdd_scaling"
        if self._supply_v is not None and section in vs.applies_to and entry.kind.startswith("energy"):
            value *= self._supply_e
            note += (f" x{_fmt(self._supply_e)} supply corner ({_fmt(self._supply_v)} V / "
                     f"{_fmt(self._m.meta.vdd_char.canonical)} V vdd_char)^2")
        return value, note

    def _raw(self, section: str, name: str) -> Entry:
        return getattr(getattr(self._m, section), name)

    @staticmethod
    def _check_int(name: str, value: int, minimum: int = 1) -> int:
        """Whole numbers (ints or integral floats, e.g. ``depth * bits / 8``) >= minimum."""
        ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
              and math.isfinite(value) and float(value).is_integer() and value >= minimum)
        if not ok:
            raise ArchsimInputError(f"{name} must be a whole number >= {minimum} (got {value!r})")
        return int(value)

    @staticmethod
    def _check_pos(name: str, value: float) -> float:
        """Capacities may be fractional (half of a double-buffered macro, depth x bits / 8)."""
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value) or value <= 0:
            raise ArchsimInputError(f"{name} must be a finite number > 0 (got {value!r})")
        return float(value)

    @staticmethod
    def _check_nonneg(name: str, value: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value) or value < 0:
            raise ArchsimInputError(f"{name} must be a finite number >= 0 (got {value!r})")
        return float(value)

    @staticmethod
    def _check_op(op: str) -> str:
        if op not in ("read", "write"):
            raise ArchsimInputError(f"op must be 'read' or 'write' (got {op!r})")
        return op

    # ------------------------------------------------------------------------------------ SRAM
    def _fit_value(self, fit: PowerLawFit, capacity_bytes: float) -> float:
        return fit.canonical * (capacity_bytes / 1024.0) ** fit.exponent

    def _sram_energy_one_macro(self, capacity_bytes: float, port_bits: float, fits: dict[int, PowerLawFit]
                               ) -> tuple[float, str]:
        widths = list(fits)
        if port_bits <= widths[0]:
            e = self._fit_value(fits[widths[0]], capacity_bytes)
            how = f"w{widths[0]} fit" + ("" if port_bits == widths[0] else
                                         f" (narrower ports cost as the narrowest fitted width)")
        else:
            hi = next(w for w in widths if w >= port_bits)
            lo = max(w for w in widths if w <= port_bits)
            e_lo, e_hi = self._fit_value(fits[lo], capacity_bytes), self._fit_value(fits[hi], capacity_bytes)
            if lo == hi:
                e, how = e_lo, f"w{lo} fit"
            else:
                t = (math.log(port_bits) - math.log(lo)) / (math.log(hi) - math.log(lo))
                e = math.exp((1 - t) * math.log(e_lo) + t * math.log(e_hi))
                how = f"log-log interpolation between w{lo} and w{hi} fits"
        # a wider port never costs less than a narrower fitted one at the same capacity
        floor = max(self._fit_value(f, capacity_bytes) for w, f in fits.items() if w <= max(port_bits, widths[0]))
        if floor > e:
            e, how = floor, how + ", raised to the narrower-width fit (monotone in width)"
        return e, how

    def sram_access(self, capacity_bytes: int, port_bits: int, op: Op = "read", *,
                    flavour: str | None = None) -> Cost:
        """Energy of one full-port access (pJ per access) to a single-port SRAM macro.

        Count accesses, not bytes: an access narrower than the port still costs a full access.
        ``flavour`` picks another fitted cell flavour (e.g. ``lop``) for sensitivity studies.
        """
        capacity_bytes = self._check_pos("capacity_bytes", capacity_bytes)
        port_bits = self._check_int("port_bits", port_bits)
        op = self._check_op(op)
        if capacity_bytes * 8 < port_bits:
            raise ArchsimInputError(f"SRAM capacity_bytes={_fmt(capacity_bytes)} holds less than one {port_bits}-bit word; "
                                    "use a larger capacity or a narrower port")
        flavour = self._flavour if flavour is None else flavour
        if flavour not in self._m.sram.fits:
            raise ArchsimInputError(f"unknown SRAM flavour {flavour!r}; known: {', '.join(self._m.sram.fits)}")
        fits = self._m.sram.fits[flavour].by_width(op)
        w_max = max(fits)
        n_macros = max(1.0, port_bits / w_max)
        macro_cap = capacity_bytes / n_macros
        e, how = self._sram_energy_one_macro(macro_cap, port_bits / n_macros, fits)
        e *= n_macros
        if n_macros > 1:
            how += (f"; port wider than w{w_max}: {_fmt(n_macros)} side-by-side w{w_max} macros of "
                    f"{_fmt(macro_cap)} B each")
        lo, hi = self._m.sram.fit_min_bytes.canonical, self._m.sram.fit_max_bytes.canonical
        if not lo <= macro_cap <= hi:
            how += f"; EXTRAPOLATED: {_fmt(macro_cap)} B is outside the fitted {_fmt(lo)}-{_fmt(hi)} B range"
        some_fit = fits[min(fits, key=lambda w: abs(w - port_bits / n_macros))]
        return Cost(e, "pJ", f"sram.fits.{flavour}.{op}: a*KiB^b, {how}, at {_fmt(capacity_bytes)} B x {port_bits} b "
                             f"({some_fit.source})")

    def sram_area(self, capacity_bytes: int, port_bits: int = 64) -> Cost:
        """Macro area (um2): ``area_per_kib * KiB + area_periphery_per_port_bit2 * port_bits^2``.

        The port-width term is the small/shallow-macro penalty (fit to CACTI 7): it matters for
        <= 2 KiB macros with wide ports and vanishes for large ones. Ports wider than 256 b are
        built from ``port_bits/256`` side-by-side 256-b macros (same rule as `sram_access`)."""
        capacity_bytes = self._check_pos("capacity_bytes", capacity_bytes)
        port_bits = self._check_int("port_bits", port_bits)
        s = self._m.sram
        w_max = max(s.fits[self._flavour].by_width("read"))
        n_macros = max(1.0, port_bits / w_max)
        periphery = n_macros * s.area_periphery_per_port_bit2.canonical * (port_bits / n_macros) ** 2
        area = s.area_per_kib.canonical * capacity_bytes / 1024 + periphery
        return Cost(area, "um2", f"sram.area_per_kib={_fmt(s.area_per_kib.canonical)} x {_fmt(capacity_bytes / 1024)} "
                                 f"KiB + periphery {_fmt(periphery)} um2 ({_fmt(n_macros)} macro(s), port {port_bits} b) "
                                 f"({s.area_per_kib.source})")

    def sram_leakage(self, capacity_bytes: int) -> Cost:
        """Static power (uW) of an SRAM of this capacity: ``leakage_per_kib * KiB``."""
        capacity_bytes = self._check_pos("capacity_bytes", capacity_bytes)
        e = self._m.sram.leakage_per_kib
        return Cost(e.canonical * capacity_bytes / 1024, "uW",
                    f"sram.leakage_per_kib={_fmt(e.canonical)} uW/KiB x {_fmt(capacity_bytes / 1024)} KiB ({e.source})")

    # ------------------------------------------------------------------------------------ DRAM
    def dram_kinds(self) -> list[str]:
        return list(self._m.dram)

    def _dram_entry(self, kind: str):
        if not isinstance(kind, str):
            raise ArchsimInputError(f"DRAM kind must be a name such as 'LPDDR4' (got {kind!r})")
        by_upper = {k.upper(): k for k in self._m.dram}
        key = by_upper.get(kind.upper())
        if key is None:
            raise ArchsimInputError(f"unknown DRAM kind {kind!r}; known kinds: {', '.join(self._m.dram)} "
                                    f"(add it under dram: in the technology table)")
        return key, self._m.dram[key]

    def dram_energy_per_bit(self, kind: str) -> Cost:
        """DRAM energy per bit transferred (pJ/bit); does not scale with the logic node."""
        key, d = self._dram_entry(kind)
        return Cost(d.energy_per_bit.canonical, "pJ/bit", f"dram.{key}.energy_per_bit ({d.energy_per_bit.source})")

    def dram_kind(self, kind: str) -> DramSpec:
        key, d = self._dram_entry(kind)
        return DramSpec(kind=key, pj_per_bit=d.energy_per_bit.canonical,
                        bandwidth_bytes_per_s=d.bandwidth.canonical, latency_ns=d.latency.canonical,
                        source=f"energy: {d.energy_per_bit.source}; bandwidth: {d.bandwidth.source}; "
                               f"latency: {d.latency.source}")

    # ------------------------------------------------------------------------------------ arithmetic
    _ADDER_WIDTHS = (8, 16, 32)

    def _adder_curve(self, bits: int, suffix: str) -> tuple[float, str]:
        """Piecewise linear in width through the 8/16/32-bit entries; linear through 0 outside."""
        pts = []
        for w in self._ADDER_WIDTHS:
            name = f"int{w}_add{suffix}"
            v, note = self._logic("compute", name) if not suffix else (self._raw("compute", name).canonical, name)
            pts.append((w, v, note))
        if bits <= pts[0][0]:
            w, v, note = pts[0]
            return v * bits / w, f"{note} x {bits}/{w} (linear in width)"
        if bits >= pts[-1][0]:
            w, v, note = pts[-1]
            return v * bits / w, f"{note} x {bits}/{w} (linear in width)"
        for (w0, v0, n0), (w1, v1, n1) in zip(pts, pts[1:]):
            if w0 <= bits <= w1:
                t = (bits - w0) / (w1 - w0)
                return v0 + t * (v1 - v0), f"linear between {n0} and {n1} at {bits} b"
        raise AssertionError("unreachable")

    def adder(self, bits: int) -> Cost:
        """Energy of one add of ``bits``-wide integers (pJ). Linear in width (Horowitz points 8/16/32)."""
        bits = self._check_int("bits", bits)
        v, how = self._adder_curve(bits, "")
        return Cost(v, "pJ", f"{how} ({self._raw('compute', 'int32_add').source})")

    def adder_area(self, bits: int) -> Cost:
        bits = self._check_int("bits", bits)
        v, how = self._adder_curve(bits, "_area")
        return Cost(v, "um2", f"{how} ({self._raw('compute', 'int32_add_area').source})")

    def multiplier(self, a_bits: int = 8, b_bits: int = 8) -> Cost:
        """Energy of one integer multiply (pJ): int8_mult x (a_bits*b_bits)/64 (array multiplier ~ product)."""
        a_bits, b_bits = self._check_int("a_bits", a_bits), self._check_int("b_bits", b_bits)
        v, note = self._logic("compute", "int8_mult")
        return Cost(v * a_bits * b_bits / 64, "pJ",
                    f"{note} x ({a_bits}x{b_bits})/(8x8) ({self._raw('compute', 'int8_mult').source})")

    def multiplier_area(self, a_bits: int = 8, b_bits: int = 8) -> Cost:
        a_bits, b_bits = self._check_int("a_bits", a_bits), self._check_int("b_bits", b_bits)
        e = self._raw("compute", "int8_mult_area")
        return Cost(e.canonical * a_bits * b_bits / 64, "um2",
                    f"compute.int8_mult_area={_fmt(e.canonical)} x ({a_bits}x{b_bits})/(8x8) ({e.source})")

    def mac(self, weight_bits: int = 8, act_bits: int = 8, acc_bits: int = 32) -> Cost:
        """Energy of one multiply-accumulate (pJ), registers not included.

        Anchored on the table's ``int8_mac_acc32`` entry; other widths scale it by
        ``(multiplier(w, a) + adder(acc)) / (multiplier(8, 8) + adder(32))`` (mult ~ product of
        widths, adder ~ width)."""
        ratio = ((self.multiplier(weight_bits, act_bits).value + self.adder(acc_bits).value)
                 / (self.multiplier(8, 8).value + self.adder(32).value))
        v, note = self._logic("compute", "int8_mac_acc32")
        how = note if ratio == 1.0 else (f"{note} x {_fmt(ratio)} (mult({weight_bits}x{act_bits}) + "
                                         f"add({acc_bits})) / (mult(8x8) + add(32))")
        return Cost(v * ratio, "pJ", f"{how} ({self._raw('compute', 'int8_mac_acc32').source})")

    def mac_area(self, weight_bits: int = 8, act_bits: int = 8, acc_bits: int = 32) -> Cost:
        """MAC area (um2), anchored on ``int8_mac_acc32_area`` and width-scaled like `mac`."""
        ratio = ((self.multiplier_area(weight_bits, act_bits).value + self.adder_area(acc_bits).value)
                 / (self.multiplier_area(8, 8).value + self.adder_area(32).value))
        e = self._raw("compute", "int8_mac_acc32_area")
        return Cost(e.canonical * ratio, "um2",
                    f"compute.int8_mac_acc32_area={_fmt(e.canonical)} x {_fmt(ratio)} (width scaling) ({e.source})")

    # ------------------------------------------------------------------------------------ registers
    def register_access(self, bytes_: float) -> Cost:
        """Energy (pJ) to read or write ``bytes_`` of flip-flop register (read = write)."""
        bytes_ = self._check_nonneg("bytes_", bytes_)
        v, note = self._logic("registers", "flop_rw_per_byte")
        return Cost(v * bytes_, "pJ", f"{note} x {_fmt(bytes_)} B ({self._raw('registers', 'flop_rw_per_byte').source})")

    def register_area(self, bits: int) -> Cost:
        bits = self._check_int("bits", bits, minimum=0)
        e = self._raw("registers", "flop_area_per_bit")
        return Cost(e.canonical * bits, "um2", f"registers.flop_area_per_bit={_fmt(e.canonical)} x {bits} b ({e.source})")

    def register_file_access(self, capacity_bytes: int, op: Op = "read", *, port_bits: int = 64) -> Cost:
        """Energy per byte accessed (pJ/B) in a register file of this capacity.

        <= small_rf_max_bytes (64 B): the small-RF entry; <= large_rf_max_bytes (512 B): the
        large-RF entry (read = write in both, an assumption of the reference). Larger: the SRAM
        fit at ``port_bits`` divided by the bytes per access, and the source says so. The steps
        are the reference's: the per-byte cost is not continuous at the 512 B boundary (40 nm:
        0.18 pJ/B just below, ~0.13 pJ/B for a 64-b SRAM just above), so do not sweep RF depth
        across it and read the result as a trend."""
        capacity_bytes = self._check_pos("capacity_bytes", capacity_bytes)
        op = self._check_op(op)
        r = self._m.registers
        if capacity_bytes <= r.small_rf_max_bytes.canonical:
            v, note = self._logic("registers", "small_rf_rw_per_byte")
            return Cost(v, "pJ/B", f"{note} (RF {_fmt(capacity_bytes)} B <= {_fmt(r.small_rf_max_bytes.canonical)} B; "
                                   f"{r.small_rf_rw_per_byte.source})")
        if capacity_bytes <= r.large_rf_max_bytes.canonical:
            v, note = self._logic("registers", "large_rf_rw_per_byte")
            return Cost(v, "pJ/B", f"{note} (RF {_fmt(capacity_bytes)} B <= {_fmt(r.large_rf_max_bytes.canonical)} B; "
                                   f"{r.large_rf_rw_per_byte.source})")
        sram = self.sram_access(capacity_bytes, port_bits, op)
        return Cost(sram.value / (port_bits / 8), "pJ/B",
                    f"RF of {_fmt(capacity_bytes)} B is above the RF range ({_fmt(r.large_rf_max_bytes.canonical)} B): "
                    f"SRAM fit per byte at a {port_bits}-b port = [{sram.source}] / {port_bits // 8 or 1} B")

    def register_file_area(self, capacity_bits: int) -> Cost:
        """Area (um2) of a flop-based register file: ``rf_area_per_bit * bits`` at any size.

        The reference models even a 2 KiB codebook RF this way; for an SRAM macro call
        `sram_area` instead (the source quotes that alternative above the RF range)."""
        capacity_bits = self._check_int("capacity_bits", capacity_bits, minimum=0)
        e = self._raw("registers", "rf_area_per_bit")
        src = f"registers.rf_area_per_bit={_fmt(e.canonical)} x {capacity_bits} b ({e.source})"
        if capacity_bits > 8 * self._m.registers.large_rf_max_bytes.canonical and capacity_bits >= 8:
            alt = self.sram_area(max(1, capacity_bits // 8))
            src += f"; flop-based above the RF range; an SRAM macro would be {_fmt(alt.value)} um2"
        return Cost(e.canonical * capacity_bits, "um2", src)

    # ------------------------------------------------------------------------------------ selection logic
    def mux(self, ways: int, bits: int, activity: float | None = None) -> Cost:
        """Energy (pJ) of one ``ways``:1 selection of a ``bits``-wide operand.

        Built as a tree of (ways-1) mux2 per bit, times a data-toggle ``activity`` (default: the
        table's compute.mux_activity, 0.5 [A], since the simulator does not track switching)."""
        ways, bits = self._check_int("ways", ways), self._check_int("bits", bits)
        c = self._m.compute
        if activity is None:
            act, act_note = c.mux_activity.canonical, "compute.mux_activity"
        else:
            act = self._check_nonneg("activity", activity)
            if act > 1:
                raise ArchsimInputError(f"activity is a toggle probability in [0, 1] (got {activity})")
            act_note = "activity argument"
        v, note = self._logic("compute", "mux2_per_bit")
        return Cost(v * (ways - 1) * bits * act, "pJ",
                    f"{note} x ({ways}-1) mux2 stages x {bits} b x {_fmt(act)} {act_note} ({c.mux2_per_bit.source})")

    def mux_area(self, ways: int, bits: int) -> Cost:
        ways, bits = self._check_int("ways", ways), self._check_int("bits", bits)
        e = self._m.compute.mux2_area_per_bit
        return Cost(e.canonical * (ways - 1) * bits, "um2",
                    f"compute.mux2_area_per_bit={_fmt(e.canonical)} x ({ways}-1) x {bits} b ({e.source})")

    def lzc_decoder(self, m: int) -> Cost:
        """Energy (pJ) to decode one M-bit N:M mask with the LZC-based decoder (MVQ weight loader).

        Modelled as lzc_mux2_per_mask_bit (4 = M/2 mux2 x 8 b per M bits) mux2-bit equivalents per
        mask bit; no activity factor (it is a gate count, not data switching)."""
        m = self._check_int("m", m)
        c = self._m.compute
        v, note = self._logic("compute", "mux2_per_bit")
        k = c.lzc_mux2_per_mask_bit.canonical
        return Cost(v * k * m, "pJ", f"{note} x {_fmt(k)} mux2/mask bit x {m} mask bits "
                                     f"({c.lzc_mux2_per_mask_bit.source})")

    def lzc_decoder_area(self, m: int) -> Cost:
        m = self._check_int("m", m)
        c = self._m.compute
        k = c.lzc_mux2_per_mask_bit.canonical
        return Cost(c.mux2_area_per_bit.canonical * k * m, "um2",
                    f"compute.mux2_area_per_bit={_fmt(c.mux2_area_per_bit.canonical)} x {_fmt(k)} x {m} mask bits "
                    f"({c.lzc_mux2_per_mask_bit.source})")

    # ------------------------------------------------------------------------------------ static, references
    def logic_leakage(self, area_um2: float) -> Cost:
        """Static power (uW) of ``area_um2`` of standard-cell logic."""
        area_um2 = self._check_nonneg("area_um2", area_um2)
        e = self._m.leakage.logic_density
        corner = "" if self._supply_v is None else (
            f" x{_fmt(self._supply_leak)} supply corner ({_fmt(self._supply_v)} V / "
            f"{_fmt(self._m.meta.vdd_char.canonical)} V)^{LEAKAGE_VOLTAGE_EXPONENT:g} [A]")
        return Cost(e.canonical * area_um2 / 1000.0 * self._supply_leak, "uW",
                    f"leakage.logic_density={_fmt(e.canonical)} nW/um2 x {_fmt(area_um2)} um2{corner} ({e.source})")

    def ws_pe_area(self) -> Cost:
        """Reference area (um2) of one int8 WS PE (mult + 32b add + 48 flop bits), for sanity checks."""
        e = self._m.area_reference.ws_pe_int8_acc32
        return Cost(e.canonical, "um2", f"area_reference.ws_pe_int8_acc32 ({e.source})")

    # ------------------------------------------------------------------------------------ listing
    def entries(self) -> pd.DataFrame:
        """Every raw entry as written in the file: name (dotted path), value, unit, source, tag
        (plus ``exponent`` for SRAM fits, NaN elsewhere). For reports and the README."""
        rows: list[dict] = []

        def walk(obj: object, path: str) -> None:
            if isinstance(obj, Entry):
                rows.append({"name": path, "value": obj.value, "unit": obj.unit, "source": obj.source,
                             "tag": obj.tag, "exponent": getattr(obj, "exponent", np.nan)})
            elif isinstance(obj, BaseModel):
                for field in type(obj).model_fields:
                    walk(getattr(obj, field), f"{path}.{field}" if path else field)
            elif isinstance(obj, dict):
                for k, v in obj.items():
                    walk(v, f"{path}.{k}")

        walk(self._m, "")
        return pd.DataFrame(rows, columns=["name", "value", "unit", "source", "tag", "exponent"])


# ---------------------------------------------------------------------------------------------- loading


def builtin_nodes() -> list[str]:
    """Technology tables shipped with archsim (``<node>nm.yaml``); other YAML files in the folder
    (published constants of the PQA / PermDNN studies) are not technology tables."""
    return sorted(p.stem for p in TABLE_DIR.glob("*nm.yaml") if p.stem[:-2].isdigit())


def _resolve(node_or_path: str | int | Path) -> Path:
    if isinstance(node_or_path, bool):
        raise ArchsimInputError(f"technology must be a node such as '40nm' or a YAML path (got {node_or_path!r})")
    if isinstance(node_or_path, int):
        node_or_path = f"{node_or_path}nm"
    if isinstance(node_or_path, Path) or str(node_or_path).endswith((".yaml", ".yml")):
        path = Path(node_or_path)
        if not path.is_file():
            raise ArchsimInputError(f"technology table {str(path)!r} does not exist")
        return path
    if not isinstance(node_or_path, str):
        raise ArchsimInputError(f"technology must be a node such as '40nm' or a YAML path (got {node_or_path!r})")
    name = node_or_path.strip().lower().replace(" ", "")
    if name.isdigit():
        name += "nm"
    path = TABLE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ArchsimInputError(f"unknown technology {node_or_path!r}; built-in: {', '.join(builtin_nodes())}, "
                                "or give a path to a .yaml table (format: archsim/tables/README.md)")
    return path


_FRIENDLY = {
    "missing": "is missing; add it",
    "extra_forbidden": "is not a known field; remove it or fix its spelling",
}


def _format_errors(err: ValidationError, where: str) -> str:
    problems = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        kind = e["type"]
        ctx = e.get("ctx", {})
        if kind in _FRIENDLY:
            msg = _FRIENDLY[kind]
            if kind == "missing" and loc.endswith((".value", ".unit", ".source")):
                msg += " (every entry needs value, unit and source)"
        elif kind == "greater_than_equal":
            msg = f"must be >= {ctx.get('ge')} (got {e.get('input')!r})"
        elif kind == "greater_than":
            msg = f"must be > {ctx.get('gt')} (got {e.get('input')!r})"
        elif kind == "less_than_equal":
            msg = f"must be <= {ctx.get('le')} (got {e.get('input')!r})"
        elif kind == "value_error":
            msg = str(ctx.get("error", e["msg"]))
        elif kind in ("float_parsing", "float_type", "int_parsing", "int_type", "finite_number"):
            msg = f"must be a number (got {e.get('input')!r})"
        elif kind == "model_type" or kind == "dict_type":
            msg = f"must be a mapping such as {{value: ..., unit: ..., source: ...}} (got {e.get('input')!r})"
        else:
            msg = e["msg"]
        problems.append(f"{loc} {msg}")
    return f"{where}: " + "; ".join(problems)


def table_from_mapping(data: object, where: str = "technology table", *, vdd_scaling: bool | None = None,
                       sram_flavour: str | None = None, supply_voltage_v: float | None = None) -> TechTable:
    """Validate an already-parsed table (e.g. a dict built in a test or notebook)."""
    if not isinstance(data, dict):
        raise ArchsimInputError(f"{where}: must hold a mapping with meta, compute, registers, sram, dram, leakage, "
                                "area_reference (format: archsim/tables/README.md)")
    try:
        model = TechTableModel.model_validate(data)
    except ValidationError as err:
        raise ArchsimInputError(_format_errors(err, where)) from None
    return TechTable(model, where, vdd_scaling=vdd_scaling, sram_flavour=sram_flavour,
                     supply_voltage_v=supply_voltage_v)


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int, vdd_scaling: bool | None, sram_flavour: str | None,
                 supply_voltage_v: float | None = None) -> TechTable:
    p = Path(path)
    where = f"tables/{p.name}" if p.parent == TABLE_DIR else str(p)
    try:
        data = yaml.safe_load(read_text_file(p, "technology table"))
    except yaml.YAMLError as err:
        detail = " ".join(str(err).split())
        raise ArchsimInputError(f"{where}: not valid YAML ({detail}); fix the syntax at that line") from None
    reject_non_finite(data, where)   # a NaN would pass every ge/le check of fields without allow_inf_nan
    return table_from_mapping(data, where, vdd_scaling=vdd_scaling, sram_flavour=sram_flavour,
                              supply_voltage_v=supply_voltage_v)


def load_tech_table(node_or_path: str | int | Path, *, vdd_scaling: bool | None = None,
                    sram_flavour: str | None = None, supply_voltage_v: float | None = None) -> TechTable:
    """Load and validate a technology table.

    ``node_or_path``: ``"40nm"``, ``"28nm"``, ``40``, ``"40"`` (built-in tables in
    archsim/tables/) or a path to a user YAML file in the same format (archsim/tables/README.md).
    ``vdd_scaling``: override the table's ``meta.vdd_scaling.enabled`` (None = as in the file).
    ``sram_flavour``: override ``sram.flavour`` (e.g. ``"lop"``).
    ``supply_voltage_v``: load the table for this supply corner (compute/registers energies x
    (V / meta.vdd_char)^2, logic leakage x V/V_char [A]; SRAM and DRAM unchanged; module docstring).
    Must lie in `SUPPLY_VOLTAGE_RANGE_V`; combined with an enabled ``vdd_scaling`` it is an input error.
    Bad input raises `ArchsimInputError` naming the file, the field path and the fix. Tables are
    immutable and cached per (file, modification time, options).
    """
    supply_voltage_v = check_supply_voltage(supply_voltage_v)   # before the cache: it must hash
    path = _resolve(node_or_path).resolve()
    return _load_cached(str(path), path.stat().st_mtime_ns, vdd_scaling, sram_flavour, supply_voltage_v)
