"""`archsim run` on the ladder: structural compression flags, --traces, one-line errors (in-process)."""

from __future__ import annotations

import json

from archsim.cli.main import main
from compress.trace import save_traces


def _run(capsys, *argv: str):
    code = main(["run", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_with_structural_flags_and_with_traces_agree(capsys, tmp_path):
    from archsim.api import compression_traces
    from archsim.design import load_design
    from workloads.zoo import get_network

    code, out, err = _run(capsys, "--workload", "resnet20", "--design", "mvq", "--n", "1", "--m", "4", "--d", "16",
                          "--k", "256", "--json")
    assert code == 0, err
    path = save_traces(compression_traces(get_network("resnet20"), load_design("mvq")), tmp_path / "t.json")
    code, out2, err = _run(capsys, "--workload", "resnet20", "--design", "mvq", "--traces", str(path), "--json")
    assert code == 0, err
    a, b = json.loads(out), json.loads(out2)
    assert a["cycles"] == b["cycles"] and a["energy_pj"] == b["energy_pj"]
    code, out3, err = _run(capsys, "--workload", "resnet20", "--design", "mvq", "--k", "64", "--json")
    assert code == 0, err
    assert json.loads(out3)["energy_pj"] != a["energy_pj"]


def test_run_errors_are_one_line(capsys):
    code, out, err = _run(capsys, "--workload", "resnet20", "--design", "mvq", "--n", "2", "--m", "8")
    assert code == 2 and "2:8 does not run" in err and len(err.strip().splitlines()) == 1
    code, out, err = _run(capsys, "--workload", "resnet20", "--design", "mvq", "--traces", "x.json", "--k", "64")
    assert code == 2 and "exclude each other" in err
    code, out, err = _run(capsys, "--workload", "resnet20", "--design", "mvq", "--d", "6")
    assert code == 2 and "d=6" in err
