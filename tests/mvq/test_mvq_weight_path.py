"""The weight path is exact: DRAM bits = trace bits, MACs = dense x N/M, gating saves energy not cycles."""

from __future__ import annotations

from fractions import Fraction

import pytest

from archsim.api import compression_traces, simulate
from archsim.design import load_design
from compress.trace import WeightFormat
from mvq_helpers import r18_results, tiny  # noqa: F401  (pytest fixtures)


def test_dram_weight_mask_and_codebook_bits_equal_trace_bits_per_layer(r18_results):
    for name in ("ews-c", "ews-cm", "mvq", "s2ta-w"):
        result, traces = r18_results[name]
        assert traces, name
        for lr in result.layers:
            t = traces[lr.name]
            got = lr.counters.dram_read_bytes
            assert got.get("codebook", 0) == t.codebook_bits / 8, (name, lr.name)
            assert got.get("mask", 0) == t.mask_bits / 8, (name, lr.name)
            assert got["weight"] == (t.code_bits + t.value_bits) / 8, (name, lr.name)
        # the codebook is fetched once per compressed layer, into the codebook store
        n_coded = sum(1 for t in traces.values() if t.format in (WeightFormat.VQ, WeightFormat.MVQ))
        assert (n_coded > 0) == (name != "s2ta-w")
        cb_writes = sum(lr.counters.buffers["codebook"].write_bytes for lr in result.layers) if name != "s2ta-w" else 0
        assert cb_writes == sum(t.codebook_bits for t in traces.values()) / 8


def test_sparse_designs_execute_dense_macs_times_n_over_m_per_layer(r18_results):
    for name in ("mvq", "s2ta-w"):
        result, traces = r18_results[name]
        for lr in result.layers:
            t = traces[lr.name]
            dense = t.layer.macs
            if t.format in (WeightFormat.NM, WeightFormat.MVQ):
                assert lr.macs * t.m == dense * t.n, (name, lr.name)
            else:  # conv1 (excluded by the policy) runs dense on the sparse array
                assert lr.macs == dense, (name, lr.name)
            assert lr.counters.events.get(("pe_array", "gated_mac"), 0) == 0


def test_ews_cm_gates_exactly_the_pruned_macs(r18_results):
    result, traces = r18_results["ews-cm"]
    for lr in result.layers:
        t = traces[lr.name]
        gated = lr.counters.events.get(("pe_array", "gated_mac"), 0)
        if t.format is WeightFormat.MVQ:
            assert lr.macs == Fraction(t.layer.macs * t.n, t.m)
            assert gated == Fraction(t.layer.macs * (t.m - t.n), t.m)
        else:
            assert (lr.macs, gated) == (t.layer.macs, 0)


def test_ews_c_executes_every_mac_and_has_no_mask(r18_results):
    result, traces = r18_results["ews-c"]
    assert result.macs == sum(t.layer.macs for t in traces.values())
    assert result.dram_read_bytes.get("mask", 0) == 0


def test_zero_gating_saves_energy_but_not_cycles(tiny):
    gated = load_design("ews-cm")
    ungated = gated.with_overrides(**{"array.zero_gating": False})
    a, b = simulate(tiny, gated), simulate(tiny, ungated)
    assert a.cycles == b.cycles and a.stalls == b.stalls
    assert a.energy_pj < b.energy_pj
    assert a.macs < b.macs == sum(layer.macs for layer in tiny)


def test_vq_cuts_weight_dram_bytes_by_the_compression_ratio(r18_results):
    ews, _ = r18_results["ews"]
    ewsc, traces = r18_results["ews-c"]
    dense_w = ews.dram_read_bytes["weight"]
    compressed = sum(t.weight_bits_total for t in traces.values()) / 8
    assert ewsc.dram_read_bytes["weight"] + ewsc.dram_read_bytes["codebook"] == pytest.approx(compressed, rel=1e-12)
    assert compressed < dense_w / 5


def test_dense_layers_on_the_sparse_array_run_at_dense_rate(tiny):
    """conv1 is excluded by the policy: on mvq it takes the same compute cycles as on EWS (fallback)."""
    ews = simulate(tiny, "ews").layers[0]
    mvq = simulate(tiny, "mvq", iso="pes").layers[0]   # the preset's 64x64 physical array
    assert mvq.name == "conv1"
    assert mvq.counters.busy_cycles == ews.counters.busy_cycles
    assert mvq.macs == ews.macs
    assert mvq.counters.events[("mux", "mux_select")] == ews.macs   # the static mux still passes data


def test_sparse_fold_timing_closed_form():
    """1x1 conv, K=256 on a 64-row 1:4 array: one fold of 256 logical rows, one kept weight per PE:
    cycles = weight load ceil(64 x 1 / 1) + fill/drain (64 + 64 - 2) + T - 1 (SCALE-Sim's -1)."""
    from archsim.mapping import map_layer
    from compress.trace import structural_trace
    from workloads.layer import conv2d

    layer = conv2d("pw", 256, 64, 8, 1)
    trace = structural_trace(layer, "mvq", n=1, m=4, d=16, k=256)
    design = load_design("mvq").with_overrides(**{"dram.unlimited": True})
    sched = map_layer(layer, design, trace)
    T = 64
    assert sum(t.compute_cycles * t.repeat for t in sched.tiles) == 64 + (64 + 64 - 2) + T - 1
    assert sched.macs == layer.macs // 4
    # the same layer on dense EWS: each PE holds 4 weights, 4 cycles per pixel
    ews = map_layer(layer, load_design("ews").with_overrides(**{"dram.unlimited": True}))
    assert sum(t.compute_cycles * t.repeat for t in ews.tiles) == 4 * 64 + (64 + 64 - 2) + 4 * T - 1


def test_compression_parameters_change_the_traces(tiny):
    design = load_design("mvq")
    default = {t.layer.name: t for t in compression_traces(tiny, design)}
    small_k = {t.layer.name: t for t in compression_traces(tiny, design, {"k": 64})}
    assert default["block.conv"].k == 256 and small_k["block.conv"].k == 64
    r = simulate(tiny, design, compression={"k": 64})
    assert r.dram_read_bytes["codebook"] == sum(t.codebook_bits for t in small_k.values()) / 8
    # plain designs need no traces
    assert compression_traces(tiny, load_design("ews")) is None
