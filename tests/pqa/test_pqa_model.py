"""archsim.pqa: SimPy cycles vs the closed forms, hardware limits, areas, configs, report."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from archsim.pqa.analytical import (dla_fill_drain_bound, dla_layer, pqa_fill_drain_bound, pqa_layer,
                                    prefetch_total)
from archsim.pqa.area import dla_fpga_area, pqa_asic_area, pqa_fpga_area
from archsim.pqa.compare import compare
from archsim.pqa.config import load_dla, load_memory, load_pqa
from archsim.pqa.model import simulate_dla, simulate_pqa
from archsim.pqa.workload import pq_layers
from compress.pq.facts import PqLayerFacts
from workloads.errors import ArchsimInputError
from workloads.zoo import get_network


@pytest.fixture(scope="module")
def resnet20():
    return get_network("resnet20")


def _check_sim_against_closed_form(facts, cfg):
    sim = simulate_pqa(facts, cfg)
    timings = [pqa_layer(f, cfg) for f in facts]
    for f, t, rec in zip(facts, timings, sim.layers):
        fd = pqa_fill_drain_bound(f, cfg)
        assert t.calc <= rec.compute_cycles <= t.calc + fd, f.name
        assert rec.load_cycles == t.init, f.name
    inits, calcs = [t.init for t in timings], [t.calc for t in timings]
    fds = [pqa_fill_drain_bound(f, cfg) for f in facts]
    lo = prefetch_total(inits, calcs, cfg.overlap_table_load)
    hi = prefetch_total(inits, [c + d for c, d in zip(calcs, fds)], cfg.overlap_table_load)
    assert lo <= sim.total_cycles <= hi
    return sim


@pytest.mark.parametrize("mem", ["ddr", "hbm"])
@pytest.mark.parametrize("np_", [8, 16, 64])
def test_pqa_simpy_agrees_with_analytical_up_to_fill_and_drain_on_resnet20(resnet20, mem, np_):
    facts = pq_layers(resnet20, 9, np_)
    assert len(facts) == 18
    cfg = load_pqa(memory=mem).with_overrides(npv=min(16, np_))
    _check_sim_against_closed_form(facts, cfg)
    no_overlap = cfg.with_overrides(overlap_table_load=False)
    sim = _check_sim_against_closed_form(facts, no_overlap)
    paper = sum(pqa_layer(f, no_overlap).total for f in facts)  # init + calc per layer
    fd = sum(pqa_fill_drain_bound(f, no_overlap) for f in facts)
    assert paper <= sim.total_cycles <= paper + fd


@settings(max_examples=25, deadline=None)
@given(cols=st.integers(1, 300), c=st.integers(1, 40), k=st.integers(1, 128), ls=st.sampled_from([1, 3, 9]),
       np_=st.integers(1, 128), nov=st.sampled_from([8, 32, 64]), nsv=st.sampled_from([4, 16, 64]),
       npv=st.sampled_from([4, 16]), plv=st.sampled_from([1, 3, 9, 16]), tile=st.integers(1, 64),
       overlap=st.booleans(), n_layers=st.integers(1, 4))
def test_pqa_simpy_vs_closed_form_property(cols, c, k, ls, np_, nov, nsv, npv, plv, tile, overlap, n_layers):
    facts = [PqLayerFacts(name=f"l{i}", cols=cols + i, reduction=9 * c, ls=ls, np=np_, k=k, in_channels=c,
                          kernel_h=3, kernel_w=3) for i in range(n_layers)]
    if any(f.ns > 128 for f in facts):
        return
    cfg = load_pqa().with_overrides(nov=nov, nsv=nsv, npv=npv, plv=plv, tile_cols=tile, overlap_table_load=overlap)
    _check_sim_against_closed_form(facts, cfg)


@pytest.mark.parametrize("mem", ["ddr", "hbm"])
def test_dla_simpy_agrees_with_analytical(resnet20, mem):
    facts = pq_layers(resnet20, 9, 16)
    cfg = load_dla(memory=mem)
    sim = simulate_dla(facts, cfg)
    timings = [dla_layer(f, cfg) for f in facts]
    for t, rec in zip(timings, sim.layers):
        assert rec.compute_cycles == t.compute + dla_fill_drain_bound(cfg)
    lo = prefetch_total([t.load for t in timings], [t.compute for t in timings])
    hi = prefetch_total([t.load for t in timings], [t.compute + dla_fill_drain_bound(cfg) for t in timings])
    assert lo <= sim.total_cycles <= hi


def test_closed_forms_hand_computed(resnet20):
    """layer1 conv: cols 1024, Ns 16, K 16; layer3 conv: cols 64, Ns 64, K 64 (Ls 9, Np 16, DDR)."""
    facts = pq_layers(resnet20, 9, 16)
    cfg = load_pqa()  # NOV 32, NSV 16, NPV 16, PLV 9, DDR 751 bits/cycle
    assert cfg.memory.bits_per_cycle(cfg.clock_hz) == 751  # ceil(35.2e9*8*0.8/300e6)
    t1 = pqa_layer(facts[0], cfg)
    assert (t1.enc_per_col, t1.lut_per_col, t1.groups, t1.calc) == (1, 1, 1, 1024)
    assert t1.init_port == 16 * 16 * 16 // (32 * 16)
    assert t1.init_mem == -(-(16 * 16 * 16 * 16 + 16 * 16 * 9 * 8) // 751)
    t3 = pqa_layer(facts[-1], cfg)
    assert (t3.lut_per_col, t3.groups, t3.calc) == (2, 4, 64 * 2 * 4)
    assert t3.init == -(-(64 * 16 * 64 * 16 + 64 * 16 * 9 * 8) // 751) and t3.bound == "table-load"
    d1 = dla_layer(facts[0], load_dla())
    assert d1.compute == 1 * 32 * 8 * 1 * 3 * 2  # ceil(16/48)*P*ceil(Q/4)*(3/3)*3*ceil(16/8)
    assert d1.k_util == pytest.approx(16 / 48) and d1.lane_utilisation == pytest.approx(1 / 3)


def test_fpga_areas_match_the_reference_examples():
    a = pqa_fpga_area(load_pqa().with_overrides(nov=32, nsv=16, plv=9, npv=8))
    assert (a["dsps"], a["m20ks"]) == (4608, 512)
    assert a["total"] == pytest.approx(20479, abs=1)  # reference §A.2 example
    d = dla_fpga_area(load_dla())
    assert (d["dsps"], d["m20ks"], d["total"]) == (2304, 1152, 27360)
    assert pqa_fpga_area(load_pqa(), distance="l1")["dsps"] == 0
    kernel = pqa_fpga_area(load_pqa().with_overrides(dsp_rule="kernel", npv=8))
    assert kernel["dsps"] == 8 * 16 * 9


def test_asic_area_grows_with_np(resnet20):
    cfg = load_pqa()
    small = pqa_asic_area(cfg, pq_layers(resnet20, 9, 8))
    mid = pqa_asic_area(cfg, pq_layers(resnet20, 9, 64))
    big = pqa_asic_area(cfg, pq_layers(resnet20, 9, 128))
    # up to 1 KiB per LUT bank the store is bank-count bound (smallest fitted SRAM macro), like M20Ks
    assert small["lut_store"] == mid["lut_store"] < big["lut_store"]
    assert small["proto_store"] < mid["proto_store"] < big["proto_store"]
    assert small["total"] == pytest.approx(sum(v for k, v in small.items() if k != "total"))


def test_prototype_count_above_the_hardware_limit_is_one_input_error(resnet20):
    facts = pq_layers(resnet20, 9, 256)
    with pytest.raises(ArchsimInputError, match=r"np=256 exceeds the PQA hardware limit limits.np_max=128"):
        simulate_pqa(facts, load_pqa())
    with pytest.raises(ArchsimInputError, match="ns=192 exceeds"):
        pqa_layer(pq_layers(resnet20, 3, 16)[-1], load_pqa())
    raised = load_pqa().with_overrides(**{"limits.np_max": 256})
    assert pqa_layer(facts[0], raised).enc_per_col == 16


def test_ls_not_dividing_the_reduction_is_one_input_error(resnet20):
    with pytest.raises(ArchsimInputError, match="ls=5 does not divide the reduction length 144"):
        pq_layers(resnet20, 5, 16)
    padded = pq_layers(resnet20, 5, 16, pad=True)
    assert padded[0].ns == 29 and padded[0].padded


def test_config_errors_name_the_field():
    with pytest.raises(ArchsimInputError, match="nov"):
        load_pqa().with_overrides(nov=0)
    with pytest.raises(ArchsimInputError, match="unknown field 'bogus'"):
        load_pqa().with_overrides(bogus=1)
    with pytest.raises(ArchsimInputError, match="unknown memory"):
        load_memory("sram")
    with pytest.raises(ArchsimInputError, match="unknown pqa preset"):
        load_pqa("nope")
    assert load_dla(memory="hbm").memory.bandwidth_gbytes_per_s == 400


def test_compare_reports_reasons_and_ratios(resnet20):
    c = compare(resnet20, 9, 16, "hbm")
    s = c.summary
    assert s["perf_per_area_fpga_paper"] == pytest.approx(
        s["dla_cycles_paper"] / s["pqa_cycles_paper"] * s["dla_fpga_area"] / s["pqa_fpga_area"])
    assert set(c.layers["pqa_bound"]) <= {"encoder", "lut-read", "table-load", "balanced"}
    assert c.layers["reason"].str.startswith("PQA").all()
    assert c.layers["pqa_sim_share"].sum() == pytest.approx(s["pqa_cycles_sim"])
