"""Issue 13.1: one design name, one answer -- `simulate`, `archsim run` and `archsim compare` size a named
design by the same rule (`archsim.sizing`) under the same default iso condition (throughput)."""

from __future__ import annotations

import json

import pytest

from archsim.api import simulate
from archsim.cli.main import main
from archsim.report.compare import run_comparison, to_json
from archsim.sizing import size_design
from workloads.errors import ArchsimInputError
from workloads.layer import conv2d, linear
from workloads.network import Network


def _net() -> Network:
    """A stem conv (left dense by the compression policy), a 3x3 conv and an FC the policy compresses."""
    return Network(name="tiny", layers=(conv2d("conv1", 3, 16, 8, 3, padding=1),
                                        conv2d("body", 16, 64, 8, 3, padding=1),
                                        linear("fc", 64, 32)), input_shape=(1, 3, 8, 8), batch=1)


@pytest.fixture(scope="module")
def comparison():
    return run_comparison(_net(), ["ws", "ews", "mvq"])


@pytest.mark.parametrize("name", ["ws", "ews", "mvq"])
def test_simulate_equals_compare(comparison, name: str) -> None:
    compared = comparison.entry(name).result
    simulated = simulate(_net(), name)
    assert simulated.cycles == compared.cycles
    assert simulated.energy_pj == pytest.approx(compared.energy_pj, rel=1e-12)
    assert simulated.sizing == compared.sizing


def test_run_cli_equals_compare(comparison, tmp_path, capsys, monkeypatch) -> None:
    from archsim.cli import workloads_cmd

    monkeypatch.setattr(workloads_cmd, "load_workload", lambda *a, **k: _net())
    assert main(["run", "-w", "tiny", "-d", "mvq", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    compared = comparison.entry("mvq").result
    assert out["cycles"] == compared.cycles
    assert out["energy_pj"] == pytest.approx(compared.energy_pj, rel=1e-12)
    assert (out["physical_array"], out["dense_equivalent_array"], out["iso"]) == ("16x64", "64x64", "throughput")


def test_compare_states_both_arrays(comparison) -> None:
    rec = {r["design"]: r for r in to_json(comparison)["designs"]}
    assert (rec["mvq"]["physical_array"], rec["mvq"]["dense_equivalent_array"]) == ("16x64", "64x64")
    assert (rec["ews"]["physical_array"], rec["ews"]["dense_equivalent_array"]) == ("64x64", "64x64")


def test_iso_pes_is_the_preset_array() -> None:
    sized, sizing = size_design("mvq", iso="pes")
    assert (sized.array.rows, sizing.dense_equivalent_array, sizing.iso) == (64, "256x64", "pes")
    pes = simulate(_net(), "mvq", iso="pes")
    assert pes.summary()["physical_array"] == "64x64"
    assert pes.area_um2 > simulate(_net(), "mvq").area_um2     # 4x the PEs of the iso-throughput array


def test_dense_designs_do_not_depend_on_iso() -> None:
    for name in ("ws", "ews"):
        a, b = simulate(_net(), name), simulate(_net(), name, iso="pes")
        assert (a.cycles, a.energy_pj) == (b.cycles, b.energy_pj)


def test_iso_area_is_compare_only(capsys) -> None:
    with pytest.raises(ArchsimInputError, match="archsim compare --iso area"):
        simulate(_net(), "mvq", iso="area")
    assert main(["run", "-w", "resnet20", "-d", "mvq", "--iso", "area"]) == 2
    assert "compare --iso area" in capsys.readouterr().err


def test_run_header_states_the_array(capsys, monkeypatch) -> None:
    from archsim.cli import workloads_cmd

    monkeypatch.setattr(workloads_cmd, "load_workload", lambda *a, **k: _net())
    assert main(["run", "-w", "tiny", "-d", "mvq", "--iso", "pes", "--rows", "32"]) == 0
    head = capsys.readouterr().out.splitlines()[1]
    assert "32x64 physical" in head and "128x64 dense-equivalent" in head and "iso-PE" in head
