"""`archsim pqa` sub-command (registered on a private parser) and the report writer."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from archsim.cli import pqa_cmd
from workloads.errors import ArchsimInputError


def _parse(argv):
    parser = argparse.ArgumentParser()
    pqa_cmd.register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_cli_prints_the_comparison(capsys):
    args = _parse(["pqa", "--workload", "resnet20", "--np", "16", "--mem", "hbm", "--nov", "32", "--nsv", "16"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "perf/area PQA/DLA" in out and "Np=16 HBM" in out


def test_cli_rejects_half_a_design_point():
    args = _parse(["pqa", "--nov", "32"])
    with pytest.raises(ArchsimInputError, match="--nov and --nsv"):
        args.func(args)


def test_report_writes_csv_png_readme(tmp_path, monkeypatch):
    from archsim.pqa import report

    monkeypatch.setattr(report, "NPS", (8, 16, 64))
    frames = report.run(tmp_path)
    for name in ("summary.csv", "grid.csv", "per_layer.csv", "perf_per_area.png", "per_layer_cycles.png",
                 "area_fpga.png", "area_asic.png", "README.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    summary = pd.read_csv(tmp_path / "summary.csv")
    default = summary[summary.variant == "default"]
    assert len(default) == 6 and set(default.memory) == {"DDR", "HBM"}
    assert "python -m archsim.pqa.report" in (tmp_path / "README.md").read_text()
    assert len(frames["per_layer"]) == 6 * 18
