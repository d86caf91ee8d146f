"""`archsim sweep` and `archsim.sweep`: parsing, grid checks, executors agree, files written."""

from __future__ import annotations

import pandas as pd
import pytest

from archsim.cli.main import main
from archsim.report.variants import CompressionParams, known_designs
from archsim.sweep import grid, parse_param, run_sweep
from workloads.errors import ArchsimInputError

HAS_MVQ = "mvq" in known_designs()


def test_parse_param():
    assert parse_param("k=64, 128,256") == ("k", [64, 128, 256])
    assert parse_param("NM=1:4,2:8") == ("nm", [(1, 4), (2, 8)])
    for bad, match in (("k", "NAME=V1"), ("q=1,2", "unknown parameter"), ("k=a", "integers"),
                       ("nm=1-4", "N:M pairs"), ("k=1,1", "twice")):
        with pytest.raises(ArchsimInputError, match=match):
            parse_param(bad)


def test_grid_is_the_product_and_checks_every_point():
    pts = grid({"k": [16, 32], "array": [16, 32]}, CompressionParams(), 64, 64)
    assert [(p.k, p.rows, p.cols) for p in pts] == [(16, 16, 16), (16, 32, 32), (32, 16, 16), (32, 32, 32)]
    with pytest.raises(ArchsimInputError, match=r"sweep point \(d=6\).*M=4 must divide d"):
        grid({"d": [8, 6]}, CompressionParams(), 64, 64)
    with pytest.raises(ArchsimInputError, match="do not also sweep"):
        grid({"nm": [(1, 4)], "n": [1]}, CompressionParams(), 64, 64)


@pytest.mark.skipif(not HAS_MVQ, reason="mvq preset not installed")
def test_executors_agree_and_k_reaches_the_hardware(tiny):
    params = {"k": [16, 64]}
    seq = run_sweep(tiny, "mvq", params)
    par = run_sweep(tiny, "mvq", params, executor="processes", jobs=2)
    pd.testing.assert_frame_equal(seq, par)
    assert seq.loc[0, "area_mm2"] < seq.loc[1, "area_mm2"]          # a bigger codebook needs a bigger store
    try:
        import dask  # noqa: F401
    except ImportError:
        with pytest.raises(ArchsimInputError, match="archsim\\[dist\\]"):
            run_sweep(tiny, "mvq", params, executor="dask")
    else:
        pd.testing.assert_frame_equal(seq, run_sweep(tiny, "mvq", params, executor="dask", jobs=2))


@pytest.mark.skipif(not HAS_MVQ, reason="mvq preset not installed")
def test_nm_sweep_changes_the_sparse_array(tiny):
    df = run_sweep(tiny, "mvq", {"nm": [(1, 4), (2, 4)]})
    assert list(df["nm"]) == ["1:4", "2:4"]
    assert df.loc[1, "physical_pes"] == 2 * df.loc[0, "physical_pes"]     # 2:4 keeps half the rows, 1:4 a quarter
    assert df.loc[0, "macs"] < df.loc[1, "macs"]      # 2:4 executes more MACs (conv1 stays dense in both)


def test_cli_sweep_writes_files(tmp_path, capsys):
    design = "mvq" if HAS_MVQ else "ews"
    param = "k=16,64" if HAS_MVQ else "array=16,32"
    rc = main(["sweep", "-w", "resnet20", "--design", design, "--param", param, "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    stem = f"resnet20_{design}_{param.split('=')[0]}"
    for suffix in (".csv", ".png", "_energy.png"):
        assert (tmp_path / f"{stem}{suffix}").stat().st_size > 200
    readme = (tmp_path / "README.md").read_text()
    assert f"archsim sweep --workload resnet20 --design {design} --param {param}" in readme
    assert len(pd.read_csv(tmp_path / f"{stem}.csv")) == 2


@pytest.mark.parametrize("argv,match", [
    ([], "at least one --param"),
    (["--param", "k=16", "--param", "k=32"], "given twice"),
    (["--param", "z=1"], "unknown parameter"),
    (["--design", "nosuch", "--param", "k=16"], "unknown design"),
])
def test_cli_sweep_errors(capsys, tmp_path, argv, match):
    rc = main(["sweep", "-w", "resnet20", "--no-write", "--out", str(tmp_path), *argv])
    _, err = capsys.readouterr()
    assert rc == 2 and match in err and err.count("\n") == 1
