"""Issue 13.4: functional mode checks every layer; a layer over the per-layer budget on seeded sampled output
positions (exact equality with torch there; counters extrapolated exactly and still compared with the timing
model); ``--full`` checks every output; a run that skipped layers ends in PARTIAL with exit 3.

Before the fix, the default skipped every layer over --max-macs (ResNet-18: 20 of 21) and printed OK, exit 0."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from archsim.cli.main import main
from archsim.functional import DenseWeights, run_functional
from archsim.functional.check import (check_workload, extrapolate_counts, output_positions, sample_positions)
from archsim.design import load_design
from workloads.layer import conv2d, linear
from workloads.network import Network
from workloads.zoo import get_network

LAYER = "layer1.0.conv1"          # resnet20: 16->16 3x3 @32x32, 2.36M dense MACs, 1024 output positions


def _one(design: str, budget: int | None, **kw):
    return check_workload("resnet20", design, layers=[LAYER], max_macs=budget or 10 ** 9, full=budget is None, **kw)


@pytest.mark.parametrize("design", ["mvq", "ews-cm", "s2ta", "sa-zvcg"])
def test_sampled_layer_counts_equal_the_full_run(design):
    """The extrapolated counters of a 1-in-~20 sample are exactly the full run's, and agree with timing."""
    sampled, full = _one(design, 100_000), _one(design, None)
    (s,), (f,) = sampled.layers, full.layers
    assert s.sampled is not None and s.sampled[1] == 1024 and 2 <= s.sampled[0] < 100 and f.sampled is None
    assert s.match and f.match and s.counts_agree and f.counts_agree
    assert [c.to_dict() for c in s.counts] == [c.to_dict() for c in f.counts]
    assert (s.macs_executed, s.macs_issued, s.folds) == (f.macs_executed, f.macs_issued, f.folds)


def test_sampled_outputs_are_the_full_outputs_at_those_positions():
    layer = conv2d("c", 8, 12, (9, 7), 3, stride=2, padding=1)
    rng = np.random.default_rng(0)
    w = DenseWeights(rng.integers(-128, 128, size=(12, 8, 3, 3)))
    x = rng.integers(-128, 128, size=layer.input_shape)
    design = load_design("ews").with_overrides(**{"array.rows": 16, "array.cols": 8})
    full = run_functional(layer, w, x, design)
    pos = np.array([0, 3, 7, output_positions(layer) - 1])
    part = run_functional(layer, w, x, design, positions=pos)
    rows = full.outputs.transpose(0, 2, 3, 1).reshape(-1, 12)
    assert np.array_equal(part.outputs, rows[pos])
    scaled, broken = extrapolate_counts(part, layer)
    assert not broken and scaled.counts == full.counts


def test_a_wrong_output_at_a_sampled_position_fails(monkeypatch):
    """Sampling must not hide a wrong number: corrupt the engine's result and the sampled layer fails."""
    import archsim.functional.api as fapi

    real = fapi.execute

    def corrupt(*args, **kwargs):
        out, counts, records, overflow = real(*args, **kwargs)
        out[..., -1] += 1
        return out, counts, records, overflow

    monkeypatch.setattr(fapi, "execute", corrupt)
    (layer,) = _one("mvq", 100_000).layers
    assert layer.sampled is not None and not layer.match and layer.max_abs_diff == 1


def test_miscounted_per_position_counter_fails_instead_of_rounding(monkeypatch):
    import archsim.functional.api as fapi

    real = fapi.execute

    def miscount(*args, **kwargs):
        out, counts, records, overflow = real(*args, **kwargs)
        counts.input_reads += 1
        return out, counts, records, overflow

    monkeypatch.setattr(fapi, "execute", miscount)
    check = _one("mvq", 100_000)
    assert not check.ok and any("per-position counters" in line and "input_reads" in line
                                for line in check.count_mismatches)


@settings(max_examples=40, deadline=None)
@given(budget=st.integers(1, 5 * 10 ** 6), seed=st.integers(0, 2 ** 31))
def test_sample_positions_invariants(budget, seed):
    layer = get_network("resnet20").layers[1]
    total, per = output_positions(layer), layer.macs // output_positions(layer)
    pos = sample_positions(layer, budget, seed)
    if pos is None:
        assert layer.macs <= budget or budget // per >= total
        return
    assert np.array_equal(pos, np.unique(pos)) and pos[0] == 0 and 0 <= pos.min() and pos.max() < total
    assert pos.size == max(1, budget // per) and (pos.size == 1 or pos[-1] == total - 1)
    assert np.array_equal(pos, sample_positions(layer, budget, seed))          # seeded


def test_default_checks_every_layer_and_full_checks_all_outputs(capsys):
    net = Network("two", (conv2d("c", 16, 32, (16, 16), 3, padding=1), linear("fc", 64, 10)))
    default = check_workload(net, "mvq", max_macs=200_000)
    assert [x.layer for x in default.layers] == ["c", "fc"] and not default.partial and default.ok
    assert default.sampled_layers == ["c"]
    full = check_workload(net, "mvq", max_macs=200_000, full=True)
    assert full.sampled_layers == [] and full.ok and full.full


def test_cli_reports_sampling_and_full_flag(capsys):
    rc = main(["run", "-w", "resnet20", "-d", "mvq", "--functional", "--layers", LAYER, "--max-macs", "1e5", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["sampled_layers"] == [LAYER] and res["layers"][0]["positions_total"] == 1024
    rc = main(["run", "-w", "resnet20", "-d", "mvq", "--functional", "--layers", LAYER, "--max-macs", "1e5", "--full"])
    out = capsys.readouterr().out
    assert rc == 0 and " all " in out and out.strip().splitlines()[-1].startswith("OK: 1/1 layers match torch exactly,")
    rc = main(["run", "-w", "resnet20", "-d", "mvq", "--full"])
    assert rc == 2 and "--full applies only with --functional" in capsys.readouterr().err


def test_partial_json_flag_and_exit_code(capsys):
    rc = main(["run", "-w", "resnet20", "-d", "sparten", "--functional", "--max-macs", "2e6", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 3 and res["partial"] and res["ok"]
