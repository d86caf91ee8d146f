"""Traces: structural (no clustering) == from real clustering; bits equal storage_bits()."""

from __future__ import annotations

import pytest

from compress.config import CompressionConfig
from compress.model import compress_model
from compress.trace import WeightFormat, load_traces, save_traces
from compress.traces import structural_traces, traces_from_compressed
from workloads.errors import ArchsimInputError
from workloads.torch_trace import from_torch

CONFIGS = [
    CompressionConfig(method="mvq", k=32, iterations=3),
    CompressionConfig(method="mvq", n=2, m=8, d=16, k=16, iterations=3, mask_encoding="combinatorial",
                      codebook_bits=4),
    CompressionConfig(method="prune_vq", k=32, iterations=3, mask_encoding="index"),
    CompressionConfig(method="vq", layout="kernel", d=4, k=64, iterations=3, codebook_bits=16,
                      clamp_centroids=True, linear_d=4, linear_k=128),
    CompressionConfig(method="nm", n=2, m=4),
    CompressionConfig(method="mvq", k=32, iterations=3, linear_method="vq", linear_d=4, linear_k=64,
                      exclude_depthwise=False, exclude_first_conv=False),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.method}-{c.layout}-{c.mask_encoding}")
def test_structural_traces_equal_clustered_traces(small_net, small_input, config):
    network = from_torch(small_net, small_input)
    compressed = compress_model(small_net, config, small_input, progress=False)
    real = traces_from_compressed(compressed, network)
    structural = structural_traces(network, config)
    assert real == structural  # every field: format, n, m, d, k, density, all bit counts, layer
    assert compressed.traces(network) == real
    for trace in real:
        if trace.layer.name in compressed.layers:
            bits = compressed.layers[trace.layer.name].storage_bits()
            assert (trace.code_bits, trace.mask_bits, trace.codebook_bits, trace.value_bits, trace.bias_bits) == \
                (bits["codes"], bits["mask"], bits["codebook"], bits["dense"], bits["bias"])
    formats = {t.layer.name: t.format for t in real}
    if config.exclude_first_conv:
        assert formats["conv1"] is WeightFormat.DENSE and formats["dw"] is WeightFormat.DENSE
    assert any(f is not WeightFormat.DENSE for f in formats.values())


def test_trace_formats_and_density(small_net, small_input):
    network = from_torch(small_net, small_input)
    traces = {t.layer.name: t for t in structural_traces(network, CompressionConfig())}
    conv2 = traces["conv2"]
    assert conv2.format is WeightFormat.MVQ and conv2.density == 0.25 and (conv2.n, conv2.m, conv2.d) == (1, 4, 16)
    assert conv2.subvector_axis == "input_channel"
    assert traces["conv1"].value_bits == 3 * 32 * 9 * 8  # dense at the layer's int8 weight precision
    vq = {t.layer.name: t for t in structural_traces(network, CompressionConfig(method="vq", layout="kernel", d=4))}
    assert vq["conv2"].format is WeightFormat.VQ and vq["conv2"].d == 9 and vq["conv2"].density == 1.0


def test_traces_round_trip_through_files(small_net, small_input, tmp_path):
    network = from_torch(small_net, small_input)
    traces = structural_traces(network, CompressionConfig(mask_encoding="combinatorial"))
    for suffix in (".json", ".parquet"):
        path = save_traces(traces, tmp_path / f"t{suffix}")
        assert load_traces(path) == traces


def test_mismatched_network_is_refused(small_net, small_input):
    from compress_helpers import SmallNet

    other = from_torch(SmallNet(), small_input, name="renamed")
    other = type(other)(name="renamed", layers=tuple(
        type(layer)(**{**layer.__dict__, "name": "x." + layer.name}) for layer in other.layers))
    compressed = compress_model(small_net, CompressionConfig(k=8, iterations=1), progress=False)
    with pytest.raises(ArchsimInputError, match="not in network"):
        traces_from_compressed(compressed, other)


def test_module_called_twice_uses_its_compressed_weight_each_time(small_input):
    import torch
    from torch import nn

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
            self.body = nn.Conv2d(32, 32, 3, padding=1)

        def forward(self, x):
            return self.body(torch.relu(self.body(self.conv1(x))))

    model = Twice()
    network = from_torch(model, small_input)
    assert [layer.name for layer in network] == ["conv1", "body", "body#2"]
    config = CompressionConfig(k=16, iterations=2)
    real = traces_from_compressed(compress_model(model, config, small_input, progress=False), network)
    assert real == structural_traces(network, config)
    assert [t.format for t in real] == [WeightFormat.DENSE, WeightFormat.MVQ, WeightFormat.MVQ]
