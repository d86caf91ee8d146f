"""Bad input to the compressors: exactly one `ArchsimInputError` each, naming the field and the fix.

Covers issue 3's list: N >= M, d not a multiple of M, k larger than the number of vectors, NaN or
Inf weights, an excluded layer name that does not exist (model, network and CLI paths).
"""

from __future__ import annotations

import pytest
import torch

from archsim.cli.main import main
from compress.config import CompressionConfig
from compress.kmeans import kmeans
from compress.layer import compress_weight_mvq, compress_weight_nm, compress_weight_vq
from compress.model import compress_model
from compress.traces import structural_traces
from workloads.torch_trace import from_torch
from workloads.errors import ArchsimInputError


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=4, m=4), r"N:M pruning needs N < M, got N=4, M=4"),
    (dict(n=5, m=4), r"N < M"),
    (dict(n=1, m=4, d=18), r"M=4 must divide d=18"),
    (dict(n=1, m=8, d=12), r"pick d as a multiple of M"),
    (dict(method="prune_vq", n=1, m=4, d=6), r"M=4 must divide d=6"),
    (dict(linear_d=6), r"M=4 must divide linear_d=6"),
])
def test_nm_geometry_errors(kwargs, match):
    with pytest.raises(ArchsimInputError, match=match):
        CompressionConfig(**kwargs)


def test_k_larger_than_the_number_of_vectors():
    x = torch.randn(10, 4)
    with pytest.raises(ArchsimInputError, match=r"k must be an integer in 1..n_subvectors=10, got 11"):
        kmeans(x, 11)
    # The whole-model path clamps k per layer instead (documented in CompressionConfig: more codewords
    # than subvectors could never be used), so the stored k is the number of subvectors.
    layer = compress_weight_vq(torch.randn(4, 16), CompressionConfig(method="vq", k=256, iterations=2))
    assert layer.k == 4


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights(small_net, bad):
    small_net.conv2.weight.data[3, 5, 1, 1] = bad
    with pytest.raises(ArchsimInputError, match=r"layer 'conv2': the weight holds 1 NaN/Inf value"):
        compress_model(small_net, CompressionConfig(k=8, iterations=1), progress=False)
    for compressor in (compress_weight_mvq, compress_weight_nm):
        with pytest.raises(ArchsimInputError, match="NaN/Inf"):
            compressor(small_net.conv2.weight, CompressionConfig(k=8, iterations=1), name="conv2")
    x = torch.randn(20, 4)
    x[2, 1] = bad
    with pytest.raises(ArchsimInputError, match="kmeans: the data holds 1 NaN/Inf"):
        kmeans(x, 2)


def test_excluded_layer_that_does_not_exist(small_net, small_input):
    cfg = CompressionConfig(k=8, iterations=1, exclude=("conv2", "layer9.*"))
    with pytest.raises(ArchsimInputError, match=r"exclude pattern\(s\) \['layer9.\*'\] match no conv/linear layer"):
        compress_model(small_net, cfg, progress=False)
    with pytest.raises(ArchsimInputError, match=r"\['layer9.\*'\].*e\.g\. conv1, dw, conv2"):
        structural_traces(from_torch(small_net, small_input), cfg)
    # a pattern naming a BatchNorm is not a conv/linear layer either
    with pytest.raises(ArchsimInputError, match="bn1"):
        compress_model(small_net, cfg.replace(exclude=("bn1",)), progress=False)
    # existing names and patterns are accepted
    stats = compress_model(small_net, cfg.replace(exclude=("conv2", "c*3")), progress=False).stats()
    assert stats.loc["conv2", "method"] == "dense" and stats.loc["conv3", "method"] == "dense"


def test_cli_unknown_exclusion_is_one_line(capsys):
    assert main(["compress", "resnet20", "--structural", "--exclude", "no.such.layer"]) == 2
    err = capsys.readouterr().err
    assert "no.such.layer" in err and "match no conv/linear layer" in err
    assert err.startswith("archsim compress: error:") and err.count("\n") == 1 and "Traceback" not in err
