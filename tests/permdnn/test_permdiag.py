"""compress.permdiag: PD structure, products, projection, storage, torch layers, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compress.permdiag import (PermDiagStorage, check_block_size, expand, nonzero_positions, pd_matvec, project,
                               random_perms, row_for_column)
from compress.permdiag.modules import PermDiagConv2d, PermDiagLinear
from workloads.errors import ArchsimInputError

torch.set_num_threads(1)


@st.composite
def pd_params(draw):
    p = draw(st.integers(1, 6))
    mb, nb = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    return rng.normal(size=(mb, nb, p)), rng.integers(0, p, size=(mb, nb)), rng


@settings(max_examples=60, deadline=None)
@given(pd_params())
def test_pd_product_equals_dense_product_of_expanded_matrix(params):
    values, perms, rng = params
    dense = expand(values, perms)
    x = rng.normal(size=(dense.shape[1], 3))
    np.testing.assert_allclose(pd_matvec(values, perms, x), dense @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pd_matvec(values, perms, x[:, 0]), dense @ x[:, 0], rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(pd_params())
def test_each_block_is_a_permuted_diagonal(params):
    values, perms, _ = params
    p = values.shape[2]
    nz = expand(np.abs(values) + 1.0, perms) != 0
    mb, nb = perms.shape
    blocks = nz.reshape(mb, p, nb, p).transpose(0, 2, 1, 3)
    assert (blocks.sum(axis=3) == 1).all() and (blocks.sum(axis=2) == 1).all()
    assert nz.sum() == mb * nb * p


@settings(max_examples=40, deadline=None)
@given(pd_params())
def test_column_view_modulo_index_generation_reconstructs_the_product(params):
    """The hardware's column-wise dataflow: broadcast x_j, each block row computes its target row as
    a*p + (jl - k) mod p and accumulates -- no index memory, same result as the dense product."""
    values, perms, rng = params
    mb, nb, p = values.shape
    x = rng.normal(size=nb * p) * (rng.random(nb * p) < 0.5)
    y = np.zeros(mb * p)
    for j in np.flatnonzero(x):
        rows = row_for_column(perms, p, j)
        b = j // p
        y[rows] += values[np.arange(mb), b, rows - np.arange(mb) * p] * x[j]
    np.testing.assert_allclose(y, expand(values, perms) @ x, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(pd_params())
def test_projection_recovers_an_exact_pd_matrix(params):
    values, perms, _ = params
    values = np.abs(values) + 0.1   # no ties with other diagonals
    proj = project(expand(values, perms), values.shape[2])
    if values.shape[2] > 1:
        np.testing.assert_array_equal(proj.perms, perms)
    np.testing.assert_allclose(proj.values, values)
    assert proj.rel_error == pytest.approx(0.0, abs=1e-6)   # sqrt of a cancellation: ~1e-8


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.integers(0, 1000))
def test_projection_is_the_best_per_block_and_error_is_consistent(p, mb, nb, seed):
    w = np.random.default_rng(seed).normal(size=(mb * p, nb * p))
    proj = project(w, p)
    best = np.inf
    # brute force over all permutation values of one block at a time (blocks are independent)
    total = 0.0
    for a in range(mb):
        for b in range(nb):
            blk = w[a * p:(a + 1) * p, b * p:(b + 1) * p]
            errs = [sum(blk[i, j] ** 2 for i in range(p) for j in range(p) if j != (i + k) % p) for k in range(p)]
            total += min(errs)
            best = min(best, min(errs))
    err = np.linalg.norm(w - expand(proj.values, proj.perms)) / np.linalg.norm(w)
    assert err == pytest.approx(proj.rel_error, rel=1e-9)
    assert err ** 2 == pytest.approx(total / (w ** 2).sum(), rel=1e-9)
    assert proj.kept_energy == pytest.approx(1 - err ** 2, rel=1e-9)


def test_storage_accounting():
    s = PermDiagStorage(4096, 9216, 8, weight_bits=16)
    assert s.weights == 4096 * 9216 // 8
    assert s.blocks == 512 * 1152
    assert s.perm_bits_per_block == 3
    assert s.total_bits == s.weights * 16 + s.blocks * 3
    assert s.compression == pytest.approx(4096 * 9216 * 16 / s.total_bits)
    assert PermDiagStorage(6, 6, 1).perm_bits_per_block == 0
    assert PermDiagStorage(10, 10, 5).perm_bits_per_block == 3


@pytest.mark.parametrize("m,n,p", [(10, 12, 4), (12, 10, 4), (12, 12, 0), (12, 12, 5)])
def test_p_that_does_not_divide_is_one_clear_error(m, n, p):
    with pytest.raises(ArchsimInputError, match=r"p") as ei:
        check_block_size(m, n, p, "fc1")
    assert "fc1" in str(ei.value)
    if p > 0:
        assert "divisor" in str(ei.value) or "divide" in str(ei.value)
    with pytest.raises(ArchsimInputError):
        PermDiagLinear(n, m, p)


def test_linear_module_uses_only_free_weights_and_matches_dense():
    layer = PermDiagLinear(24, 16, 4, seed=3)
    assert sum(t.numel() for t in layer.parameters()) == 16 * 24 // 4 + 16
    x = torch.randn(5, 24)
    y = layer(x)
    torch.testing.assert_close(y, x @ layer.dense_weight().T + layer.bias)
    y.sum().backward()
    assert layer.values.grad.shape == (4, 6, 4)
    np.testing.assert_allclose(layer.dense_weight().detach().numpy(),
                               expand(layer.values.detach().numpy(), layer.perms.numpy()))


def test_conv_module_matches_dense_conv_and_projection():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 12, 3, padding=1, bias=True)
    pdc, err = PermDiagConv2d.from_conv(conv, 4)
    assert 0 < err < 1 and pdc.free_weights == 12 * 8 // 4 * 9
    x = torch.randn(2, 8, 6, 6)
    ref = torch.nn.functional.conv2d(x, pdc.dense_weight(), conv.bias, padding=1)
    torch.testing.assert_close(pdc(x), ref)
    # each block of the kernel's (out, in) mask is a permuted diagonal
    mask = (pdc.dense_weight().abs().sum(dim=(2, 3)) != 0).numpy()
    assert (mask.reshape(3, 4, 2, 4).sum(axis=3) == 1).all()


def test_from_linear_error_matches_projection():
    torch.manual_seed(1)
    lin = torch.nn.Linear(16, 8)
    layer, err = PermDiagLinear.from_linear(lin, 4)
    w = lin.weight.detach().numpy()
    assert err == pytest.approx(np.linalg.norm(w - layer.dense_weight().detach().numpy()) / np.linalg.norm(w),
                                rel=1e-5)
    # a random matrix keeps about 1/p of its energy (error ~ sqrt(1 - 1/p)); well above 0, below 1
    assert math.sqrt(1 - 1 / 4) - 0.25 < err < 1


def test_random_perms_are_seeded_and_in_range():
    a, b = random_perms(16, 8, 4, seed=5), random_perms(16, 8, 4, seed=5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, 2) and a.min() >= 0 and a.max() < 4
    rows, cols = nonzero_positions(a, 4)
    assert rows.shape == cols.shape == (4, 2, 4)
