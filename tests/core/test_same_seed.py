"""Issue 13.13: the same command with the same seed gives byte-identical JSON and files.

Before the fix `archsim compress` built its untrained zoo model from torch's unseeded global RNG, so
per-layer errors and k-means iteration counts changed on every run. Each command runs twice
in-process; stdout and every file it wrote are compared byte for byte (wall times are printed only in
the text reports, never in ``--json`` output or written files)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from archsim.cli.main import main


def _twice(capsys, argv: list[str], files: list[Path] | None = None, folder: Path | None = None):
    """stdout and the bytes of the named files (or every file under ``folder``) of two identical runs."""
    outs = []
    for _ in range(2):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, err
        paths = list(files or []) + (sorted(p for p in folder.rglob("*") if p.is_file()) if folder else [])
        outs.append((out, {str(p): p.read_bytes() for p in paths}))
    return outs


@pytest.mark.parametrize("suffix", [".json", ".parquet"])
def test_compress_same_seed_same_bytes(capsys, tmp_path, suffix):
    out = tmp_path / f"traces{suffix}"
    argv = ["compress", "resnet20", "--k", "16", "--iterations", "2", "--no-progress", "--seed", "3", "--json",
            "--out", str(out)]
    runs = []
    for global_seed in (1, 2):           # the global RNG state must not matter
        torch.manual_seed(global_seed)
        assert main(argv) == 0
        runs.append((capsys.readouterr().out, out.read_bytes()))
    assert runs[0] == runs[1]


def test_compress_other_seed_other_model(capsys):
    argv = ["compress", "resnet20", "--k", "16", "--iterations", "2", "--no-progress", "--json", "--seed"]
    outs = []
    for seed in ("0", "1"):
        assert main(argv + [seed]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] != outs[1]


def test_build_model_is_seeded_and_leaves_the_global_rng_alone():
    from workloads.zoo import build_model

    torch.manual_seed(5)
    before = torch.get_rng_state()
    (m1, x1), (m2, x2) = build_model("resnet20", seed=4), build_model("resnet20", seed=4)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(x1, x2) and all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters()))


def test_run_same_bytes(capsys, tmp_path):
    csv = tmp_path / "layers.csv"
    (a, fa), (b, fb) = _twice(capsys, ["run", "-w", "resnet20", "-d", "mvq", "--json", "--csv", str(csv)], files=[csv])
    assert a == b and fa == fb


def test_compare_same_bytes(capsys, tmp_path):
    argv = ["compare", "-w", "resnet20", "--designs", "ews,mvq", "--json", "--out", str(tmp_path)]
    (a, fa), (b, fb) = _twice(capsys, argv, folder=tmp_path)
    assert fa and a == b and fa == fb


def test_sweep_same_bytes(capsys, tmp_path):
    argv = ["sweep", "-w", "resnet20", "--design", "mvq", "--param", "k=64,128", "--json", "--out", str(tmp_path)]
    (a, fa), (b, fb) = _twice(capsys, argv, folder=tmp_path)
    assert fa and a == b and fa == fb
