"""Classes of bad input (issue 13, items 12, 14, 15), each through the API and the CLI.

Every reader of a user file refuses bytes that are not UTF-8 and NaN/infinite numbers with one
`ArchsimInputError` naming the file and field; every output option refuses a path it cannot write;
Python-API values the CLI rejects (``batch=0``) raise there too; the usual `from_torch` mistakes get a
message with the fix; Ctrl-C is one line and exit 130; PQA hints name real CLI flags; thread counts
are chosen, not inherited.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from archsim.cli.main import main
from workloads.errors import ArchsimInputError

ROOT = Path(__file__).resolve().parents[2]
NOT_UTF8 = b"name: x\n# caf\xe9 (latin-1, not UTF-8)\n"


def _one_error_line(capsys: pytest.CaptureFixture, argv: list[str], *needles: str) -> str:
    """Run the CLI; it must exit 2 with exactly one stderr line holding every needle."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---- files that are not UTF-8 text ---------------------------------------------------------------------------
def _load_design(p: Path) -> Any:
    from archsim.design import load_design

    return load_design(p)


def _load_trace(p: Path) -> Any:
    from compress.trace import load_traces

    return load_traces(p)


def _load_scalesim(p: Path) -> Any:
    from workloads.scalesim import from_scalesim_csv

    return from_scalesim_csv(p)


def _load_tech(p: Path) -> Any:
    from archsim.tech import load_tech_table

    return load_tech_table(p)


def _load_pqa(p: Path) -> Any:
    from archsim.pqa.config import load_pqa

    return load_pqa(p)


def _load_engine(p: Path) -> Any:
    from archsim.permdnn.config import load_config

    return load_config(p)


READERS: list[tuple[str, str, Callable[[Path], Any]]] = [
    ("design.yaml", "design file", _load_design),
    ("traces.json", "trace file", _load_trace),
    ("topology.csv", "SCALE-Sim topology file", _load_scalesim),
    ("table.yaml", "technology table", _load_tech),
    ("pqa.yaml", "PQA config file", _load_pqa),
    ("engine.yaml", "engine config", _load_engine),
]


@pytest.mark.parametrize("name, what, reader", READERS, ids=[r[0] for r in READERS])
def test_non_utf8_file_is_one_input_error_naming_the_file(tmp_path: Path, name: str, what: str, reader) -> None:
    path = tmp_path / name
    path.write_bytes(NOT_UTF8)
    with pytest.raises(ArchsimInputError, match="not UTF-8 text") as info:
        reader(path)
    assert what in str(info.value) and name in str(info.value) and "line 2" in str(info.value)


@pytest.mark.parametrize("argv", [["run", "-w", "resnet18", "-d", "{p}.yaml"],
                                  ["workloads", "show", "{p}.csv"],
                                  ["run", "-w", "resnet18", "-d", "ws", "--traces", "{p}.json"]],
                         ids=["design", "scalesim", "traces"])
def test_non_utf8_file_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str]) -> None:
    stem = tmp_path / "bad"
    for suffix in (".yaml", ".csv", ".json"):
        stem.with_suffix(suffix).write_bytes(NOT_UTF8)
    _one_error_line(capsys, [a.replace("{p}", str(stem)) for a in argv], "not UTF-8 text")


# ---- NaN / infinity anywhere -------------------------------------------------------------------------------------
def _trace_file(tmp_path: Path, **changes: Any) -> Path:
    from compress.trace import structural_trace
    from workloads.layer import conv2d

    row = structural_trace(conv2d("c", 16, 16, 8, 3, padding=1), "mvq", n=1, m=4, d=16, k=16).to_dict()
    row.update(changes)
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"traces": [row]}))   # json writes NaN / Infinity, as Python's reader accepts
    return path


@pytest.mark.parametrize("field, value", [("code_bits", float("nan")), ("mask_bits", float("inf")),
                                          ("codebook_bits", float("-inf")), ("act_density", float("nan"))])
def test_trace_numbers_must_be_finite(tmp_path: Path, field: str, value: float) -> None:
    from compress.trace import load_traces

    with pytest.raises(ArchsimInputError, match=f"trace of 'c': {field} must be a finite number"):
        load_traces(_trace_file(tmp_path, **{field: value}))


def test_tech_table_infinity_names_the_field(tmp_path: Path) -> None:
    from archsim.tech import load_tech_table
    from archsim.tech.table import TABLE_DIR

    text = (TABLE_DIR / "40nm.yaml").read_text()
    assert "max_rel_error: 0.33" in text
    path = tmp_path / "t.yaml"
    path.write_text(text.replace("max_rel_error: 0.33", "max_rel_error: .inf", 1))
    with pytest.raises(ArchsimInputError, match=r"sram\.fits\..*max_rel_error is inf; give a finite number"):
        load_tech_table(path)


