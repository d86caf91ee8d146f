"""The MVQ headline report: every reported number comes from the simulation, and inputs reach it."""

from __future__ import annotations

import math

import pytest

from archsim.report.variants import LADDER, CompressionParams, known_designs

pytestmark = pytest.mark.skipif(not set(LADDER) <= set(known_designs()), reason="MVQ ladder presets not installed")


@pytest.fixture(scope="module")
def study():
    from archsim.report.mvq import run_study

    return run_study(["resnet20"])


def test_headline_values_are_the_simulated_ratios(study):
    from archsim.report.mvq import headline_frame

    head = headline_frame(study).set_index(["claim", "workload"])
    t = study.throughput["resnet20"]
    ews, mvq, s2ta = (t.entry(n).result for n in ("ews", "mvq", "s2ta-w"))
    assert head.loc[("ee_gain", "resnet20"), "simulated_iso_throughput"] == pytest.approx(
        mvq.tops_per_w() / ews.tops_per_w())
    assert head.loc[("speedup", "resnet20"), "simulated_iso_throughput"] == pytest.approx(ews.cycles / mvq.cycles)
    assert head.loc[("vs_s2ta", "resnet20"), "simulated_iso_throughput"] == pytest.approx(
        mvq.tops_per_w() / s2ta.tops_per_w())
    pe = study.pes["resnet20"]
    assert head.loc[("ee_gain", "resnet20"), "simulated_iso_pe"] == pytest.approx(
        pe.entry("mvq").result.tops_per_w() / pe.entry("ews").result.tops_per_w())
    ar = study.area["resnet20"]
    assert head.loc[("ee_gain", "resnet20"), "simulated_iso_area"] == pytest.approx(
        ar.entry("mvq").result.tops_per_w() / ar.entry("ews").result.tops_per_w())
    assert math.isnan(head.loc[("ews_vs_ws", "resnet20"), "simulated_iso_area"])   # no iso-area reading
    assert ("tops_per_w", "resnet20") not in head.index          # the 6.9 TOPS/W claim is ResNet-18 only


def test_ladder_factors_multiply_to_the_total_and_deltas_add_up(study):
    from archsim.report.mvq import ladder_frames

    deltas, factors = ladder_frames(study)
    t = study.throughput["resnet20"]
    ews, mvq = t.entry("ews").result, t.entry("mvq").result
    assert math.prod(factors["efficiency_factor"]) == pytest.approx(ews.energy_pj / mvq.energy_pj)
    assert deltas["delta_uj"].sum() == pytest.approx((mvq.energy_pj - ews.energy_pj) / 1e6)
    assert deltas["share_of_ews_to_mvq_saving"].sum() == pytest.approx(1.0)


def test_changing_the_compression_changes_the_report():
    from archsim.report.mvq import headline_frame, run_study

    a = headline_frame(run_study(["resnet20"], CompressionParams(k=16))).set_index(["claim", "workload"])
    b = headline_frame(run_study(["resnet20"], CompressionParams(k=1024))).set_index(["claim", "workload"])
    key = ("ee_gain", "resnet20")
    assert a.loc[key, "simulated_iso_throughput"] != b.loc[key, "simulated_iso_throughput"]


def test_write_report(tmp_path, study):
    from archsim.report.mvq import write_report

    files = write_report(study, tmp_path, "python -m archsim.report.mvq --out X --workloads resnet20")
    names = {f.name for f in files}
    assert {"headline.csv", "designs.csv", "ladder.csv", "ladder_factors.csv", "energy_resnet20.png", "area.png",
            "README.md"} <= names
    readme = (tmp_path / "README.md").read_text()
    assert "python -m archsim.report.mvq --out X --workloads resnet20" in readme
    assert "Iso-throughput" in readme and "Iso-PE" in readme and "modelled cause" in readme
