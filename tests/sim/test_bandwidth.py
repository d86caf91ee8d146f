"""DRAM bandwidth and buffer size through the real WS/EWS mappers (not the toy): stalls appear and grow as
bandwidth falls, cycles never beat max(compute bound, DRAM bytes / bandwidth), and DRAM traffic grows when
buffers shrink below a layer's working set — in SCALE-Sim's loop order and in the default (auto) one."""

from __future__ import annotations

import math

import pytest

from archsim.api import simulate_layer
from archsim.design import load_design
from archsim.mapping.ews import EwsMapper
from archsim.mapping.ws import WsMapper
from workloads.layer import conv2d, linear

LAYERS = [conv2d("l2", 128, 128, 28, 3, padding=1), conv2d("pw", 256, 512, 14, 1), linear("fc", 1024, 512)]
MAPPERS = {"ws": WsMapper, "ews": EwsMapper}


@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: l.name)
@pytest.mark.parametrize("dataflow", ["ws", "ews"])
def test_stalls_appear_and_grow_as_bandwidth_falls(tech, dataflow, layer):
    base = load_design(dataflow).with_overrides(**{"array.rows": 32, "array.cols": 32, "dram.latency_ns": 100})
    cycles, stalls = [], []
    for gbps in (1000.0, 64.0, 16.0, 4.0, 1.0):
        r = simulate_layer(layer, base.with_overrides(**{"dram.bandwidth_gbps": gbps}), tech=tech)
        per_cycle = gbps * 1e9 / base.clock_hz
        dram = sum(r.dram_read_bytes.values()) + sum(r.dram_write_bytes.values())
        assert r.cycles >= max(r.counters.ideal_cycles, math.ceil(dram / per_cycle - 1e-9))
        assert r.cycles == r.busy_cycles + r.stall_cycles and r.busy_cycles == r.counters.ideal_cycles
        cycles.append(r.cycles)
        stalls.append(r.stall_cycles)
    assert cycles == sorted(cycles) and stalls == sorted(stalls)
    assert stalls[-1] > 10 * max(stalls[0], 1)
    # at 1 GB/s the layer is DRAM bound: within 10 % of bytes / bandwidth (+ one latency)
    assert cycles[-1] <= 1.10 * dram / per_cycle + 100 + 1


@pytest.mark.parametrize("order", ["NKM", "auto"])
@pytest.mark.parametrize("dataflow", ["ws", "ews"])
def test_dram_traffic_and_time_grow_below_the_working_set(tech, dataflow, order):
    """ResNet-18's layer2 conv at 32x32: 256 KB buffers hold its input and psum tile, 8 KB ones do not."""
    layer = conv2d("layer2.1.conv1", 128, 128, 28, 3, padding=1)
    mapper = MAPPERS[dataflow](loop_order=order).map_layer
    big = load_design(dataflow).with_overrides(**{"array.rows": 32, "array.cols": 32})
    small = big.with_overrides(**{"buffers.input.capacity_bytes": 8192, "buffers.output.capacity_bytes": 8192})
    r_big = simulate_layer(layer, big, tech=tech, mapper=mapper)
    r_small = simulate_layer(layer, small, tech=tech, mapper=mapper)
    assert r_big.dram_read_bytes["input"] == layer.input_bytes          # the working set fits: fetched once
    assert sum(r_small.dram_read_bytes.values()) > sum(r_big.dram_read_bytes.values())
    assert r_small.dram_read_bytes["input"] > r_big.dram_read_bytes["input"]
    assert r_small.cycles > r_big.cycles
    assert r_small.energy_breakdown["DRAM"] > r_big.energy_breakdown["DRAM"]
