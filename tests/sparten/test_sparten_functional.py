"""SparTen functional mode: the inner join on real sparse integers equals torch, and its counts equal the
timing model evaluated on the same data; bad input gives one clear error each."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from archsim.cli.main import main
from archsim.design import load_design
from archsim.functional.check import check_workload, reference_output
from archsim.functional.sparten import quantize_int, run_sparten, sparse_activations
from archsim.mapping import map_layer
from archsim.mapping.sparten import map_layer_actual, rounds_of, setup_layer
from compress.trace import structural_trace
from compress.unstructured import magnitude_mask, sparse_trace
from workloads.errors import ArchsimInputError
from workloads.layer import LayerKind
from workloads.network import Network
from sparten_helpers import conv, linear, small_design, total_events

LAYERS = [conv(), conv(stride=2, hw=7, cout=11, cin=35), conv(cin=8, cout=8, groups=4), conv(k=3, pad=2, dilation=2),
          conv(cin=6, cout=6, groups=6), linear(), linear(batch=2, cin=70, cout=5)]


def _operands(layer, density=0.3, act=0.5, seed=0):
    rng = np.random.default_rng(seed)
    shape = (layer.out_channels, layer.in_channels // layer.groups, layer.kernel_h, layer.kernel_w) \
        if layer.kind is LayerKind.CONV else (layer.out_channels, layer.in_channels)
    w = rng.standard_normal(shape)
    w_int = quantize_int(np.where(magnitude_mask(w, density), w, 0.0), 8)
    x = sparse_activations(layer.input_shape, act, 8, rng)
    return w_int, x


@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: f"{l.kind.value}{l.in_channels}-{l.out_channels}g{l.groups}")
def test_outputs_equal_torch_and_counts_equal_the_timing_model(layer):
    d = small_design()
    w_int, x = _operands(layer)
    run = run_sparten(layer, w_int, x, d)
    assert (run.outputs.astype(np.int64) == reference_output(layer, x, w_int)).all()
    assert run.macs == int(run.matched.sum())
    trace = dataclasses.replace(sparse_trace(layer, w_int != 0), act_density=0.5)
    sched = map_layer_actual(layer, d, trace, run.kept_chunk, run.matched, run.act_nnz)
    ev = total_events(sched)
    assert ev[("pe_array", "mac")] == run.macs
    assert ev[("sparten_join", "join")] == run.joins
    s = setup_layer(layer, d, trace)
    reads = np.array([sum(len(g) for g in rounds_of(s, r)) for r in range(s.repeats)])
    assert ev[("input_buffer", "read_bytes")] == pytest.approx(float((run.act_chunk_bytes * reads).sum()))


def test_actual_cycles_follow_the_per_step_maxima():
    """On actual data the step of a pass is the busiest cluster's sum of per-pixel CU maxima (checked by hand)."""
    layer = conv(k=1, pad=0, cin=16, cout=4, hw=2)           # 4 pixels, 1 chunk of 16
    d = small_design(cus=4, clusters=1, per_pass=4, **{"buffers.weight.port_bits": 4096})
    w_int, x = _operands(layer, density=0.5, act=0.5, seed=3)
    run = run_sparten(layer, w_int, x, d)
    trace = dataclasses.replace(sparse_trace(layer, w_int != 0), act_density=0.5)
    sched = map_layer_actual(layer, d, trace, run.kept_chunk, run.matched, run.act_nnz)
    by_hand = int(np.maximum(1, run.matched[:, :, 0]).max(axis=0).sum())
    assert sum(t.compute_cycles * t.repeat for t in sched.tiles) == by_hand


def test_expected_model_is_close_to_actual_on_average():
    layer = conv(cin=48, cout=8, hw=8)
    d = small_design()
    macs, cyc, e_macs, e_cyc = 0, 0, 0, 0
    for seed in range(4):
        w_int, x = _operands(layer, seed=seed)
        run = run_sparten(layer, w_int, x, d)
        trace = dataclasses.replace(sparse_trace(layer, w_int != 0), act_density=0.5)
        act = map_layer_actual(layer, d, trace, run.kept_chunk, run.matched, run.act_nnz)
        exp = map_layer(layer, d, trace)
        macs, e_macs = macs + act.macs, e_macs + exp.macs
        cyc += sum(t.compute_cycles * t.repeat for t in act.tiles)
        e_cyc += sum(t.compute_cycles * t.repeat for t in exp.tiles)
    assert e_macs == pytest.approx(macs, rel=0.03)
    assert e_cyc == pytest.approx(cyc, rel=0.08)


def test_check_workload_on_a_tiny_network_and_the_cli(capsys):
    net = Network("tiny", (conv(name="a", cin=3, cout=6), conv(name="b", cin=6, cout=5), linear(name="fc", cin=180, cout=3)))
    check = check_workload(net, small_design(), seed=1)
    assert check.ok and len(check.layers) == 3
    assert all(c.agree for layer in check.layers for c in layer.counts)
    code = main(["run", "--workload", "resnet20", "--design", "sparten", "--functional", "--layers", "fc"])
    assert code == 0
    assert "OK: 1/1 layers match torch exactly" in capsys.readouterr().out


def test_bad_functional_input_is_one_clear_error():
    layer = conv()
    d = small_design()
    w_int, x = _operands(layer)
    with pytest.raises(ArchsimInputError, match="weight has shape"):
        run_sparten(layer, w_int[:, :3], x, d)
    with pytest.raises(ArchsimInputError, match="8-bit integers"):
        run_sparten(layer, w_int * 300, x, d)
    with pytest.raises(ArchsimInputError, match="dataflow"):
        run_sparten(layer, w_int, x, load_design("ews"))


def test_bad_design_and_trace_input_is_one_clear_error():
    layer = conv()
    with pytest.raises(ArchsimInputError, match="weights.density"):
        small_design(**{"weights.density": 0.0})
    with pytest.raises(ArchsimInputError, match="weights.density"):
        small_design(**{"weights.density": 1.2})
    with pytest.raises(ArchsimInputError, match="act_density"):
        small_design(**{"sparten.act_density": 1.5})
    with pytest.raises(ArchsimInputError, match="act_density"):
        small_design(**{"sparten.act_density": 0})
    with pytest.raises(ArchsimInputError, match="weight_depth"):
        small_design(**{"register_files.weight_depth": 8})
    no_default = small_design(**{"sparten.act_density": None})
    with pytest.raises(ArchsimInputError, match="no act_density.*sparten.act_density"):
        map_layer(layer, no_default, structural_trace(layer, "sparse", density=0.3))
    measured = dataclasses.replace(structural_trace(layer, "sparse", density=0.3), act_density=0.4)
    assert map_layer(layer, no_default, measured).macs > 0
    with pytest.raises(ArchsimInputError, match="no codebook"):
        map_layer(layer, small_design(), structural_trace(layer, "vq", d=4, k=16))
