"""compress.pq: the LUT lookup equals the direct product with the prototype-reconstructed input."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from compress.pq.facts import from_layer
from compress.pq.model import collect_inputs, default_pq_layers, finetune_layerwise, layer_output_mse, pq_convert
from compress.pq.quantizer import PQConv, PQSettings, im2col, learn_prototypes, quant_step
from workloads.errors import ArchsimInputError
from workloads.layer import conv2d

torch.set_num_threads(1)


def _conv_and_input(c: int, k: int, seed: int, stride: int = 1, hw: int = 6):
    g = torch.Generator().manual_seed(seed)
    conv = nn.Conv2d(c, k, 3, stride=stride, padding=1, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g))
        conv.bias.copy_(torch.randn(k, generator=g))
    x = torch.relu(torch.randn(4, c, hw, hw, generator=g))
    return conv, x


def _pq(conv, x, s: PQSettings) -> PQConv:
    return PQConv(conv, learn_prototypes(im2col(x, conv), s), s)


@settings(max_examples=15, deadline=None)
@given(c=st.integers(1, 4), k=st.integers(1, 6), np_=st.sampled_from([2, 4, 8]), ls=st.sampled_from([3, 9]),
       stride=st.integers(1, 2), shared=st.booleans(), distance=st.sampled_from(["l2", "l1"]),
       proto_bits=st.sampled_from([None, 4, 8]), seed=st.integers(0, 100))
def test_lut_sum_equals_reconstructed_input_times_weight(c, k, np_, ls, stride, shared, distance, proto_bits, seed):
    conv, x = _conv_and_input(c, k, seed, stride)
    s = PQSettings(ls=ls, np=np_, proto_bits=proto_bits, lut_bits=None, shared_codebook=shared, distance=distance,
                   kmeans_iterations=5, seed=seed)
    pq = _pq(conv, x, s)
    with torch.no_grad():
        y = pq(x)  # [B, K, H', W']
        rec = pq.reconstruct_input(x)  # [n, R]
        direct = rec @ conv.weight.reshape(k, -1).T + conv.bias
        direct = direct.reshape(x.shape[0], y.shape[2], y.shape[3], k).permute(0, 3, 1, 2)
    assert torch.allclose(y, direct, atol=1e-4, rtol=1e-4)


def test_quantised_lut_error_is_bounded_by_half_a_step_per_subspace():
    conv, x = _conv_and_input(4, 5, 1)
    s = PQSettings(ls=9, np=4, proto_bits=8, lut_bits=6, kmeans_iterations=5)
    pq = _pq(conv, x, s)
    with torch.no_grad():
        exact = pq.reconstruct_input(x) @ conv.weight.reshape(5, -1).T + conv.bias
        y = pq(x).permute(0, 2, 3, 1).reshape(-1, 5)
    bound = pq.ns * quant_step(pq.lut, 6) / 2
    err = (y - exact).abs().max().item()
    assert 0 < err <= bound + 1e-5


def test_exact_reconstruction_when_every_subvector_is_a_prototype():
    """With as many prototypes as distinct subvectors, PQ is lossless: output == dense conv."""
    conv = nn.Conv2d(2, 3, 1, bias=False)
    x = torch.tensor([0.0, 1.0, 2.0]).repeat(1, 2, 4, 4)[:, :, :3, :3].contiguous()  # few distinct columns
    x = torch.stack([torch.full((2, 3, 3), float(i)) for i in range(3)])  # 3 images, constant columns
    s = PQSettings(ls=1, np=3, proto_bits=None, lut_bits=None, kmeans_iterations=10)
    pq = _pq(conv, x, s)
    with torch.no_grad():
        assert torch.allclose(pq(x), conv(x), atol=1e-5)


def test_storage_bits_match_the_table_sizes():
    conv, x = _conv_and_input(4, 6, 0)
    s = PQSettings(ls=9, np=8, proto_bits=6, lut_bits=5, kmeans_iterations=3)
    pq = _pq(conv, x, s)
    bits = pq.storage_bits()
    ns = 36 // 9
    assert bits["lut"] == ns * 8 * 6 * 5
    assert bits["prototypes"] == ns * 8 * 9 * 6
    f = pq.facts("l", cols=36, in_channels=4, out_hw=(6, 6))
    assert f.lut_table_bits == bits["lut"] and f.proto_table_bits == bits["prototypes"]
    shared = _pq(conv, x, s.with_(shared_codebook=True)).storage_bits()
    assert shared["prototypes"] == 8 * 9 * 6


def test_facts_storage_accounting_from_a_workload_layer():
    layer = conv2d("c", 32, 64, 16, 3, padding=1)
    f = from_layer(layer, 9, 16, proto_bits=8, lut_bits=16)
    assert (f.ns, f.k, f.cols) == (32, 64, 256)
    assert f.lut_entries == 32 * 16 * 64 and f.lut_table_bits == 32 * 16 * 64 * 16
    assert f.proto_table_bits == 32 * 16 * 9 * 8
    assert f.table_bits == f.lut_table_bits + f.proto_table_bits
    # the LUT is Np/Ls times the dense weight count (reference §A.1)
    assert f.lut_entries / f.dense_weight_count == pytest.approx(16 / 9)


def test_ls_that_does_not_divide_the_reduction_is_one_clear_error_or_zero_padded():
    conv, x = _conv_and_input(2, 3, 0)  # R = 18
    with pytest.raises(ArchsimInputError, match="does not divide the reduction length 18"):
        learn_prototypes(im2col(x, conv), PQSettings(ls=4, np=4))
    with pytest.raises(ArchsimInputError, match="pad=True"):
        from_layer(conv2d("c", 2, 3, 6, 3, padding=1), 4, 4)
    s = PQSettings(ls=4, np=4, pad=True, proto_bits=None, lut_bits=None, kmeans_iterations=5)
    pq = _pq(conv, x, s)
    assert pq.ns == math.ceil(18 / 4)
    with torch.no_grad():
        direct = pq.reconstruct_input(x) @ conv.weight.reshape(3, -1).T + conv.bias
        assert torch.allclose(pq(x).permute(0, 2, 3, 1).reshape(-1, 3), direct, atol=1e-4)
    f = from_layer(conv2d("c", 2, 3, 6, 3, padding=1), 4, 4, pad=True)
    assert f.padded and f.ns == 5


def test_bad_settings_are_input_errors():
    with pytest.raises(ArchsimInputError, match="distance"):
        PQSettings(distance="cosine")
    with pytest.raises(ArchsimInputError, match="lut_bits"):
        PQSettings(lut_bits=1)
    with pytest.raises(ArchsimInputError, match="PQ covers"):
        im2col(torch.zeros(1, 2), nn.ReLU())


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.c2(torch.relu(self.c1(x)))).flatten(1))


def test_model_conversion_hooks_mse_and_layerwise_finetuning_lower_the_error():
    torch.manual_seed(0)
    model = _Tiny().eval()
    x = torch.randn(64, 1, 4, 4)
    assert default_pq_layers(model) == ["c2"]
    assert collect_inputs(model, ["c2"], x)["c2"].shape == (64, 4, 4, 4)
    pq_model, layers = pq_convert(model, x, PQSettings(ls=9, np=4, kmeans_iterations=5))
    assert isinstance(pq_model.c2, PQConv) and isinstance(model.c2, nn.Conv2d)  # original untouched
    before = layer_output_mse(model, pq_model, x, layers)["c2"]["mse"]
    finetune_layerwise(model, pq_model, x, epochs=15, lr=1e-2, tau=1.0)
    after = layer_output_mse(model, pq_model, x, layers)["c2"]["mse"]
    assert after < before