@pytest.mark.parametrize("reader, body, field", [
    (_load_design, "name: x\nclock_hz: .nan\n", "clock_hz is nan"),
    (_load_pqa, "limits:\n  k_max: 128\nclock_hz: .inf\n", "clock_hz is inf"),
], ids=["design", "pqa"])
def test_yaml_configs_refuse_nan_and_inf(tmp_path: Path, reader, body: str, field: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(body)
    with pytest.raises(ArchsimInputError, match=field):
        reader(path)


def test_design_override_nan_is_refused() -> None:
    from archsim.design import load_design

    with pytest.raises(ArchsimInputError, match="dram.bandwidth_gbps"):
        load_design("ws").with_overrides(**{"dram.bandwidth_gbps": float("inf")})


# ---- output paths that cannot be written --------------------------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["compare", "--workload", "resnet18", "--designs", "ws", "--out", "{file}"], "--out"),
    (["sweep", "--workload", "resnet18", "--design", "ws", "--param", "k=64", "--out", "{file}", "--no-progress"],
     "--out"),
    (["run", "-w", "resnet18", "-d", "ws", "--csv", "{dir}"], "--csv"),
    (["run", "-w", "resnet18", "-d", "ws", "--csv", "{file}/x.csv"], "--csv"),
    (["compress", "resnet18", "--structural", "--out", "{file}/t.json"], "--out"),
], ids=["compare", "sweep", "run-csv-folder", "run-csv-under-file", "compress"])
def test_unwritable_output_is_exit_2_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str],
                                              needle: str) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    argv = [a.replace("{file}", str(afile)).replace("{dir}", str(tmp_path)) for a in argv]
    _one_error_line(capsys, argv, needle, str(tmp_path))


def test_ensure_writable_dir_names_option_and_path(tmp_path: Path) -> None:
    from archsim.validation import ensure_writable_dir

    assert ensure_writable_dir(tmp_path / "a" / "b", "--out").is_dir()
    (tmp_path / "f").write_text("")
    with pytest.raises(ArchsimInputError, match=r"--out '.*f': is a file, not a folder"):
        ensure_writable_dir(tmp_path / "f", "--out")
    with pytest.raises(ArchsimInputError, match="--out .*cannot create the folder"):
        ensure_writable_dir(tmp_path / "f" / "sub", "--out")


@pytest.mark.parametrize("module", ["archsim.pqa.report", "archsim.permdnn.report"])
def test_report_modules_refuse_a_file_as_out(tmp_path: Path, capsys: pytest.CaptureFixture, module: str) -> None:
    import importlib

    afile = tmp_path / "afile"
    afile.write_text("")
    assert importlib.import_module(module).main(["--out", str(afile)]) == 2
    assert "--out" in capsys.readouterr().err


# ---- Python-API values the CLI rejects -----------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [0, -1, False, 1.5])
def test_simulate_rejects_the_batches_the_cli_rejects(batch: Any) -> None:
    from archsim.api import simulate

    with pytest.raises(ArchsimInputError, match="batch must be a positive integer"):
        simulate("resnet18", "ws", batch=batch)


def test_batch_zero_on_a_network_object() -> None:
    from archsim.api import simulate
    from workloads.zoo import get_network

    with pytest.raises(ArchsimInputError, match="batch must be a positive integer"):
        simulate(get_network("resnet18"), "ws", batch=0)


def test_empty_traces_are_not_read_as_dense() -> None:
    from archsim.api import simulate

    with pytest.raises(ArchsimInputError, match="traces= holds no trace"):
        simulate("resnet18", "mvq", traces=[])


def test_pqa_zero_knobs_are_errors_not_defaults() -> None:
    from archsim.pqa.compare import compare
    from workloads.zoo import get_network

    with pytest.raises(ArchsimInputError, match="plv"):
        compare(get_network("resnet20"), 9, 16, plv=0, nov=32, nsv=16)


def test_from_torch_state_dict_names_the_fix() -> None:
    from workloads import from_torch

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    with pytest.raises(ArchsimInputError, match=r"state_dict .*model.load_state_dict"):
        from_torch(model.state_dict(), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ArchsimInputError, match="pass an instance"):
        from_torch(torch.nn.Conv2d, torch.zeros(1, 3, 8, 8))


@pytest.mark.parametrize("model", [
    torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)),             # fails in forward
    torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(0), torch.nn.Linear(144, 2)),   # runs
], ids=["model-fails", "model-runs"])
def test_from_torch_unbatched_input_names_the_fix(model: torch.nn.Module) -> None:
    from workloads import from_torch

    with pytest.raises(ArchsimInputError, match=r"unbatched.*\(3, 8, 8\).*unsqueeze\(0\)"):
        from_torch(model, torch.zeros(3, 8, 8))


