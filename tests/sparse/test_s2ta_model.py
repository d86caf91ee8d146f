"""The S2TA (activation DBB) and SA-ZVCG (zero gating) timing and cost model: what changes, and by how much.

Each test states the rule from `archsim.mapping.activation_sparsity` it checks; the workload is a small
torch-free network (`s2ta_helpers.small_net`) with unlimited DRAM unless DRAM is the point.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from s2ta_helpers import design, small_net

from archsim.api import compression_traces, simulate
from archsim.cost import CostModel
from archsim.mapping import map_layer
from archsim.mapping.activation_cost import sorter_compare_exchanges
from archsim.mapping.activation_sparsity import plan_activations
from archsim.tech import load_tech_table

NET = small_net()


def _by_layer(result):
    return {lr.name: lr.counters for lr in result.layers}


@pytest.fixture(scope="module")
def runs():
    return {name: _by_layer(simulate(NET, design(name))) for name in ("s2ta-w", "s2ta", "sa-zvcg")}


def test_activation_dbb_scales_macs_and_stream_not_the_rgb_input(runs):
    """Default density 0.5 -> N = 4 of 8: every layer with 8-channel blocks executes exactly half the MACs of
    s2ta-w; conv1 (3 input channels, no block) runs exactly as on s2ta-w, as does its weight side."""
    w, s = runs["s2ta-w"], runs["s2ta"]
    assert s["conv1"].macs == w["conv1"].macs and s["conv1"].cycles == w["conv1"].cycles
    for name in ("b1", "b2", "pw", "fc"):
        assert s[name].macs * 2 == w[name].macs
        assert s[name].cycles < w[name].cycles or name == "fc"        # fc streams one pixel: ceil(1/2) = 1
        assert s[name].events[("mux", "mux_select")] * 2 == w[name].events[("mux", "mux_select")]
        assert s[name].events[("psum_rf", "read_bytes")] == w[name].events[("psum_rf", "read_bytes")]  # hand-offs


def test_dbbizer_prunes_every_produced_tensor_once(runs):
    """Write-back placement: one top-N per block of 8 output channels of each layer (all layers here)."""
    s = runs["s2ta"]
    for layer in NET:
        assert s[layer.name].events[("dbbizer", "block")] == layer.output_elements // 8
    assert ("dbbizer", "block") not in runs["s2ta-w"]["b1"].events


def test_compressed_storage_shrinks_input_traffic_by_values_plus_indices():
    """compressed_storage: input DRAM bytes x N/M x (8 + 3)/8; dense storage: the s2ta-w bytes."""
    w = _by_layer(simulate(NET, design("s2ta-w")))
    packed = _by_layer(simulate(NET, design("s2ta")))
    plain = _by_layer(simulate(NET, design("s2ta", **{"activations.compressed_storage": False})))
    for name in ("b1", "pw"):
        dense = w[name].dram_read_bytes["input"]
        assert packed[name].dram_read_bytes["input"] == pytest.approx(dense * 0.5 * 11 / 8)
        assert plain[name].dram_read_bytes["input"] == dense
        assert plain[name].macs == packed[name].macs
    # read-port placement: the DBB-izer sees every block streamed out of the input buffer
    assert plain["b1"].events[("dbbizer", "block")] == pytest.approx(
        w["b1"].buffers["input_buffer"].read_bytes / 8, abs=1)
    assert ("dbbizer", "block") not in plain["conv1"].events          # its input is streamed dense


def test_a_slow_dbbizer_stalls_the_array():
    one = _by_layer(simulate(NET, design("s2ta", **{"activations.dbbizers": 1})))
    eight = _by_layer(simulate(NET, design("s2ta")))
    assert one["conv1"].cycles >= NET.layers[0].output_elements // 8          # 1 block per cycle
    assert one["conv1"].cycles > eight["conv1"].cycles and one["conv1"].macs == eight["conv1"].macs


def test_sa_zvcg_gates_zero_activations_at_the_same_cycles(runs):
    """SA-ZVCG = the zero-gated dense array: cycles of the same design without activation gating; of the
    weight-kept MACs, density 0.5 execute and the rest are gated; slots are conserved."""
    base = _by_layer(simulate(NET, design("sa-zvcg", **{"activations.sparsity": "none",
                                                        "dataflow": "ews_compressed"})))
    z = runs["sa-zvcg"]
    for layer in NET:
        a, b = z[layer.name], base[layer.name]
        assert a.cycles == b.cycles
        assert a.macs == round(b.macs * Fraction(1, 2))
        assert a.macs + a.events.get(("pe_array", "gated_mac"), 0) == b.macs + b.events.get(("pe_array",
                                                                                              "gated_mac"), 0)
        assert a.events[("activation_rf", "read_bytes")] == pytest.approx(b.events[("activation_rf", "read_bytes")]
                                                                          / 2)


def test_area_has_the_dbbizer_and_the_activation_index_only_on_s2ta():
    tech = load_tech_table("40nm")
    s2ta, s2ta_w, zvcg = (CostModel(design(n), tech).area for n in ("s2ta", "s2ta-w", "sa-zvcg"))
    assert {"dbbizer", "activation_index"} <= set(s2ta.index)
    assert not {"dbbizer", "activation_index"} & (set(s2ta_w.index) | set(zvcg.index))
    # 8 units x 19 compare-exchanges (8-input odd-even merge sort) of an 8-b comparator and two 11-b mux2
    per_cx = tech.adder_area(8).value + 2 * tech.mux_area(2, 11).value
    assert s2ta.loc["dbbizer", "area_um2"] == pytest.approx(8 * 19 * per_cx)


def test_energy_rows_price_the_new_units(runs):
    r = simulate(NET, design("s2ta"))
    rows = r.energy.xs("dbbizer", level="component")
    tech = load_tech_table("40nm")
    per_block = 19 * (tech.adder(8).value + 2 * tech.mux(2, 11).value)
    assert rows["pj_per_event"].iloc[0] == pytest.approx(per_block)
    assert r.energy.xs("activation_index", level="component")["energy_pj"].sum() > 0


def test_index_storage_is_declared():
    layer = NET.layers[1]
    trace = {t.layer.name: t for t in compression_traces(NET, design("s2ta"))}[layer.name]
    sched = map_layer(layer, design("s2ta"), trace)
    store = sched.storage_bits_per_pe
    assert store["activation_index"] == store["activation_rf"] // 8 * 3


def test_sorting_network_sizes():
    assert [sorter_compare_exchanges(m) for m in (2, 4, 8, 16, 32)] == [1, 5, 19, 63, 191]
    assert sorter_compare_exchanges(6) == sorter_compare_exchanges(8)


@settings(max_examples=40)
@given(st.floats(min_value=0.01, max_value=1.0))
def test_n_is_the_smallest_bound_the_density_fits(density):
    layer = NET.layers[1]
    trace = {t.layer.name: t for t in compression_traces(NET, design("s2ta"))}[layer.name]
    plan = plan_activations(layer, design("s2ta"), dataclasses.replace(trace, act_density=density))
    n = plan.n if plan.mode == "dbb" else 8
    assert n / 8 >= density - 1e-9 and (n - 1) / 8 < density
    assert n == max(1, math.ceil(density * 8 - 1e-9))


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=8))
def test_more_kept_activations_never_cost_fewer_macs_or_cycles(n1, n2):
    layer = NET.layers[2]
    trace = {t.layer.name: t for t in compression_traces(NET, design("s2ta"))}[layer.name]
    lo, hi = sorted((n1, n2))
    a, b = (map_layer(layer, design("s2ta"), dataclasses.replace(trace, act_dbb_n=n, act_dbb_m=8))
            for n in (lo, hi))
    assert a.macs * hi == b.macs * lo
    assert a.ideal_cycles <= b.ideal_cycles


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 5)), min_size=1, max_size=6), st.fractions(0, 1))
def test_apportion_is_exact_and_never_exceeds_a_tile(tiles_spec, frac):
    """The integer split behind every scaled count: sums exactly to the total, no repetition above its share's
    ceiling (so clock-gated MACs never go negative: the MobileNetV2 depthwise case that once did)."""
    from archsim.mapping.activation_sparsity import apportion
    from archsim.schedule import Tile

    tiles = [Tile(compute_cycles=1, macs=m, repeat=r) for m, r in tiles_spec]
    weights = [Fraction(t.macs) for t in tiles]
    total = round(sum(w * t.repeat for w, t in zip(weights, tiles)) * frac)
    out = apportion(tiles, weights, total, lambda t, c: dataclasses.replace(t, compute_cycles=c + 1))
    assert sum((t.compute_cycles - 1) * t.repeat for t in out) == total
    assert sum(t.repeat for t in out) == sum(t.repeat for t in tiles)
    assert all(t.compute_cycles - 1 <= t.macs for t in out)


def test_depthwise_layers_on_sa_zvcg():
    from workloads.layer import conv2d
    from workloads.network import Network

    net = Network(name="dw", layers=(conv2d("dw", 96, 96, 14, 3, padding=1, groups=96),), input_shape=(1, 96, 14, 14))
    c = simulate(net, design("sa-zvcg")).layers[0].counters
    assert c.events.get(("pe_array", "gated_mac"), 0) >= 0 and c.macs == round(net.layers[0].macs * Fraction(1, 2))
