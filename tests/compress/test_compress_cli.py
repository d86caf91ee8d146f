"""`archsim compress`: clear one-line errors for bad input, tables/JSON/traces for good input."""

from __future__ import annotations

import json

import pytest

from archsim.cli.main import main
from compress.trace import WeightFormat, load_traces


@pytest.mark.parametrize("argv, match", [
    (["--n", "4", "--m", "4"], "N < M"),
    (["--n", "1", "--m", "3"], "M=3 must divide d=16"),
    (["--method", "pq"], "method must be one of mvq, vq, prune_vq, nm"),
    (["--mask-encoding", "rle"], "mask_encoding must be one of"),
    (["--k", "0"], "k must be a positive integer"),
    (["--out", "traces.csv"], "use a .json or .parquet suffix"),
])
def test_bad_input_gives_one_clear_line(capsys, argv, match):
    assert main(["compress", "resnet20", "--structural", *argv]) == 2
    err = capsys.readouterr().err
    assert match in err
    assert err.startswith("archsim compress: error:") and err.count("\n") == 1 and "Traceback" not in err


def test_unknown_model_is_an_input_error(capsys):
    assert main(["compress", "no_such_net", "--structural"]) == 2
    assert "unknown network" in capsys.readouterr().err


def test_structural_table_and_traces(capsys, tmp_path):
    out = tmp_path / "r20.json"
    assert main(["compress", "resnet20", "--structural", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "structural" in text and "totals:" in text and "layer1.0.conv1" in text
    traces = load_traces(out)
    fmt = {t.layer.name: t.format for t in traces}
    assert fmt["conv1"] is WeightFormat.DENSE  # 3 input channels, first conv
    assert fmt["layer1.0.conv1"] is WeightFormat.MVQ


def test_clustered_json_matches_structural_traces(capsys, tmp_path):
    args = ["compress", "resnet20", "--method", "prune-vq", "--k", "16", "--iterations", "2", "--no-progress"]
    real, structural = tmp_path / "real.parquet", tmp_path / "structural.parquet"
    assert main([*args, "--json", "--out", str(real)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["config"]["method"] == "prune_vq" and report["totals"]["compression_ratio"] > 1
    rows = {row["layer"]: row for row in report["layers"]}
    assert rows["layer1.0.conv1"]["density"] == 0.25 and rows["conv1"]["method"] == "dense"
    assert main([*args, "--structural", "--out", str(structural)]) == 0
    assert load_traces(real) == load_traces(structural)
