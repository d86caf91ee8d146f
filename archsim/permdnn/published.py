"""Loader for ``archsim/tables/permdnn_eie.yaml``: the published PermDNN / EIE numbers, each with
unit, provenance tag and source, and the explicit 45 nm -> 28 nm step for EIE.

The scaling step (`eie_scaled`) is the only place EIE's published 45 nm area and power become 28 nm
numbers, and it uses `archsim.tech.scaling` (Stillmaker-Baas / C~L midpoints, energy_tables.md
§3.3) -- not the factors one could back out of PermDNN's ratios (pq_permdnn.md §B.3 notes that the
published ratios imply area x(28/45)^2 and *constant* power; ours differ and the report says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archsim.tech.scaling import area_factor, energy_factor
from workloads.errors import ArchsimInputError

PATH = Path(__file__).resolve().parent.parent / "tables" / "permdnn_eie.yaml"
_SCALE = {"mm2": 1.0, "um2": 1e-6, "W": 1.0, "mW": 1e-3, "GHz": 1e9, "MHz": 1e6, "nm": 1.0, "1": 1.0, "x": 1.0,
          "bit": 1.0, "GOPS": 1.0, "1/s": 1.0}


class PublishedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float = Field(..., ge=0)
    unit: str
    tag: str = Field(..., pattern=r"^(P|T|S|R|I|A|C)$")
    source: str = Field(..., min_length=3)

    @property
    def si(self) -> float:
        """Value in SI-ish base units: mm2 for areas, W, Hz; counts and ratios unchanged."""
        if self.unit not in _SCALE:
            raise ArchsimInputError(f"{PATH.name}: unknown unit {self.unit!r}; use one of {sorted(_SCALE)}")
        return self.value * _SCALE[self.unit]


@dataclass(frozen=True)
class Published:
    permdnn: dict[str, PublishedEntry]
    eie: dict[str, PublishedEntry]
    eie_layer_times_us: dict[str, dict[str, float]]
    eie_layer_times_source: str


@lru_cache(maxsize=4)
def load_published(path: str | Path = PATH) -> Published:
    path = Path(path)
    data = yaml.safe_load(path.read_text())
    try:
        pd_ = {k: PublishedEntry.model_validate(v) for k, v in data["permdnn"].items()}
        eie = {k: PublishedEntry.model_validate(v) for k, v in data["eie"].items()}
    except (ValidationError, KeyError, AttributeError) as err:
        raise ArchsimInputError(f"{path}: malformed published-constants table ({err})") from None
    return Published(pd_, eie, data["eie_layer_times_us"], data["eie_layer_times_source"])


@dataclass(frozen=True)
class ScaledDesignPoint:
    name: str
    node_nm: int
    clock_hz: float
    area_mm2: float
    power_w: float
    how: str


def permdnn_point(pub: Published | None = None) -> ScaledDesignPoint:
    pub = pub or load_published()
    p = pub.permdnn
    return ScaledDesignPoint("PermDNN (published)", 28, p["clock"].si, p["area"].si, p["power"].si,
                             f"published [S]: {p['area'].source}; {p['power'].source}")


def eie_scaled(to_nm: int = 28, to_clock_hz: float | None = None, pub: Published | None = None) -> ScaledDesignPoint:
    """EIE's 45 nm design point at ``to_nm``: area x area_factor(45, to); power x energy_factor(45, to)
    x (to_clock / 800 MHz) (energy per cycle scales with the node, power with the clock).
    ``to_clock_hz`` defaults to EIE Table V's own 28 nm clock (1.2 GHz) [T]."""
    pub = pub or load_published()
    e = pub.eie
    f45, a45, p45 = e["clock"].si, e["area"].si, e["power"].si
    clock = e["clock_28nm"].si if to_clock_hz is None else to_clock_hz
    ef, af = energy_factor(45, to_nm), area_factor(45, to_nm)
    power = p45 * ef * clock / f45
    return ScaledDesignPoint(f"EIE scaled to {to_nm} nm", to_nm, clock, a45 * af, power,
                             f"EIE Table V 45 nm ({a45} mm2, {p45} W, {f45 / 1e6:.0f} MHz) x area_factor(45,{to_nm})"
                             f"={af:.3f}, power x energy_factor(45,{to_nm})={ef:.3f} x clock {clock / 1e6:.0f}/"
                             f"{f45 / 1e6:.0f} MHz (archsim.tech.scaling)")


__all__ = ["PublishedEntry", "Published", "load_published", "ScaledDesignPoint", "permdnn_point", "eie_scaled", "PATH"]
