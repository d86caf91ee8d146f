"""Issue 13.2 (figures and tables say per inference or per batch, and mean it) and 13.10 (the per-layer
table carries energy by category/component, stalls by cause, MACs and DRAM bytes per operand)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from archsim.api import simulate
from archsim.cli.main import main
from archsim.report import compare as compare_mod
from archsim.report.compare import format_table, run_comparison
from workloads.layer import conv2d, linear
from workloads.network import Network


def _net(batch: int = 1) -> Network:
    return Network(name="tiny", layers=(conv2d("conv1", 3, 16, 8, 3, padding=1, batch=batch),
                                        conv2d("body", 16, 64, 8, 3, padding=1, batch=batch),
                                        linear("fc", 64, 32, batch=batch)), input_shape=(batch, 3, 8, 8), batch=batch)


def test_compare_energy_figure_is_per_inference_at_batch_4(tmp_path, monkeypatch) -> None:
    comp = run_comparison(_net(4), ["ws", "mvq"])
    frame = comp.energy_frame()
    for e in comp.entries:      # the figure's bars: the batch's energy divided by the batch
        assert math.fsum(frame.loc[e.name]) == pytest.approx(e.result.energy_pj / 4, rel=1e-12)
    table = comp.table()
    assert (table["per_inference_energy_uj"] * 4).to_numpy() == pytest.approx(table["energy_uj"].to_numpy())
    assert "per batch of 4" in format_table(comp, table)
    seen: dict[str, str] = {}

    def fake_plot(df, path, title, **kw):
        seen.update(title=title, per=kw.get("per"))
        assert math.fsum(df.loc["ws"]) == pytest.approx(comp.entry("ws").result.energy_pj / 4, rel=1e-12)
        return []

    from archsim.report import plots

    monkeypatch.setattr(plots, "plot_energy_breakdown", fake_plot)
    monkeypatch.setattr(plots, "plot_area_breakdown", lambda *a, **k: [])
    compare_mod.write_outputs(comp, tmp_path, "archsim compare ...")
    assert seen["per"] == "inference" and "per inference (batch of 4 / 4)" in seen["title"]


def test_run_text_states_per_batch_and_per_inference(capsys, monkeypatch) -> None:
    from archsim.cli import workloads_cmd

    monkeypatch.setattr(workloads_cmd, "load_workload", lambda name, batch=1, **k: _net(batch))
    assert main(["run", "-w", "tiny", "-d", "ws", "--batch", "4"]) == 0
    out = capsys.readouterr().out
    total = simulate(_net(4), "ws").energy_pj
    assert "per batch of 4" in out
    assert f"energy/inference  {total / 1e6 / 4:,.2f} uJ (batch energy / 4)" in out


def test_layers_frame_adds_up() -> None:
    r = simulate(_net(), "mvq")
    f = r.layers_frame()
    stall_cols = [c for c in f.columns if c.startswith("stall_") and c != "stall_cycles"]
    assert set(stall_cols) == {f"stall_{c}_cycles" for c in r.stalls}
    assert (f[stall_cols].sum(axis=1) == f["stall_cycles"]).all()
    assert (f["busy_cycles"] + f["stall_cycles"] == f["cycles"]).all()
    for c in r.stalls:
        assert f[f"stall_{c}_cycles"].sum() == r.stalls[c]
    cat = f[[c for c in f.columns if c.startswith("energy_cat_")]].sum(axis=1)
    comp = f[[c for c in f.columns if c.startswith("energy_comp_")]].sum(axis=1)
    assert cat.to_numpy() == pytest.approx(f["energy_pj"].to_numpy(), rel=1e-9)
    assert comp.to_numpy() == pytest.approx(f["energy_pj"].to_numpy(), rel=1e-9)
    assert f["energy_cat_dram_pj"].to_numpy() == pytest.approx(f["energy_dram_pj"].to_numpy(), rel=1e-12)
    dram = f[[c for c in f.columns if c.startswith(("dram_read_", "dram_write_"))]].sum(axis=1)
    assert dram.to_numpy() == pytest.approx(f["dram_bytes"].to_numpy(), rel=1e-9)
    assert (f["macs"].sum(), f["dense_macs"].sum()) == (r.macs, r.dense_macs)
    assert f["macs"].sum() < f["dense_macs"].sum()      # mvq skips the pruned weights


def test_run_csv_has_the_breakdown_and_the_array(tmp_path, monkeypatch) -> None:
    from archsim.cli import workloads_cmd

    monkeypatch.setattr(workloads_cmd, "load_workload", lambda name, batch=1, **k: _net(batch))
    path = tmp_path / "layers.csv"
    assert main(["run", "-w", "tiny", "-d", "mvq", "--csv", str(path)]) == 0
    csv = pd.read_csv(path, index_col="name")
    for col in ("busy_cycles", "dense_macs", "energy_cat_macs_pj", "energy_comp_pe_array_pj", "dram_read_weight_bytes",
                "stall_load_weight_cycles", "physical_array", "dense_equivalent_array", "iso"):
        assert col in csv.columns, col
    assert set(csv["physical_array"]) == {"16x64"} and set(csv["iso"]) == {"throughput"}
