"""With unlimited DRAM and buffers that hold a fold, dense WS cycles per layer equal SCALE-Sim v3's
closed form folds·(2·rows + cols + T − 2) − 1 (reference/peers.md §3.6) — through the real WS mapper,
the SimPy engine and the API, for every layer of ResNet-18 and ResNet-50 at 32x32 and 128x128."""

from __future__ import annotations

import pytest

from archsim.api import simulate
from archsim.design import load_design
from toymapper import scalesim_ws_cycles
from workloads.zoo import get_network

BIG = 16 * 1024 * 1024


@pytest.mark.parametrize("net", ["resnet18", "resnet50"])
@pytest.mark.parametrize("size", [32, 128])
def test_ws_matches_scalesim_closed_form(tech, net, size):
    design = load_design("ws").with_overrides(**{
        "array.rows": size, "array.cols": size, "dram.unlimited": True,
        "buffers.weight.capacity_bytes": BIG, "buffers.input.capacity_bytes": BIG,
        "buffers.output.capacity_bytes": BIG})
    network = get_network(net)
    result = simulate(network, design, tech=tech)
    assert len(result.layers) == len(network)
    for layer, lr in zip(network, result.layers):
        assert lr.cycles == scalesim_ws_cycles(layer, size, size), layer.name
        assert lr.stall_cycles == 0 and lr.macs == layer.macs
    assert result.cycles == sum(scalesim_ws_cycles(layer, size, size) for layer in network)


def test_limited_bandwidth_never_beats_either_bound(tech):
    """Through the real mapper: cycles >= max(compute bound, DRAM bytes / bandwidth) for every layer."""
    design = load_design("ws").with_overrides(**{"array.rows": 32, "array.cols": 32})
    result = simulate("resnet18", design, tech=tech)
    bw = design.dram.bandwidth_gbps or tech.dram_kind(design.dram.kind).bandwidth_bytes_per_s / 1e9
    per_cycle = bw * 1e9 / design.clock_hz
    for lr in result.layers:
        dram = sum(lr.dram_read_bytes.values()) + sum(lr.dram_write_bytes.values())
        assert lr.cycles >= max(lr.busy_cycles, dram / per_cycle)
        assert lr.cycles == lr.busy_cycles + lr.stall_cycles


def test_dram_traffic_grows_when_buffers_shrink_below_working_set(tech):
    """ResNet-18's layer2 conv: a 256 KB input buffer holds its input, a 4 KB one does not; the
    small buffer re-fetches, and the extra traffic shows up as stalls."""
    network = get_network("resnet18")
    layer = network["layer2.1.conv1"]
    base = load_design("ws").with_overrides(**{"array.rows": 32, "array.cols": 32})
    big = simulate(_single(layer), base, tech=tech)
    small = simulate(_single(layer), base.with_overrides(**{"buffers.input.capacity_bytes": 4096}), tech=tech)
    assert small.dram_read_bytes["input"] > big.dram_read_bytes["input"] >= layer.input_bytes
    assert small.cycles > big.cycles
    assert small.energy_breakdown["DRAM"] > big.energy_breakdown["DRAM"]


def _single(layer):
    from workloads.network import Network

    return Network("one", (layer,))
