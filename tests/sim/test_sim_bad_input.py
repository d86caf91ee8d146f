"""Bad input: one clear `ArchsimInputError` naming the field — through the API and through `archsim run`
(which prints it as one line, no traceback, exit status 2). Issue 4's list: missing or unknown YAML key,
non-positive size, a buffer smaller than one tile, an unknown DRAM kind, an unknown workload."""

from __future__ import annotations

import pytest

from archsim.api import simulate
from archsim.cli.main import main
from archsim.mapping.ws import WsMapper
from workloads.errors import ArchsimInputError

#: (id, design YAML, workload, text the message must contain — the field and what is wrong)
CASES = [
    ("missing_key", "name: x\nbuffers:\n  weight: {port_bits: 64}\n", "resnet20",
     "buffers.weight.capacity_bytes: is missing; add it"),
    ("unknown_key", "name: x\narray: {rows: 8, colums: 8}\n", "resnet20", "array.colums"),
    ("unknown_top_key", "name: x\nclock_mhz: 500\n", "resnet20", "clock_mhz"),
    ("zero_rows", "name: x\narray: {rows: 0, cols: 8}\n", "resnet20", "array.rows"),
    ("negative_cols", "name: x\narray: {rows: 8, cols: -4}\n", "resnet20", "array.cols"),
    ("zero_buffer", "name: x\nbuffers:\n  input: {capacity_bytes: 0}\n", "resnet20", "buffers.input.capacity_bytes"),
    ("zero_clock", "name: x\nclock_hz: 0\n", "resnet20", "clock_hz"),
    ("weight_buffer_below_one_fold",
     "name: x\narray: {rows: 64, cols: 64}\nbuffers:\n  weight: {capacity_bytes: 1024}\n", "resnet20",
     "raise buffers.weight.capacity_bytes"),
    ("input_buffer_below_one_line",
     "name: x\narray: {rows: 64, cols: 64}\nbuffers:\n  input: {capacity_bytes: 64}\n", "resnet20",
     "raise buffers.input.capacity_bytes"),
    ("unknown_dram_kind", "name: x\ndram: {kind: SDRAM9}\n", "resnet20", "dram.kind"),
    ("non_positive_bandwidth", "name: x\ndram: {bandwidth_gbps: 0}\n", "resnet20", "dram.bandwidth_gbps"),
    ("unknown_workload", "name: x\n", "nosuchnet", "unknown network 'nosuchnet'"),
]


def _write(tmp_path, text):
    path = tmp_path / "design.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, workload, expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_api_raises_one_input_error_naming_the_field(tmp_path, text, workload, expect):
    with pytest.raises(ArchsimInputError) as info:
        simulate(workload, _write(tmp_path, text))
    assert expect in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text, workload, expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cli_prints_one_line_and_exits_2(tmp_path, capsys, text, workload, expect):
    code = main(["run", "--workload", workload, "--design", str(_write(tmp_path, text))])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert expect in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("archsim run: error: ")


@pytest.mark.parametrize("flags, expect", [
    (["--rows", "0"], "array.rows"),
    (["--dram", "SDRAM9"], "dram.kind"),
    (["--set", "buffers.output.capacity_bytes=-1"], "buffers.output.capacity_bytes"),
    (["--set", "buffers.weight.colour=1"], "colour"),
], ids=["rows", "dram", "negative_buffer", "unknown_override"])
def test_cli_flag_overrides_are_validated_too(capsys, flags, expect):
    code = main(["run", "--workload", "resnet20", "--design", "ws", *flags])
    _, err = capsys.readouterr()
    assert code == 2 and expect in err and len(err.strip().splitlines()) == 1


def test_unknown_loop_order_through_the_api():
    with pytest.raises(ArchsimInputError, match="loop order 'diagonal'"):
        simulate("resnet20", "ws", mapper=WsMapper(loop_order="diagonal").map_layer)
