"""Issue 13.5-13.7: sweeps keep each finished point, resume, survive Ctrl-C and SIGKILL, sweep any design field and
several workloads, and run on a Dask cluster by address with the sequential run's exact rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.cli.main import main
from archsim.sweep import SweepPoint, parse_bytes, parse_param, plan, run_points, run_sweep
from archsim.sweep_store import PointStore
from workloads.errors import ArchsimInputError
from workloads.layer import conv2d, linear
from workloads.network import Network

REPO = Path(__file__).resolve().parents[2]


def test_byte_sizes_and_design_fields_parse():
    assert parse_bytes("64KiB") == 65536 and parse_bytes("1MiB") == 1 << 20 and parse_bytes("2KB") == 2000
    assert parse_bytes("1MB") == 10 ** 6 and parse_bytes("128") is None
    assert parse_param("buffers.weight.capacity_bytes=64KiB,131072") == ("buffers.weight.capacity_bytes",
                                                                         [65536, 131072])
    assert parse_param("dram.kind=LPDDR4,HBM2") == ("dram.kind", ["LPDDR4", "HBM2"])
    assert parse_param("clock_hz=5e8,1e9") == ("clock_hz", [5e8, 1e9])
    for bad, match in (("buffers.weight.capacity=1", "unknown parameter"), ("array.rows=32", "sizing rule"),
                       ("weights.k=16", "sweep k instead"), ("buffers.weight.capacity_bytes=0.1KiB", "whole number"),
                       ("dram.kind=HBM2,HBM2", "twice")):
        with pytest.raises(ArchsimInputError, match=match):
            parse_param(bad)


def test_design_fields_reach_the_hardware_and_bad_values_fail_before_any_point(tiny, tmp_path):
    df = run_sweep(tiny, "ews", {"dram.kind": ["LPDDR4", "HBM2"], "clock_hz": [5e8, 1e9]})
    assert list(df["dram.kind"]) == ["LPDDR4", "LPDDR4", "HBM2", "HBM2"]
    assert df.loc[0, "energy_dram_uj"] != df.loc[2, "energy_dram_uj"]             # DRAM kind changes DRAM energy
    assert df.loc[1, "inferences_per_s"] > df.loc[0, "inferences_per_s"]         # a faster clock runs faster
    big = run_sweep(tiny, "ews", {"buffers.weight.capacity_bytes": [65536, 262144]})
    assert big.loc[0, "area_mm2"] < big.loc[1, "area_mm2"]
    store = PointStore(tmp_path / "p.jsonl")
    with pytest.raises(ArchsimInputError, match=r"sweep point \(ews: dram.kind=LPDDR9\).*dram.kind"):
        run_sweep(tiny, "ews", {"dram.kind": ["LPDDR4", "LPDDR9"]}, store=store)
    assert len(store) == 0                                                        # nothing ran


def test_several_workloads_and_designs_one_row_per_point(tiny):
    other = Network(name="tiny2", layers=(conv2d("c", 3, 8, 8, 3, padding=1), linear("fc", 8, 10)),
                    input_shape=(1, 3, 8, 8))
    df = run_sweep([tiny, other], ["ws", "ews"], {"array": [16, 32]})
    assert list(zip(df["workload"], df["design"], df["array"])) == [
        (w, d, a) for w in ("tiny", "tiny2") for d in ("ws", "ews") for a in (16, 32)]


def test_store_drops_a_partial_last_line_and_never_duplicates(tmp_path):
    path = tmp_path / "p.jsonl"
    store = PointStore(path)
    store.append("a", {"x": 1.25})
    store.append("a", {"x": 9.0})                      # a key is written once
    with open(path, "a") as f:
        f.write('{"key": "b", "row": {"x"')            # what a SIGKILL mid-write leaves
    again = PointStore(path)
    assert len(again) == 1 and again.get("a") == {"x": 1.25}
    assert path.read_text().endswith("\n")             # repaired: the next append starts a fresh line
    again.append("b", {"x": 2})
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["a", "b"]
    with open(path, "a") as f:
        f.write("garbage\n")
    with pytest.raises(ArchsimInputError, match="--fresh"):
        PointStore(path)
    assert len(PointStore(path, fresh=True)) == 0


@settings(max_examples=40)
@given(rows=st.lists(st.tuples(st.sampled_from("abcde"), st.floats(allow_nan=False, allow_infinity=False)),
                     min_size=1, max_size=8),
       cut=st.floats(0, 1))
def test_a_file_cut_anywhere_loads_its_complete_lines(tmp_path_factory, rows, cut):
    """Whatever byte a kill stops the file at, loading gives exactly the complete lines' points, each once."""
    path = tmp_path_factory.mktemp("cut") / "p.jsonl"
    store = PointStore(path)
    for key, x in rows:
        store.append(key, {"x": x})
    data = path.read_bytes()
    path.write_bytes(data[:int(cut * len(data))])
    complete = path.read_bytes()[:path.read_bytes().rfind(b"\n") + 1].decode().splitlines()
    expected = {json.loads(line)["key"]: json.loads(line)["row"] for line in complete}
    loaded = PointStore(path)
    assert {k: loaded.get(k) for k in "abcde" if k in loaded} == expected
    assert all(expected[k] == store.get(k) for k in expected)                   # values round-trip exactly


