"""N:M sparse retraining before clustering (compress.retrain): the mask is fixed, pruned weights stay
exactly zero, kept weights learn, a later MVQ step finds the same mask, and it is seeded."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from compress.config import CompressionConfig
from compress.finetune import FinetuneConfig
from compress.layout import from_subvectors, to_subvectors
from compress.model import compress_model
from compress.nm import nm_mask
from compress.retrain import nm_retrain_config, retrain_dense, retrain_nm
from workloads.errors import ArchsimInputError

FAST = FinetuneConfig(epochs=3, lr=3e-3, progress=False, seed=4)
MSE = nn.functional.mse_loss


def _distill_loader(teacher: nn.Module, n: int = 64, seed: int = 3) -> DataLoader:
    x = torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        y = teacher.eval()(x)
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))


def _mse(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    with torch.no_grad():
        return float(sum(nn.functional.mse_loss(model(x), y, reduction="sum") for x, y in loader))


@pytest.mark.parametrize("n,m", [(1, 4), (2, 4), (2, 8)])
def test_exactly_n_of_m_survive_and_the_input_is_untouched(small_net, n, m):
    before = {k: v.clone() for k, v in small_net.state_dict().items()}
    res = retrain_nm(small_net, _distill_loader(small_net), n, m, config=FAST, loss_fn=MSE)
    assert all(torch.equal(v, small_net.state_dict()[k]) for k, v in before.items())
    modules = dict(res.module.named_modules())
    assert set(res.masks) == {"conv2", "pw", "conv3", "fc"}  # conv1 and the depthwise conv stay dense
    for name, mask in res.masks.items():
        weight = modules[name].weight.detach()
        keep = from_subvectors(mask, tuple(weight.shape), "input_channel")
        assert torch.all(weight[~keep] == 0)
        groups = (to_subvectors(weight, m, "input_channel") != 0).reshape(-1, m).sum(1)
        assert torch.all(groups <= n) and (groups == n).float().mean() > 0.99
        # the mask is the magnitude N:M mask of the *dense* weights
        dense = to_subvectors(dict(small_net.named_modules())[name].weight.detach(), m, "input_channel")
        assert torch.equal(mask, nm_mask(dense, n, m))


def test_kept_weights_learn_and_lower_the_loss(small_net):
    loader = _distill_loader(small_net)
    pruned = compress_model(small_net, nm_retrain_config(1, 4), progress=False).apply()
    res = retrain_nm(small_net, loader, 1, 4, config=FinetuneConfig(epochs=10, lr=3e-3, progress=False), loss_fn=MSE)
    assert _mse(res.module, loader) < 0.7 * _mse(pruned, loader)
    changed = dict(res.module.named_modules())["conv2"].weight.detach()
    assert not torch.equal(changed, dict(pruned.named_modules())["conv2"].weight.detach())


@pytest.mark.parametrize("d", [4, 8, 16])
def test_a_later_mvq_step_finds_the_retraining_mask(small_net, d):
    res = retrain_nm(small_net, _distill_loader(small_net), 1, 4, config=FAST, loss_fn=MSE)
    mvq = compress_model(res.module, CompressionConfig(method="mvq", n=1, m=4, d=d, k=8, iterations=3),
                         progress=False)
    for name, layer in mvq.layers.items():
        retrained = from_subvectors(res.masks[name], layer.shape, layer.layout)
        assert torch.equal(from_subvectors(layer.mask, layer.shape, layer.layout), retrained), name


def test_same_seed_same_weights_and_dense_control_trains_everything(small_net):
    loader = _distill_loader(small_net)
    a = retrain_nm(small_net, _distill_loader(small_net), 2, 4, config=FAST, loss_fn=MSE)
    b = retrain_nm(small_net, _distill_loader(small_net), 2, 4, config=FAST, loss_fn=MSE)
    assert all(torch.equal(p, q) for p, q in zip(a.module.parameters(), b.module.parameters()))
    dense = retrain_dense(small_net, loader, config=FAST, loss_fn=MSE)
    weight = dict(dense.module.named_modules())["conv2"].weight
    assert not dense.masks and (weight != 0).float().mean() > 0.99  # nothing pruned
    assert not torch.equal(weight, dict(small_net.named_modules())["conv2"].weight)  # and it trained


def test_bad_input_is_one_clear_error(small_net):
    loader = _distill_loader(small_net)
    with pytest.raises(ArchsimInputError, match="linear_method"):
        retrain_nm(small_net, loader, 1, 4, compression=CompressionConfig(linear_method="vq"), config=FAST, loss_fn=MSE)
    with pytest.raises(ArchsimInputError, match="N < M"):
        retrain_nm(small_net, loader, 4, 4, config=FAST, loss_fn=MSE)
    with pytest.raises(ArchsimInputError, match="nothing to retrain"):
        retrain_nm(small_net, loader, 1, 4, compression=CompressionConfig(exclude=("*",)), config=FAST, loss_fn=MSE)
