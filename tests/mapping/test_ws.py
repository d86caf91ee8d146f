"""WS mapper: SCALE-Sim's closed form exactly, conservation of MACs and bytes, buffer-size monotonicity."""

from __future__ import annotations


import pytest
from hypothesis import given, settings, strategies as st

from archsim.mapping import get_mapper, known_dataflows, map_layer
from archsim.mapping.geometry import Geometry
from archsim.mapping.ws import WsMapper, closed_form_cycles
from mapping_helpers import design_for, dram_by_operand, event_total, resnet_layers
from workloads.errors import ArchsimInputError
from workloads.layer import conv2d, linear, matmul


NKM = WsMapper(loop_order="NKM")          # SCALE-Sim's loop order, forced
BIG = 16 * 1024 * 1024
BIG_BUFFERS = {f"buffers.{b}.capacity_bytes": BIG for b in ("weight", "input", "output")}


@pytest.mark.parametrize("net", ["resnet18", "resnet50"])
@pytest.mark.parametrize("size", [32, 128])
def test_ws_compute_cycles_equal_scalesim_closed_form(net, size):
    """SCALE-Sim's order (NKM) gives the closed form whatever the buffers; with buffers that hold
    everything the auto order is NKM, so the default mapper gives it too."""
    preset = design_for("ws", size, size)
    roomy = design_for("ws", size, size, **BIG_BUFFERS)
    for layer in resnet_layers(net):
        expect = closed_form_cycles(layer, size, size)
        sched = NKM.map_layer(layer, preset)
        assert sched.ideal_cycles == sum(t.compute_cycles * t.repeat for t in sched.tiles) == expect, layer.name
        assert map_layer(layer, roomy).ideal_cycles == expect, layer.name


def test_closed_form_matches_scalesim_reference_point():
    """peers.md §3.6: padded conv2_1 (58x58 input, 3x3, 64->64) on 32x32 -> 116,279 cycles in SCALE-Sim."""
    layer = conv2d("conv2_1", 64, 64, 58, 3)
    assert closed_form_cycles(layer, 32, 32) == 116_279
    assert NKM.map_layer(layer, design_for("ws", 32, 32)).ideal_cycles == 116_279
    assert map_layer(layer, design_for("ws", 32, 32, **BIG_BUFFERS)).ideal_cycles == 116_279


def test_splitting_a_fold_into_chunks_keeps_cycles_exact():
    layer = conv2d("big", 256, 256, 56, 3, padding=1)
    small = design_for("ws", 32, 32, **{"buffers.input.capacity_bytes": 16 * 1024})
    sched = NKM.map_layer(layer, small)
    assert len(sched.tiles) > len(NKM.map_layer(layer, design_for("ws", 32, 32)).tiles)
    assert sched.ideal_cycles == closed_form_cycles(layer, 32, 32)


layers_st = st.one_of(
    st.builds(lambda c, k, hw, kern, s, p, g, b: conv2d("c", c * g, k * g, hw + kern, kern, s, p, groups=g, batch=b),
              st.integers(1, 40), st.integers(1, 40), st.integers(1, 12), st.integers(1, 5), st.integers(1, 3),
              st.integers(0, 2), st.sampled_from([1, 1, 2, 3]), st.integers(1, 2)),
    st.builds(lambda i, o, r, b: linear("l", i, o, rows=r, batch=b), st.integers(1, 300), st.integers(1, 300),
              st.integers(1, 8), st.integers(1, 3)),
    st.builds(lambda m, k, n, b: matmul("m", m, k, n, batch=b), st.integers(1, 40), st.integers(1, 100),
              st.integers(1, 100), st.integers(1, 3)),
)


ORDERS = ("NKM", "NMK", "MNK")


@settings(max_examples=60, deadline=None)
@given(layer=layers_st, rows=st.integers(1, 70), cols=st.integers(1, 70), dataflow=st.sampled_from(["ws", "ews"]),
       in_kb=st.sampled_from([4, 32, 256]), out_kb=st.sampled_from([1, 16, 256]))
