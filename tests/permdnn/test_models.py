"""PermDNN and EIE layer models: functional dataflow, work = MACs, cycles vs closed forms,
configs, published scaling, comparison plumbing and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.permdnn.compare import compare_layer, permdnn_layer_for
from archsim.permdnn.config import config_from_mapping, load_config
from archsim.permdnn.cost import eie_area, energy_breakdown, permdnn_area
from archsim.permdnn.csc import decode_pe_column, encode_pe_column
from archsim.permdnn.engine import analytical_cycles
from archsim.permdnn.models import eie_work, permdnn_blocks_per_pe, permdnn_closed_form, run_eie, run_permdnn
from archsim.permdnn.published import eie_scaled, load_published
from archsim.permdnn.workload import FcLayer, activation_mask, choose_p, eie_benchmarks, pad_for
from compress.permdiag import expand, random_perms, row_for_column
from workloads.errors import ArchsimInputError

PD = load_config("permdnn")
EIE = load_config("eie")
SMALL_PD = PD.model_copy(update={"n_pe": 4, "mults_per_pe": 2})
SMALL_EIE = EIE.model_copy(update={"n_pe": 4})


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([1, 2, 4]), st.integers(1, 6), st.integers(1, 5), st.floats(0.1, 1.0), st.integers(0, 99))
def test_permdnn_cycles_equal_closed_form_and_work_equals_macs(p, mb, nb, d, seed):
    layer = FcLayer("t", rows=mb * p * 3, cols=nb * p, act_density=d, p=p)
    run = run_permdnn(layer, SMALL_PD, seed)
    assert run.cycles == permdnn_closed_form(layer, SMALL_PD)
    # every broadcast non-zero meets exactly one weight per block row: MACs = rows/p x active columns
    assert run.useful_macs == layer.rows // p * run.active_cols
    assert run.sim.pe_busy.sum() * SMALL_PD.mults_per_pe >= run.useful_macs
    assert run.load_balance >= (permdnn_blocks_per_pe(layer, 4).min() > 0) * 0.0   # defined
    assert run.cycles >= np.ceil(run.useful_macs / (4 * 2))        # never beats the multiplier peak


def test_permdnn_functional_dataflow_equals_dense_product():
    """Row-slice ownership + modulo index generation computes W x for a PD matrix."""
    rng = np.random.default_rng(0)
    m, n, p, n_pe = 24, 16, 4, 3
    perms = random_perms(m, n, p, 1)
    values = rng.normal(size=(m // p, n // p, p))
    layer = FcLayer("f", rows=m, cols=n, act_density=0.5, p=p)
    x = np.zeros(n)
    cols = activation_mask(layer, 2)
    x[cols] = rng.normal(size=len(cols))
    y = np.zeros(m)
    owner = np.arange(m // p) % n_pe                    # block row a -> PE a mod n_pe
    for j in cols:                                      # broadcast order
        rows = row_for_column(perms, p, j)
        for pe in range(n_pe):
            for a in np.flatnonzero(owner == pe):
                y[rows[a]] += values[a, j // p, rows[a] - a * p] * x[j]
    np.testing.assert_allclose(y, expand(values, perms) @ x, atol=1e-12)


def test_eie_functional_csc_dataflow_equals_dense_product():
    rng = np.random.default_rng(1)
    m, n, n_pe = 70, 12, 4
    codebook = np.concatenate([[0.0], rng.normal(size=15)])
    codes = (rng.random((m, n)) < 0.15) * rng.integers(1, 16, size=(m, n))
    x = rng.normal(size=n) * (rng.random(n) < 0.6)
    y = np.zeros(m)
    for j in np.flatnonzero(x):
        for pe in range(n_pe):
            c, r = encode_pe_column(codes[pe::n_pe, j])
            local = decode_pe_column(c, r, len(codes[pe::n_pe, j]))
            pos = -1
            for code, rel in zip(c, r):                   # the PE walks its entries: row += rel + 1
                pos += rel + 1
                y[pe + pos * n_pe] += codebook[code] * x[j]
            assert (local == codes[pe::n_pe, j]).all()
    np.testing.assert_allclose(y, codebook[codes] @ x, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.integers(8, 90), st.integers(2, 30), st.floats(0.02, 0.5), st.floats(0.1, 1.0), st.integers(0, 99))
def test_eie_simulated_work_equals_stored_entries_and_bounds(rows, cols, wd, ad, seed):
    layer = FcLayer("e", rows=rows, cols=cols, act_density=ad, weight_density=wd)
    cfg = SMALL_EIE.model_copy(update={"min_cycles_per_column": 0})
    run = run_eie(layer, cfg, seed)
    ent, pad, _, nnz = eie_work(layer, cfg, seed)
    active = activation_mask(layer, seed)
    assert run.sim.pe_busy.sum() == ent[:, active].sum() == run.useful_macs
    assert (ent - pad).sum() == nnz
    lat = cfg.broadcast.pipeline_latency_cycles
    assert run.cycles >= run.max_pe_work + lat
    unbounded = run_eie(layer, cfg, seed, queue_depth=None)
    work = ent[:, active]
    assert unbounded.cycles == analytical_cycles(work, None, 1, lat)
    assert unbounded.cycles <= run.cycles


def test_eie_with_min_one_cycle_and_unbounded_queue_is_busiest_pe():
    layer = FcLayer("e", rows=64, cols=40, act_density=0.5, weight_density=0.1)
    run = run_eie(layer, SMALL_EIE, 0, queue_depth=None)
    assert run.cycles == run.max_pe_work + SMALL_EIE.broadcast.pipeline_latency_cycles


def test_eie_real_matrix_and_shape_error():
    layer = FcLayer("e", rows=8, cols=6, act_density=1.0)
    w = np.zeros((8, 6))
    w[0, :] = 1.0
    run = run_eie(layer, SMALL_EIE, 0, matrix=w)
    assert run.info["nnz"] == 6 and run.max_pe_work == 6       # all in PE 0
    with pytest.raises(ArchsimInputError, match="shape"):
        run_eie(layer, SMALL_EIE, 0, matrix=np.zeros((6, 8)))


def test_bad_p_is_one_clear_error_naming_the_field():
    with pytest.raises(ArchsimInputError, match=r"block size p=3 does not divide") as ei:
        FcLayer("Alex-7", rows=4096, cols=4096, act_density=0.35, p=3)
    assert "Alex-7" in str(ei.value) and "common divisor" in str(ei.value)
    with pytest.raises(ArchsimInputError, match="p is not set|needs the block size p"):
        run_permdnn(FcLayer("x", rows=8, cols=8, act_density=1.0), PD)


def test_choose_p_and_padding():
    assert choose_p(4096, 9216, 0.09) == 8
    assert choose_p(1000, 4096, 0.25) == 4
    assert choose_p(2400, 1201, 0.10) == 1
    assert choose_p(2400, 1201, 0.10, allow_padding=True) == 8
    lstm = next(x for x in eie_benchmarks() if x.name == "NT-LSTM")
    padded = permdnn_layer_for(lstm)
    assert padded.cols == 1208 and padded.pad_cols == 7 and padded.active_cols == lstm.active_cols == 1201
    assert pad_for(lstm, 1) == lstm.with_p(1)


def test_config_errors_name_the_field():
    with pytest.raises(ArchsimInputError, match=r"n_pe"):
        config_from_mapping({"kind": "permdnn", "n_pe": 0})
    with pytest.raises(ArchsimInputError, match=r"broadcast.queue_depth"):
        config_from_mapping({"kind": "eie", "broadcast": {"queue_depth": 0}})
    with pytest.raises(ArchsimInputError, match="kind"):
        config_from_mapping({"kind": "tpu"})
    with pytest.raises(ArchsimInputError, match="unknown engine config"):
        load_config("nope")


def test_published_constants_and_scaling_step():
    pub = load_published()
    assert pub.permdnn["area"].si == pytest.approx(8.85) and pub.eie["power"].si == pytest.approx(0.59)
    e = eie_scaled(28)
    assert e.area_mm2 == pytest.approx(40.8 * 0.38)
    assert e.power_w == pytest.approx(0.59 * 0.55 * 1200 / 800)
    assert pub.eie_layer_times_us["Alex-7"]["actual"] == 12.2
    # Table V: EIE's 81,967 frames/s is the Alex-7 actual time
    assert 1 / (pub.eie_layer_times_us["Alex-7"]["actual"] * 1e-6) == pytest.approx(pub.eie["fc7_frames_per_s"].value,
                                                                                  rel=1e-3)


def test_cost_model_is_positive_and_scales_with_work():
    layer = FcLayer("c", rows=256, cols=512, act_density=0.4, weight_density=0.1, p=8)
    r1, r2 = run_permdnn(layer, PD, 0), run_permdnn(layer.__class__(**{**layer.to_dict(), "act_density": 0.8}), PD, 0)
    e1, e2 = energy_breakdown(r1, PD), energy_breakdown(r2, PD)
    assert all(v >= 0 for v in e1.values()) and e2["MACs"] == pytest.approx(2 * e1["MACs"], rel=0.01)
    ee = energy_breakdown(run_eie(layer, EIE, 0), EIE, EIE.compare_clock_hz)
    assert ee["codebook"] > 0 and e1["codebook"] == 0
    assert 1e6 < sum(permdnn_area(PD).values()) < 2e7 and 1e6 < sum(eie_area(EIE).values()) < 3e7


def test_compare_layer_row():
    layer = FcLayer("c", rows=512, cols=1024, act_density=0.35, weight_density=0.09)
    row, er, pr = compare_layer(layer, PD, EIE, 0)
    assert pr.layer.p == 8
    assert row["throughput_ratio"] == pytest.approx(er.cycles / pr.cycles)    # same 1.2 GHz clock
    assert row["area_eff_ratio_published"] == pytest.approx(row["throughput_ratio"] * 40.8 * 0.38 / 8.85)
