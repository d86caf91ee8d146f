"""Zoo networks against published totals, batch scaling, input sizes and errors."""

from __future__ import annotations

import pytest
import torch

from workloads import ArchsimInputError, LayerKind
from workloads.torch_trace import from_torch
from workloads.zoo import build_model, describe_networks, get_network, list_networks, parse_input_size

# torchvision's model docs (weights tables, 224x224, batch 1): exact parameter counts and "GFLOPS",
# which torchvision counts as multiply-accumulates of conv + linear layers.
PUBLISHED = {
    "resnet18": (11_689_512, 1.81e9),
    "resnet50": (25_557_032, 4.09e9),
    "mobilenet_v2": (3_504_872, 0.30e9),
    "vgg16": (138_357_544, 15.47e9),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_totals_match_torchvision(name):
    params, macs = PUBLISHED[name]
    net = get_network(name)
    assert net.params == params
    assert net.macs == pytest.approx(macs, rel=0.02)
    assert net.input_shape == (1, 3, 224, 224) and net.batch == 1
    assert not net.skipped_ops


def test_resnet20_cifar():
    net = get_network("resnet20")
    # He et al. 2016, Table 6: 0.27 M parameters; ~41 M MACs is the commonly quoted count.
    assert net.params == 269_722
    assert net.macs == pytest.approx(41e6, rel=0.02)
    assert len(net) == 20 and net[0].in_h == 32 and net[-1].kind is LayerKind.LINEAR
    assert [l.out_channels for l in net if l.kind is LayerKind.CONV][-1] == 64


@pytest.mark.parametrize("name", list_networks())
def test_every_zoo_network_counts_every_parameter(name):
    net = get_network(name)
    with torch.device("meta"):
        model, _ = build_model(name)  # on meta: parameter counts without allocating weights
    assert net.params == sum(p.numel() for p in model.parameters())
    assert net.macs > 0 and len(net) > 0


def test_build_model_is_what_get_network_traces():
    model, example = build_model("resnet20")
    assert example.shape == (1, 3, 32, 32) and example.device.type == "cpu"
    assert any(p.abs().sum() > 0 for p in model.parameters())  # a real (untrained) model, not meta
    assert from_torch(model, example, name="resnet20").layers == get_network("resnet20").layers


def test_batch_scales_macs_linearly_and_is_cached():
    one = get_network("resnet18")
    assert get_network("resnet18") is one  # cached
    four = get_network("resnet18", batch=4)
    assert four.batch == 4 and four.input_shape == (4, 3, 224, 224)
    assert four.macs == 4 * one.macs
    assert all(l4.macs == 4 * l1.macs for l1, l4 in zip(one, four))
    assert four.weights == one.weights and four.params == one.params


def test_input_size_changes_spatial_dims():
    net = get_network("resnet18", input_size=(160, 128))
    assert net.input_shape == (1, 3, 160, 128)
    assert (net[0].out_h, net[0].out_w) == (80, 64)
    assert net.params == get_network("resnet18").params  # adaptive pooling: same parameters
    assert get_network("resnet18", input_size="160x128").layers == net.layers
    assert "input 160x128" in net.notes


def test_unknown_name_lists_known_names():
    with pytest.raises(ArchsimInputError, match="known networks: .*resnet18.*resnet20"):
        get_network("resnet19")


@pytest.mark.parametrize("size,match", [(0, "--input-size"), ((-3, 224), "--input-size"), ("abc", "--input-size"),
                                        ((16, 16), "--input-size 16x16 is too small for resnet18")])
def test_bad_input_size(size, match):
    with pytest.raises(ArchsimInputError, match=match):
        get_network("resnet18", input_size=size)


def test_input_size_rejected_by_torch_is_an_input_error():
    from workloads import zoo

    with pytest.raises(ArchsimInputError, match="--input-size 40x40 is too small for alexnet"):
        get_network("alexnet", input_size=40)
    # below the declared minimum torch itself refuses; the trace turns that into an input error too
    with pytest.raises(ArchsimInputError, match="--input-size 16x16 does not work for vgg16: .*failed"):
        zoo._traced("vgg16", (16, 16))


def test_bad_batch():
    with pytest.raises(ArchsimInputError, match="--batch"):
        get_network("resnet18", batch=0)


def test_parse_input_size_forms():
    assert parse_input_size(None, (224, 224)) == (224, 224)
    assert parse_input_size(96, (224, 224)) == (96, 96)
    assert parse_input_size("96x64", (224, 224)) == (96, 64)
    assert parse_input_size([96, 64], (224, 224)) == (96, 64)


def test_descriptions_cover_every_network():
    assert list(describe_networks()) == list_networks()
    assert {"resnet18", "resnet34", "resnet50", "vgg16", "alexnet", "mobilenet_v2", "efficientnet_b0", "resnet20",
            "ssdlite320", "deeplabv3_resnet50"} <= set(list_networks())


def test_detection_network_is_deterministic_and_matches_the_full_model():
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    zoo = get_network("ssdlite320")
    assert "backbone + head" in zoo.notes and zoo.input_shape == (1, 3, 320, 320)
    assert zoo.params == 3_440_060  # torchvision's published count
    assert zoo.macs == pytest.approx(0.58e9, rel=0.02)  # torchvision: 0.58 GFLOPS
    torch.manual_seed(0)
    full = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
    # the complete model (resize transform + head + NMS postprocess) on two different images
    first = from_torch(full, torch.rand(1, 3, 320, 320))
    second = from_torch(full, torch.rand(1, 3, 320, 320))
    assert first.layers == second.layers == zoo.layers


def test_segmentation_network():
    net = get_network("deeplabv3_resnet50")
    assert net.input_shape == (1, 3, 520, 520) and "520x520" in net.notes
    assert any(l.dilation_h > 1 for l in net)  # atrous convolutions are modelled, not flattened
    assert net[-1].out_channels == 21
