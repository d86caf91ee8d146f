"""The register / register-file access convention (issue 11, item 1; `archsim.access_convention`).

Per mapper: a stationary register costs no per-MAC dynamic energy; an RF read price grows with depth; the
legacy convention stays selectable and reproduces the old pricing.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archsim.access_convention import AccessPricer, read_mux_levels
from archsim.api import simulate
from archsim.design import load_design
from archsim.tech import load_tech_table
from workloads.errors import ArchsimInputError
from workloads.layer import conv2d
from workloads.network import Network

TECH = load_tech_table("40nm")
CONV = conv2d("conv", 32, 32, 8, 3, padding=1)
PW = conv2d("pw", 64, 32, 8, 1)
NET = Network(name="two", layers=(CONV, PW))


def _rows(result, component: str, action: str):
    e = result.energy
    mask = (e.index.get_level_values("component") == component) & (e.index.get_level_values("action") == action)
    return e[mask]


@pytest.mark.parametrize("design", ["ws", "ews", "ews-c", "ews-cm", "mvq", "s2ta-w", "s2ta", "sa-zvcg"])
def test_stationary_weight_costs_nothing_per_mac(design: str) -> None:
    """WS's pinned weight (and an EWS PE holding a single weight) is read every MAC but never rewritten."""
    r = simulate(NET, design)
    stationary = _rows(r, "weight_rf", "stationary_read_bytes")
    if design == "ws":
        assert stationary["count"].sum() == r.macs  # one read per MAC, 1 byte each
    if len(stationary):
        assert (stationary["energy_pj"] == 0).all()
    legacy = simulate(NET, load_design(design).with_overrides(**{"accounting.register_convention": "legacy"}))
    old = _rows(legacy, "weight_rf", "stationary_read_bytes")
    assert old["count"].sum() == stationary["count"].sum()
    if len(old):
        assert (old["energy_pj"] > 0).all()


def test_ws_depth_one_reads_are_free_writes_are_not() -> None:
    r = simulate(NET, "ws")
    for comp in ("activation_rf", "psum_rf"):
        assert _rows(r, comp, "read_bytes")["energy_pj"].sum() == 0
        writes = _rows(r, comp, "write_bytes")
        assert writes["count"].sum() > 0 and writes["energy_pj"].sum() > 0


def test_ews_rf_read_price_is_its_read_mux_tree() -> None:
    r = simulate(NET, "ews")
    d = load_design("ews").register_files
    mux2 = TECH.mux(2, 1, activity=1.0).value
    for comp, depth in (("activation_rf", d.activation_depth), ("psum_rf", d.psum_depth)):
        rows = _rows(r, comp, "read_bytes")
        assert len(rows)
        assert rows["pj_per_event"].iloc[0] == pytest.approx(math.ceil(math.log2(depth)) * 8 * mux2)
    acc = _rows(r, "psum_rf", "acc_read_bytes")
    assert acc["count"].sum() > 0 and acc["energy_pj"].sum() == 0


@given(st.integers(1, 512), st.integers(1, 512))
def test_rf_read_price_grows_with_depth(a: int, b: int) -> None:
    pricer = AccessPricer(TECH, "switching")
    lo, hi = sorted((a, b))
    assert pricer.read_per_byte(lo, 8).value <= pricer.read_per_byte(hi, 8).value
    if read_mux_levels(hi) > read_mux_levels(lo):
        assert pricer.read_per_byte(lo, 8).value < pricer.read_per_byte(hi, 8).value
    assert pricer.write_per_byte(lo, 8).value == pricer.write_per_byte(hi, 8).value == TECH.register_access(1).value


@pytest.mark.parametrize("design", ["ws", "ews", "ews-c", "ews-cm"])
def test_legacy_reproduces_the_old_pricing(design: str) -> None:
    """legacy: read = write, at the flop price for depth 1 and at the table's RF price for deeper files."""
    r = simulate(NET, load_design(design).with_overrides(**{"accounting.register_convention": "legacy"}))
    rf = load_design(design).register_files
    for comp, depth, bits in (("weight_rf", rf.weight_depth, 8), ("activation_rf", rf.activation_depth, 8),
                              ("psum_rf", rf.psum_depth, 32)):
        expect = (TECH.register_access(1).value if depth == 1
                  else TECH.register_file_access(depth * bits / 8, "read").value)
        for action in ("read_bytes", "write_bytes"):
            rows = _rows(r, comp, action)
            if len(rows):
                assert rows["pj_per_event"].iloc[0] == pytest.approx(expect)


def test_switching_never_costs_more_than_legacy() -> None:
    for design in ("ws", "ews", "mvq"):
        new = simulate(NET, design, iso="pes")   # the preset as written, like load_design below
        old = simulate(NET, load_design(design).with_overrides(**{"accounting.register_convention": "legacy"}))
        assert new.cycles == old.cycles
        assert new.energy_breakdown["register files"] < old.energy_breakdown["register files"]


def test_unknown_convention_is_one_clear_error() -> None:
    with pytest.raises(ArchsimInputError, match="register_convention"):
        load_design("ws").with_overrides(**{"accounting.register_convention": "free"})
    with pytest.raises(ArchsimInputError, match="register_convention"):
        AccessPricer(TECH, "free")
