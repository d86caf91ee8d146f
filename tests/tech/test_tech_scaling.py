"""Node scaling: the §3.3 factor table as an explicit step."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archsim.tech import area_factor, energy_factor, scale_area, scale_energy, scaling_table
from archsim.tech.scaling import NODE_FACTORS
from workloads.errors import ArchsimInputError


def test_reference_factors():
    assert scale_energy(0.2, 45, 40) == pytest.approx(0.174)      # Horowitz int8 mult at 40 nm (§4)
    assert scale_energy(0.2, 45, 28) == pytest.approx(0.11)
    assert scale_area(282, 45, 40) == pytest.approx(220, rel=0.01)
    assert scale_area(282, "45nm", "28nm") == pytest.approx(107, rel=0.01)
    assert energy_factor(40, 28) == pytest.approx(0.55 / 0.87)


def test_vdd_term():
    assert energy_factor(45, 45, from_vdd=0.9, to_vdd=0.99) == pytest.approx(1.21)
    assert scale_energy(1.0, 45, 40, from_vdd=0.9, to_vdd=0.99) == pytest.approx(0.87 * 1.21)
    with pytest.raises(ArchsimInputError, match="both"):
        energy_factor(45, 40, from_vdd=0.9)
    with pytest.raises(ArchsimInputError, match="to_vdd"):
        energy_factor(45, 40, from_vdd=0.9, to_vdd=9.0)


@pytest.mark.parametrize("bad", [7, "7nm", "forty", 40.5, True, None])
def test_unknown_node(bad):
    with pytest.raises(ArchsimInputError, match="45nm, 40nm"):
        scale_energy(1.0, bad, 40)


def test_smaller_nodes_are_cheaper_and_table_has_sources():
    nodes = sorted(NODE_FACTORS, reverse=True)
    e = [NODE_FACTORS[n].energy_from_45nm for n in nodes]
    a = [NODE_FACTORS[n].area_from_45nm for n in nodes]
    assert e == sorted(e, reverse=True) and a == sorted(a, reverse=True)
    df = scaling_table()
    assert set(df.index) == set(NODE_FACTORS) and (df["source"].str.len() > 20).all()


@given(st.sampled_from(sorted(NODE_FACTORS)), st.sampled_from(sorted(NODE_FACTORS)),
       st.floats(min_value=1e-3, max_value=1e6))
def test_round_trip(a, b, x):
    assert scale_energy(scale_energy(x, a, b), b, a) == pytest.approx(x)
    assert scale_area(scale_area(x, a, b), b, a) == pytest.approx(x)
    assert area_factor(a, b) * area_factor(b, a) == pytest.approx(1.0)
