"""Bad input to functional mode: one clear ArchsimInputError naming the field and the fix."""

from __future__ import annotations

import numpy as np
import pytest
from functional_helpers import design, int8

from archsim.functional import DenseWeights, MVQWeights, NMWeights, VQWeights, lzc_decode, run_functional
from archsim.functional.convert import from_compressed
from workloads.errors import ArchsimInputError
from workloads.layer import conv2d, linear, matmul

LAYER = conv2d("conv", 16, 4, (5, 5), 3, padding=1)
SHAPE = (4, 16, 3, 3)
RNG = np.random.default_rng(0)
X = int8(RNG, LAYER.input_shape)


def _mvq(n=1, m=4, d=8, shape=SHAPE, k=4, mask=None) -> MVQWeights:
    n_sub = int(np.prod(shape)) // d
    if mask is None:
        mask = np.zeros((n_sub, d // m, m), dtype=bool)
        mask[..., :n] = True
        mask = mask.reshape(n_sub, d)
    return MVQWeights(codebook=np.ones((k, d), dtype=np.int64), codes=np.zeros(n_sub, dtype=np.int64), mask=mask,
                      n=n, m=m, shape=shape)


def _err(match: str, fn, *args, **kwargs):
    with pytest.raises(ArchsimInputError, match=match):
        fn(*args, **kwargs)


def test_weights_of_another_layer():
    _err(r"weight shape \(4, 8, 3, 3\).*\(4, 16, 3, 3\)", run_functional, LAYER, _mvq(shape=(4, 8, 3, 3)), X,
         design())
    _err("weight shape", run_functional, LAYER, DenseWeights(np.zeros((4, 16, 1, 1))), X, design())


def test_code_count_mismatch():
    w = VQWeights(codebook=np.ones((4, 8)), codes=np.zeros(10), shape=SHAPE)
    _err("hold 10 codes", run_functional, LAYER, w, X, design())
    w32 = VQWeights(codebook=np.ones((4, 32)), codes=np.zeros(18), shape=SHAPE)
    _err(r"d=32 does not divide the 'input_channel' axis \(16\)", run_functional, LAYER, w32, X, design())


def test_array_does_not_support_nm():
    _err(r"sparse_n:sparse_m = 1:4\) cannot run 2:4", run_functional, LAYER, _mvq(n=2, m=4), X,
         design(n=1, m=4))
    _err("cannot run 2:8", run_functional, LAYER, _mvq(n=2, m=8, d=8), X, design(n=1, m=4))
    _err("runs only N:M weights", run_functional, LAYER, DenseWeights(np.zeros(SHAPE)), X, design(n=1, m=4))


def test_d_not_multiple_of_m():
    _err("M=4 must divide the subvector size d=6",
         MVQWeights, codebook=np.ones((2, 6)), codes=np.zeros(4), mask=np.ones((4, 6), bool), n=1, m=4,
         shape=(4, 8, 1, 3))


def test_bad_nm_and_mask():
    _err("1 <= N < M", _mvq, n=4, m=4)
    bad = np.zeros((SHAPE[0] * 16 * 9 // 8, 8), dtype=bool)
    bad[:, :2] = True                        # 2 kept in the first group, 0 in the second
    _err("keeps 2 of M=4 weights, not N=1", run_functional, LAYER, _mvq(mask=bad), X, design())
    _err("0/1 bitmap", _mvq, mask=np.full((72, 8), 2))


def test_codes_outside_codebook():
    _err("must index the 4-entry codebook",
         VQWeights, codebook=np.ones((4, 8)), codes=np.full(72, 4), shape=SHAPE)


def test_nm_positions():
    _err(r"must lie in \[0, M=4\)", NMWeights, values=np.ones((3, 1)), positions=np.full((3, 1), 4), n=1, m=4,
         shape=(1, 12))
    _err("repeat a position", NMWeights, values=np.ones((3, 2)), positions=np.zeros((3, 2)), n=2, m=4, shape=(1, 12))


def test_value_ranges_and_types():
    _err(r"design's precision.weight_bits = 8", run_functional, LAYER, DenseWeights(np.full(SHAPE, 300)), X, design())
    _err("precision.act_bits", run_functional, LAYER, DenseWeights(np.zeros(SHAPE)), X * 4, design())
    _err("must hold integers", DenseWeights, np.full(SHAPE, 0.5))
    _err("activations must be integers", run_functional, LAYER, DenseWeights(np.zeros(SHAPE)), X + 0.25, design())
    _err(r"activations have shape \(1, 16, 5, 4\)", run_functional, LAYER, DenseWeights(np.zeros(SHAPE)),
         X[..., :4], design())


def test_unsupported_layer_and_inputs():
    _err("functional mode runs conv and linear", run_functional, matmul("mm", 4, 8, 4),
         DenseWeights(np.zeros((4, 8))), np.zeros((1, 4, 8), int), design())
    _err("must be DenseWeights", run_functional, LAYER, np.zeros(SHAPE), X, design())
    _err("unknown design", run_functional, LAYER, DenseWeights(np.zeros(SHAPE)), X, "no-such-design")
    _err("layer must be a workloads Layer", run_functional, "conv", DenseWeights(np.zeros(SHAPE)), X, design())


def test_converter_errors():
    class Fake:
        method, shape, name = "pq", (4, 8), "x"
    _err("unknown method 'pq'", from_compressed, Fake())

    class FloatBook:
        method, shape, name, layout, scale, n, m = "vq", (4, 8), "x", "input_channel", 1.0, 1, 1
        codebook_int = np.ones((2, 4), dtype=np.float32) * 0.5
        codes = np.zeros(8, dtype=np.int64)
    _err("codebook is not integer", from_compressed, FloatBook())


def test_linear_2d_activations_accepted_and_3d_checked():
    layer = linear("fc", 8, 3, batch=2)
    w = DenseWeights(np.ones((3, 8), dtype=np.int64))
    out = run_functional(layer, w, np.ones((2, 8), dtype=np.int64), design()).outputs
    assert out.shape == (2, 1, 3) and (out == 8).all()


def test_lzc_decode_matches_nonzero_and_flags_overfull_windows():
    rng = np.random.default_rng(1)
    bits = np.zeros((50, 8), dtype=bool)
    for row in bits:
        row[rng.choice(8, size=3, replace=False)] = True
    np.testing.assert_array_equal(lzc_decode(bits, 3), np.nonzero(bits)[1].reshape(50, 3))
    sparse = np.array([[False, True, False, False]])
    np.testing.assert_array_equal(lzc_decode(sparse, 2), [[1, -1]])      # empty slot
    _err("keeps more than the N=1", lzc_decode, np.array([[True, True, False, False]]), 1)


def test_functional_mode_is_torch_free():
    """archsim never imports torch (nor compress): the converter reads compress output by duck typing."""
    import subprocess
    import sys

    code = ("import sys, archsim.functional; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith('compress')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_design_by_preset_name():
    layer = linear("fc", 8, 3)
    res = run_functional(layer, DenseWeights(np.ones((3, 8), dtype=np.int64)), np.ones((1, 1, 8), int), "ews")
    assert res.design_name == "ews" and (res.outputs == 8).all()
