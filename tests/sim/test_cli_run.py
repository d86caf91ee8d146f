"""`archsim run`: JSON keys, text report, CSV, and one clear message (exit 2) for bad designs."""

from __future__ import annotations

import json

import pytest

from archsim.cli.main import main


def _run(capsys, *argv):
    code = main(["run", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_the_promised_keys(capsys):
    code, out, err = _run(capsys, "--workload", "resnet20", "--design", "ws", "--rows", "16", "--cols", "16", "--json")
    assert code == 0, err
    data = json.loads(out)
    for key in ("cycles", "energy_pj", "energy_breakdown_pj", "area_um2", "tops_per_w", "layers", "stalls_by_cause",
                "latency_s", "inferences_per_s", "tops_per_mm2"):
        assert key in data
    assert data["layers"] and {"name", "cycles", "stall_cycles", "energy_pj"} <= set(data["layers"][0])
    assert data["cycles"] == sum(layer["cycles"] for layer in data["layers"])
    assert sum(data["energy_breakdown_pj"].values()) == pytest.approx(data["energy_pj"], rel=1e-12)
    assert data["energy_pj"] == pytest.approx(sum(layer["energy_pj"] for layer in data["layers"]), rel=1e-12)


def test_unlimited_bandwidth_has_no_stalls_and_text_report(capsys, tmp_path):
    csv = tmp_path / "layers.csv"
    code, out, err = _run(capsys, "--workload", "resnet20", "--design", "ews", "--unlimited-bandwidth",
                          "--csv", str(csv))
    assert code == 0, err
    assert "TOPS/W" in out and "inferences/s" in out and "stalls by cause   none" in out
    lines = csv.read_text().splitlines()
    from workloads.zoo import get_network

    assert lines[0].startswith("name,cycles,stall_cycles") and len(lines) == 1 + len(get_network("resnet20"))
    assert all(line.split(",")[2] == "0" for line in lines[1:])


def test_unknown_design_is_one_clear_message(capsys):
    code, out, err = _run(capsys, "--workload", "resnet20", "--design", "nosuchdesign")
    assert code == 2 and out == ""
    assert "unknown design 'nosuchdesign'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("text, expect", [
    ("name: x\narray: {rows: 8, cols: [\n", "not valid YAML"),
    ("name: x\narray: {rows: -3}\n", "array.rows"),
    ("name: x\nbuffers: {weight: {capacity_bytes: 1024, colour: red}}\n", "colour"),
    ("- just\n- a list\n", "mapping"),
])
def test_malformed_design_yaml_exit_2(capsys, tmp_path, text, expect):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, out, err = _run(capsys, "--workload", "resnet20", "--design", str(path))
    assert code == 2 and expect in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_override_and_batch_exit_2(capsys):
    code, _, err = _run(capsys, "--workload", "resnet20", "--design", "ws", "--dram", "SDRAM9")
    assert code == 2 and "dram.kind" in err
    code, _, err = _run(capsys, "--workload", "resnet20", "--design", "ws", "--set", "array.colour=3")
    assert code == 2 and "colour" in err
    code, _, err = _run(capsys, "--workload", "resnet20", "--design", "ws", "--batch", "0")
    assert code == 2 and "--batch" in err