# ---- Ctrl-C ----------------------------------------------------------------------------------------------------------
def test_keyboard_interrupt_in_any_command_is_one_line_exit_130(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture) -> None:
    import archsim.cli.workloads_cmd as workloads_cmd

    def interrupted(args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(workloads_cmd, "_list", interrupted)
    assert main(["workloads", "list"]) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["archsim workloads: interrupted"]


def test_sigint_to_a_running_command_exits_130(tmp_path: Path) -> None:
    """A real SIGINT to a process blocked inside a command (the command is made slow by a patch)."""
    script = textwrap.dedent("""
        import sys, time
        import archsim.cli.workloads_cmd as w
        from archsim.cli.main import main
        def slow(args):
            print("ready", flush=True)
            time.sleep(60)
        w._list = slow
        sys.exit(main(["workloads", "list"]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["archsim workloads: interrupted"]


# ---- PQA hints name real flags; --config ------------------------------------------------------------------------------
def test_pqa_limit_hint_names_cli_flags(capsys: pytest.CaptureFixture) -> None:
    line = _one_error_line(capsys, ["pqa", "--np", "256", "--nov", "32", "--nsv", "16"], "limits.np_max=128")
    assert "--np" in line and "archsim pqa --config FILE" in line and "np_max: 256" in line


def test_pqa_pad_hint_names_the_flag(capsys: pytest.CaptureFixture) -> None:
    line = _one_error_line(capsys, ["pqa", "--ls", "5"], "ls=5 does not divide")
    assert "--pad" in line and "pass pad=True" not in line


def test_pqa_every_hinted_flag_exists() -> None:
    """The flags the hints name are flags the `pqa` parser has."""
    from archsim.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["pqa"]
    flags = {s for a in sub._actions for s in a.option_strings}
    assert {"--pad", "--np", "--ls", "--config"} <= flags


def test_pqa_config_raises_a_limit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = tmp_path / "big.yaml"
    cfg.write_text("limits:\n  np_max: 256\n")
    assert main(["pqa", "--np", "256", "--nov", "32", "--nsv", "16", "--config", str(cfg), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["np"] == 256


def test_pqa_config_is_validated_like_designs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = tmp_path / "typo.yaml"
    cfg.write_text("limits:\n  k_mx: 256\n")
    _one_error_line(capsys, ["pqa", "--config", str(cfg)], "limits.k_mx", "not a known field")
    _one_error_line(capsys, ["pqa", "--config", str(tmp_path / "missing.yaml")], "does not exist")
    _one_error_line(capsys, ["pqa", "--nov", "0", "--nsv", "16"], "--nov must be a positive integer")


# ---- threads ------------------------------------------------------------------------------------------------------------
@pytest.fixture
def clean_thread_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    from archsim.threads import ENV_OVERRIDE, THREAD_ENV_VARS

    for var in (ENV_OVERRIDE, *THREAD_ENV_VARS):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize("cores, load, expected", [(2, 0.0, 2), (2, 1.4, 1), (2, 5.0, 1), (16, 0.0, 8),
                                                   (16, 6.0, 8), (16, 12.2, 4), (1, 0.0, 1)])
def test_auto_threads_follow_free_cores(clean_thread_env: pytest.MonkeyPatch, cores: int, load: float,
                                        expected: int) -> None:
    from archsim import threads

    clean_thread_env.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    clean_thread_env.setattr(threads.os, "getloadavg", lambda: (load, load, load))
    assert threads.choose_threads() == expected


def test_explicit_thread_requests_win(clean_thread_env: pytest.MonkeyPatch) -> None:
    from archsim.threads import choose_threads

    assert choose_threads(3) == 3
    clean_thread_env.setenv("OMP_NUM_THREADS", "2")
    assert choose_threads() == 2
    clean_thread_env.setenv("ARCHSIM_THREADS", "5")
    assert choose_threads() == 5
    clean_thread_env.setenv("ARCHSIM_THREADS", "many")
    with pytest.raises(ArchsimInputError, match="ARCHSIM_THREADS must be a positive whole number"):
        choose_threads()
    with pytest.raises(ArchsimInputError, match="--threads"):
        choose_threads(0)


def test_compress_sets_the_chosen_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    import archsim.cli.compress_cmd as compress_cmd

    seen: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())
        raise ArchsimInputError("stop here")

    monkeypatch.setattr(compress_cmd, "_clustered", spy)
    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            assert main(["compress", "resnet20", "--threads", str(n)]) == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 2]


def test_pool_workers_run_one_thread() -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from archsim.threads import single_thread_worker

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs fork")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                             initializer=single_thread_worker) as pool:
        threads, env = pool.submit(_worker_threads).result()
    assert threads == 1 and env == "1"


def _worker_threads() -> tuple[int, str]:
    return torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS", "")
