"""Cost model and results: energy is the sum of its parts, nothing negative, results add up."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archsim.api import SimContext, simulate, simulate_layer
from archsim.cost import CATEGORIES, CATEGORY, CostModel
from archsim.design import load_design
from archsim.results import combine
from archsim.schedule import LayerSchedule, Tile
from archsim.sim import simulate_schedule
from sim_helpers import make_design, toy_mapper
from workloads.layer import conv2d, linear
from workloads.network import Network

layers = st.builds(
    lambda cin, cout, hw, k: conv2d("l", cin, cout, hw, k, padding=k // 2),
    st.integers(1, 80), st.integers(1, 80), st.integers(2, 14), st.sampled_from([1, 3]))


def _check_energy(result) -> None:
    e = result.energy
    assert (e["count"] >= 0).all() and (e["pj_per_event"] >= 0).all() and (e["energy_pj"] >= 0).all()
    # total = core + DRAM, each an exact fsum of its rows: within one rounding of the fsum of all rows
    assert result.energy_pj == pytest.approx(math.fsum(e["energy_pj"]), rel=1e-15)
    assert sum(result.energy_breakdown.values()) == pytest.approx(result.energy_pj, rel=1e-12)
    assert sum(result.energy_by_component.values()) == pytest.approx(result.energy_pj, rel=1e-12)
    assert (e["energy_pj"] == e["count"] * e["pj_per_event"]).all()
    assert set(e.index.get_level_values("component")) <= set(CATEGORY)
    assert list(e.index.names) == ["layer", "component", "action"]
    assert e["source"].str.len().min() > 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layer=layers, bw=st.sampled_from([None, 1.0, 50.0]))
def test_energy_sums_nonnegative_deterministic_toy(tech, layer, bw):
    design = make_design(8, 8, bw_gbps=bw, latency_ns=50, unlimited=bw is None)
    a = simulate_layer(layer, design, tech=tech, mapper=toy_mapper)
    b = simulate_layer(layer, design, tech=tech, mapper=toy_mapper)
    _check_energy(a)
    assert a.macs == layer.macs
    assert a.energy.equals(b.energy) and a.counters == b.counters
    assert a.dram_read_bytes["weight"] >= layer.weight_bytes - 1e-6
    assert a.dram_read_bytes["input"] >= layer.input_bytes - 1e-6
    assert a.dram_write_bytes["output"] >= layer.output_bytes - 1e-6


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layer=layers, preset=st.sampled_from(["ws", "ews"]), rows=st.sampled_from([8, 32, 64]),
       unlimited=st.booleans())
def test_real_mappers_properties(tech, layer, preset, rows, unlimited):
    """MACs executed = layer MACs; every weight/input/output byte crosses DRAM at least once (stride 1,
    so every input is touched); energy is the sum of its parts; identical inputs, identical results."""
    design = load_design(preset).with_overrides(**{"array.rows": rows, "array.cols": rows, "dram.unlimited": unlimited})
    a = simulate_layer(layer, design, tech=tech)
    b = simulate_layer(layer, design, tech=tech)
    _check_energy(a)
    assert a.macs == layer.macs == a.dense_macs
    assert a.dram_read_bytes["weight"] >= layer.weight_bytes - 1e-6
    assert a.dram_read_bytes["input"] >= layer.input_bytes - 1e-6
    assert a.dram_write_bytes["output"] >= layer.output_bytes - 1e-6
    assert a.energy.equals(b.energy) and a.counters == b.counters
    assert a.cycles == a.busy_cycles + a.stall_cycles
    if unlimited:
        assert a.stall_cycles == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=st.lists(st.tuples(st.integers(1, 64), st.integers(1, 64), st.integers(2, 12), st.sampled_from([1, 3])),
                       min_size=1, max_size=4),
       bw=st.sampled_from([None, 2.0, 30.0]))
def test_network_is_sum_of_layers(tech, shapes, bw):
    design = make_design(16, 16, bw_gbps=bw, latency_ns=60, unlimited=bw is None)
    net = Network("n", tuple(conv2d(f"l{i}", ci, co, hw, k, padding=k // 2) for i, (ci, co, hw, k) in enumerate(shapes))
                  + (linear("fc", 256, 10),))
    r = simulate(net, design, tech=tech, mapper=toy_mapper)
    singles = [simulate_layer(layer, design, tech=tech, mapper=toy_mapper) for layer in net]
    assert r.cycles == sum(s.cycles for s in singles)
    assert r.macs == sum(s.macs for s in singles) == net.macs
    assert r.energy_pj == pytest.approx(sum(s.energy_pj for s in singles), rel=1e-12)
    assert r.stalls == dict(sorted(combine(singles).stalls.items()))
    summed = singles[0] + singles[1]
    for s in singles[2:]:
        summed = summed + s
    assert summed.cycles == r.cycles and summed.energy_pj == pytest.approx(r.energy_pj, rel=1e-12)
    assert summed.area_um2 == r.area_um2 == singles[0].area_um2  # area is the hardware's, never summed
    for cat in CATEGORIES:
        assert r.energy_breakdown[cat] == pytest.approx(sum(s.energy_breakdown[cat] for s in singles), rel=1e-12)
    assert r.dram_read_bytes["input"] == pytest.approx(sum(s.dram_read_bytes["input"] for s in singles))
    assert len(r.layers_frame()) == len(net)
    assert r.latency_s == pytest.approx(r.cycles / design.clock_hz)


def test_adding_results_of_different_designs_is_refused(tech):
    layer = conv2d("a", 8, 8, 8, 3, padding=1)
    a = simulate_layer(layer, make_design(8, 8), tech=tech, mapper=toy_mapper)
    b = simulate_layer(layer, make_design(16, 16), tech=tech, mapper=toy_mapper)
    with pytest.raises(ValueError, match="different designs"):
        _ = a + b


def test_tops_definitions(tech):
    layer = conv2d("a", 64, 64, 14, 3, padding=1)
    r = simulate_layer(layer, make_design(16, 16), tech=tech, mapper=toy_mapper)
    assert r.tops_per_w() == pytest.approx(2 * layer.macs / r.energy_pj)
    assert r.tops() == pytest.approx(2 * layer.macs / r.latency_s / 1e12)
    assert r.tops_per_mm2() == pytest.approx(r.tops() / (r.area_um2 / 1e6))
    assert r.inferences_per_s == pytest.approx(1 / r.latency_s)
    assert 0 < r.utilisation <= 1


def test_leakage_scales_with_runtime(tech):
    layer = conv2d("a", 64, 64, 14, 3, padding=1)
    fast = simulate_layer(layer, make_design(16, 16, unlimited=True), tech=tech, mapper=toy_mapper)
    slow = simulate_layer(layer, make_design(16, 16, bw_gbps=0.5, latency_ns=100), tech=tech, mapper=toy_mapper)
    lf, ls = fast.energy_breakdown["leakage"], slow.energy_breakdown["leakage"]
    assert slow.cycles > fast.cycles and ls / lf == pytest.approx(slow.cycles / fast.cycles)
    # same traffic and work: dynamic energy identical, only leakage differs
    assert fast.energy_breakdown["MACs"] == slow.energy_breakdown["MACs"]
    assert fast.energy_breakdown["DRAM"] == slow.energy_breakdown["DRAM"]


def test_unpriced_event_is_an_error_not_a_silent_zero(tech):
    design = make_design(4, 4, unlimited=True)
    sched = LayerSchedule("x", (Tile(compute_cycles=10, macs=1, events={("pe_array", "teleport"): 3}),),
                          ideal_cycles=10, pe_used=16, pe_total=16)
    ctx = SimContext(design, tech=tech, mapper=lambda layer, d, trace=None: sched)
    with pytest.raises(ValueError, match="teleport"):
        ctx.cost.energy(simulate_schedule(sched, design, ctx.timing))


def test_area_frame_and_register_files(tech):
    ws, ews = load_design("ws"), load_design("ews")
    a_ws, a_ews = CostModel(ws, tech).area, CostModel(ews, tech).area
    assert list(a_ws.columns) == ["area_um2", "source"] and a_ws.index.name == "component"
    assert (a_ws["area_um2"] > 0).all()
    assert {"weight_rf", "activation_rf", "psum_rf"} <= set(a_ews.index)
    assert not {"weight_rf", "activation_rf", "psum_rf"} & set(a_ws.index)
    assert a_ews["area_um2"].sum() > a_ws["area_um2"].sum()
    assert isinstance(a_ws, pd.DataFrame)


def test_traces_shrink_weight_traffic_and_bad_trace_names_are_input_errors(tech, tmp_path):
    from compress.trace import save_traces, structural_trace
    from workloads.errors import ArchsimInputError

    net = Network("n", (conv2d("a", 64, 64, 14, 3, padding=1), conv2d("b", 64, 128, 14, 3, padding=1)))
    design = load_design("ews-c").with_overrides(**{"array.rows": 32, "array.cols": 32})
    dense = simulate(net, design, tech=tech, traces=[structural_trace(layer, "dense") for layer in net])
    traces = [structural_trace(layer, "vq", d=8, k=256) for layer in net]
    path = save_traces(traces, tmp_path / "t.json")
    vq = simulate(net, design, tech=tech, traces=path)
    assert (vq.dram_read_bytes["weight"] + vq.dram_read_bytes["codebook"]
            == pytest.approx(sum(t.weight_bits_total / 8 for t in traces)))
    assert vq.dram_read_bytes["weight"] < dense.dram_read_bytes["weight"] / 4
    assert vq.energy_breakdown["DRAM"] < dense.energy_breakdown["DRAM"]
    other = structural_trace(conv2d("zzz", 64, 64, 14, 3, padding=1), "vq", d=8, k=256)
    with pytest.raises(ArchsimInputError, match="zzz"):
        simulate(net, design, tech=tech, traces=[other])


def test_progress_bar_does_not_change_results(tech, capsys):
    net = Network("n", (conv2d("a", 16, 16, 8, 3, padding=1), linear("fc", 64, 10)))
    design = make_design(8, 8, bw_gbps=4.0, latency_ns=40)
    quiet = simulate(net, design, tech=tech, mapper=toy_mapper)
    loud = simulate(net, design, tech=tech, mapper=toy_mapper, progress=True)
    assert "n on test" in capsys.readouterr().err
    assert quiet.cycles == loud.cycles and quiet.energy_pj == loud.energy_pj
