"""Model-size accounting: PQF/BGD ratios on torchvision ResNets, and structural == clustered sizes."""

from __future__ import annotations

import pytest
import torch
import torchvision

from compress.config import CompressionConfig
from compress.model import compress_model, structural_compression_ratio, structural_storage_bits
from compress.policy import pow2_floor
from compress.quantize import quantize_symmetric

MIB = 8 * 2**20


def pqf_config(kernel_blocks: int, pointwise_d: int, fc_k: int) -> CompressionConfig:
    """PQF/BGD: kernel-layout blocks, fp16 codebooks (16 b), k=256 clamped, FC d=4."""
    return CompressionConfig(method="vq", layout="kernel", kernel_blocks=kernel_blocks, d=pointwise_d, k=256,
                             linear_d=4, linear_k=fc_k, codebook_bits=16, clamp_centroids=True)


# (arch, kernel blocks, 1x1 block size, FC k, reported ratio, reported size in MB (= MiB))
# BGD README / PQF README (mvq.md §2.2): R18 29x 1.54 MB, 43x 1.03 MB; R50 19x 5.09 MB, 31x 3.19 MB.
PUBLISHED = [
    ("resnet18", 1, 4, 2048, 29, 1.54),
    ("resnet18", 2, 4, 2048, 43, 1.03),
    ("resnet50", 1, 4, 1024, 19, 5.09),
    ("resnet50", 2, 8, 1024, 31, 3.19),
]


@pytest.mark.parametrize("arch, blocks, pw_d, fc_k, ratio, size_mb", PUBLISHED)
def test_pqf_accounting_reproduces_published_ratios(arch, blocks, pw_d, fc_k, ratio, size_mb):
    model = getattr(torchvision.models, arch)()  # untrained: only the shapes matter
    config = pqf_config(blocks, pw_d, fc_k)
    got = structural_compression_ratio(model, config)
    assert got == pytest.approx(ratio, rel=0.05)
    assert structural_storage_bits(model, config)["total"] / MIB == pytest.approx(size_mb, rel=0.05)


def test_counting_bn_running_stats_gives_the_lower_figures():
    """mvq.md §1.7's re-implementation (28.2x / 41.8x) counted BN running stats; PQF folds them."""
    model = torchvision.models.resnet18()
    folded = structural_compression_ratio(model, pqf_config(1, 4, 2048))
    counted = structural_compression_ratio(model, pqf_config(1, 4, 2048).replace(count_bn_running_stats=True))
    assert counted < folded
    assert counted == pytest.approx(28.2, rel=0.01)


def test_pqf_centroid_clamp():
    assert pow2_floor(1000) == 512 and pow2_floor(1024) == 1024 and pow2_floor(0.5) == 1
    model = torchvision.models.resnet18()
    from compress.model import plan_model

    plans = {p.name: p for p in plan_model(model, pqf_config(1, 4, 2048))}
    # layer1.0.conv1: 64 x 64 x 3 x 3 in 9-blocks -> 4096 subvectors -> min(256, 1024) = 256
    assert (plans["layer1.0.conv1"].d, plans["layer1.0.conv1"].k) == (9, 256)
    # layer2.0.downsample.0: 128 x 64 x 1 x 1 in 4-blocks -> 2048 subvectors -> 512 -> 256
    assert plans["layer2.0.downsample.0"].d == 4
    # fc: 1000 x 512 in 4-blocks -> 128000 subvectors, k = 2048
    assert (plans["fc"].d, plans["fc"].k) == (4, 2048)
    assert plans["conv1"].method == "dense"


@pytest.mark.parametrize("config", [
    CompressionConfig(method="mvq", d=16, k=32, iterations=3),
    CompressionConfig(method="mvq", d=8, k=16, iterations=3, mask_encoding="combinatorial", n=2, m=4),
    CompressionConfig(method="prune_vq", d=16, k=32, iterations=3, mask_encoding="index"),
    CompressionConfig(method="vq", layout="kernel", d=4, k=64, iterations=3, codebook_bits=16, clamp_centroids=True),
    CompressionConfig(method="nm", n=2, m=8, value_bits=8),
])
def test_clustered_storage_equals_structural(small_net, config):
    compressed = compress_model(small_net, config, progress=False)
    assert compressed.storage_bits() == structural_storage_bits(small_net, config)
    params = sum(p.numel() for p in small_net.parameters())
    assert compressed.compression_ratio == pytest.approx(32 * params / compressed.storage_bits()["total"])


def test_storage_breakdown_by_hand(small_net):
    """conv2 (64 x 32 x 3 x 3) under MVQ 1:4, d=16, k=32, bitmap, 8-bit codebook."""
    compressed = compress_model(small_net, CompressionConfig(d=16, k=32, iterations=2), progress=False)
    bits = compressed.layers["conv2"].storage_bits()
    weights = 64 * 32 * 9
    assert bits == {"codes": weights // 16 * 5, "mask": weights // 4 * 4, "codebook": 32 * 16 * 8, "dense": 0,
                    "bias": 0}
    assert compressed.layers["pw"].storage_bits()["bias"] == 64 * 32
    total = compressed.storage_bits()
    dense_weights = 32 * 3 * 9 + 32 * 9  # conv1 + depthwise, fp32
    assert total["dense"] == dense_weights * 32
    assert total["other"] == (2 * 32 + 2 * 64) * 32  # BN affine only (running stats folded, as PQF)
    assert total["bias"] == (64 + 40) * 32


def test_codebook_quantisation():
    x = torch.tensor([[-1.0, 0.5], [0.25, 0.0]])
    q = quantize_symmetric(x, 8)
    assert q.values.dtype == torch.int8 and int(q.values.abs().max()) == 127
    assert q.scale == pytest.approx(1 / 127)
    torch.testing.assert_close(q.dequantize(), x, atol=q.scale / 2, rtol=0)
    assert quantize_symmetric(x, 4).values.abs().max() == 7
    assert torch.equal(quantize_symmetric(x, 32).dequantize(), x)


# mvq.md §1.7 what-if table (the reference author's own calculator, [I] — not paper numbers):
# ResNet-18, k=256, 8-bit codebook, FC unmasked d=4 k=2048, conv1 dense; it counts BN running stats.
WHAT_IF = [(16, 1, 4, "bitmap", 18.9), (16, 1, 4, "combinatorial", 26.3), (16, 2, 4, "combinatorial", 22.0),
           (16, 4, 16, "combinatorial", 23.0), (16, 2, 8, "combinatorial", 24.0), (8, 1, 4, "combinatorial", 19.2),
           (8, 1, 4, "bitmap", 14.9)]


@pytest.mark.parametrize("d, n, m, encoding, ratio", WHAT_IF)
def test_mvq_what_if_table(d, n, m, encoding, ratio):
    config = CompressionConfig(method="mvq", d=d, n=n, m=m, mask_encoding=encoding, linear_method="vq", linear_d=4,
                               linear_k=2048, count_bn_running_stats=True)
    assert round(structural_compression_ratio(torchvision.models.resnet18(), config), 1) == ratio
