"""Core (no DRAM) vs system (with DRAM) TOPS/W: the split adds up exactly, and every output carries both."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.api import simulate
from archsim.cli.main import main
from archsim.cost import ENERGY_COLUMNS, ENERGY_INDEX
from archsim.results import OPS_NOTE, LayerResult, combine
from workloads.errors import ArchsimInputError


@pytest.fixture(scope="module")
def mvq():
    return simulate("resnet20", "mvq")


def _dram_rows(energy: pd.DataFrame) -> pd.Series:
    return energy["energy_pj"][energy.index.get_level_values("component") == "dram"]


def test_core_plus_dram_is_total_exactly(mvq):
    for r in (mvq, *mvq.layers):
        assert r.energy_core_pj + r.energy_dram_pj == r.energy_pj
        assert r.energy_dram_pj == math.fsum(_dram_rows(r.energy))
        assert r.energy_dram_pj > 0 and r.energy_core_pj > 0
    assert mvq.energy_pj == pytest.approx(math.fsum(mvq.energy["energy_pj"]), rel=1e-15)
    assert mvq.energy_dram_pj == pytest.approx(mvq.energy_breakdown["DRAM"], rel=1e-12)


def test_core_tops_per_w_beats_system_and_tops_per_w_is_system(mvq):
    assert mvq.tops_per_w_core() > mvq.tops_per_w_system()
    assert mvq.tops_per_w() == mvq.tops_per_w_system()
    assert mvq.tops_per_w_core() == mvq.ops() / mvq.energy_core_pj
    assert mvq.tops_per_w_core(effective=True) == 2 * mvq.macs / mvq.energy_core_pj
    assert mvq.ops() == 2 * mvq.dense_macs
    s = mvq.summary()
    assert s["tops_per_w_core"] == mvq.tops_per_w_core() and s["tops_per_w_system"] == s["tops_per_w"]
    assert s["energy_core_pj"] + s["energy_dram_pj"] == s["energy_pj"] and s["ops_definition"] == OPS_NOTE


def _layer(rows: list[tuple[str, float]], dense_macs: int) -> LayerResult:
    frame = pd.DataFrame([("l", comp, f"a{i}", 1.0, e, e, "pJ", "test") for i, (comp, e) in enumerate(rows)],
                         columns=ENERGY_INDEX + ENERGY_COLUMNS).set_index(ENERGY_INDEX)
    area = pd.DataFrame({"area_um2": [1.0], "source": ["test"]}, index=pd.Index(["pe_array"], name="component"))
    return LayerResult(name="l", design="d", clock_hz=1e9, batch=1, dense_macs=dense_macs, counters=None,  # type: ignore[arg-type]
                       energy=frame, area=area)


_COMPONENTS = st.sampled_from(["dram", "weight_buffer", "pe_array", "psum_rf", "mux", "decoder", "leakage", "control",
                               "codebook"])
_ENERGY = st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=60)
@given(layers=st.lists(st.lists(st.tuples(_COMPONENTS, _ENERGY), min_size=1, max_size=12), min_size=1, max_size=4),
       dense_macs=st.integers(1, 10**9))
def test_split_invariants_on_any_energy_frame(layers, dense_macs):
    results = [_layer(rows, dense_macs) for rows in layers]
    for r in (*results, combine(results)):
        assert r.energy_core_pj + r.energy_dram_pj == r.energy_pj
        assert r.energy_core_pj >= 0 and r.energy_dram_pj >= 0
        assert r.energy_dram_pj == math.fsum(_dram_rows(r.energy))
        if r.energy_pj > 0 and r.energy_core_pj > 0:
            assert r.tops_per_w_core() >= r.tops_per_w_system()


def test_run_json_and_text_carry_core_and_system(capsys, tmp_path):
    csv = tmp_path / "layers.csv"
    assert main(["run", "-w", "resnet20", "-d", "mvq", "--json", "--csv", str(csv)]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("tops_per_w_core", "tops_per_w_system", "tops_per_w", "energy_core_pj", "energy_dram_pj"):
        assert key in data, key
    assert data["tops_per_w"] == data["tops_per_w_system"] < data["tops_per_w_core"]
    assert data["ops_definition"] == OPS_NOTE
    assert {"tops_per_w_core", "tops_per_w_system", "energy_core_pj"} <= set(data["layers"][0])
    header = csv.read_text().splitlines()[0].split(",")
    assert {"energy_core_pj", "energy_dram_pj", "tops_per_w_core", "tops_per_w_system"} <= set(header)

    assert main(["run", "-w", "resnet20", "-d", "mvq"]) == 0
    out = capsys.readouterr().out
    assert "TOPS/W core" in out and "TOPS/W system" in out and OPS_NOTE in out


def test_compare_json_table_and_readme_carry_core_and_system(capsys, tmp_path):
    assert main(["compare", "-w", "resnet20", "--designs", "ews,mvq", "--json", "--out", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ops_definition"] == OPS_NOTE
    for rec in data["designs"]:
        assert rec["tops_per_w"] == rec["tops_per_w_system"] < rec["tops_per_w_core"]
        assert rec["energy_core_uj"] + rec["energy_dram_uj"] == pytest.approx(rec["energy_uj"], rel=1e-12)
        assert "ee_gain_core" in rec
    folder = tmp_path / "resnet20"
    table = pd.read_csv(folder / "compare_iso-throughput.csv", index_col="design")
    assert {"tops_per_w_core", "tops_per_w_system", "energy_core_uj", "ee_gain_core"} <= set(table.columns)
    readme = (folder / "README.md").read_text()
    assert "TOPS/W core" in readme and "TOPS/W sys" in readme and OPS_NOTE in readme

    assert main(["compare", "-w", "resnet20", "--designs", "ews,mvq", "--no-write"]) == 0
    out = capsys.readouterr().out
    assert "TOPS/W core" in out and "TOPS/W sys" in out and OPS_NOTE in out


def test_sweep_rows_and_readme_carry_core_and_system(tmp_path, capsys):
    assert main(["sweep", "-w", "resnet20", "--design", "mvq", "--param", "k=64", "--out", str(tmp_path),
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (point,) = data["points"]
    assert point["tops_per_w"] == point["tops_per_w_system"] < point["tops_per_w_core"]
    assert point["energy_core_uj"] + point["energy_dram_uj"] == pytest.approx(point["energy_uj"], rel=1e-12)
    assert OPS_NOTE in (tmp_path / "README.md").read_text()


def test_energy_plot_tops_panel_checks_its_rows(tmp_path):
    from archsim.report.plots import ENERGY_CATEGORIES, plot_energy_breakdown

    energy = pd.DataFrame([[1e6] * len(ENERGY_CATEGORIES)] * 2, index=["ews", "mvq"], columns=list(ENERGY_CATEGORIES))
    tops = pd.DataFrame({"core": [2.0, 5.0], "system": [1.0, 1.7]}, index=["ews", "mvq"])
    svg = plot_energy_breakdown(energy, tmp_path / "e.svg", "t", tops_per_w=tops)[1].read_text()
    assert OPS_NOTE in svg and "core (no DRAM)" in svg and "system (with DRAM)" in svg
    with pytest.raises(ArchsimInputError, match="tops_per_w rows"):
        plot_energy_breakdown(energy, tmp_path / "x.png", "t", tops_per_w=tops.iloc[::-1])
    with pytest.raises(ArchsimInputError, match="missing column.*'system'"):
        plot_energy_breakdown(energy, tmp_path / "x.png", "t", tops_per_w=tops[["core"]])


def test_mvq_report_has_a_core_tops_per_w_claim():
    from archsim.report.mvq import PAPER, _fmt_claim

    assert "system" in PAPER["tops_per_w"].text and "core" in PAPER["tops_per_w_core"].text
    assert PAPER["tops_per_w_core"].lo == PAPER["tops_per_w"].lo == 6.9
    assert _fmt_claim("tops_per_w_core", 3.456) == "3.46"
