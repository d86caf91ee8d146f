"""Pydantic models that validate a technology table (``archsim/tables/<node>.yaml`` or a user file).

Why a schema: the cost model multiplies millions of event counts by these numbers, so a typo
(``pj`` for ``pJ``, a negative energy, a missing source) must fail at load time with the field
path, not show up later as a silent wrong total.

Every leaf is an *entry* ``{value, unit, source, tag?}``. Each field declares the physical kind
it holds (energy, area per bit, ...); the unit must be one of that kind's known units and is
converted to the kind's canonical unit by `Entry.canonical` (pJ, um2, uW, B/s, ns, ...).
The raw value and unit are kept as written so reports can quote the file verbatim.

Format (see also archsim/tables/README.md)::

    meta:       node_nm, description, vdd, clock_hz, dynamic_overhead,
                vdd_scaling {enabled, applies_to, factor}, energy_scale_from_45nm, area_scale_from_45nm,
                vdd_char (optional: the supply the logic energies are characterised at; needed for a
                design's supply_voltage_v corner)
    compute:    int8_mult(_area), int8/16/32_add(_area), int8_mac_acc32(_area), mux2_per_bit,
                mux2_area_per_bit, mux_activity, lzc_mux2_per_mask_bit
    registers:  flop_rw_per_byte, flop_area_per_bit, small_rf_rw_per_byte, small_rf_max_bytes,
                large_rf_rw_per_byte, large_rf_max_bytes, rf_area_per_bit
    sram:       flavour, fit_min_bytes, fit_max_bytes, area_per_kib, area_periphery_per_port_bit2,
                leakage_per_kib, fits.<flavour>.<read|write>.w<port_bits> = {value: a, exponent: b, ...}
                (E per access = a * KiB^b pJ)
    dram:       <KIND>: {energy_per_bit, bandwidth, latency}
    leakage:    logic_density
    area_reference: ws_pe_int8_acc32, ws_pe_leakage
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# unit -> (kind, factor to the kind's canonical unit). The first unit listed per kind is canonical.
UNITS: dict[str, tuple[str, float]] = {
    "pJ": ("energy", 1.0), "fJ": ("energy", 1e-3), "nJ": ("energy", 1e3),
    "pJ/bit": ("energy_per_bit", 1.0), "fJ/bit": ("energy_per_bit", 1e-3),
    "pJ/B": ("energy_per_byte", 1.0), "fJ/B": ("energy_per_byte", 1e-3),
    "um2": ("area", 1.0), "mm2": ("area", 1e6),
    "um2/bit": ("area_per_bit", 1.0),
    "um2/bit2": ("area_per_bit2", 1.0),
    "um2/KiB": ("area_per_kib", 1.0), "mm2/MiB": ("area_per_kib", 1e6 / 1024),
    "uW": ("power", 1.0), "nW": ("power", 1e-3), "mW": ("power", 1e3),
    "uW/KiB": ("power_per_kib", 1.0), "nW/KiB": ("power_per_kib", 1e-3),
    "nW/um2": ("power_density", 1.0),
    "V": ("voltage", 1.0), "mV": ("voltage", 1e-3),
    "Hz": ("frequency", 1.0), "MHz": ("frequency", 1e6), "GHz": ("frequency", 1e9),
    "B/s": ("bandwidth", 1.0), "GB/s": ("bandwidth", 1e9),
    "ns": ("time", 1.0), "us": ("time", 1e3),
    "B": ("bytes", 1.0), "KiB": ("bytes", 1024.0),
    "x": ("ratio", 1.0), "1": ("ratio", 1.0),
}

CANONICAL: dict[str, str] = {}
for _unit, (_kind, _factor) in UNITS.items():
    CANONICAL.setdefault(_kind, _unit)

Tag = Literal["R", "P", "C", "M", "A", "R-secondary"]


def units_of(kind: str) -> list[str]:
    return [u for u, (k, _) in UNITS.items() if k == kind]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Entry(_Strict):
    """One number with its unit and provenance. Subclasses fix the physical kind."""

    kind: ClassVar[str] = "ratio"

    value: float = Field(..., ge=0, allow_inf_nan=False, description="the number, in `unit`")
    unit: str = Field(..., description="a unit of this entry's kind, e.g. pJ, um2, uW/KiB")
    source: str = Field(..., min_length=3, description="where the number comes from, or how it was computed")
    tag: Tag | None = Field(None, description="R/P/C/M/A provenance class as in energy_tables.md")

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        known = units_of(cls.kind)
        if unit not in known:
            raise ValueError(f"unknown unit {unit!r} for a {cls.kind.replace('_', ' ')} entry; use one of "
                             f"{', '.join(known)}")
        return unit

    @property
    def canonical(self) -> float:
        """The value converted to the canonical unit of its kind (pJ, um2, uW, ...)."""
        return self.value * UNITS[self.unit][1]

    @property
    def canonical_unit(self) -> str:
        return CANONICAL[self.kind]


class Energy(Entry):
    kind: ClassVar[str] = "energy"


class EnergyPerBit(Entry):
    kind: ClassVar[str] = "energy_per_bit"


class EnergyPerByte(Entry):
    kind: ClassVar[str] = "energy_per_byte"


class Area(Entry):
    kind: ClassVar[str] = "area"


class AreaPerBit(Entry):
    kind: ClassVar[str] = "area_per_bit"


class AreaPerBit2(Entry):
    kind: ClassVar[str] = "area_per_bit2"


class AreaPerKiB(Entry):
    kind: ClassVar[str] = "area_per_kib"


class Power(Entry):
    kind: ClassVar[str] = "power"


class PowerPerKiB(Entry):
    kind: ClassVar[str] = "power_per_kib"


class PowerDensity(Entry):
    kind: ClassVar[str] = "power_density"


class Voltage(Entry):
    kind: ClassVar[str] = "voltage"


class Frequency(Entry):
    kind: ClassVar[str] = "frequency"


class Bandwidth(Entry):
    kind: ClassVar[str] = "bandwidth"


class Time(Entry):
    kind: ClassVar[str] = "time"


class Bytes(Entry):
    kind: ClassVar[str] = "bytes"


class Ratio(Entry):
    kind: ClassVar[str] = "ratio"


class PowerLawFit(Energy):
    """SRAM energy per access E = value * KiB^exponent (value = energy of a 1 KiB macro)."""

    exponent: float = Field(..., gt=0, le=1.5, description="b in a*KiB^b; CACTI gives ~0.45-0.6")
    max_rel_error: float | None = Field(None, ge=0, description="max |fit/data - 1| over the fitted points")


# ----------------------------------------------------------------------------------------------- sections


class VddScaling(_Strict):
    """Optional supply correction for logic energies taken from 0.9 V sources (Horowitz, Aladdin).

    Off by default; when on, every energy in the sections of `applies_to` is multiplied by `factor`
    (e.g. (0.99/0.9)^2 = 1.21 at 40 nm to match MVQ's 0.99 V corner). SRAM (CACTI at its own
    corner) and DRAM are never scaled. A design's ``supply_voltage_v`` is the general form of the same
    rule, (V / meta.vdd_char)^2 on the same sections (archsim.tech.table); the two are exclusive."""

    enabled: bool = False
    applies_to: list[Literal["compute", "registers"]] = Field(default_factory=lambda: ["compute", "registers"])
    factor: Ratio


class Meta(_Strict):
    node_nm: int = Field(..., gt=0, le=1000)
    description: str = ""
    vdd: Voltage
    clock_hz: Frequency
    dynamic_overhead: Ratio
    vdd_scaling: VddScaling
    energy_scale_from_45nm: Ratio
    area_scale_from_45nm: Ratio
    vdd_char: Voltage | None = Field(None, description="supply at which the compute/registers energies are "
                                                       "characterised (V_char of the supply-voltage corner)")

    @field_validator("vdd_char")
    @classmethod
    def _positive_vdd_char(cls, entry: Voltage | None) -> Voltage | None:
        if entry is not None and entry.value <= 0:
            raise ValueError(f"vdd_char must be > 0 V (got {entry.value})")
        return entry

    @field_validator("dynamic_overhead")
    @classmethod
    def _overhead_at_least_one(cls, entry: Ratio) -> Ratio:
        if entry.value < 1.0:
            raise ValueError(f"dynamic_overhead must be >= 1 (got {entry.value}); it adds clock tree and control "
                             "energy on top of the modelled events, 1.0 = none")
        return entry


class Compute(_Strict):
    int8_mult: Energy
    int8_mult_area: Area
    int8_add: Energy
    int8_add_area: Area
    int16_add: Energy
    int16_add_area: Area
    int32_add: Energy
    int32_add_area: Area
    int8_mac_acc32: Energy
    int8_mac_acc32_area: Area
    mux2_per_bit: EnergyPerBit
    mux2_area_per_bit: AreaPerBit
    mux_activity: Ratio
    lzc_mux2_per_mask_bit: Ratio

    @field_validator("mux_activity")
    @classmethod
    def _activity_le_one(cls, entry: Ratio) -> Ratio:
        if entry.value > 1.0:
            raise ValueError(f"mux_activity is a toggle probability, must be <= 1 (got {entry.value})")
        return entry


class Registers(_Strict):
    flop_rw_per_byte: EnergyPerByte
    flop_area_per_bit: AreaPerBit
    small_rf_rw_per_byte: EnergyPerByte
    small_rf_max_bytes: Bytes
    large_rf_rw_per_byte: EnergyPerByte
    large_rf_max_bytes: Bytes
    rf_area_per_bit: AreaPerBit

    @model_validator(mode="after")
    def _ordered_ranges(self) -> "Registers":
        if not 0 < self.small_rf_max_bytes.canonical < self.large_rf_max_bytes.canonical:
            raise ValueError("need 0 < small_rf_max_bytes < large_rf_max_bytes (e.g. 64 B and 512 B)")
        return self


_WIDTH_KEY = re.compile(r"^w([1-9][0-9]*)$")


class SramOpFits(_Strict):
    read: dict[str, PowerLawFit]
    write: dict[str, PowerLawFit]

    @field_validator("read", "write")
    @classmethod
    def _width_keys(cls, fits: dict[str, PowerLawFit]) -> dict[str, PowerLawFit]:
        if not fits:
            raise ValueError("needs at least one port width, e.g. w64: {value: 1.51, exponent: 0.58, unit: pJ, "
                             "source: ...}")
        for key in fits:
            if not _WIDTH_KEY.match(key):
                raise ValueError(f"key {key!r} must name a port width as w<bits>, e.g. w64")
        return fits

    def by_width(self, op: str) -> dict[int, PowerLawFit]:
        """{port_bits: fit} sorted by width."""
        fits: dict[str, PowerLawFit] = getattr(self, op)
        return dict(sorted((int(_WIDTH_KEY.match(k).group(1)), v) for k, v in fits.items()))


class Sram(_Strict):
    flavour: str = Field(..., description="key of `fits` used by default (lstp = Accelergy's CACTI default)")
    fit_min_bytes: Bytes
    fit_max_bytes: Bytes
    area_per_kib: AreaPerKiB
    area_periphery_per_port_bit2: AreaPerBit2
    leakage_per_kib: PowerPerKiB
    fits: dict[str, SramOpFits]

    @model_validator(mode="after")
    def _flavour_known(self) -> "Sram":
        if self.flavour not in self.fits:
            raise ValueError(f"flavour {self.flavour!r} has no fits; fits has {', '.join(self.fits) or 'nothing'}")
        if self.fit_min_bytes.canonical >= self.fit_max_bytes.canonical:
            raise ValueError("fit_min_bytes must be < fit_max_bytes")
        return self


class DramKind(_Strict):
    energy_per_bit: EnergyPerBit
    bandwidth: Bandwidth
    latency: Time

    @field_validator("bandwidth")
    @classmethod
    def _positive_bandwidth(cls, entry: Bandwidth) -> Bandwidth:
        if entry.value <= 0:
            raise ValueError("bandwidth must be > 0")
        return entry


class Leakage(_Strict):
    logic_density: PowerDensity


class AreaReference(_Strict):
    ws_pe_int8_acc32: Area
    ws_pe_leakage: Power


class TechTableModel(_Strict):
    """The whole file. See the module docstring for the layout."""

    meta: Meta
    compute: Compute
    registers: Registers
    sram: Sram
    dram: dict[str, DramKind]
    leakage: Leakage
    area_reference: AreaReference

    @field_validator("dram")
    @classmethod
    def _some_dram(cls, kinds: dict[str, DramKind]) -> dict[str, DramKind]:
        if not kinds:
            raise ValueError("needs at least one DRAM kind, e.g. LPDDR4: {energy_per_bit: ..., bandwidth: ..., "
                             "latency: ...}")
        return kinds
