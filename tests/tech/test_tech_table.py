"""Technology tables: completeness, physical sanity, agreement with the reference data, errors."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.tech import Cost, load_tech_table, scale_area, scale_energy
from archsim.tech.table import TABLE_DIR
from workloads.errors import ArchsimInputError

NODES = ("40nm", "28nm")
CACTI = Path(__file__).parent / "data" / "cacti7_sram_28_40.csv"


@pytest.fixture(scope="module", params=NODES)
def table(request):
    return load_tech_table(request.param)


@pytest.fixture(scope="module")
def t40():
    return load_tech_table("40nm")


@pytest.fixture(scope="module")
def t28():
    return load_tech_table("28nm")


def raw(node: str) -> dict:
    return yaml.safe_load((TABLE_DIR / f"{node}.yaml").read_text())


def _leaves(obj, path=""):
    """Every dict that carries a `value` key, with its dotted path."""
    if isinstance(obj, dict):
        if "value" in obj:
            yield path, obj
        else:
            for k, v in obj.items():
                yield from _leaves(v, f"{path}.{k}" if path else str(k))


@pytest.fixture(scope="module")
def cacti() -> pd.DataFrame:
    return pd.read_csv(CACTI, comment="#")


# ------------------------------------------------------------------------------------------- completeness


@pytest.mark.parametrize("node", NODES)
def test_every_raw_entry_has_value_unit_source_and_tag(node):
    leaves = list(_leaves(raw(node)))
    assert len(leaves) > 60
    for path, entry in leaves:
        assert {"value", "unit", "source"} <= set(entry), path
        assert isinstance(entry["value"], (int, float)) and entry["value"] >= 0, path
        assert len(entry["source"]) > 10, path
        assert entry.get("tag") in {"R", "P", "C", "M", "A", "R-secondary"}, path


def test_entries_frame_lists_every_entry(table):
    df = table.entries()
    assert list(df.columns) == ["name", "value", "unit", "source", "tag", "exponent"]
    assert len(df) == len(list(_leaves(raw(f"{table.meta.node_nm}nm"))))
    assert df["name"].is_unique
    assert (df["value"] >= 0).all()
    assert df[["value", "unit", "source"]].notna().all().all()
    fits = df[df["name"].str.startswith("sram.fits.")]
    assert fits["exponent"].between(0.3, 0.7).all()
    assert "compute.int8_mult" in set(df["name"])


def test_meta(t40, t28):
    assert (t40.meta.node_nm, t40.meta.vdd, t28.meta.node_nm, t28.meta.vdd) == (40, 0.99, 28, 0.9)
    for t in (t40, t28):
        assert t.meta.dynamic_overhead == 1.0          # documented default; 1.15 is only suggested
        assert t.meta.vdd_scaling is False
        assert t.meta.clock_hz == 1e9
        assert t.meta.sram_flavour == "lstp"


# ------------------------------------------------------------------------------------------- reference numbers


def test_reference_points(t40, t28):
    # energy_tables.md §3.4: 40 nm 32 KB 64-b read = 12.04 pJ (CACTI); fit 1.51*32^0.58
    fit = t40.model.sram.fits["lstp"].read["w64"]
    e = t40.sram_access(32 * 1024, 64, "read")
    assert e.unit == "pJ" and "w64" in e.source
    assert e.value == pytest.approx(1.51 * 32 ** 0.58)
    assert abs(e.value / 12.04 - 1) <= fit.max_rel_error
    assert abs(t28.sram_access(8 * 1024, 64, "read").value / 2.58 - 1) <= 0.24
    # §3.5 DRAM
    assert t40.dram_energy_per_bit("LPDDR4").value == 8.0
    assert t28.dram_energy_per_bit("HBM2").value == 3.9
    assert t40.dram_energy_per_bit("hbm2") == t28.dram_energy_per_bit("HBM2")   # not node-scaled
    # §4 compute
    assert t40.mac().value == pytest.approx(0.26)
    assert t28.mac().value == pytest.approx(0.165)
    assert t40.mux(4, 8, activity=1.0).value == pytest.approx(0.031, rel=0.02)   # mux_Nto1_8bit 4to1
    assert t40.mux_area(8, 8).value == pytest.approx(81, rel=0.01)


def test_dram_defaults(t40):
    spec = t40.dram_kind("LPDDR4")
    assert spec.bandwidth_bytes_per_s == 12.8e9 and spec.pj_per_bit == 8.0 and spec.latency_ns > 0
    assert t40.dram_kind("DDR4").bandwidth_bytes_per_s == 25.6e9
    assert t40.dram_kind("HBM2").bandwidth_bytes_per_s == 256e9
    assert "[A]" in spec.source and "[R]" in spec.source
    assert set(t40.dram_kinds()) == {"LPDDR4", "DDR4", "HBM2", "GDDR5", "DDR3"}


def test_unknown_dram_kind_lists_known(t40):
    with pytest.raises(ArchsimInputError, match="LPDDR4.*DDR4.*HBM2"):
        t40.dram_kind("LPDDR9")
    with pytest.raises(ArchsimInputError, match="known kinds"):
        t40.dram_energy_per_bit("SRAM")


@pytest.mark.parametrize("node,nm", [("40nm", 40), ("28nm", 28)])
def test_horowitz_entries_follow_the_scaling_module(node, nm):
    """The tables were derived as Horowitz 45 nm x §3.3 factors; scaling.py holds the same factors."""
    c = load_tech_table(node).model.compute
    horowitz = {"int8_mult": (0.2, 282), "int8_add": (0.03, 36), "int16_add": (0.05, 67), "int32_add": (0.1, 137)}
    for name, (e45, a45) in horowitz.items():
        # rel 3.5 %: §4 rounds to two significant digits (0.0165 -> 0.017)
        assert getattr(c, name).value == pytest.approx(scale_energy(e45, 45, nm), rel=0.035), name
        assert getattr(c, f"{name}_area").value == pytest.approx(scale_area(a45, 45, nm), rel=0.05), name


def test_composite_entries_are_consistent(table):
    """MAC = mult + 32b add; WS PE = MAC + 48 flop bits; PE leakage = density x area."""
    c = table.model.compute
    assert c.int8_mac_acc32.value == pytest.approx(c.int8_mult.value + c.int32_add.value, rel=0.02)
    assert c.int8_mac_acc32_area.value == pytest.approx(c.int8_mult_area.value + c.int32_add_area.value, rel=0.02)
    pe = table.mac_area().value + table.register_area(48).value
    assert table.ws_pe_area().value == pytest.approx(pe, rel=0.02)
    assert table.model.area_reference.ws_pe_leakage.value == pytest.approx(
        table.logic_leakage(table.ws_pe_area().value).value, rel=0.03)


# ------------------------------------------------------------------------------------------- SRAM vs CACTI


def test_sram_fits_reproduce_cacti_within_stated_error(table, cacti):
    node = table.meta.node_nm
    s = table.model.sram
    checked = 0
    for flavour, opfits in s.fits.items():
        for op in ("read", "write"):
            for width, fit in opfits.by_width(op).items():
                d = cacti[(cacti.cell_type == f"itrs-{flavour}") & (cacti.tech_nm == node) & (cacti.width_bits == width)
                          & cacti.size_bytes.between(s.fit_min_bytes.value, s.fit_max_bytes.value)]
                assert len(d) == 12
                for size, ref in zip(d.size_bytes, d[f"{op}_pJ_per_access"]):
                    got = table.sram_access(int(size), width, op, flavour=flavour).value
                    assert abs(got / ref - 1) <= fit.max_rel_error + 1e-9, (flavour, op, width, size)
                    checked += 1
                # the stated error is tight, not a loose bound
                errs = [abs(table.sram_access(int(z), width, op, flavour=flavour).value / r - 1)
                        for z, r in zip(d.size_bytes, d[f"{op}_pJ_per_access"])]
                assert max(errs) > fit.max_rel_error - 0.02
    assert checked == 2 * 2 * 5 * 12


def test_sram_fit_coefficients_are_least_squares_of_cacti(table, cacti):
    """Refit log E = log a + b log KiB and compare with the table (2-decimal rounding)."""
    node = table.meta.node_nm
    for flavour, opfits in table.model.sram.fits.items():
        for op in ("read", "write"):
            for width, fit in opfits.by_width(op).items():
                d = cacti[(cacti.cell_type == f"itrs-{flavour}") & (cacti.tech_nm == node) & (cacti.width_bits == width)
                          & (cacti.size_bytes >= 1024)]
                b, log_a = np.polyfit(np.log(d.size_bytes / 1024), np.log(d[f"{op}_pJ_per_access"]), 1)
                assert fit.value == pytest.approx(math.exp(log_a), abs=0.0051), (flavour, op, width)
                assert fit.exponent == pytest.approx(b, abs=0.0051), (flavour, op, width)


def test_sram_area_and_leakage_vs_cacti(table, cacti):
    d = cacti[(cacti.cell_type == "itrs-lstp") & (cacti.tech_nm == table.meta.node_nm) & (cacti.size_bytes >= 1024)]
    errs = [table.sram_area(int(z), int(w)).value / (a * 1e6) - 1 for z, w, a in zip(d.size_bytes, d.width_bits, d.area_mm2)]
    assert max(map(abs, errs)) < 0.17
    # the small-macro penalty: a 1 KiB / 256 b macro costs > 2x per KiB what a 1 MiB one does
    per_kib_small = table.sram_area(1024, 256).value
    per_kib_big = table.sram_area(1 << 20, 256).value / 1024
    assert per_kib_small > 2 * per_kib_big
    # leakage sits between the CACTI lstp and lop flavours [A]
    kb = 64
    lstp = d[(d.size_bytes == kb * 1024) & (d.width_bits == 64)].leak_mW.iloc[0] * 1e3
    lop = cacti[(cacti.cell_type == "itrs-lop") & (cacti.tech_nm == table.meta.node_nm) & (cacti.size_bytes == kb * 1024)
                & (cacti.width_bits == 64)].leak_mW.iloc[0] * 1e3
    assert lstp < table.sram_leakage(kb * 1024).value < lop


def test_sram_width_rules(t40):
    e = {w: t40.sram_access(64 * 1024, w, "read").value for w in (8, 16, 48, 64, 100, 128, 256, 512, 1024)}
    assert e[8] == e[16]                                    # narrower than the narrowest fit
    assert e[16] < e[48] < e[64] < e[100] < e[128] < e[256] < e[512] < e[1024]
    s = t40.sram_access(64 * 1024, 512, "read")
    assert "side-by-side" in s.source
    assert s.value == pytest.approx(2 * t40.sram_access(32 * 1024, 256, "read").value)
    assert "interpolation" in t40.sram_access(64 * 1024, 100, "read").source
    assert "EXTRAPOLATED" in t40.sram_access(8 * (1 << 20), 64, "read").source
    assert "EXTRAPOLATED" not in t40.sram_access(1 << 20, 64, "read").source


def test_lop_flavour_is_cheaper(t40):
    assert t40.sram_access(32 * 1024, 64, "read", flavour="lop").value < t40.sram_access(32 * 1024, 64, "read").value
    assert load_tech_table("40nm", sram_flavour="lop").meta.sram_flavour == "lop"
    with pytest.raises(ArchsimInputError, match="lstp"):
        t40.sram_access(1024, 64, "read", flavour="hp")


NODE_ST = st.sampled_from(NODES)
CAP_ST = st.integers(min_value=64, max_value=64 << 20)
WIDTH_ST = st.sampled_from([8, 16, 24, 32, 48, 64, 96, 128, 200, 256, 384, 512])


@settings(max_examples=150, deadline=None)
@given(node=NODE_ST, c1=CAP_ST, c2=CAP_ST, w=WIDTH_ST, op=st.sampled_from(["read", "write"]),
       flavour=st.sampled_from(["lstp", "lop"]))
def test_sram_monotonic_in_capacity(node, c1, c2, w, op, flavour):
    t = load_tech_table(node)
    lo, hi = sorted((c1, c2))
    if lo * 8 < w:
        lo = w
    hi = max(hi, lo)
    assert t.sram_access(lo, w, op, flavour=flavour).value <= t.sram_access(hi, w, op, flavour=flavour).value
    assert t.sram_area(lo, w).value <= t.sram_area(hi, w).value
    assert t.sram_leakage(lo).value <= t.sram_leakage(hi).value


@settings(max_examples=150, deadline=None)
@given(node=NODE_ST, cap=st.integers(min_value=512, max_value=64 << 20), w1=WIDTH_ST, w2=WIDTH_ST,
       op=st.sampled_from(["read", "write"]), flavour=st.sampled_from(["lstp", "lop"]))
def test_sram_monotonic_in_width(node, cap, w1, w2, op, flavour):
    t = load_tech_table(node)
    lo, hi = sorted((w1, w2))
    assert t.sram_access(cap, lo, op, flavour=flavour).value <= t.sram_access(cap, hi, op, flavour=flavour).value
    assert t.sram_area(cap, lo).value <= t.sram_area(cap, hi).value


# ------------------------------------------------------------------------------------------- logic


def _logic_costs(t) -> dict[str, Cost]:
    return {
        "mult8": t.multiplier(8, 8), "mult16": t.multiplier(16, 16), "mult_area": t.multiplier_area(8, 8),
        **{f"add{b}": t.adder(b) for b in (4, 8, 12, 16, 24, 32, 48)},
        **{f"add_area{b}": t.adder_area(b) for b in (8, 24, 32)},
        "mac": t.mac(), "mac4": t.mac(4, 4, 16), "mac_area": t.mac_area(),
        "mux": t.mux(4, 8), "mux_area": t.mux_area(4, 8), "lzc": t.lzc_decoder(8), "lzc_area": t.lzc_decoder_area(8),
        "reg": t.register_access(4), "reg_area": t.register_area(32),
        "rf_small": t.register_file_access(32, "read"), "rf_large": t.register_file_access(256, "write"),
        "rf_area": t.register_file_area(256), "sram": t.sram_access(16 * 1024, 64, "read"),
    }


def test_28nm_cheaper_than_40nm_for_every_logic_op(t40, t28):
    a, b = _logic_costs(t40), _logic_costs(t28)
    for name in a:
        assert a[name].unit == b[name].unit
        assert 0 < b[name].value < a[name].value, name


def test_width_scaling(table):
    assert table.multiplier(16, 16).value == pytest.approx(4 * table.multiplier(8, 8).value)
    assert table.multiplier(4, 8).value == pytest.approx(table.multiplier(8, 8).value / 2)
    assert table.adder(64).value == pytest.approx(2 * table.adder(32).value)
    c = table.model.compute
    for bits in (8, 16, 32):
        assert table.adder(bits).value == getattr(c, f"int{bits}_add").value
    assert table.adder(24).value == pytest.approx((c.int16_add.value + c.int32_add.value) / 2)
    assert table.mac().value == c.int8_mac_acc32.value
    assert table.mac(4, 8, 32).value < table.mac().value < table.mac(8, 8, 48).value < table.mac(16, 8, 48).value
    assert table.mac_area(16, 16, 32).value > table.mac_area().value


def test_mux_and_lzc_rules(table):
    c = table.model.compute
    assert table.mux(1, 8).value == 0 and table.mux_area(1, 8).value == 0
    assert table.mux(4, 8).value == pytest.approx(3 * 8 * c.mux2_per_bit.value * c.mux_activity.value)
    assert table.mux(4, 8, activity=1.0).value == pytest.approx(2 * table.mux(4, 8).value)
    assert table.mux_area(4, 8).value == pytest.approx(3 * 8 * c.mux2_area_per_bit.value)
    assert table.lzc_decoder(8).value == pytest.approx(2 * table.lzc_decoder(4).value)
    assert "mux_activity" in table.mux(2, 8).source
    for bad in (dict(ways=0, bits=8), dict(ways=4, bits=0), dict(ways=4, bits=8, activity=1.5)):
        with pytest.raises(ArchsimInputError):
            table.mux(**bad)


def test_register_file_picks_entry_by_capacity(table):
    r = table.model.registers
    assert table.register_file_access(8, "read").value == r.small_rf_rw_per_byte.value
    assert table.register_file_access(64, "write").value == r.small_rf_rw_per_byte.value
    assert table.register_file_access(65, "read").value == r.large_rf_rw_per_byte.value
    assert table.register_file_access(12.0, "read").unit == "pJ/B"          # depth x bits / 8 may be a float
    big = table.register_file_access(4096, "read")
    assert "SRAM" in big.source and big.value == pytest.approx(table.sram_access(4096, 64, "read").value / 8)
    assert table.register_access(2).value == pytest.approx(2 * r.flop_rw_per_byte.value)
    assert table.register_file_area(64).value == pytest.approx(64 * r.rf_area_per_bit.value)
    assert "SRAM macro would be" in table.register_file_area(2048 * 8).source


def test_vdd_scaling_option(t40):
    on = load_tech_table("40nm", vdd_scaling=True)
    assert on.meta.vdd_scaling and on.meta.vdd_scaling_factor == pytest.approx(1.21)
    assert on.mac().value == pytest.approx(1.21 * t40.mac().value)
    assert on.register_access(1).value == pytest.approx(1.21 * t40.register_access(1).value)
    assert on.mux(4, 8).value == pytest.approx(1.21 * t40.mux(4, 8).value)
    assert "vdd_scaling" in on.mac().source
    # SRAM (CACTI at its own corner), DRAM and areas are not scaled
    assert on.sram_access(8192, 64, "read") == t40.sram_access(8192, 64, "read")
    assert on.dram_energy_per_bit("DDR4") == t40.dram_energy_per_bit("DDR4")
    assert on.mac_area() == t40.mac_area()
    assert load_tech_table("28nm", vdd_scaling=True).mac().value == pytest.approx(load_tech_table("28nm").mac().value)


def test_leakage(table):
    d = table.model.leakage.logic_density.value
    assert table.logic_leakage(1000).value == pytest.approx(d)
    assert table.logic_leakage(0).value == 0
    with pytest.raises(ArchsimInputError, match="area_um2"):
        table.logic_leakage(-1)


@pytest.mark.parametrize("call", [
    lambda t: t.sram_access(0, 64, "read"),
    lambda t: t.sram_access(4, 64, "read"),           # smaller than one word
    lambda t: t.sram_access(1024, 64, "rd"),
    lambda t: t.sram_access(1024, 0, "read"),
    lambda t: t.sram_area(-5),
    lambda t: t.adder(0),
    lambda t: t.multiplier(8, 2.5),
    lambda t: t.register_file_access(64, "erase"),
    lambda t: t.register_access(-1),
    lambda t: t.lzc_decoder(0),
    lambda t: t.dram_kind(3),
])
def test_bad_arguments_raise_input_error(t40, call):
    with pytest.raises(ArchsimInputError):
        call(t40)


# ------------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("spec", ["40nm", "40", 40, " 40NM ", TABLE_DIR / "40nm.yaml", str(TABLE_DIR / "40nm.yaml")])
def test_load_accepts_node_names_and_paths(spec):
    assert load_tech_table(spec).meta.node_nm == 40


def test_unknown_node_lists_builtins(tmp_path):
    with pytest.raises(ArchsimInputError, match="28nm, 40nm"):
        load_tech_table("7nm")
    with pytest.raises(ArchsimInputError, match="does not exist"):
        load_tech_table(tmp_path / "nope.yaml")


def _write(tmp_path: Path, data, name="foo.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return p


def test_user_table_round_trip(tmp_path, t40):
    data = raw("40nm")
    data["compute"]["int8_mult"]["value"] = 0.5
    data["compute"]["int8_mult"]["unit"] = "pJ"
    data["dram"]["LPDDR5"] = copy.deepcopy(data["dram"]["LPDDR4"])
    data["dram"]["LPDDR5"]["energy_per_bit"].update(value=4000, unit="fJ/bit")
    t = load_tech_table(_write(tmp_path, data))
    assert t.multiplier(8, 8).value == 0.5
    assert t.dram_energy_per_bit("LPDDR5").value == pytest.approx(4.0)   # fJ converted to pJ
    assert t.sram_access(1024, 64, "read") == t40.sram_access(1024, 64, "read")
    assert t.origin.endswith("foo.yaml")


def test_malformed_yaml(tmp_path):
    with pytest.raises(ArchsimInputError, match="foo.yaml: not valid YAML"):
        load_tech_table(_write(tmp_path, "meta: {node_nm: 40\ncompute: [\n"))
    with pytest.raises(ArchsimInputError, match="must hold a mapping"):
        load_tech_table(_write(tmp_path, "- 1\n- 2\n", "list.yaml"))


def _broken(tmp_path, mutate) -> str:
    data = raw("40nm")
    mutate(data)
    with pytest.raises(ArchsimInputError) as err:
        load_tech_table(_write(tmp_path, data))
    msg = str(err.value)
    assert msg.startswith(str(tmp_path / "foo.yaml")) and "\n" not in msg
    return msg


def test_negative_value_names_the_field(tmp_path):
    msg = _broken(tmp_path, lambda d: d["compute"]["int8_mult"].update(value=-0.1))
    assert "compute.int8_mult.value must be >= 0" in msg


def test_missing_source_names_the_field(tmp_path):
    msg = _broken(tmp_path, lambda d: d["registers"]["flop_rw_per_byte"].pop("source"))
    assert "registers.flop_rw_per_byte.source is missing" in msg and "value, unit and source" in msg


def test_missing_entry_names_the_field(tmp_path):
    msg = _broken(tmp_path, lambda d: d["compute"].pop("int16_add"))
    assert "compute.int16_add is missing" in msg


def test_unknown_unit_names_field_and_valid_units(tmp_path):
    msg = _broken(tmp_path, lambda d: d["compute"]["int8_mult"].update(unit="pj"))
    assert "compute.int8_mult.unit" in msg and "'pj'" in msg and "pJ, fJ, nJ" in msg


def test_unit_of_wrong_kind(tmp_path):
    msg = _broken(tmp_path, lambda d: d["sram"]["leakage_per_kib"].update(unit="um2"))
    assert "sram.leakage_per_kib.unit" in msg and "uW/KiB" in msg


def test_unknown_field_and_bad_number(tmp_path):
    msg = _broken(tmp_path, lambda d: d["compute"].update(int4_mult={"value": 1, "unit": "pJ", "source": "xyz"}))
    assert "compute.int4_mult is not a known field" in msg
    msg = _broken(tmp_path, lambda d: d["dram"]["DDR4"]["latency"].update(value="fast"))
    assert "dram.DDR4.latency.value must be a number" in msg


def test_sram_section_checks(tmp_path):
    msg = _broken(tmp_path, lambda d: d["sram"].update(flavour="hp"))
    assert "flavour 'hp' has no fits" in msg
    msg = _broken(tmp_path, lambda d: d["sram"]["fits"]["lstp"]["read"].update(x64=d["sram"]["fits"]["lstp"]["read"]["w64"]))
    assert "sram.fits.lstp.read" in msg and "w<bits>" in msg
    msg = _broken(tmp_path, lambda d: d["sram"]["fits"]["lstp"]["read"]["w64"].pop("exponent"))
    assert "sram.fits.lstp.read.w64.exponent is missing" in msg


def test_meta_checks(tmp_path):
    msg = _broken(tmp_path, lambda d: d["meta"]["dynamic_overhead"].update(value=0.9))
    assert "meta.dynamic_overhead" in msg and ">= 1" in msg
    msg = _broken(tmp_path, lambda d: d["compute"]["mux_activity"].update(value=2))
    assert "compute.mux_activity" in msg and "<= 1" in msg
    msg = _broken(tmp_path, lambda d: d["registers"]["small_rf_max_bytes"].update(value=1024))
    assert "small_rf_max_bytes < large_rf_max_bytes" in msg
