"""`archsim compare` and `archsim.report.compare`: files, JSON, iso conditions, errors, honest ratios."""

from __future__ import annotations

import json
import math
import shlex

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.cli.main import main
from archsim.report.compare import AREA_TOLERANCE, fit_area, run_comparison, total_area_um2
from archsim.report.variants import LADDER, CompressionParams, known_designs, prepare
from workloads.errors import ArchsimInputError

ALL = [d for d in LADDER if d in known_designs()]


def _cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_writes_csv_pngs_readme_and_regenerates(tmp_path, capsys):
    rc, out, err = _cli(capsys, "compare", "--workload", "resnet20", "--out", str(tmp_path))
    assert rc == 0, err
    folder = tmp_path / "resnet20"
    for name in ("compare_iso-throughput.csv", "energy_iso-throughput.png", "area_iso-throughput.png", "README.md"):
        f = folder / name
        assert f.is_file() and f.stat().st_size > 200, name
        if f.suffix == ".png":
            assert f.stat().st_size < 300 * 1024
    assert "iso-throughput" in out and "64x64" in out
    table = pd.read_csv(folder / "compare_iso-throughput.csv", index_col="design")
    assert list(table.index) == ALL                       # the default runs every installed ladder design
    assert set(table["iso"]) == {"throughput"} and set(table["baseline"]) == {"ews"}
    for col in ("cycles", "stall_cycles", "energy_uj", "energy_dram_uj", "energy_macs_uj", "energy_leakage_uj",
                "tops_per_w", "area_mm2", "area_pe_array_mm2", "tops_per_mm2", "inferences_per_s", "ee_gain",
                "speedup", "area_ratio"):
        assert col in table.columns, col
    cats = [c for c in table.columns if c.startswith("energy_") and c.endswith("_uj")
            and c not in ("energy_uj", "energy_core_uj")]           # categories only (core = total - DRAM)
    assert table[cats].sum(axis=1).to_numpy() == pytest.approx(table["energy_uj"].to_numpy(), rel=1e-5)  # CSV keeps 6 digits
    assert table.loc["ews", "ee_gain"] == 1.0

    readme = (folder / "README.md").read_text()
    command = readme.split("```\n", 2)[1].splitlines()[0]
    assert command.startswith("archsim compare ") and "--iso throughput" in command
    # the README's command regenerates the same numbers (simulation is deterministic)
    rc, _, err = _cli(capsys, *shlex.split(command)[1:])
    assert rc == 0, err
    again = pd.read_csv(folder / "compare_iso-throughput.csv", index_col="design")
    pd.testing.assert_frame_equal(table, again)


def test_cli_json_has_expected_keys(capsys, tmp_path):
    rc, out, err = _cli(capsys, "compare", "-w", "resnet20", "--designs", "ews,mvq", "--json", "--no-write",
                        "--out", str(tmp_path))
    assert rc == 0, err
    data = json.loads(out)
    assert {"workload", "iso", "iso_statement", "baseline", "rows", "cols", "params", "designs", "files",
            "command"} <= set(data)
    assert data["files"] == [] and not (tmp_path / "resnet20").exists()
    assert [d["design"] for d in data["designs"]] == ["ews", "mvq"]
    rec = data["designs"][1]
    for key in ("cycles", "stall_cycles", "energy_uj", "energy_breakdown_uj", "tops_per_w", "area_mm2",
                "tops_per_mm2", "inferences_per_s", "ee_gain", "speedup", "area_ratio", "physical_pes"):
        assert key in rec, key
    assert set(rec["energy_breakdown_uj"]) >= {"DRAM", "weight buffer", "MACs", "codebook", "muxes/decoder"}
    assert rec["physical_pes"] == 16 * 64                 # iso-throughput: 1:4 sparse array has 64/4 rows