def test_macs_and_dram_bytes_are_conserved_in_every_loop_order(layer, rows, cols, dataflow, in_kb, out_kb):
    design = design_for(dataflow, rows, cols, **{"buffers.input.capacity_bytes": in_kb * 1024,
                                                 "buffers.output.capacity_bytes": out_kb * 1024})
    mapper = get_mapper(dataflow)
    try:
        scheds = {o: type(mapper)(loop_order=o).map_layer(layer, design) for o in ("auto",) + ORDERS}
    except ArchsimInputError as err:        # legitimate only for a tiny buffer that cannot hold one line
        assert in_kb < 256 and "buffers.input.capacity_bytes" in str(err)
        return
    geo = Geometry.of(layer, design.precision.psum_bits)
    for order, sched in scheds.items():
        assert sched.macs == layer.macs
        assert event_total(sched, ("pe_array", "mac")) == layer.macs
        assert min(t.compute_cycles for t in sched.tiles) >= 0
        assert all(v >= 0 for t in sched.tiles for v in t.events.values())
        moved = dram_by_operand(sched)
        assert moved["load_weight"] >= layer.weight_bytes * (1 - 1e-12)   # reloads allowed, losses not
        assert moved.get("load_input", 0.0) >= geo.needed_input_bytes - 1e-9
        assert moved["store_output"] == pytest.approx(layer.output_bytes)
        assert moved.get("load_psum", 0.0) == pytest.approx(moved.get("store_psum", 0.0))
        if dataflow == "ws":                 # splitting M re-pays fixed costs, never saves cycles
            assert sched.ideal_cycles >= closed_form_cycles(layer, rows, cols)
    assert dram_by_operand(scheds["NKM"])["load_weight"] == pytest.approx(layer.weight_bytes)  # each weight once
    if dataflow == "ws":
        assert scheds["NKM"].ideal_cycles == closed_form_cycles(layer, rows, cols)
    # auto is the least-DRAM order, and it is one of the orders
    best = min(scheds[o].dram_bytes for o in ORDERS)
    assert scheds["auto"].dram_bytes == best
    assert any(scheds["auto"].tiles == scheds[o].tiles for o in ORDERS)


def test_needed_input_is_the_whole_input_unless_the_stride_skips_pixels():
    for layer in resnet_layers("resnet18"):
        geo = Geometry.of(layer, 32)
        skips = layer.kernel_h < layer.stride_h
        assert (geo.needed_input_bytes < layer.input_bytes) == skips, layer.name
    ds = conv2d("ds", 64, 128, 56, 1, stride=2)
    assert Geometry.of(ds, 32).needed_input_bytes == 64 * 28 * 28


@pytest.mark.parametrize("order", ["auto", *ORDERS])
@pytest.mark.parametrize("dataflow", ["ws", "ews"])
@pytest.mark.parametrize("layer", [conv2d("l1", 64, 64, 56, 3, padding=1), conv2d("s2", 128, 256, 28, 3, 2, 1),
                                   conv2d("pw", 256, 64, 56, 1), linear("fc", 2048, 1000, rows=64)],
                         ids=lambda l: l.name)
def test_dram_traffic_never_shrinks_as_buffers_shrink(dataflow, layer, order):
    mapper = type(get_mapper(dataflow))(loop_order=order)
    def traffic(kb):
        return mapper.map_layer(layer, design_for(dataflow, 32, 32, **{"buffers.input.capacity_bytes": kb * 1024,
                                                                         "buffers.output.capacity_bytes": kb * 1024}))
    previous = None
    for kb in (4096, 1024, 512, 256, 128, 96, 64, 48, 40, 32):   # >= one line of the widest fold slab
        sched = traffic(kb)
        if previous is not None:
            assert sched.dram_bytes >= previous - 1e-6, kb
        previous = sched.dram_bytes
    if order == "NKM":
        assert previous > traffic(4096).dram_bytes          # below the working set, traffic did grow


def test_input_fetched_once_when_resident_per_column_fold_in_nkm_and_per_chunk_in_mnk():
    layer = conv2d("l", 64, 256, 28, 3, padding=1)          # 50 KB input, 8 column folds on 32 columns
    fits = dram_by_operand(map_layer(layer, design_for("ws", 32, 32)))
    assert fits["load_input"] == layer.input_bytes
    tight_design = design_for("ws", 32, 32, **{"buffers.input.capacity_bytes": 64 * 1024})
    tight = dram_by_operand(NKM.map_layer(layer, tight_design))
    assert tight["load_input"] >= 8 * layer.input_bytes
    mnk = WsMapper(loop_order="MNK").map_layer(layer, tight_design)
    assert layer.input_bytes < dram_by_operand(mnk)["load_input"] < 1.5 * layer.input_bytes   # once + halo rows
    auto = map_layer(layer, tight_design)
    assert auto.dram_bytes <= mnk.dram_bytes and "(auto)" in auto.notes


