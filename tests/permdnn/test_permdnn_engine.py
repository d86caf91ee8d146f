"""SimPy column-broadcast engine vs the independent max-plus recursion and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.permdnn.engine import analytical_cycles, simulate_broadcast
from workloads.errors import ArchsimInputError


@st.composite
def work_cases(draw):
    n_pe, n_cols = draw(st.integers(1, 6)), draw(st.integers(0, 40))
    seed = draw(st.integers(0, 10_000))
    hi = draw(st.integers(1, 9))
    work = np.random.default_rng(seed).integers(0, hi, size=(n_pe, n_cols))
    q = draw(st.sampled_from([1, 2, 3, 5, None]))
    return work, q, draw(st.integers(1, 3)), draw(st.integers(0, 5))


@settings(max_examples=80, deadline=None)
@given(work_cases())
def test_simpy_equals_max_plus_recursion(case):
    work, q, interval, latency = case
    r = simulate_broadcast(work, q, interval, latency)
    assert r.cycles == analytical_cycles(work, q, interval, latency)
    assert (r.pe_busy == work.sum(axis=1)).all()            # simulated PE work = assigned work
    if work.shape[1]:
        assert r.cycles >= work.sum(axis=1).max() + latency     # never faster than the busiest PE


@settings(max_examples=40, deadline=None)
@given(work_cases())
def test_unbounded_queue_equals_busiest_pe_when_each_column_costs_at_least_the_interval(case):
    work, _, interval, latency = case
    work = np.maximum(work, interval)
    r = simulate_broadcast(work, None, interval, latency)
    expect = work.sum(axis=1).max() + latency if work.shape[1] else latency
    assert r.cycles == expect


@settings(max_examples=30, deadline=None)
@given(work_cases())
def test_deeper_queues_never_slow_down(case):
    work, _, interval, latency = case
    cycles = [simulate_broadcast(work, q, interval, latency).cycles for q in (1, 2, 4, 8, None)]
    assert all(a >= b for a, b in zip(cycles, cycles[1:]))


def test_uniform_work_is_closed_form():
    work = np.full((32, 100), 2)
    r = simulate_broadcast(work, 4, 1, 6)
    assert r.cycles == 100 * 2 + 6
    r1 = simulate_broadcast(np.full((4, 50), 1), 1, 3, 0)      # broadcast-bound: interval 3, work 1
    assert r1.cycles == 49 * 3 + 1


def test_imbalance_is_absorbed_by_the_queue():
    # PE 0 is slow on the first half of the columns, PE 1 on the second: equal totals
    work = np.array([[5] * 10 + [1] * 10, [1] * 10 + [5] * 10])
    shallow, deep = simulate_broadcast(work, 1).cycles, simulate_broadcast(work, None).cycles
    assert deep == work.sum(axis=1).max() == 60
    assert shallow > 90            # depth 1 couples each PE to the slower one, column by column


@pytest.mark.parametrize("bad", [dict(work=np.ones(5, int)), dict(work=-np.ones((2, 2), int)),
                                 dict(work=np.ones((2, 2), int), queue_depth=0)])
def test_bad_input(bad):
    with pytest.raises(ArchsimInputError):
        simulate_broadcast(**bad)
