"""Masked-gradient codebook fine-tuning: what it may change, what it must never change, and that it learns."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from compress.config import CompressionConfig
from compress.finetune import FinetuneConfig, MaskedCodebookWeight, finetune_codebooks
from compress.layout import from_subvectors, to_subvectors
from compress.model import compress_model
from workloads.errors import ArchsimInputError

FAST = dict(epochs=2, progress=False, lr=3e-3)


def _distill_loader(teacher: nn.Module, n: int = 64, seed: int = 3) -> DataLoader:
    """Inputs and the dense teacher's outputs: a toy regression the compressed student should fit."""
    x = torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        y = teacher.eval()(x)
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)


def _mse_on(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    with torch.no_grad():
        return float(sum(nn.functional.mse_loss(model(x), y, reduction="sum") for x, y in loader))


@pytest.fixture
def compressed(small_net):
    cfg = CompressionConfig(method="mvq", n=1, m=4, d=16, k=16, iterations=5)
    return compress_model(small_net, cfg, progress=False)


def test_pruned_positions_stay_exactly_zero_and_codes_masks_fixed(compressed, small_net):
    codes = {n: l.codes.clone() for n, l in compressed.layers.items()}
    masks = {n: l.mask.clone() for n, l in compressed.layers.items()}
    for ste in (False, True):
        res = finetune_codebooks(compressed, _distill_loader(small_net), nn.functional.mse_loss,
                                 FinetuneConfig(straight_through=ste, **FAST))
        modules = dict(res.module.named_modules())
        for name, layer in res.compressed.layers.items():
            assert torch.equal(layer.codes, codes[name]) and torch.equal(layer.mask, masks[name])
            keep = from_subvectors(layer.mask, layer.shape, layer.layout)
            weight = modules[name].weight
            assert torch.all(weight[~keep] == 0)  # exactly zero, not merely small
            # kept positions hold their codeword's coordinate (which an int8 codebook may round to 0:
            # nothing here assumes kept weights are non-zero)
            sub = to_subvectors(weight.detach(), layer.d, layer.layout)
            assert torch.equal(sub[layer.mask], layer.codebook[layer.codes][layer.mask])
            assert torch.equal(weight.detach(), layer.reconstruct())  # module == stored compressed form
        # the input is untouched
        for name, layer in compressed.layers.items():
            assert torch.equal(layer.codes, codes[name]) and torch.equal(layer.mask, masks[name])


def test_lowers_training_loss_on_a_toy_problem(compressed, small_net):
    loader = _distill_loader(small_net)
    before = _mse_on(compressed.apply(), loader)
    res = finetune_codebooks(compressed, loader, nn.functional.mse_loss, FinetuneConfig(epochs=8, progress=False,
                                                                                       lr=3e-3))
    after = _mse_on(res.module, loader)
    assert after < 0.7 * before
    assert res.losses[-1] < res.losses[0]


def test_codebooks_change_and_are_requantised(compressed, small_net):
    res = finetune_codebooks(compressed, _distill_loader(small_net), nn.functional.mse_loss, FinetuneConfig(**FAST))
    changed = 0
    for name, layer in res.compressed.layers.items():
        old = compressed.layers[name]
        changed += int(not torch.equal(layer.codebook, old.codebook))
        assert layer.codebook_int.dtype == torch.int8 and int(layer.codebook_int.abs().max()) <= 127
        assert torch.allclose(layer.codebook, layer.codebook_int.float() * layer.scale)
    assert changed == len(compressed.layers)


def test_same_seed_same_result_and_apply_matches_module(compressed, small_net):
    runs = [finetune_codebooks(compressed, _distill_loader(small_net), nn.functional.mse_loss,
                               FinetuneConfig(seed=7, **FAST)) for _ in range(2)]
    for name in compressed.layers:
        assert torch.equal(runs[0].compressed.layers[name].codebook, runs[1].compressed.layers[name].codebook)
    assert runs[0].losses == runs[1].losses
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(runs[0].compressed.apply().eval()(x), runs[0].module.eval()(x))


def test_freeze_uncompressed_keeps_dense_layers_and_bn(compressed, small_net):
    res = finetune_codebooks(compressed, _distill_loader(small_net), nn.functional.mse_loss,
                             FinetuneConfig(freeze_uncompressed=True, freeze_bn_stats=True, **FAST))
    start = compressed.apply()
    trained = dict(res.module.named_parameters())
    for name, p in start.named_parameters():
        if name.rsplit(".", 1)[0] in compressed.layers and name.endswith("weight"):
            continue
        assert torch.equal(p, trained[name]), name
    for name, buf in start.named_buffers():
        assert torch.equal(buf, dict(res.module.named_buffers())[name]), name


def test_bn_and_dense_layers_train_by_default(compressed, small_net):
    res = finetune_codebooks(compressed, _distill_loader(small_net), nn.functional.mse_loss, FinetuneConfig(**FAST))
    start = dict(compressed.apply().named_parameters())
    trained = dict(res.module.named_parameters())
    assert not torch.equal(start["bn1.weight"], trained["bn1.weight"])
    assert not torch.equal(start["conv1.weight"], trained["conv1.weight"])  # dense first conv


@pytest.mark.parametrize("method", ["vq", "prune_vq", "nm"])
def test_other_methods(small_net, method):
    cfg = CompressionConfig(method=method, n=2, m=4, d=16, k=16, iterations=5)
    cm = compress_model(small_net, cfg, progress=False)
    res = finetune_codebooks(cm, _distill_loader(small_net), nn.functional.mse_loss, FinetuneConfig(**FAST))
    modules = dict(res.module.named_modules())
    for name, layer in res.compressed.layers.items():
        assert torch.equal(modules[name].weight.detach(), layer.reconstruct())
        if layer.mask is not None:
            keep = from_subvectors(layer.mask, layer.shape, layer.layout)
            assert torch.all(modules[name].weight[~keep] == 0)
            assert torch.equal(layer.mask, cm.layers[name].mask)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 6), n_sub=st.integers(1, 12), seed=st.integers(0, 1000))
def test_codeword_gradient_is_the_masked_sum_over_its_subvectors(k, n_sub, seed):
    d = 4
    gen = torch.Generator().manual_seed(seed)
    shape = (n_sub, d)  # a linear weight: one subvector per row
    codes = torch.randint(0, k, (n_sub,), generator=gen)
    mask = torch.rand(n_sub, d, generator=gen) > 0.5
    p = MaskedCodebookWeight(torch.randn(k, d, generator=gen), codes, mask, shape, "input_channel", 8, False)
    upstream = torch.randn(shape, generator=gen)
    (p(torch.zeros(shape)) * upstream).sum().backward()
    expected = torch.zeros(k, d).index_add_(0, codes, upstream * mask)
    assert torch.allclose(p.codebook.grad, expected)


def test_bad_config_is_one_clear_error():
    with pytest.raises(ArchsimInputError, match="lr_min"):
        FinetuneConfig(lr=1e-4, lr_min=1e-3)
    with pytest.raises(ArchsimInputError, match="epochs"):
        FinetuneConfig(epochs=-1)


def test_layer_shape_mismatch_is_reported(compressed, small_net):
    other = copy.deepcopy(small_net)
    other.conv2 = nn.Conv2d(32, 64, 1, bias=False)
    with pytest.raises(ArchsimInputError, match="conv2"):
        finetune_codebooks(compressed, _distill_loader(small_net), nn.functional.mse_loss, FinetuneConfig(**FAST),
                           model=other)
