"""Bad input gets one clear ArchsimInputError naming the field and the fix."""

from __future__ import annotations

import dataclasses

import pytest

from archsim.api import simulate, simulate_layer
from archsim.design import load_design, nm_support_problem
from compress.trace import Trace, WeightFormat, structural_trace
from workloads.errors import ArchsimInputError
from workloads.layer import conv2d
from mvq_helpers import tiny_network  # noqa: F401  (pytest fixtures)

LAYER = conv2d("c", 64, 64, 8, 3, padding=1)


@pytest.mark.parametrize("pattern, array, ok", [
    ((1, 4), (1, 4), True), ((1, 8), (1, 4), True), ((1, 16), (1, 4), True),
    ((2, 8), (1, 4), False), ((2, 4), (1, 4), False), ((1, 3), (1, 4), False),
    ((1, 2), (2, 4), True), ((2, 4), (2, 4), True), ((1, 4), (2, 4), True), ((3, 4), (2, 4), False),
    ((2, 8), (2, 4), True), ((4, 8), (2, 4), False), ((1, 2), (1, 4), False),
])
def test_nm_support_rule(pattern, array, ok):
    assert (nm_support_problem(*pattern, *array) is None) == ok


def test_trace_pattern_the_sparse_array_cannot_run():
    trace = structural_trace(LAYER, "mvq", n=2, m=8, d=16, k=256)
    with pytest.raises(ArchsimInputError, match=r"2:8 does not run.*1:4.*array.sparse_n"):
        simulate_layer(LAYER, "mvq", trace)


def test_sparser_pattern_runs_with_gated_spare_slots():
    trace = structural_trace(LAYER, "mvq", n=1, m=8, d=16, k=256)
    r = simulate_layer(LAYER, "mvq", trace)
    assert r.macs * 8 == LAYER.macs
    assert r.counters.events[("pe_array", "gated_mac")] * 8 == LAYER.macs   # 1/4 slots - 1/8 kept


def test_design_weight_pattern_the_array_cannot_run():
    with pytest.raises(ArchsimInputError, match="weights 2:8"):
        load_design("mvq").with_overrides(**{"weights.n": 2, "weights.m": 8})


def test_d_not_a_multiple_of_m():
    bad = dataclasses.replace(structural_trace(LAYER, "mvq", n=1, m=4, d=16, k=256), d=6)
    with pytest.raises(ArchsimInputError, match="d=6 is not a multiple of M=4"):
        simulate_layer(LAYER, "mvq", bad)
    with pytest.raises(ArchsimInputError, match="M=4 must divide d=6|d=6 is not a multiple"):
        simulate(_tiny(), "mvq", compression={"d": 6})
    with pytest.raises(ArchsimInputError, match=r"weights.d \(6\) must be a multiple of weights.m"):
        load_design("mvq").with_overrides(**{"weights.d": 6})


def test_codebook_larger_than_its_store():
    trace = structural_trace(LAYER, "mvq", n=1, m=4, d=16, k=512)   # 8 KiB > the 4 KiB CRF
    with pytest.raises(ArchsimInputError, match="buffers.codebook.capacity_bytes"):
        simulate_layer(LAYER, "mvq", trace)
    with pytest.raises(ArchsimInputError, match="buffers.codebook"):
        load_design("mvq").with_overrides(**{"weights.k": 512})
    ok = load_design("mvq").with_overrides(**{"buffers.codebook.capacity_bytes": 8192, "weights.k": 512})
    assert simulate_layer(LAYER, ok, trace).counters.dram_read_bytes["codebook"] == 8192


def test_vq_trace_on_a_design_without_codebook():
    trace = structural_trace(LAYER, "vq", d=16, k=256)
    with pytest.raises(ArchsimInputError, match="no codebook store"):
        simulate_layer(LAYER, "s2ta-w", trace)
    with pytest.raises(ArchsimInputError, match="add buffers.codebook"):
        load_design("ews").with_overrides(**{"weights.format": "mvq", "weights.n": 1, "weights.m": 4})


def _tiny():
    return tiny_network()


def test_traces_that_do_not_match_the_workload():
    net = _tiny()
    from archsim.api import compression_traces

    traces = compression_traces(net, load_design("mvq"))
    renamed = [dataclasses.replace(t, layer=dataclasses.replace(t.layer, name="nope")) if i == 1 else t
               for i, t in enumerate(traces)]
    with pytest.raises(ArchsimInputError, match="'nope'.*does not have"):
        simulate(net, "mvq", traces=renamed)
    other = structural_trace(conv2d("block.conv", 32, 64, 8, 3, padding=1), "mvq", n=1, m=4, d=16, k=256)
    reshaped = [other if t.layer.name == "block.conv" else t for t in traces]
    with pytest.raises(ArchsimInputError, match="'block.conv' has a different shape"):
        simulate(net, "mvq", traces=reshaped)
    with pytest.raises(ArchsimInputError, match="not both"):
        simulate(net, "mvq", traces=traces, compression={"k": 64})


def test_trace_density_must_match_its_pattern():
    bad = dataclasses.replace(structural_trace(LAYER, "mvq", n=1, m=4, d=16, k=256), density=0.5)
    with pytest.raises(ArchsimInputError, match="density"):
        simulate_layer(LAYER, "mvq", bad)


def test_unknown_compression_field():
    with pytest.raises(ArchsimInputError, match="unknown field"):
        simulate(_tiny(), "mvq", compression={"sparsity": 0.75})


def test_not_a_trace():
    with pytest.raises(ArchsimInputError, match="must be a compress.trace.Trace"):
        simulate(_tiny(), "mvq", traces={"fc": {"format": "mvq"}})
    assert isinstance(structural_trace(LAYER, WeightFormat.DENSE), Trace)