@pytest.mark.parametrize("argv,match", [
    (["--designs", "ews,nosuch"], "unknown design 'nosuch'"),
    (["--iso", "power"], "--iso must be one of"),
    (["--n", "4", "--m", "4"], "N < M"),
    (["--d", "6"], "M=4 must divide d"),
    (["--designs", "ews,mvq", "--baseline", "ws"], "--baseline 'ws' is not among"),
    (["--designs", "ews,mvq", "--rows", "30"], "multiple of 4"),
    (["--designs", "ews,ews"], "listed twice"),
])
def test_cli_bad_input_is_one_line_exit_2(capsys, tmp_path, argv, match):
    rc, out, err = _cli(capsys, "compare", "-w", "resnet20", "--no-write", "--out", str(tmp_path), *argv)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert match in err


# ---------------------------------------------------------------------------------------------- iso conditions


def test_iso_area_matches_total_area_within_tolerance(tiny):
    comp = run_comparison(tiny, ALL, iso="area")
    table = comp.table()
    target = table.loc["ews", "area_mm2"]
    assert table["area_vs_target"].abs().max() <= AREA_TOLERANCE
    assert (table["area_mm2"] / target - 1).abs().max() <= AREA_TOLERANCE
    if "mvq" in ALL:   # the sparse array is smaller per dense-equivalent row, so it grows under iso-area
        assert table.loc["mvq", "rows"] > 64 and table.loc["mvq", "rows"] % 4 == 0


def test_iso_throughput_and_pes_definitions(tiny):
    if "mvq" not in ALL:
        pytest.skip("mvq preset not installed")
    thr = run_comparison(tiny, ["ews", "mvq"], iso="throughput").table()
    pes = run_comparison(tiny, ["ews", "mvq"], iso="pes").table()
    assert thr.loc["mvq", "physical_pes"] == 16 * 64 and thr.loc["mvq", "rows"] == 64
    assert pes.loc["mvq", "physical_pes"] == 64 * 64 and pes.loc["mvq", "rows"] == 256
    assert thr.loc["ews", "physical_pes"] == pes.loc["ews", "physical_pes"] == 64 * 64
    assert thr.loc["mvq", "area_mm2"] < pes.loc["mvq", "area_mm2"]


@settings(max_examples=40, deadline=None)
@given(a0=st.floats(1e5, 1e7), per_pe=st.floats(100, 5000), per_col=st.floats(0, 2e4),
       scale=st.floats(0.3, 3.0), step=st.sampled_from([1, 2, 4, 8]))
def test_fit_area_on_affine_models(a0, per_pe, per_col, scale, step):
    """On an affine area model the fit lands within tolerance of any target the grid can reach."""
    def area(r: int, c: int) -> float:
        return a0 + per_pe * r * c + per_col * c

    target = area(64, 64) * scale
    fit = fit_area(area, target, 64, 64, row_step=step)
    assert fit.rows % step == 0
    assert fit.area_um2 == area(fit.rows, fit.cols)
    reachable = any(abs(area(r, c) / target - 1) <= AREA_TOLERANCE
                    for r in range(step, 300, step) for c in range(1, 300))
    if reachable:
        assert abs(fit.deviation) <= AREA_TOLERANCE


def test_prepare_reproduces_presets_at_their_own_parameters():
    from archsim.design import load_design

    for name in ALL:
        preset = load_design(name)
        rebuilt = prepare(name, CompressionParams(), preset.array.rows, preset.array.cols, rows_are="physical").design
        assert rebuilt == preset, name


def test_user_yaml_keeps_its_weight_path_sizing(tmp_path):
    """Presets are re-sized for k, d and the array; a user's design file is not (its read ports, codebook
    store and mask decoders are the author's choice), and a store too small for k is an input error."""
    from archsim.design import PRESET_DIR

    text = (PRESET_DIR / "mvq.yaml").read_text().replace("name: mvq", "name: my-mvq")
    path = tmp_path / "my_mvq.yaml"
    path.write_text(text.replace("read_ports: 16", "read_ports: 2"))
    assert "read_ports: 2" in path.read_text()
    mine = prepare(str(path), CompressionParams()).design
    assert mine.buffers.codebook.read_ports == 2
    assert prepare("mvq", CompressionParams()).design.buffers.codebook.read_ports == 16
    with pytest.raises(ArchsimInputError, match="capacity_bytes"):
        prepare(str(path), CompressionParams(k=1024))


