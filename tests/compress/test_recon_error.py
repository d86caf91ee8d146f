"""MVQ approximates the kept weights better than prune-then-VQ: ResNet-50-shaped heavy-tailed layers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from compress.experiments.recon_error import ReconSetup, compare, heavy_tailed_
from compress.layer import compress_weight_mvq, compress_weight_prune_vq

#: Four ResNet-50 layer shapes (3x3 and 1x1, bottleneck in/out, downsample), cut to their first 64
#: filters so the test stays fast; the input-channel axis (where subvectors and N:M groups lie) is kept whole.
RESNET50_SHAPES = {"layer1.0.conv2": (64, 64, 3, 3), "layer2.0.conv1": (128, 256, 1, 1),
                   "layer3.1.conv2": (256, 256, 3, 3), "layer4.0.downsample.0": (2048, 1024, 1, 1)}
FILTERS = 64


def _student_t(shape, seed: int, df: int = 3) -> torch.Tensor:
    layer = nn.Conv2d(shape[1], shape[0], shape[2], bias=False)
    return heavy_tailed_(layer, df, seed).weight.detach()


@pytest.mark.parametrize("name", sorted(RESNET50_SHAPES))
@pytest.mark.parametrize("nm", [(1, 4), (2, 4)])
def test_mvq_kept_error_below_prune_then_vq_on_heavy_tailed_resnet50_layers(name, nm):
    shape = (FILTERS, *RESNET50_SHAPES[name][1:])
    weight = _student_t(shape, seed=sorted(RESNET50_SHAPES).index(name))
    n, m = nm
    cfg = ReconSetup(n=n, m=m, iterations=8).config("mvq")
    mvq = compress_weight_mvq(weight, cfg, name=name)
    pvq = compress_weight_prune_vq(weight, cfg.replace(method="prune_vq"), name=name)
    assert torch.equal(mvq.mask, pvq.mask)  # same pruning: only the clustering differs
    assert mvq.k == pvq.k == min(256, 2 ** math.floor(math.log2(mvq.n_subvectors / 4)))
    e_mvq, e_pvq = mvq.errors(weight)["rel_err_kept"], pvq.errors(weight)["rel_err_kept"]
    assert e_mvq < e_pvq, (name, nm, e_mvq, e_pvq)


def test_heavy_tailed_samples_are_seeded_and_heavy_tailed():
    a = _student_t((64, 64, 3, 3), seed=1)
    assert torch.equal(a, _student_t((64, 64, 3, 3), seed=1))
    assert not torch.equal(a, _student_t((64, 64, 3, 3), seed=2))
    z = (a / a.std()).flatten()
    kurtosis = float((z ** 4).mean())
    assert kurtosis > 4.5  # Gaussian = 3; t(3) has infinite kurtosis, samples land far above 3
    assert abs(float(a.std()) - math.sqrt(2 / (64 * 9)) * math.sqrt(3)) < 0.5 * math.sqrt(2 / (64 * 9)) * math.sqrt(3)


def test_compare_reports_every_compressed_layer():
    torch.manual_seed(0)
    model = heavy_tailed_(nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                                        nn.Conv2d(64, 32, 1)), seed=0)
    frame = compare(model, ReconSetup(iterations=5), torch.zeros(1, 3, 12, 12), progress=False)
    assert list(frame["layer"]) == ["2", "4"]  # the first conv stays dense
    assert frame["mvq_better"].all()
    assert (frame["kept_err_ratio"] < 1).all()
