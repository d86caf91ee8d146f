"""The SparTen timing model: exact relations of its schedule, load balancing, DRAM bytes, area and pricing."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from archsim.api import SimContext, simulate
from archsim.cost import CostModel
from archsim.mapping import map_layer
from archsim.mapping.sparten import setup_layer
from archsim.tech import load_tech_table
from compress.trace import structural_trace
from workloads.network import Network
from sparten_helpers import conv, linear, small_design, total_cycles, total_events


def _trace(layer, density=0.3, act=0.5, filter_density=None):
    t = structural_trace(layer, "sparse", density=density)
    return dataclasses.replace(t, act_density=act, filter_density=filter_density)


@pytest.mark.parametrize("layer", [conv(), conv(stride=2, hw=7, cout=11), conv(cin=8, cout=8, groups=4),
                                   linear(), linear(batch=3, cout=30)])
def test_macs_and_joins_follow_the_geometry_exactly(layer):
    """MACs = a x kept weights met by in-bounds pixels (rounded per tile); joins = filters x in-bounds chunks."""
    d = small_design()
    tr = _trace(layer)
    sched = map_layer(layer, d, tr)
    s = setup_layer(layer, d, tr)
    live = s.inb[:, s.chunks.tap].astype(float)                                  # [P, chunks]
    expect = 0.5 * (live.sum(axis=0) * s.kept_chunk.sum(axis=0)).sum()
    n_tiles = sum(t.repeat for t in sched.tiles)
    assert abs(sched.macs - expect) <= 0.5 * n_tiles
    ev = total_events(sched)
    assert ev[("sparten_join", "join")] == pytest.approx(layer.out_channels * live.sum())
    assert ev[("sparten_join", "select")] == sched.macs == ev[("pe_array", "mac")]
    assert ev[("sparten_encoder", "encode")] == pytest.approx(layer.out_channels * s.pixels.pixels)


def test_dense_activations_and_weights_give_exact_cycles():
    """a = 1, dense weights, 1 multiplier, no padding: each chunk step is (busiest block's pixels) x L."""
    layer = conv(k=1, pad=0, cin=20, cout=4, hw=4)
    d = small_design()
    tr = dataclasses.replace(structural_trace(layer, "dense"), act_density=1.0)
    s = setup_layer(layer, d, tr)
    sched = map_layer(layer, d, tr)
    port = d.buffers.weight.port_bits / 8
    expect = 0
    for i in range(s.pixels.passes):
        step = s.most[i, 0] * s.chunks.length
        load = 4 * (s.chunks.length / 8 + s.chunks.length) / port
        expect += math.ceil(np.maximum(step, load).sum() - 1e-9)
    assert total_cycles(sched) == expect
    assert sched.macs == layer.macs


def test_weight_dram_bytes_are_the_bitmap_plus_kept_values():
    layer = conv(cin=32, cout=8)
    d = small_design()
    tr = _trace(layer, density=0.25)
    res = SimContext(d).layer_result(layer, tr)
    assert res.counters.dram_read_bytes["weight"] == pytest.approx((tr.mask_bits + tr.value_bits) / 8)


def test_greedy_balancing_never_slows_and_helps_uneven_filters():
    layer = conv(cin=32, cout=16, hw=8)
    spread = tuple(np.linspace(0.05, 0.6, 16)[np.random.default_rng(1).permutation(16)])
    tr = _trace(layer, density=float(np.mean(spread)), filter_density=spread)
    on = total_cycles(map_layer(layer, small_design(), tr))
    off = total_cycles(map_layer(layer, small_design(**{"sparten.greedy_balancing": False}), tr))
    assert on < off
    uniform = _trace(layer, density=0.3, filter_density=(0.3,) * 16)
    a = total_cycles(map_layer(layer, small_design(), uniform))
    b = total_cycles(map_layer(layer, small_design(**{"sparten.greedy_balancing": False}), uniform))
    assert a <= b * 1.05


def test_sparser_activations_run_faster_and_spend_less():
    layer = conv(cin=64, cout=8, hw=6)
    d = small_design()
    slow = total_cycles(map_layer(layer, d, _trace(layer, act=0.9)))
    fast = total_cycles(map_layer(layer, d, _trace(layer, act=0.2)))
    assert fast < slow


def test_declared_pe_storage_fits_the_area_model():
    d = small_design()
    sched = map_layer(conv(), d, _trace(conv()))
    cap = CostModel(d, load_tech_table(d.tech)).storage_capacity_bits()
    for comp, bits in sched.storage_bits_per_pe.items():
        assert cap[comp][1] >= bits, comp


def test_area_has_the_join_units_and_every_event_has_a_price():
    d = small_design()
    net = Network("tiny", (conv(name="a"), conv(name="b", cin=6, cout=5), linear(name="fc", cin=5 * 36, cout=3)))
    res = simulate(net, d, traces=None)
    area = res.area["area_um2"]
    for comp in ("sparten_join", "sparten_act_chunk", "sparten_encoder", "weight_rf", "psum_rf"):
        assert area[comp] > 0
    e = res.layers[1].energy
    priced = e.reset_index().set_index(["component", "action"])["pj_per_event"]
    assert priced[("sparten_join", "join")] > 0 and priced[("sparten_join", "select")] > 0
    assert priced[("sparten_encoder", "encode")] > 0


def test_structural_traces_from_the_design_weights():
    """weights.format sparse -> every layer but the first conv pruned to weights.density."""
    d = small_design(**{"weights.density": 0.4})
    net = Network("tiny", (conv(name="a", cin=3), conv(name="b", cin=6, cout=5)))
    res = simulate(net, d)
    first, second = res.layers
    assert "dense weights" in SimContext(d).mapper(net.layers[0], d, None).notes
    assert second.counters.dram_read_bytes["weight"] == pytest.approx(
        (5 * 6 * 9 + round(5 * 6 * 9 * 0.4) * 8) / 8)
    assert first.counters.macs > 0
