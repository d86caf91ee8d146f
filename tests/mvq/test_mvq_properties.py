"""Hypothesis properties of the compressed-weight designs: energy adds up, MACs are conserved,
cycles never beat the roofline (compute, DRAM bandwidth, decode)."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archsim.api import SimContext, compression_traces, simulate
from archsim.design import load_design
from compress.trace import WeightFormat
from workloads.layer import conv2d, linear
from workloads.network import Network

LADDER = ("ews-c", "ews-cm", "mvq", "s2ta-w")


@st.composite
def networks(draw):
    layers = []
    for i in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            k = draw(st.sampled_from([1, 3]))
            layers.append(conv2d(f"c{i}", 16 * draw(st.integers(1, 6)), draw(st.integers(4, 80)),
                                 draw(st.integers(3, 12)), k, stride=draw(st.sampled_from([1, 2])), padding=k // 2))
        else:
            layers.append(linear(f"l{i}", 16 * draw(st.integers(1, 12)), draw(st.integers(4, 100))))
    return Network(name="h", layers=tuple(layers))


@st.composite
def designs(draw):
    name = draw(st.sampled_from(LADDER))
    size = draw(st.sampled_from([8, 16, 32, 64]))
    over = {"array.rows": size, "array.cols": draw(st.sampled_from([8, 16, 64]))}
    if name != "s2ta-w":
        over["buffers.codebook.read_ports"] = draw(st.sampled_from([1, 4, 16]))
    bw = draw(st.sampled_from([None, 2.0, 50.0]))
    if bw is not None:
        over["dram.bandwidth_gbps"] = bw
    return load_design(name).with_overrides(**over)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(), design=designs())
def test_energy_macs_and_roofline(net, design):
    ctx = SimContext(design)
    traces = {t.layer.name: t for t in compression_traces(net, design)}
    result = simulate(net, design, context=ctx, traces=list(traces.values()))

    # energy = sum of its parts, at every level
    e = result.energy
    assert all(math.isclose(r.count * r.pj_per_event, r.energy_pj, rel_tol=1e-12, abs_tol=1e-9)
               for r in e.itertuples())
    assert math.isclose(sum(result.energy_breakdown.values()), result.energy_pj, rel_tol=1e-9)
    assert math.isclose(math.fsum(lr.energy_pj for lr in result.layers), result.energy_pj, rel_tol=1e-9)
    assert (e["energy_pj"] >= 0).all()

    bpc = ctx.timing.bytes_per_cycle
    arr = design.array
    for lr in result.layers:
        t, c = traces[lr.name], lr.counters
        dense = t.layer.macs
        gated = c.events.get(("pe_array", "gated_mac"), 0)
        masked = t.format in (WeightFormat.NM, WeightFormat.MVQ)
        # MACs conserved: executed = dense x density on designs that skip or gate zeros, else dense
        skips = masked and (arr.pe == "nm_sparse" or arr.zero_gating)
        assert lr.macs == (dense * Fraction(t.n, t.m) if skips else dense)
        slots = dense * Fraction(arr.sparse_n, arr.sparse_m) if (masked and arr.pe == "nm_sparse") else dense
        assert lr.macs + gated == (slots if skips else dense)
        # roofline: compute, DRAM bandwidth and decode are lower bounds on cycles
        assert c.cycles == c.busy_cycles + sum(c.stall_cycles.values())
        assert c.cycles >= c.ideal_cycles == c.busy_cycles
        assert c.cycles >= c.decode_busy_cycles
        assert c.cycles >= math.floor(c.dram_bytes / bpc)
        assert lr.utilisation <= 1.0 + 1e-12
