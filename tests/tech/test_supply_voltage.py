"""Supply-voltage corner: logic energy x (V / vdd_char)^2, SRAM and DRAM untouched, bad input one clear error."""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.api import SimContext, simulate_layer
from archsim.design import Design, load_design
from archsim.tech import load_tech_table, table_from_mapping
from archsim.tech.table import LEAKAGE_VOLTAGE_EXPONENT, SUPPLY_VOLTAGE_RANGE_V, TABLE_DIR
from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind

NODES = ("40nm", "28nm")
VOLTS = st.floats(min_value=SUPPLY_VOLTAGE_RANGE_V[0], max_value=SUPPLY_VOLTAGE_RANGE_V[1], allow_nan=False)


@pytest.mark.parametrize("node", NODES)
def test_tables_state_their_characterisation_voltage(node):
    t = load_tech_table(node)
    assert t.meta.vdd_char == 0.9
    assert "§3.3" in t.model.meta.vdd_char.source
    # the old on/off factor is the same rule at the table's own vdd: (vdd / vdd_char)^2
    assert t.model.meta.vdd_scaling.factor.canonical == pytest.approx((t.meta.vdd / t.meta.vdd_char) ** 2, rel=1e-3)


@settings(max_examples=25)
@given(v=VOLTS)
def test_mac_scales_by_exactly_v_over_vchar_squared(v):
    for node in NODES:
        base, corner = load_tech_table(node), load_tech_table(node, supply_voltage_v=v)
        factor = (v / base.meta.vdd_char) ** 2
        assert corner.meta.supply_energy_factor == factor
        assert corner.mac().value == base.mac().value * factor
        assert corner.register_access(4).value == base.register_access(4).value * factor
        assert corner.mux(4, 8).value == pytest.approx(base.mux(4, 8).value * factor, rel=1e-12)
        assert corner.lzc_decoder(4).value == pytest.approx(base.lzc_decoder(4).value * factor, rel=1e-12)
        assert corner.logic_leakage(1000).value == pytest.approx(
            base.logic_leakage(1000).value * (v / base.meta.vdd_char) ** LEAKAGE_VOLTAGE_EXPONENT, rel=1e-12)
        # SRAM (CACTI at its own corner), SRAM-sized RFs, DRAM and areas are not scaled
        assert corner.sram_access(32 * 1024, 64, "read") == base.sram_access(32 * 1024, 64, "read")
        assert corner.register_file_access(4096, "read") == base.register_file_access(4096, "read")
        assert corner.sram_leakage(8192) == base.sram_leakage(8192)
        assert corner.dram_energy_per_bit("LPDDR4") == base.dram_energy_per_bit("LPDDR4")
        assert corner.mac_area() == base.mac_area()


def test_corner_at_vdd_reproduces_the_vdd_scaling_flag():
    flag = load_tech_table("40nm", vdd_scaling=True)
    corner = load_tech_table("40nm", supply_voltage_v=0.99)
    assert corner.mac().value == pytest.approx(flag.mac().value, rel=1e-12)
    assert "supply corner" in corner.mac().source


def _conv() -> Layer:
    return Layer(name="conv", kind=LayerKind.CONV, in_channels=16, out_channels=16, kernel_h=3, kernel_w=3,
                 in_h=8, in_w=8, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)


def test_design_field_reaches_the_energy_frame():
    design = load_design("ws")
    assert design.supply_voltage_v is None                         # off by default
    base = simulate_layer(_conv(), design).energy
    hot = simulate_layer(_conv(), design.with_overrides(supply_voltage_v=1.2)).energy
    factor = (1.2 / 0.9) ** 2
    comps = base.index.get_level_values("component")
    assert "dram" in set(comps)
    for comp in ("dram", "weight_buffer", "input_buffer", "output_buffer"):
        assert (hot.xs(comp, level="component")["energy_pj"] == base.xs(comp, level="component")["energy_pj"]).all()
    mac = base.xs("pe_array", level="component")["energy_pj"]
    assert (mac > 0).any()
    assert hot.xs("pe_array", level="component")["energy_pj"].to_numpy() == pytest.approx(mac.to_numpy() * factor,
                                                                                          rel=1e-12)
    sram_leak = base.xs(("leakage", "sram"), level=("component", "action"))["energy_pj"]
    assert (hot.xs(("leakage", "sram"), level=("component", "action"))["energy_pj"] == sram_leak).all()


@pytest.mark.parametrize("bad", [0.0, -0.9, 0.3, 1.6, float("nan"), "high"])
def test_bad_voltage_names_the_field(bad):
    with pytest.raises(ArchsimInputError, match="supply_voltage_v"):
        load_design("ws").with_overrides(supply_voltage_v=bad)
    with pytest.raises(ArchsimInputError, match="supply_voltage_v"):
        load_tech_table("40nm", supply_voltage_v=bad)


def test_design_range_is_the_tech_range():
    meta = {type(m).__name__: m for m in Design.model_fields["supply_voltage_v"].metadata}
    assert (meta["Ge"].ge, meta["Le"].le) == SUPPLY_VOLTAGE_RANGE_V


def test_both_corrections_at_once_is_one_error():
    with pytest.raises(ArchsimInputError, match="vdd_scaling.*use one"):
        load_tech_table("40nm", supply_voltage_v=0.99, vdd_scaling=True)


def test_table_without_vdd_char_says_what_to_add():
    data = copy.deepcopy(yaml.safe_load((TABLE_DIR / "40nm.yaml").read_text()))
    del data["meta"]["vdd_char"]
    assert table_from_mapping(data).meta.vdd_char is None          # optional until a corner asks for it
    with pytest.raises(ArchsimInputError, match="meta.vdd_char"):
        table_from_mapping(data, supply_voltage_v=0.99)


def test_explicit_tech_must_match_the_design_corner():
    design = load_design("ws").with_overrides(supply_voltage_v=0.99)
    with pytest.raises(ArchsimInputError, match="supply_voltage_v=0.99"):
        SimContext(design, tech=load_tech_table("40nm"))
    SimContext(design, tech=load_tech_table("40nm", supply_voltage_v=0.99))


def test_cli_bad_voltage_exit_2(capsys):
    from archsim.cli.main import main

    assert main(["run", "-w", "resnet20", "-d", "ws", "--set", "supply_voltage_v=3"]) == 2
    err = capsys.readouterr().err
    assert "supply_voltage_v" in err and "Traceback" not in err
