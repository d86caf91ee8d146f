"""`archsim permdnn` sub-command (registered on a local parser: main.py is the lead's)."""

from __future__ import annotations

import argparse
import json

import pytest

from archsim.cli import permdnn_cmd
from workloads.errors import ArchsimInputError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="archsim")
    permdnn_cmd.register(p.add_subparsers(dest="command"))
    return p


def test_layer_command_prints_a_json_row(capsys):
    args = _parser().parse_args(["permdnn", "layer", "--rows", "256", "--cols", "512", "--act-density", "0.4",
                                 "--weight-density", "0.1", "--p", "8"])
    assert args.func(args) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["p"] == 8 and row["throughput_ratio"] > 0


def test_layer_command_bad_p_is_an_input_error():
    args = _parser().parse_args(["permdnn", "layer", "--rows", "250", "--cols", "512", "--act-density", "0.4",
                                 "--p", "8"])
    with pytest.raises(ArchsimInputError, match="block size p=8 does not divide rows"):
        args.func(args)
