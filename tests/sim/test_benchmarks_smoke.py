"""The two benchmark scripts run end to end on a small case and write what they promise."""

from __future__ import annotations

import pandas as pd

from benchmarks.engine_speed.speed import measure, write_readme
from benchmarks.ews_vs_ws.study import main as ews_vs_ws_main


def test_ews_vs_ws_writes_table_plot_and_readme(tmp_path):
    out = tmp_path / "ews_vs_ws"
    assert ews_vs_ws_main(["--out", str(out), "--networks", "resnet20", "--sizes", "16",
                           "--bandwidths", "unlimited"]) == 0
    table = pd.read_csv(out / "table.csv")
    assert set(table["design"]) == {"ws", "ews"} and (table["macs"] == table["macs"].iloc[0]).all()
    assert (out / "ratios.png").stat().st_size > 1000
    readme = (out / "README.md").read_text()
    assert "python -m benchmarks.ews_vs_ws --out" in readme and "1.22-1.72x" in readme and "1.35-2.48x" in readme
    # every energy column is accounted for: components sum to the total
    for _, row in table.iterrows():
        parts = sum(row[c] for c in table.columns if c.startswith("e_") and c.endswith("_uj")
                    and pd.notna(row[c]))
        assert abs(parts - row["energy_uj"]) <= 1e-6 * row["energy_uj"]


def test_engine_speed_measures_and_reports(tmp_path):
    rows = measure("resnet20", "ws", 16, repeats=1)
    assert {r["variant"] for r in rows} == {"default", "every_layer"}
    every = next(r for r in rows if r["variant"] == "every_layer")
    assert every["tiles"] > 0 and every["simpy_events"] >= every["tiles"] and every["wall_s"] > 0
    write_readme(pd.DataFrame(rows), tmp_path / "README.md", "python -m benchmarks.engine_speed")
    assert "SimPy event" in (tmp_path / "README.md").read_text()
