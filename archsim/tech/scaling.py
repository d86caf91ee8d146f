"""Technology scaling between CMOS nodes, as one explicit, documented step.

Why a separate step: published accelerators sit at different nodes (EIE 45 nm, PermDNN 28 nm,
MVQ 40 nm, S2TA 16 nm). Comparing them needs a declared normalisation, never a silent one. Every
factor below is relative to 45 nm (Horowitz's node) and carries its source (energy_tables.md §3.3).
The 40 and 28 nm tables of archsim were derived with exactly these factors (a test checks that).

Energy also scales with supply: dynamic energy ~ V^2 (pass ``from_vdd``/``to_vdd``). DRAM energy
does not scale with the logic node and SRAM should come from CACTI at the target node, not from
scaling; these functions are for logic numbers quoted at another node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from workloads.errors import ArchsimInputError


@dataclass(frozen=True)
class NodeFactors:
    node_nm: int
    energy_from_45nm: float
    area_from_45nm: float
    source: str


NODE_FACTORS: dict[int, NodeFactors] = {f.node_nm: f for f in (
    NodeFactors(45, 1.0, 1.0, "reference node (Horowitz ISSCC'14, 45 nm / 0.9 V)"),
    NodeFactors(40, 0.87, 0.78, "[C] energy: Stillmaker & Baas (Integration 2017) log-interpolated, 0.87 (C~L "
                                "gives 0.89); area: between S&B 0.76 and L^2 0.79 (energy_tables.md §3.3)"),
    NodeFactors(32, 0.65, 0.46, "[R]+[C] S&B: energy 0.64-0.66 at equal Vdd (midpoint), area 0.46 "
                                "(energy_tables.md §3.3)"),
    NodeFactors(28, 0.55, 0.38, "[C] energy: midpoint of S&B 0.48 and C~L 0.62; area: between S&B 0.37 and "
                                "L^2 0.39 (energy_tables.md §3.3)"),
    NodeFactors(22, 0.38, 0.25, "[C] energy: ~midpoint of S&B 0.28 and C~L 0.49 (approximate, '~0.38' in the "
                                "reference); area: S&B 0.25 (energy_tables.md §3.3)"),
    NodeFactors(16, 0.185, 0.19, "[R]+[C] S&B: energy 0.17-0.20 at equal Vdd (midpoint), area 0.19 "
                                 "(energy_tables.md §3.3)"),
)}


def _node(value: int | str, name: str) -> NodeFactors:
    nm: int | None = None
    if isinstance(value, bool):
        nm = None
    elif isinstance(value, int):
        nm = value
    elif isinstance(value, float) and value.is_integer():
        nm = int(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*(nm)?\s*", value, flags=re.IGNORECASE)
        nm = int(match.group(1)) if match else None
    if nm is None or nm not in NODE_FACTORS:
        raise ArchsimInputError(f"{name}={value!r} is not a node with scaling factors; give one of "
                                f"{', '.join(f'{n}nm' for n in sorted(NODE_FACTORS, reverse=True))}")
    return NODE_FACTORS[nm]


def _vdd_factor(from_vdd: float | None, to_vdd: float | None) -> float:
    if from_vdd is None and to_vdd is None:
        return 1.0
    if from_vdd is None or to_vdd is None:
        raise ArchsimInputError("give both from_vdd and to_vdd (volts) or neither")
    for name, v in (("from_vdd", from_vdd), ("to_vdd", to_vdd)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.3 <= v <= 2.0:
            raise ArchsimInputError(f"{name} must be a supply voltage in volts between 0.3 and 2.0 (got {v!r})")
    return (to_vdd / from_vdd) ** 2


def energy_factor(from_nm: int | str, to_nm: int | str, *, from_vdd: float | None = None,
                  to_vdd: float | None = None) -> float:
    """Multiplier that takes an energy at ``from_nm`` to ``to_nm`` (times (to_vdd/from_vdd)^2 if given)."""
    a, b = _node(from_nm, "from_nm"), _node(to_nm, "to_nm")
    return b.energy_from_45nm / a.energy_from_45nm * _vdd_factor(from_vdd, to_vdd)


def area_factor(from_nm: int | str, to_nm: int | str) -> float:
    a, b = _node(from_nm, "from_nm"), _node(to_nm, "to_nm")
    return b.area_from_45nm / a.area_from_45nm


def scale_energy(value_pj: float, from_nm: int | str, to_nm: int | str, *, from_vdd: float | None = None,
                 to_vdd: float | None = None) -> float:
    """An energy quoted at ``from_nm`` (and ``from_vdd``) expressed at ``to_nm`` (and ``to_vdd``).

    Example: ``scale_energy(0.2, 45, 28)`` = 0.11 pJ (Horowitz int8 mult at 28 nm)."""
    return float(value_pj) * energy_factor(from_nm, to_nm, from_vdd=from_vdd, to_vdd=to_vdd)


def scale_area(value_um2: float, from_nm: int | str, to_nm: int | str) -> float:
    """An area quoted at ``from_nm`` expressed at ``to_nm``."""
    return float(value_um2) * area_factor(from_nm, to_nm)


def scaling_table() -> pd.DataFrame:
    """The factor table (relative to 45 nm) with sources, for reports."""
    return pd.DataFrame([f.__dict__ for f in NODE_FACTORS.values()]).set_index("node_nm")
