"""Issue 4 invariants as hypothesis properties, through mapper -> SimPy engine -> cost model, for both real
mappers in every loop order and with limited or unlimited DRAM: MACs executed = layer MACs; every weight,
input and output byte crosses DRAM at least once; energy is the sum of its parts; nothing is negative;
identical inputs give identical results."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archsim.api import simulate_layer
from archsim.design import load_design
from archsim.mapping.ews import EwsMapper
from archsim.mapping.geometry import Geometry
from archsim.mapping.ws import WsMapper
from workloads.layer import conv2d, linear, matmul

MAPPERS = {"ws": WsMapper, "ews": EwsMapper}

layers = st.one_of(
    st.builds(lambda c, k, hw, kern, s, g: conv2d("c", c * g, k * g, hw + kern, kern, s, kern // 2, groups=g),
              st.integers(1, 48), st.integers(1, 48), st.integers(1, 24), st.sampled_from([1, 3, 5]),
              st.sampled_from([1, 2]), st.sampled_from([1, 1, 2, 4])),
    st.builds(lambda i, o, b: linear("l", i, o, batch=b), st.integers(1, 600), st.integers(1, 300), st.integers(1, 3)),
    st.builds(lambda m, k, n, b: matmul("m", m, k, n, batch=b), st.integers(1, 40), st.integers(1, 80),
              st.integers(1, 80), st.integers(1, 2)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layer=layers, dataflow=st.sampled_from(["ws", "ews"]), order=st.sampled_from(["auto", "NKM", "NMK", "MNK"]),
       size=st.sampled_from([8, 16, 32]), kb=st.sampled_from([8, 64, 256]),
       bw=st.sampled_from([None, 0.5, 4.0, 50.0]))
def test_engine_invariants_in_every_loop_order(tech, layer, dataflow, order, size, kb, bw):
    changes = {"array.rows": size, "array.cols": size, "buffers.input.capacity_bytes": kb * 1024,
               "buffers.output.capacity_bytes": kb * 1024, "dram.unlimited": bw is None}
    if bw is not None:
        changes.update({"dram.bandwidth_gbps": bw, "dram.latency_ns": 80})
    design = load_design(dataflow).with_overrides(**changes)
    mapper = MAPPERS[dataflow](loop_order=order).map_layer
    a = simulate_layer(layer, design, tech=tech, mapper=mapper)
    b = simulate_layer(layer, design, tech=tech, mapper=mapper)

    # identical inputs, identical results
    assert a.counters == b.counters and a.energy.equals(b.energy)
    # MACs executed = layer MACs
    assert a.macs == layer.macs == a.counters.events[("pe_array", "mac")]
    # every weight, input and output byte crosses DRAM at least once
    geo = Geometry.of(layer, design.precision.psum_bits)
    assert a.dram_read_bytes["weight"] >= layer.weight_bytes * (1 - 1e-12)
    assert a.dram_read_bytes["input"] >= geo.needed_input_bytes * (1 - 1e-12)
    assert a.dram_write_bytes["output"] >= layer.output_bytes * (1 - 1e-12)
    assert math.isclose(a.dram_read_bytes.get("psum", 0.0), a.dram_write_bytes.get("psum", 0.0), rel_tol=1e-9)
    # energy is the sum of its parts, each part = count x price
    e = a.energy
    # total = core + DRAM, each an exact fsum of its rows: within one rounding of the fsum of all rows
    assert math.isclose(a.energy_pj, math.fsum(e["energy_pj"]), rel_tol=1e-15)
    assert math.isclose(sum(a.energy_breakdown.values()), a.energy_pj, rel_tol=1e-12)
    assert ((e["energy_pj"] - e["count"] * e["pj_per_event"]).abs() <= 1e-9 * e["energy_pj"].abs().max()).all()
    # nothing negative
    assert (e[["count", "pj_per_event", "energy_pj"]] >= 0).all().all()
    c = a.counters
    assert min(c.cycles, c.busy_cycles, c.dram_busy_cycles, *c.stall_cycles.values(), 0) == 0
    assert all(v >= 0 for v in c.events.values())
    assert all(min(x.read_bytes, x.write_bytes, x.read_accesses, x.write_accesses) >= 0 for x in c.buffers.values())
    # time: never below either bound, and the stall accounting closes
    assert c.cycles == c.busy_cycles + sum(c.stall_cycles.values())
    assert c.busy_cycles == c.ideal_cycles
    if bw is None:
        assert c.cycles == c.ideal_cycles
    else:
        assert c.cycles >= math.ceil(c.dram_bytes / (bw * 1e9 / design.clock_hz) - 1e-9)