# ---------------------------------------------------------------------------------------------- honest ratios


def test_ratios_are_computed_from_simulated_results(tiny):
    comp = run_comparison(tiny, ["ws", "ews"])
    table = comp.table()
    ws, ews = comp.entry("ws").result, comp.entry("ews").result
    assert table.loc["ws", "ee_gain"] == pytest.approx(ws.tops_per_w() / ews.tops_per_w())
    assert table.loc["ws", "speedup"] == pytest.approx(ews.cycles / ws.cycles)
    assert table.loc["ws", "area_ratio"] == pytest.approx(ws.area_um2 / ews.area_um2)
    assert table.loc["ws", "energy_uj"] == pytest.approx(ws.energy_pj / 1e6)


def test_changing_an_input_changes_the_ratios(tiny):
    """Compression parameters reach the simulation: k changes MVQ's codebook traffic and area."""
    if "mvq" not in ALL:
        pytest.skip("mvq preset not installed")
    small = run_comparison(tiny, ["ews", "mvq"], params=CompressionParams(k=16)).table()
    large = run_comparison(tiny, ["ews", "mvq"], params=CompressionParams(k=1024)).table()
    assert small.loc["ews", "energy_uj"] == large.loc["ews", "energy_uj"]     # dense baseline ignores k
    assert small.loc["mvq", "ee_gain"] != large.loc["mvq", "ee_gain"]
    assert small.loc["mvq", "area_mm2"] < large.loc["mvq", "area_mm2"]         # codebook store grows with k
    narrow = run_comparison(tiny, ["ws", "ews"], rows=32, cols=32).table()
    wide = run_comparison(tiny, ["ws", "ews"], rows=64, cols=64).table()
    assert not math.isclose(narrow.loc["ws", "area_ratio"], wide.loc["ws", "area_ratio"])


def test_total_area_is_the_cost_models(tiny):
    comp = run_comparison(tiny, ["ews"])
    assert total_area_um2(comp.entry("ews").prepared.design) == pytest.approx(comp.entry("ews").result.area_um2)


def test_netcache_roundtrip_equals_zoo(tmp_path, monkeypatch):
    from archsim.report import netcache
    from workloads.zoo import get_network

    monkeypatch.setenv("ARCHSIM_CACHE_DIR", str(tmp_path))
    first = netcache.load_network("resnet20", 2)            # builds and stores
    files = list((tmp_path / "networks").glob("resnet20-*.json"))
    assert len(files) == 1
    second = netcache.load_network("resnet20", 2)           # reads the file
    assert first == second == get_network("resnet20", batch=2)
    files[0].write_text("{not json")                        # a corrupt cache is rebuilt, not trusted
    assert netcache.load_network("resnet20") == get_network("resnet20")
    with pytest.raises(ArchsimInputError):
        netcache.load_network("nosuchnet")


def test_energy_plot_normalises_to_the_named_reference(tmp_path):
    from archsim.report.plots import ENERGY_CATEGORIES, plot_energy_breakdown

    df = pd.DataFrame([[1e6] * len(ENERGY_CATEGORIES), [2e6] * len(ENERGY_CATEGORIES)], index=["a", "b"],
                      columns=list(ENERGY_CATEGORIES))
    svg = plot_energy_breakdown(df, tmp_path / "e.svg", "t", reference="b")[1].read_text()
    assert "normalised to b" in svg and "0.50×" in svg
    with pytest.raises(ArchsimInputError, match="reference 'c' is not a row"):
        plot_energy_breakdown(df, tmp_path / "f.png", "t", reference="c")
