"""Report plots: files are written, small, and bad frames are rejected with ArchsimInputError."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from archsim.report import ENERGY_CATEGORIES, ENERGY_COLOURS, plot_ablation, plot_area_breakdown, plot_energy_breakdown
from archsim.report.plots import _pick_unit, _ENERGY_UNITS
from workloads.errors import ArchsimInputError

MAX_BYTES = 300 * 1024


@pytest.fixture
def energy() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.uniform(1e6, 5e7, (3, len(ENERGY_CATEGORIES))), index=["WS", "EWS", "MVQ"],
                      columns=list(ENERGY_CATEGORIES))
    df.loc[["WS", "EWS"], "codebook"] = 0.0
    return df


def _check(paths, suffixes):
    assert [p.suffix for p in paths] == suffixes
    for p in paths:
        assert p.is_file() and 1000 < p.stat().st_size < MAX_BYTES, (p, p.stat().st_size)


def test_energy_breakdown_png_and_svg(tmp_path, energy):
    _check(plot_energy_breakdown(energy, tmp_path / "e.png", "energy"), [".png"])
    paths = plot_energy_breakdown(energy, tmp_path / "sub" / "e.svg", "energy", normalised=False)
    _check(paths, [".png", ".svg"])
    svg = paths[1].read_text()
    assert "normalised" not in svg and "energy (µJ)" in svg          # pJ totals ~1e8 are shown in µJ
    svg = plot_energy_breakdown(energy, tmp_path / "n.svg", "energy")[1].read_text()
    assert "normalised to WS" in svg and "1.00×" in svg


def test_energy_breakdown_accepts_clock_control_and_any_column_order(tmp_path, energy):
    df = energy[list(reversed(energy.columns))].assign(**{"clock/control": 1e6})
    _check(plot_energy_breakdown(df, tmp_path / "e.png", "t", unit="pJ"), [".png"])


def test_fixed_colours_cover_every_category():
    assert set(ENERGY_CATEGORIES) <= set(ENERGY_COLOURS)
    assert len(set(ENERGY_COLOURS.values())) == len(ENERGY_COLOURS)


def test_unit_choice():
    assert _pick_unit(2.5e8, "pJ", _ENERGY_UNITS, "t", None) == (pytest.approx(1e-6), "µJ")
    assert _pick_unit(500, "pJ", _ENERGY_UNITS, "t", None) == (pytest.approx(1.0), "pJ")
    assert _pick_unit(3.0, "uJ", _ENERGY_UNITS, "t", "nJ") == (pytest.approx(1e3), "nJ")


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d.drop(columns=["MACs"]), "missing column.*'MACs'"),
    (lambda d: d.assign(SRAM=1.0), "unknown energy categor.*'SRAM'"),
    (lambda d: d.assign(DRAM=-1.0), "'DRAM'.*negative"),
    (lambda d: d.assign(leakage=np.nan), "'leakage'.*NaN"),
    (lambda d: d.assign(codebook="lots"), "'codebook' must be numeric"),
    (lambda d: d.iloc[0:0], "empty"),
])
def test_energy_breakdown_rejects_bad_frames(tmp_path, energy, mutate, match):
    with pytest.raises(ArchsimInputError, match=match):
        plot_energy_breakdown(mutate(energy), tmp_path / "e.png", "t")
    assert not (tmp_path / "e.png").exists()


def test_energy_breakdown_bad_unit_path_and_zero_reference(tmp_path, energy):
    with pytest.raises(ArchsimInputError, match="unknown unit 'kWh'"):
        plot_energy_breakdown(energy, tmp_path / "e.png", "t", unit="kWh")
    with pytest.raises(ArchsimInputError, match=r"\.png or \.svg"):
        plot_energy_breakdown(energy, tmp_path / "e.pdf", "t")
    zero_first = energy.copy()
    zero_first.iloc[0] = 0.0
    with pytest.raises(ArchsimInputError, match="zero total"):
        plot_energy_breakdown(zero_first, tmp_path / "e.png", "t")
    _check(plot_energy_breakdown(zero_first, tmp_path / "e.png", "t", normalised=False), [".png"])


def test_area_breakdown(tmp_path):
    df = pd.DataFrame({"PE array": [2.6e6, 1.4e6], "buffers": [1.1e6, 1.1e6], "codebook": [0.0, 1.2e5]},
                      index=["EWS", "MVQ"])
    paths = plot_area_breakdown(df, tmp_path / "a.svg", "area")
    _check(paths, [".png", ".svg"])
    assert "area (mm²)" in paths[1].read_text()
    with pytest.raises(ArchsimInputError, match="no area columns"):
        plot_area_breakdown(df[[]], tmp_path / "b.png", "area")
    with pytest.raises(ArchsimInputError, match="'buffers'.*negative"):
        plot_area_breakdown(df.assign(buffers=-1.0), tmp_path / "b.png", "area")
    with pytest.raises(ArchsimInputError, match="DataFrame"):
        plot_area_breakdown({"a": [1]}, tmp_path / "b.png", "area")


def test_ablation(tmp_path):
    df = pd.DataFrame({"nm": ["1:4", "2:4", "1:8"], "energy_uj": [120.0, 150.0, 100.0], "area_mm2": [3.1, 3.4, 2.9]})
    paths = plot_ablation(df, "nm", ["energy_uj", "area_mm2"], tmp_path / "ab.svg", "N:M",
                          ylabels={"energy_uj": "energy (µJ)"})
    _check(paths, [".png", ".svg"])
    svg = paths[1].read_text()
    assert "energy (µJ)" in svg and "area_mm2" in svg and "2:4" in svg
    sweep = pd.DataFrame({"k": [16, 64, 256] * 2, "energy": [1, 2, 3, 1.5, 2.5, 3.5], "design": ["a"] * 3 + ["b"] * 3})
    _check(plot_ablation(sweep, "k", "energy", tmp_path / "k.png", "k", series="design", logy=True), [".png"])


@pytest.mark.parametrize("kwargs,match", [
    (dict(x="M", ys=["energy"]), "missing column.*'M'"),
    (dict(x="k", ys=["area"]), "missing column.*'area'"),
    (dict(x="k", ys=[]), "ys is empty"),
    (dict(x="k", ys=["energy"], series="node"), "missing column.*'node'"),
    (dict(x="k", ys=["label"]), "'label' must be numeric"),
])
def test_ablation_rejects_bad_input(tmp_path, kwargs, match):
    df = pd.DataFrame({"k": [16, 64], "energy": [1.0, 0.0], "label": ["a", "b"]})
    with pytest.raises(ArchsimInputError, match=match):
        plot_ablation(df, path=tmp_path / "x.png", title="t", **kwargs)
    with pytest.raises(ArchsimInputError, match="logy needs positive"):
        plot_ablation(df, "k", "energy", tmp_path / "x.png", "t", logy=True)