def test_psums_spill_only_when_the_output_tile_does_not_fit_and_auto_avoids_the_spill():
    layer = conv2d("l", 256, 64, 56, 3, padding=1)          # 3136 px x 32 cols x 4 B = 401 KB output tile
    roomy = dram_by_operand(map_layer(layer, design_for("ws", 32, 32, **{"buffers.output.capacity_bytes": 1 << 20})))
    assert "load_psum" not in roomy
    preset = design_for("ws", 32, 32)                       # 128 KB output half
    nkm = NKM.map_layer(layer, preset)
    tight = dram_by_operand(nkm)
    assert tight["store_psum"] > 0 and tight["load_psum"] == pytest.approx(tight["store_psum"])
    # the default (auto) completes each m-chunk's reduction on chip: no spill, far less DRAM traffic
    auto = map_layer(layer, preset)
    moved = dram_by_operand(auto)
    assert "load_psum" not in moved and "store_psum" not in moved
    assert auto.dram_bytes < nkm.dram_bytes / 20
    # NMK, psum tile kept on chip: 401 KB / 128 KB -> 4 m-chunks; each fold's fixed cost is paid per chunk and the
    # column fold's weights (72 KB > 64 KB weight half) are re-fetched per chunk
    nmk = WsMapper(loop_order="NMK").map_layer(layer, preset)
    folds = (256 * 9 // 32) * (64 // 32)
    assert nmk.ideal_cycles == nkm.ideal_cycles + 3 * folds * (2 * 32 + 32 - 2)
    assert dram_by_operand(nmk)["load_weight"] == pytest.approx(4 * layer.weight_bytes)
    # with a weight buffer that holds the column fold, NMK fetches each weight once
    roomy_w = WsMapper(loop_order="NMK").map_layer(layer, design_for("ws", 32, 32, **{
        "buffers.weight.capacity_bytes": 256 * 1024}))
    assert dram_by_operand(roomy_w)["load_weight"] == pytest.approx(layer.weight_bytes)
    assert auto.ideal_cycles >= nkm.ideal_cycles


def test_unknown_loop_order_is_an_input_error():
    with pytest.raises(ArchsimInputError, match="loop order 'KMN'.*auto, NKM, NMK, MNK"):
        WsMapper(loop_order="KMN").map_layer(conv2d("c", 8, 8, 8, 3), design_for("ws", 8, 8))
    assert WsMapper(loop_order="nmk").map_layer(conv2d("c", 8, 8, 8, 3), design_for("ws", 8, 8)).notes.startswith(
        "ws NMK:")


def test_ws_event_counts_on_a_small_layer():
    layer = conv2d("t", 4, 6, 5, 3)                          # K=36, N=6, T=9
    sched = map_layer(layer, design_for("ws", 16, 4))        # 3 row folds (16,16,4) x 2 col folds (4,2)
    assert event_total(sched, ("input_buffer", "read_bytes")) == 2 * 9 * 36
    assert event_total(sched, ("weight_buffer", "read_bytes")) == 36 * 6
    assert event_total(sched, ("output_buffer", "read_bytes")) == 2 * 9 * 6 * 4     # 2 RMW row folds, 32-bit
    assert event_total(sched, ("output_buffer", "write_bytes")) == 2 * 9 * 6 * 4 + 9 * 6
    assert event_total(sched, ("activation_rf", "write_bytes")) == layer.macs
    assert sched.pe_used == 16 * 4 and sched.pe_total == 64


def test_depthwise_runs_one_group_at_a_time():
    layer = conv2d("dw", 32, 32, 56, 3, padding=1, groups=32)
    sched = map_layer(layer, design_for("ws", 64, 64))
    assert sched.pe_used == 9
    assert sched.ideal_cycles == 32 * (2 * 64 + 64 + 56 * 56 - 2) - 1


def test_registry_and_errors():
    assert {"ws", "ews"} <= set(known_dataflows())
    assert get_mapper("WS").name == "ws"
    with pytest.raises(ArchsimInputError, match="known: .*ews.*ws"):
        get_mapper("rowstationary")
    with pytest.raises(ArchsimInputError, match="input.capacity_bytes"):
        map_layer(conv2d("wide", 64, 64, (4, 4096), 3, padding=1),
                  design_for("ws", 64, 64, **{"buffers.input.capacity_bytes": 4096}))
    with pytest.raises(ArchsimInputError, match="weight.capacity_bytes"):
        map_layer(conv2d("c", 64, 64, 8, 3), design_for("ws", 512, 512, **{"buffers.weight.capacity_bytes": 4096}))


def test_trace_sets_dram_weight_bytes():
    from compress.trace import structural_trace

    layer = conv2d("c", 64, 128, 28, 3, padding=1)
    trace = structural_trace(layer, "vq", d=8, k=256)
    moved = dram_by_operand(map_layer(layer, design_for("ws", 32, 32), trace))
    assert moved["load_weight"] == pytest.approx(trace.weight_bits_total / 8)
    dense = structural_trace(layer, "dense")
    assert map_layer(layer, design_for("ws", 32, 32), dense) == map_layer(layer, design_for("ws", 32, 32))
    with pytest.raises(ArchsimInputError, match="trace"):
        map_layer(conv2d("other", 3, 8, 8, 3), design_for("ws", 32, 32), trace)


@pytest.mark.parametrize("dataflow", ["ws", "ews"])
def test_schedules_are_deterministic(dataflow):
    design = design_for(dataflow, 32, 32)
    layers = resnet_layers("resnet50")
    first = [map_layer(layer, design) for layer in layers]
    assert first == [map_layer(layer, design) for layer in layers]
