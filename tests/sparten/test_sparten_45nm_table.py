"""The 45 nm technology table (SparTen's node): provenance, Horowitz's own numbers, CACTI 7 fits at 45 nm."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from archsim.design import load_design
from archsim.tech import load_tech_table
from archsim.tech.table import TABLE_DIR

CACTI = Path(__file__).parent / "data" / "cacti7_sram_45.csv"


@pytest.fixture(scope="module")
def t45():
    return load_tech_table("45nm")


@pytest.fixture(scope="module")
def cacti() -> pd.DataFrame:
    return pd.read_csv(CACTI, comment="#")


def _leaves(obj, path=""):
    if isinstance(obj, dict):
        if "value" in obj:
            yield path, obj
        else:
            for k, v in obj.items():
                yield from _leaves(v, f"{path}.{k}" if path else str(k))


def test_every_entry_is_sourced_and_has_the_40nm_structure():
    raw45 = yaml.safe_load((TABLE_DIR / "45nm.yaml").read_text())
    raw40 = yaml.safe_load((TABLE_DIR / "40nm.yaml").read_text())
    leaves = dict(_leaves(raw45))
    assert set(leaves) == {p for p, _ in _leaves(raw40)}
    for path, entry in leaves.items():
        assert len(entry["source"]) > 10 and entry.get("tag") in {"R", "P", "C", "M", "A", "R-secondary"}, path


def test_logic_is_horowitz_unscaled_and_40nm_is_it_scaled(t45):
    t40 = load_tech_table("40nm")
    assert t45.meta.node_nm == 45 and t45.meta.vdd == 0.9
    assert t45.multiplier(8, 8).value == 0.2 and t45.adder(32).value == 0.1 and t45.mac().value == pytest.approx(0.3)
    for name in ("int8_mult", "int8_add", "int16_add", "int32_add", "mux2_per_bit"):
        v45 = getattr(t45.model.compute, name).canonical
        v40 = getattr(t40.model.compute, name).canonical
        assert v40 == pytest.approx(0.87 * v45, rel=0.05), name
    for name in ("int8_mult_area", "int8_add_area", "int16_add_area", "int32_add_area", "mux2_area_per_bit"):
        a45, a40 = getattr(t45.model.compute, name).canonical, getattr(t40.model.compute, name).canonical
        assert a40 == pytest.approx(0.78 * a45, rel=0.05), name
    assert t45.register_access(1).value > t40.register_access(1).value


def test_sram_fits_are_the_least_squares_of_cacti_at_45nm_within_the_stated_error(t45, cacti):
    s = t45.model.sram
    for flavour, opfits in s.fits.items():
        for op in ("read", "write"):
            for width, fit in opfits.by_width(op).items():
                d = cacti[(cacti.cell_type == f"itrs-{flavour}") & (cacti.width_bits == width) & (cacti.size_bytes >= 1024)]
                assert len(d) == 12
                b, log_a = np.polyfit(np.log(d.size_bytes / 1024), np.log(d[f"{op}_pJ_per_access"]), 1)
                assert fit.value == pytest.approx(math.exp(log_a), abs=0.0051) and fit.exponent == pytest.approx(b, abs=0.0051)
                errs = [abs(t45.sram_access(int(z), width, op, flavour=flavour).value / r - 1)
                        for z, r in zip(d.size_bytes, d[f"{op}_pJ_per_access"])]
                assert fit.max_rel_error - 0.02 < max(errs) <= fit.max_rel_error + 1e-9


def test_sram_area_and_leakage_vs_cacti_at_45nm(t45, cacti):
    d = cacti[(cacti.cell_type == "itrs-lstp") & (cacti.size_bytes >= 1024)]
    errs = [t45.sram_area(int(z), int(w)).value / (a * 1e6) - 1 for z, w, a in zip(d.size_bytes, d.width_bits, d.area_mm2)]
    assert max(map(abs, errs)) < 0.14
    lstp = d[(d.size_bytes == 65536) & (d.width_bits == 64)].leak_mW.iloc[0] * 1e3
    lop = cacti[(cacti.cell_type == "itrs-lop") & (cacti.size_bytes == 65536) & (cacti.width_bits == 64)].leak_mW.iloc[0] * 1e3
    assert lstp < t45.sram_leakage(65536).value < lop


def test_sparten_presets_at_45_and_40nm_differ_only_in_the_node():
    d45, d40 = load_design("sparten"), load_design("sparten-40nm")
    assert (d45.tech, d40.tech) == ("45nm", "40nm")
    strip = lambda d: d.model_dump(exclude={"name", "description", "tech"})  # noqa: E731
    assert strip(d45) == strip(d40)