def test_resume_runs_only_missing_points_and_gives_the_same_rows(tiny, tmp_path):
    params = {"k": [16, 64], "array": [16, 32]}
    full = run_sweep(tiny, "mvq", params)
    tasks = plan([tiny], ["mvq"], params)
    store = PointStore(tmp_path / "p.jsonl")
    run_points(tasks[1:3], store=store)
    ran: list[SweepPoint] = []
    resumed = run_points(tasks, store=PointStore(tmp_path / "p.jsonl"), on_point=lambda t: ran.append(t.point))
    assert ran == [tasks[0].point, tasks[3].point]                               # only the missing points ran
    pd.testing.assert_frame_equal(full, resumed)
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 4


def test_points_from_other_code_are_not_resumed(tiny, tmp_path, monkeypatch):
    """A points file written before a model change must not put its (stale) numbers in a new CSV."""
    import archsim.sweep as sweep

    store = PointStore(tmp_path / "p.jsonl")
    run_points(plan([tiny], ["ews"], {"array": [16]}), store=store)
    monkeypatch.setattr(sweep, "code_fingerprint", lambda: "edited-model")
    ran: list[str] = []
    run_points(plan([tiny], ["ews"], {"array": [16]}), store=store, on_point=lambda t: ran.append(t.key))
    assert len(ran) == 1 and len(store) == 2


def test_progress_bar_only_when_asked(tiny, capsys):
    tasks = plan([tiny], ["ews"], {"array": [16, 32]})
    run_points(tasks, progress=True)
    assert "2/2" in capsys.readouterr().err
    rc = main(["sweep", "-w", "resnet20", "--design", "ews", "--param", "array=16", "--no-write"])
    assert rc == 0 and capsys.readouterr().err == ""                              # stderr is not a TTY here


@pytest.mark.parametrize("argv,match", [
    (["--param", "dram.kind=LPDDR4,LPDDR9"], "dram.kind=LPDDR9"),
    (["--param", "buffers.weight.capacity=1"], "unknown parameter"),
    (["--param", "array=16", "--dask", "8786"], "scheduler address"),
    (["--param", "array=16", "-w", "resnet20,resnet20"], "distinct"),
])
def test_cli_sweep_input_errors_are_one_line_before_any_point(capsys, tmp_path, argv, match):
    rc = main(["sweep", "-w", "resnet20", "--design", "ews", "--out", str(tmp_path), *argv])
    _, err = capsys.readouterr()
    assert rc == 2 and match in err and err.count("\n") == 1, err
    assert not list(tmp_path.iterdir())                                          # nothing ran, nothing written


def _sweep_cmd(out: Path) -> list[str]:
    return [sys.executable, "-c", "import sys; from archsim.cli.main import main; sys.exit(main())", "sweep",
            "-w", "resnet20", "--design", "ews", "--param", "array=8,16,32,48,64", "--out", str(out)]


def _start_and_signal(out: Path, points: Path, lines: int, sig: int, env: dict) -> tuple[int, str]:
    """Run the sweep in a subprocess; once the points file has ``lines`` lines, send ``sig``; (rc, stderr)."""
    proc = subprocess.Popen(_sweep_cmd(out), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if points.exists() and points.read_text().count("\n") >= lines:
            break
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.slow
def test_ctrl_c_and_sigkill_keep_finished_points_and_rerun_matches_an_uninterrupted_run(tmp_path):
    """Ctrl-C a sweep in a subprocess, SIGKILL the rerun, leave a half-written line (a SIGKILL mid-write), rerun:
    the CSV is the uninterrupted run's, every point once."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = tmp_path / "resumed"
    points = out / "resnet20_ews_array.points.jsonl"
    rc, err = _start_and_signal(out, points, 1, signal.SIGINT, env)
    kept = points.read_text().count("\n")
    assert rc == 130, err
    assert err.count("\n") == 1 and err.startswith(f"interrupted: {kept} of 5 points kept in {points}"), err
    assert 1 <= kept < 5
    rc, _ = _start_and_signal(out, points, kept + 1, signal.SIGKILL, env)
    assert rc in (-signal.SIGKILL, 0)
    with open(points, "a") as f:
        f.write('{"key": "0123456789abcdef", "row": {"array": 6')          # what a SIGKILL mid-write leaves
    kept = points.read_text().count("\n")
    done = subprocess.run(_sweep_cmd(out), cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{kept} of 5 points resumed" in done.stdout
    straight = subprocess.run(_sweep_cmd(tmp_path / "straight"), cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=300)
    assert straight.returncode == 0, straight.stderr
    resumed_csv = (out / "resnet20_ews_array.csv").read_text()
    assert resumed_csv == (tmp_path / "straight" / "resnet20_ews_array.csv").read_text()
    keys = [json.loads(line)["key"] for line in points.read_text().splitlines()]
    assert len(keys) == 5 == len(set(keys))


@pytest.mark.slow
def test_dask_cluster_by_address_matches_sequential(tiny, capsys, tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed (the dist/test extra) not installed")
    params = {"k": [16, 64], "array": [16, 32]}
    seq = run_sweep(tiny, "mvq", params)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  protocol="tcp") as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        on_cluster = run_sweep(tiny, "mvq", params, executor="dask", dask_address=address)
        rc = main(["sweep", "-w", "resnet20", "--design", "ews", "--param", "array=16,32", "--dask", address,
                   "--out", str(tmp_path / "dask"), "--json"])
        assert rc == 0, capsys.readouterr().err
        dask_rows = json.loads(capsys.readouterr().out)["points"]
    pd.testing.assert_frame_equal(seq, on_cluster)
    rc = main(["sweep", "-w", "resnet20", "--design", "ews", "--param", "array=16,32", "--out",
               str(tmp_path / "seq"), "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["points"] == dask_rows
