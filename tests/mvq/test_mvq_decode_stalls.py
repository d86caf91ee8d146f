"""Decode throughput is bounded by the codebook read ports; it overlaps compute and stalls it when short."""

from __future__ import annotations

from archsim.api import simulate
from archsim.design import load_design
from archsim.mapping import map_layer
from archsim.sim import decode_cycles
from compress.trace import structural_trace
from workloads.layer import conv2d
from workloads.network import Network


def _net() -> Network:
    # late-ResNet-like layers: few pixels per fold, so decode competes with a short compute
    return Network(name="late", layers=(conv2d("a", 256, 256, 7, 3, padding=1), conv2d("b", 256, 256, 7, 3, padding=1)))


def _run(design_name: str, ports: int, decoders: int = 4096):
    design = load_design(design_name).with_overrides(**{"buffers.codebook.read_ports": ports,
                                                        "decoder.mask_decoders": decoders,
                                                        "dram.unlimited": True})
    return simulate(_net(), design)


def _max_tile_decode(design_name: str, ports: int) -> int:
    design = load_design(design_name).with_overrides(**{"buffers.codebook.read_ports": ports,
                                                        "decoder.mask_decoders": 4096})
    layer = _net().layers[0]
    sched = map_layer(layer, design, structural_trace(layer, "mvq", n=1, m=4, d=16, k=256))
    return max(decode_cycles(t, ports, 4096) for t in sched.tiles)


def test_too_few_read_ports_stall_the_array_on_decode():
    few = _run("mvq", ports=1)
    many = _run("mvq", ports=256)
    assert few.stalls.get("decode", 0) > 10 * max(1, many.stalls.get("decode", 0))
    assert few.cycles > many.cycles
    assert few.busy_cycles == many.busy_cycles          # decode never changes the array's own work


def test_enough_read_ports_leave_only_the_prologue_decode():
    """With enough ports, decoding the next fold hides under the current fold's compute: what is
    left is at most the first fold's decode per layer (decoding starts once its codes arrived)."""
    r = _run("mvq", ports=256)
    per_layer_first = _max_tile_decode("mvq", 256)
    for lr in r.layers:
        assert lr.counters.stall_cycles.get("decode", 0) <= per_layer_first


def test_decode_stall_disappears_monotonically_as_ports_grow():
    stalls = [_run("ews-cm", p).stalls.get("decode", 0) for p in (1, 2, 4, 64)]
    assert stalls == sorted(stalls, reverse=True) and stalls[0] > stalls[-1]


def test_mask_decoders_also_bound_decode():
    few = _run("mvq", ports=256, decoders=1)
    many = _run("mvq", ports=256, decoders=4096)
    assert few.stalls.get("decode", 0) > many.stalls.get("decode", 0)


def test_s2ta_index_masks_need_no_decode():
    r = simulate(_net(), load_design("s2ta-w").with_overrides(**{"dram.unlimited": True}))
    assert r.stalls.get("decode", 0) == 0
    assert ("decoder", "decode") not in r.layers[0].counters.events


def test_weight_decoder_service_time_is_the_slower_of_ports_and_lzc_units():
    from archsim.schedule import Tile

    tile = Tile(compute_cycles=10, macs=0, events={("codebook", "lookup"): 100, ("decoder", "decode"): 30})
    assert decode_cycles(tile, 4, 16) == 25          # 100 lookups / 4 ports
    assert decode_cycles(tile, 64, 3) == 10          # 30 groups / 3 LZC units
    assert decode_cycles(Tile(compute_cycles=1, macs=0, decode_cycles=7), None, 1) == 7
